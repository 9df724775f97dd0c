import Foundation

/// Loose reading of the JSON the tools write: the report shows what is there and leaves out
/// what is not, so a results folder from an older run still gets a report.
struct JSONFile {
  let object: [String: Any]

  /// The object in `url`, nil when the file does not exist.
  static func load(_ url: URL) throws -> JSONFile? {
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    return try JSONFile(url: url)
  }

  init(url: URL) throws {
    do {
      let data = try Data(contentsOf: url)
      guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw ReportError.unreadable(path: url.path, reason: "not a JSON object")
      }
      self.object = object
    } catch let error as ReportError {
      throw error
    } catch {
      throw ReportError.unreadable(path: url.path, reason: error.localizedDescription)
    }
  }

  init(object: [String: Any]) { self.object = object }

  func number(_ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }
  func string(_ key: String) -> String? { object[key] as? String }
  func numbers(_ key: String) -> [Double?]? {
    (object[key] as? [Any])?.map { ($0 as? NSNumber)?.doubleValue }
  }
  func child(_ key: String) -> JSONFile? { (object[key] as? [String: Any]).map(JSONFile.init(object:)) }
  func count(_ key: String) -> Int? { (object[key] as? [Any])?.count }

  /// The last line of a JSON-lines file that parses, nil when there is none.
  static func lastLine(of url: URL) -> JSONFile? {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n").reversed() {
      if let data = line.data(using: .utf8),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      {
        return JSONFile(object: object)
      }
    }
    return nil
  }
}
