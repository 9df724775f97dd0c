import Foundation

/// Why bytes are not an attribution graph document, in one line that names the field at fault
/// ("nodes[3].ctx_idx: expected a whole number"); the reader adds the file's name.
public struct AttributionGraphDocumentError: Error, LocalizedError, Equatable {
  public var reason: String

  public init(reason: String) { self.reason = reason }

  /// The `DecodingError` `JSONDecoder` threw, told as where in the document and what is wrong.
  init(_ error: DecodingError) {
    func place(_ path: [CodingKey]) -> String {
      path.reduce("") { text, key in
        key.intValue.map { "\(text)[\($0)]" }
          ?? (text.isEmpty ? key.stringValue : "\(text).\(key.stringValue)")
      }
    }
    let expected = "expected clt-attrib --format json"
    switch error {
    case .dataCorrupted(let context) where context.codingPath.isEmpty:
      reason = "not valid JSON; \(expected)"
    case .typeMismatch(_, let context) where context.codingPath.isEmpty:
      reason = "not a JSON object; \(expected)"
    case .keyNotFound(let key, let context):
      let field = place(context.codingPath + [key])
      reason = context.codingPath.isEmpty ? "missing list \"\(field)\"" : "\(field) is missing"
    case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
      reason = "\(place(context.codingPath)): expected \(Self.describe(type))"
    case .dataCorrupted(let context):
      let detail = context.debugDescription.split(whereSeparator: \.isNewline).joined(separator: " ")
      reason = "\(place(context.codingPath)): \(detail)"
    @unknown default:
      reason = "not a graph; \(expected)"
    }
  }

  public var errorDescription: String? { reason }

  /// A JSON type as a message names it.
  private static func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Int.Type: return "a whole number"
    case is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is [Any].Type: return "a list"
    default: return "an object"
    }
  }
}
