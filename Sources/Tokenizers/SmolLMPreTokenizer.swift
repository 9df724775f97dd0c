/// Splits text into the pieces SmolLM2's BPE runs on: every number character is a piece of its own,
/// and each stretch of text between them is split by GPT-2's regex (`GPT2PreTokenizer`) on its own.
///
/// What the references define:
/// - SmolLM2's `tokenizer.json` (HuggingFaceTB/SmolLM2-135M-Instruct) has the pre-tokenizer
///   `Sequence[Digits(individual_digits: true), ByteLevel(add_prefix_space: false, trim_offsets: true,
///   use_regex: true)]` and a BPE model with `unk_token: null`, `byte_fallback: false`,
///   `ignore_merges: false`. In Hugging Face `tokenizers`, Digits isolates each numeric character
///   (Rust `char::is_numeric`, General Category Nd/Nl/No), and ByteLevel's regex is GPT-2's, run
///   separately on each piece Digits left.
/// - llama.cpp names this pre-tokenizer "smollm" (`tokenizer.ggml.pre`; `LLAMA_VOCAB_PRE_TYPE_SMOLLM`
///   in src/llama-vocab.cpp, shared with starcoder, refact, command-r, codeshell, exaone, minerva): the
///   regexes `\p{N}` and then GPT-2's `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
///   each applied within the pieces the one before made (unmatched text stays a piece, which is
///   what GPT-2's final `|\s+` gives).
///
/// The consequence that matters: a space is never joined to a following digit, and whitespace just
/// before a digit ends its stretch, so `\s+(?!\S)` takes all of it ("a  1" is "a", "  ", "1";
/// GPT-2 gives "a", " ", " 1"). Note that transformers' own GGUF conversion (5.24) does not know
/// "smollm" and falls back to GPT-2's split, so it is not a reference for this.
public struct SmolLMPreTokenizer: Sendable {
  public init() {}

  /// The pieces of `text` in order; their concatenation is `text`. For tests and diagnostics.
  public func pieces(_ text: String) -> [String] {
    var text = text
    var result: [String] = []
    text.withUTF8 { bytes in
      GPT2PreTokenizer.bmpClasses.withUnsafeBufferPointer { classes in
        Self.forEachPiece(of: bytes, classes: classes) { start, end in
          result.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
        }
      }
    }
    return result
  }

  /// Calls `body` with the byte range of each piece of valid UTF-8 `bytes`, in order. Linear: each
  /// stretch between numbers is found once and handed to GPT-2's scanner as a buffer of its own, so
  /// the scanner's look-ahead (contractions, `\s+(?!\S)`) stops where the stretch does.
  @inline(__always)
  static func forEachPiece(
    of bytes: UnsafeBufferPointer<UInt8>, classes: UnsafeBufferPointer<GPT2PreTokenizer.ScalarClass>,
    _ body: (Int, Int) -> Void
  ) {
    let scanner = GPT2PreTokenizer.Scanner(bytes: bytes, classes: classes)
    let count = bytes.count
    var start = 0
    while start < count {
      let (firstClass, firstLength) = scanner.scalar(at: start)
      if firstClass == .number {
        body(start, start + firstLength)
        start += firstLength
        continue
      }
      var stretchEnd = start + firstLength
      while stretchEnd < count {
        let (cls, length) = scanner.scalar(at: stretchEnd)
        if cls == .number { break }
        stretchEnd += length
      }
      let stretch = GPT2PreTokenizer.Scanner(
        bytes: UnsafeBufferPointer(rebasing: bytes[start..<stretchEnd]), classes: classes)
      var pieceStart = 0
      while pieceStart < stretch.bytes.count {
        let pieceEnd = stretch.pieceEnd(from: pieceStart)
        body(start + pieceStart, start + pieceEnd)
        pieceStart = pieceEnd
      }
      start = stretchEnd
    }
  }
}
