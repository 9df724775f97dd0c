/// Incremental UTF-8 validation over a byte stream fed in blocks of any size.
///
/// Swift's `String(decoding:)` silently repairs invalid bytes, which would feed U+FFFD tokens to
/// the model; the corpus reader instead stops at the first ill-formed sequence and reports its
/// byte offset, so the user can find it (`cmp`, `xxd -s OFFSET`). Follows the well-formed byte
/// sequences of the Unicode Standard, table 3-7: no overlong forms, surrogates, or code points
/// above U+10FFFF.
struct UTF8Validator {
  /// Bytes validated so far (the absolute offset of the next byte).
  private(set) var offset = 0
  /// Continuation bytes still expected by the current sequence.
  private var needed = 0
  /// Absolute offset of the current sequence's first byte.
  private var sequenceStart = 0
  /// Range allowed for the next continuation byte (narrower right after some lead bytes).
  private var lower: UInt8 = 0x80
  private var upper: UInt8 = 0xBF

  /// Validates the next block; returns the absolute offset of the first byte of the first
  /// ill-formed sequence, or nil if the stream is valid so far.
  mutating func validate(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
    guard let base = bytes.baseAddress else { return nil }
    let count = bytes.count
    var i = 0
    while i < count {
      if needed == 0 {
        // ASCII fast path, 8 bytes at a time.
        while i + 8 <= count {
          let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
          if word & 0x8080_8080_8080_8080 != 0 { break }
          i += 8
        }
        if i >= count { break }
        let byte = base[i]
        if byte < 0x80 {
          i += 1
          continue
        }
        sequenceStart = offset + i
        lower = 0x80
        upper = 0xBF
        switch byte {
        case 0xC2...0xDF: needed = 1
        case 0xE0:
          needed = 2
          lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: needed = 2
        case 0xED:
          needed = 2
          upper = 0x9F
        case 0xF0:
          needed = 3
          lower = 0x90
        case 0xF1...0xF3: needed = 3
        case 0xF4:
          needed = 3
          upper = 0x8F
        default:
          return sequenceStart  // a stray continuation byte, C0/C1, or F5...FF
        }
      } else {
        let byte = base[i]
        guard byte >= lower && byte <= upper else { return sequenceStart }
        lower = 0x80
        upper = 0xBF
        needed -= 1
      }
      i += 1
    }
    offset += count
    return nil
  }

  /// At the end of the stream: the offset of a truncated final sequence, or nil.
  func finish() -> Int? {
    needed > 0 ? sequenceStart : nil
  }
}
