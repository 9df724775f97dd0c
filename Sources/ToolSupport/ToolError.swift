import Foundation

/// Errors the tools themselves raise (as opposed to the libraries), each saying what to do.
public enum ToolError: Error, LocalizedError, Equatable {
  case tokenizerNotFound(searched: [String])
  case emptyInput(String)
  case outputFailed(path: String, reason: String)
  case promptUnreadable(path: String, reason: String)
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
    case .promptUnreadable(let path, let reason):
      return "\(path): cannot read the prompt file (\(reason)); the argument names a file holding "
        + "the prompt; to give the text itself, pipe it in: echo 'TEXT' | <tool> [options] -"
    case .mismatch(let detail):
      return detail
    }
  }
}
