import Foundation

/// What can be wrong with a plot's input or output, each naming the file and what to do.
public enum PlotError: Error, LocalizedError, Equatable {
  /// A line of a JSON-lines file that is not what its format says (1-based line number).
  case badLine(file: String, line: Int, reason: String)
  /// A JSON document (graph) that is not what its format says.
  case badDocument(file: String, reason: String)
  /// A file with nothing to plot in it.
  case emptyInput(file: String, what: String)
  /// A file that cannot be read.
  case unreadable(file: String, reason: String)
  /// A choice (layer, feature, position, document) that the input does not hold.
  case notInInput(file: String, detail: String)
  /// A file made with another transcoder than the clt.h5 read with it: the sentence names both,
  /// what differs and what to do.
  case madeWithAnotherTranscoder(String)
  /// An output that could not be written.
  case outputFailed(path: String, reason: String)
  /// An outside program (rsvg-convert, chromium) that is missing or failed.
  case externalTool(name: String, reason: String)

  public var errorDescription: String? {
    /// Standard input, given as `-`, is named as such.
    func name(_ file: String) -> String { file == "-" ? "stdin" : file }
    switch self {
    case .badLine(let file, let line, let reason):
      return "\(name(file)):\(line): \(reason)"
    case .badDocument(let file, let reason):
      return "\(name(file)): \(reason)"
    case .emptyInput(let file, let what):
      return "\(name(file)): no \(what) in it; give it a non-empty output of the tool that makes it"
    case .unreadable(let file, let reason):
      return "\(name(file)): cannot read (\(reason))"
    case .notInInput(let file, let detail):
      return "\(name(file)): \(detail)"
    case .madeWithAnotherTranscoder(let reason):
      return reason
    case .outputFailed(let path, let reason):
      return "\(path): cannot write (\(reason))"
    case .externalTool(let name, let reason):
      return "\(name): \(reason)"
    }
  }
}
