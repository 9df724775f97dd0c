import Foundation

/// Reads a JSON-lines file into one object per non-blank line, with errors that name the file and
/// the 1-based line, as the other tools' readers do.
enum JSONLines {
  /// The file's bytes; `-` reads stdin.
  static func data(_ path: String) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard FileManager.default.fileExists(atPath: path) else {
      throw PlotError.unreadable(file: path, reason: "no such file")
    }
    do {
      return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw PlotError.unreadable(file: path, reason: error.localizedDescription)
    }
  }

  /// Each non-blank line as a JSON object, with its line number. `nonFinite` first turns the bare
  /// `nan`, `inf` and `-inf` that Swift prints for non-finite doubles (clt-fit's metrics can hold
  /// them) into `null`, which JSON allows.
  static func objects(_ path: String, nonFinite: Bool = false) throws -> [(line: Int, object: [String: Any])]
  {
    var result: [(Int, [String: Any])] = []
    try forEachObject(path, nonFinite: nonFinite) { line, object in
      result.append((line, object))
      return true
    }
    return result
  }

  /// Calls `body` with each non-blank line's object and line number, reading the file in 1 MiB
  /// blocks, so a clt-encode output of a whole corpus is never held at once; `body` returns false
  /// to stop reading (a picture of one document stops after it).
  static func forEachObject(
    _ path: String, nonFinite: Bool = false, _ body: (Int, [String: Any]) throws -> Bool
  ) throws {
    let handle: FileHandle
    if path == "-" {
      handle = FileHandle.standardInput
    } else {
      guard FileManager.default.fileExists(atPath: path) else {
        throw PlotError.unreadable(file: path, reason: "no such file")
      }
      guard let opened = FileHandle(forReadingAtPath: path) else {
        throw PlotError.unreadable(file: path, reason: "permission denied or not a file")
      }
      handle = opened
    }
    defer { if path != "-" { try? handle.close() } }
    var pending = Data()
    var lineNumber = 0
    func handleLine(_ bytes: Data) throws -> Bool {
      lineNumber += 1
      var line = String(decoding: bytes, as: UTF8.self)
      if line.hasSuffix("\r") { line.removeLast() }
      if line.allSatisfy({ $0 == " " || $0 == "\t" }) { return true }
      if nonFinite { line = replacingNonFinite(line) }
      let parsed: Any
      do {
        parsed = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
      } catch {
        throw PlotError.badLine(file: path, line: lineNumber, reason: "not valid JSON")
      }
      guard let object = parsed as? [String: Any] else {
        throw PlotError.badLine(file: path, line: lineNumber, reason: "not a JSON object")
      }
      return try body(lineNumber, object)
    }
    while true {
      let block: Data
      do {
        block = try handle.read(upToCount: 1 << 20) ?? Data()
      } catch {
        throw PlotError.unreadable(file: path, reason: error.localizedDescription)
      }
      if block.isEmpty { break }
      pending.append(block)
      var start = pending.startIndex
      while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
        if try !handleLine(pending[start..<newline]) { return }
        start = pending.index(after: newline)
      }
      pending = Data(pending[start...])
    }
    if !pending.isEmpty { _ = try handleLine(pending) }
  }

  /// `line` with bare nan/inf/-inf tokens (outside strings) replaced by null.
  static func replacingNonFinite(_ line: String) -> String {
    let chars = Array(line)
    var out = ""
    var inString = false
    var escaped = false
    var i = 0
    scan: while i < chars.count {
      let c = chars[i]
      if inString {
        if escaped {
          escaped = false
        } else if c == "\\" {
          escaped = true
        } else if c == "\"" {
          inString = false
        }
      } else if c == "\"" {
        inString = true
      } else {
        for word in ["-nan", "-inf", "nan", "inf"] where i + word.count <= chars.count {
          let after = i + word.count < chars.count ? chars[i + word.count] : " "
          let before = i == 0 ? " " : chars[i - 1]
          if String(chars[i..<(i + word.count)]) == word && !after.isLetter && !before.isLetter {
            out += "null"
            i += word.count
            continue scan
          }
        }
      }
      out.append(c)
      i += 1
    }
    return out
  }

  /// A required field of type `T`, or an error naming it.
  static func field<T>(_ object: [String: Any], _ key: String, _ path: String, _ line: Int) throws -> T {
    guard let value = object[key] else {
      throw PlotError.badLine(file: path, line: line, reason: "missing field \"\(key)\"")
    }
    guard let typed = value as? T else {
      throw PlotError.badLine(file: path, line: line, reason: "field \"\(key)\" has the wrong type")
    }
    return typed
  }
}
