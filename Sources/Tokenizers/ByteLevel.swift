/// GPT-2's reversible map between bytes and printable Unicode characters (`bytes_to_unicode` in
/// openai/gpt-2's encoder.py), which Hugging Face vocab.json and merges.txt files use to write token
/// bytes as text: printable Latin-1 bytes stand for themselves, the other 68 bytes (controls, space,
/// soft hyphen...) become U+0100 upwards in byte order, so a space is "Ġ" and a newline "Ċ".
public enum ByteLevel {
  /// The character each byte is written as, indexed by byte.
  public static let scalarForByte: [Unicode.Scalar] = {
    var printable = [Bool](repeating: false, count: 256)
    for range in [0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF] {
      for byte in range { printable[byte] = true }
    }
    var scalars = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
      if printable[byte] {
        scalars[byte] = Unicode.Scalar(UInt8(byte))
      } else {
        scalars[byte] = Unicode.Scalar(next)!
        next += 1
      }
    }
    return scalars
  }()

  /// Inverse of `scalarForByte`, indexed by scalar value (all are below U+0144); -1 where no byte maps.
  static let byteForScalar: [Int16] = {
    var table = [Int16](repeating: -1, count: 0x144)
    for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
    return table
  }()

  /// Writes bytes the way vocab.json and merges.txt do.
  public static func encode(_ bytes: [UInt8]) -> String {
    var text = String.UnicodeScalarView()
    for byte in bytes { text.append(scalarForByte[Int(byte)]) }
    return String(text)
  }

  /// Reads back the bytes of a vocab.json / merges.txt token; nil if a character is not one of the 256.
  public static func decode(_ text: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
      let value = Int(scalar.value)
      guard value < byteForScalar.count, byteForScalar[value] >= 0 else { return nil }
      bytes.append(UInt8(byteForScalar[value]))
    }
    return bytes
  }
}
