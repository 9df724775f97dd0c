import Foundation

/// Reads a tool's prompt: a file, or stdin for "-". A prompt file's final newline is an editor's
/// habit, not part of the prompt, so one is dropped.
public enum PromptFile {
  /// The prompt in `path` ("-": stdin), without one final newline.
  /// - Throws: `ToolError` when the file cannot be read or is not UTF-8.
  public static func read(_ path: String) throws -> String {
    let data: Data
    if path == "-" {
      data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
      guard let contents = FileManager.default.contents(atPath: path) else {
        let reason = FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file"
        throw ToolError.promptUnreadable(path: path, reason: reason)
      }
      data = contents
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ToolError.mismatch("\(path): the prompt is not valid UTF-8")
    }
    return text.hasSuffix("\n") ? String(text.dropLast()) : text
  }
}
