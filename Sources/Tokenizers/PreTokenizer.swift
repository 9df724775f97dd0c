/// Which rule a `BPETokenizer` splits text with before merging bytes: the merges of a vocabulary were
/// learnt on pieces cut one particular way, so encoding must cut text the same way to give the
/// model's own ids. One BPE serves every choice; only the split differs.
public enum PreTokenizer: String, Sendable, Equatable, CaseIterable {
  /// GPT-2's regex (`GPT2PreTokenizer`), as tiktoken's r50k_base and Hugging Face's ByteLevel use it.
  case gpt2
  /// Each number character alone, GPT-2's regex between them (`SmolLMPreTokenizer`); llama.cpp's "smollm".
  case smolLM

  /// The pieces of `text` in order; their concatenation is `text`. For tests and diagnostics.
  public func pieces(_ text: String) -> [String] {
    switch self {
    case .gpt2: return GPT2PreTokenizer().pieces(text)
    case .smolLM: return SmolLMPreTokenizer().pieces(text)
    }
  }

  /// Calls `body` with the byte range of each piece of valid UTF-8 `bytes`, in order.
  @inline(__always)
  func forEachPiece(
    of bytes: UnsafeBufferPointer<UInt8>, classes: UnsafeBufferPointer<GPT2PreTokenizer.ScalarClass>,
    _ body: (Int, Int) -> Void
  ) {
    switch self {
    case .gpt2: GPT2PreTokenizer.forEachPiece(of: bytes, classes: classes, body)
    case .smolLM: SmolLMPreTokenizer.forEachPiece(of: bytes, classes: classes, body)
    }
  }
}
