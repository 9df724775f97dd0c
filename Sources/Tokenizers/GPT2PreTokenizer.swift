/// Splits text into the pieces GPT-2's BPE runs on, exactly as the regex
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// does under tiktoken (fancy-regex: leftmost-first alternation, `\s` = Unicode White_Space,
/// `\p{L}` / `\p{N}` = General Category Letter / Number).
///
/// It is a hand-written scanner over the UTF-8 bytes because Swift Regex is far too slow for
/// tokenizing corpora. What the scanner relies on:
/// - every scalar is in exactly one class: letter, number, whitespace or other
///   (`[^\s\p{L}\p{N}]`), so at each position at most one of the ` ?X+` alternatives can match;
/// - the contractions are lowercase only (`'S` is the piece `'` then `S`);
/// - the optional prefix is U+0020 only, never another space character;
/// - `\s+(?!\S)` on a whitespace run followed by a non-space gives back the run's last character,
///   so that a following ` ?\p{L}+` can take it; a single whitespace character before a non-space
///   is matched by the final `\s+` alone.
public struct GPT2PreTokenizer: Sendable {
  /// The character classes of the regex.
  enum ScalarClass: UInt8 {
    case letter, number, whitespace, other
  }

  /// Classes of the Basic Multilingual Plane, computed once: looking up General Category per
  /// scalar would dominate the tokenizer's time on non-ASCII text.
  static let bmpClasses: [ScalarClass] = (0..<0x10000).map { value in
    guard let scalar = Unicode.Scalar(UInt32(value)) else { return .other }  // surrogates
    return classify(scalar)
  }

  static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
    let properties = scalar.properties
    switch properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      return .letter
    case .decimalNumber, .letterNumber, .otherNumber:
      return .number
    default:
      return properties.isWhitespace ? .whitespace : .other
    }
  }

  public init() {}

  /// The pieces of `text` in order; their concatenation is `text`. Meant for tests and diagnostics:
  /// the tokenizer scans without making strings.
  public func pieces(_ text: String) -> [String] {
    var text = text
    var result: [String] = []
    text.withUTF8 { bytes in
      Self.bmpClasses.withUnsafeBufferPointer { classes in
        Self.forEachPiece(of: bytes, classes: classes) { start, end in
          result.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
        }
      }
    }
    return result
  }

  /// Calls `body` with the byte range of each piece of valid UTF-8 `bytes`, in order.
  @inline(__always)
  static func forEachPiece(
    of bytes: UnsafeBufferPointer<UInt8>, classes: UnsafeBufferPointer<ScalarClass>,
    _ body: (Int, Int) -> Void
  ) {
    let scanner = Scanner(bytes: bytes, classes: classes)
    var start = 0
    while start < bytes.count {
      let end = scanner.pieceEnd(from: start)
      body(start, end)
      start = end
    }
  }

  /// Finds piece boundaries in valid UTF-8 (a Swift string's bytes).
  struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let classes: UnsafeBufferPointer<ScalarClass>

    /// The class of the scalar starting at `index` and its length in bytes.
    @inline(__always)
    func scalar(at index: Int) -> (ScalarClass, Int) {
      let b0 = UInt32(bytes[index])
      if b0 < 0x80 { return (classes[Int(b0)], 1) }
      if b0 < 0xE0 {
        let value = (b0 & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F)
        return (classes[Int(value)], 2)
      }
      if b0 < 0xF0 {
        let value = (b0 & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F)
        return (classes[Int(value)], 3)
      }
      let value =
        (b0 & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12 | UInt32(bytes[index + 2] & 0x3F) << 6
        | UInt32(bytes[index + 3] & 0x3F)
      return (GPT2PreTokenizer.classify(Unicode.Scalar(value) ?? "\u{FFFD}"), 4)
    }

    /// End (exclusive byte offset) of the piece that starts at `start`, which must be < bytes.count.
    func pieceEnd(from start: Int) -> Int {
      let count = bytes.count
      let first = bytes[start]
      // 's|'t|'re|'ve|'m|'ll|'d
      if first == UInt8(ascii: "'"), start + 1 < count {
        let c1 = bytes[start + 1]
        if c1 == UInt8(ascii: "s") || c1 == UInt8(ascii: "t") || c1 == UInt8(ascii: "m")
          || c1 == UInt8(ascii: "d")
        {
          return start + 2
        }
        if start + 2 < count {
          let c2 = bytes[start + 2]
          if (c1 == UInt8(ascii: "r") && c2 == UInt8(ascii: "e"))
            || (c1 == UInt8(ascii: "v") && c2 == UInt8(ascii: "e"))
            || (c1 == UInt8(ascii: "l") && c2 == UInt8(ascii: "l"))
          {
            return start + 3
          }
        }
      }
      var (runClass, length) = scalar(at: start)
      var runStart = start
      // ` ?X+`: a space takes the run after it when that run is not whitespace.
      if first == UInt8(ascii: " "), start + 1 < count {
        let (nextClass, nextLength) = scalar(at: start + 1)
        if nextClass != .whitespace {
          runClass = nextClass
          runStart = start + 1
          length = nextLength
        }
      }
      if runClass != .whitespace {
        var end = runStart + length
        while end < count {
          let (cls, len) = scalar(at: end)
          if cls != runClass { break }
          end += len
        }
        return end
      }
      // \s+(?!\S) | \s+
      var end = start
      var lastStart = start
      while end < count {
        let (cls, len) = scalar(at: end)
        if cls != .whitespace { break }
        lastStart = end
        end += len
      }
      if end == count || lastStart == start { return end }
      return lastStart
    }
  }
}
