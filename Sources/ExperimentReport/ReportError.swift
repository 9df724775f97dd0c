import Foundation

/// What stops a report from being written, with the file at fault and what to do.
public enum ReportError: LocalizedError, Equatable {
  /// The folder is not an experiment's results (no variant with a clt.h5).
  case noResults(path: String)
  /// A results file that does not parse.
  case unreadable(path: String, reason: String)
  /// A graph made with another model's CLT than its variant's clt.h5: both named.
  case mismatchedGraph(String)

  public var errorDescription: String? {
    switch self {
    case .noResults(let path):
      return "\(path): no experiment results here (no VARIANT/clt.h5); run `make -C pipelines EXP=NAME` first"
    case .mismatchedGraph(let reason):
      return
        "\(reason); a variant's graphs must be of its clt.h5: delete the graph and rerun its pipeline stage"
    case .unreadable(let path, let reason):
      return "\(path): cannot read it (\(reason)); delete it and rerun its pipeline stage"
    }
  }
}
