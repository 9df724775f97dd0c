/// Turns token bytes into text as they are generated, holding back an incomplete UTF-8 sequence
/// (a token can end in the middle of a character) until the bytes that complete it arrive.
public struct UTF8Stream {
  private var pending: [UInt8] = []

  public init() {}

  /// Adds bytes and returns the text that is now complete.
  public mutating func append(_ bytes: [UInt8]) -> String {
    pending.append(contentsOf: bytes)
    let complete = Self.completePrefixLength(pending)
    let text = String(decoding: pending[0..<complete], as: UTF8.self)
    pending.removeFirst(complete)
    return text
  }

  /// Whatever is left, with invalid sequences replaced by U+FFFD.
  public mutating func flush() -> String {
    defer { pending.removeAll() }
    return String(decoding: pending, as: UTF8.self)
  }

  /// Length of the prefix of `bytes` that does not end inside a multi-byte sequence.
  static func completePrefixLength(_ bytes: [UInt8]) -> Int {
    var i = bytes.count - 1
    var continuation = 0
    while i >= 0 && bytes[i] & 0xC0 == 0x80 && continuation < 3 {
      continuation += 1
      i -= 1
    }
    guard i >= 0 else { return bytes.count }
    let lead = bytes[i]
    let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
    return needed > continuation + 1 ? i : bytes.count
  }
}
