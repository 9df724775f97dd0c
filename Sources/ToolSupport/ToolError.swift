import Foundation

/// Errors the tools themselves raise (as opposed to the libraries), each saying what to do.
public enum ToolError: Error, LocalizedError, Equatable {
  case tokenizerNotFound(searched: [String])
  case emptyInput(String)
  case outputFailed(path: String, reason: String)
  case mismatch(String)

  public var errorDescription: String? {
    switch self {
    case .tokenizerNotFound(let searched):
      return "no tokenizer found (looked for \(searched.joined(separator: ", "))); "
        + "run `make assets` or pass --tokenizer PATH (a .tiktoken rank file or a folder with vocab.json and merges.txt)"
    case .emptyInput(let what):
      return "\(what) is empty; give it some text"
    case .outputFailed(let path, let reason):
      return "\(path): cannot write (\(reason))"
    case .mismatch(let detail):
      return detail
    }
  }
}
