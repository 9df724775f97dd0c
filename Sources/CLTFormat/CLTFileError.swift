import Foundation

/// Why a clt.h5 could not be read or written; each message names the file and says what to do.
public enum CLTFileError: Error, LocalizedError, Equatable {
  /// The output cannot be written.
  case outputNotWritable(path: String, reason: String)
  /// A file is not a clt.h5 this code can read.
  case unsupportedTranscoder(path: String, reason: String)
  /// An activation shard was given where a clt.h5 belongs.
  case shardGiven(path: String)

  public var errorDescription: String? {
    switch self {
    case .outputNotWritable(let path, let reason):
      return "\(path): cannot write the transcoder (\(reason)); choose a writable path"
    case .unsupportedTranscoder(let path, let reason):
      return "\(path): not a readable clt.h5: \(reason)"
    case .shardGiven(let path):
      return "\(path) is an activation shard, not a CLT (clt.h5); give the clt.h5 clt-fit wrote"
    }
  }
}
