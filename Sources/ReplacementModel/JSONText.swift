/// The few pieces of JSON the encoders here write by hand, so that keys keep the documented order
/// and a line costs no Foundation round trip.
enum JSONText {
  /// A JSON string literal: quotes, backslashes and control characters escaped.
  static func string(_ text: String) -> String {
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
  static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
  static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }

  static func numbers(_ values: [Double]) -> String { "[" + values.map(number).joined(separator: ", ") + "]" }
}
