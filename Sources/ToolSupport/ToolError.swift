import Foundation

/// Errors the tools themselves raise (as opposed to the libraries), each saying what to do.
public enum ToolError: Error, LocalizedError, Equatable {
  case emptyInput(String)
  case outputFailed(path: String, reason: String)
  case promptUnreadable(path: String, reason: String)
  case mismatch(String)
  case standardOutputFailed(reason: String)
  case outputLostAfterWork(reason: String, savedIn: String?)

  public var errorDescription: String? {
    switch self {
    case .emptyInput(let what):
      return "\(what) is empty; give it some text"
    case .outputFailed(let path, let reason):
      return "\(path): cannot write (\(reason))"
    case .promptUnreadable(let path, let reason):
      return "\(path): cannot read the prompt file (\(reason)); the argument names a file holding "
        + "the prompt; to give the text itself, pipe it in: echo 'TEXT' | <tool> [options] -"
    case .mismatch(let detail):
      return detail
    case .standardOutputFailed(let reason):
      return "cannot write to standard output (\(reason)); the program reading it may have stopped, "
        + "or the disk is full"
    case .outputLostAfterWork(let reason, let checkpoint):
      return reason
        + (checkpoint.map { "; the run is saved in \($0): make room, then run again with --resume \($0)" }
          ?? "")
    }
  }
}
