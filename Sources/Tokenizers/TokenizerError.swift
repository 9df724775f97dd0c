import Foundation

/// Why a tokenizer could not be loaded: each case names the file (and line, where there is one) and
/// its message says what to fix, because a broken asset is usually a truncated download or a file
/// meant for another model.
public enum TokenizerError: Error, LocalizedError, Equatable, Sendable {
  /// The file could not be read at all.
  case unreadableFile(path: String, reason: String)
  /// One line of a line-oriented file (tiktoken rank file, merges.txt) is wrong.
  case malformedLine(path: String, line: Int, content: String, problem: String)
  /// vocab.json (or a rank file as a whole) does not describe a usable byte-level vocabulary.
  case malformedVocabulary(path: String, problem: String)
  /// A GGUF describes a tokenizer this library does not implement (`key` holds `value`).
  case unsupportedTokenizer(path: String, key: String, value: String, supported: [String])

  public var errorDescription: String? {
    switch self {
    case .unreadableFile(let path, let reason):
      return
        "cannot read tokenizer file \(path): \(reason). Check the path (for GPT-2's rank file, run `make assets`)."
    case .malformedLine(let path, let line, let content, let problem):
      let shown = content.count > 80 ? String(content.prefix(80)) + "…" : content
      return "\(path):\(line): \(problem) (line reads \"\(shown)\")."
    case .malformedVocabulary(let path, let problem):
      return "\(path): \(problem)."
    case .unsupportedTokenizer(let path, let key, let value, let supported):
      return "\(path): \(key) is \"\(value)\", which CLTKit's tokenizer does not implement; supported: "
        + supported.map { "\"\($0)\"" }.joined(separator: ", ")
        + ". Pass --tokenizer with the model's vocab.json and merges.txt folder instead, if it has one."
    }
  }
}
