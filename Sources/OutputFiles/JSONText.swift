/// The few pieces of JSON the tools write by hand (clt-encode's lines, clt-replace's evaluation),
/// so that keys keep the documented order and a line costs no Foundation round trip.
public enum JSONText {
  /// A JSON string literal: quotes, backslashes and control characters escaped.
  public static func string(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  /// A number, or null where JSON has none (NaN, ±∞).
  public static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
  public static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }

  public static func numbers(_ values: [Double]) -> String {
    "[" + values.map(number).joined(separator: ", ") + "]"
  }
}
