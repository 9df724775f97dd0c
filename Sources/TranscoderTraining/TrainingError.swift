import Foundation

/// Why training could not start or go on; each message names the file or option involved and
/// says what to do.
public enum TrainingError: Error, LocalizedError, Equatable {
  /// No shard paths were given, neither as arguments nor on stdin, or the shards held no rows.
  case noShards(String)
  /// A shard's metadata differs from the first shard's: it comes from another model or shape.
  case mismatchedShard(path: String, field: String, expected: String, found: String, first: String)
  /// A path given as a shard is neither a file nor a folder.
  case missingShard(path: String)
  /// The output cannot be written.
  case outputNotWritable(path: String, reason: String)
  /// A file is not a clt.h5 this code can read.
  case unsupportedTranscoder(path: String, reason: String)
  /// Options that cannot describe a run.
  case invalidConfiguration(String)

  public var errorDescription: String? {
    switch self {
    case .noShards(let detail):
      return "no activation shards: \(detail); pass shard files or folders as arguments, "
        + "or pipe `gpt2-acts` into clt-fit"
    case .mismatchedShard(let path, let field, let expected, let found, let first):
      return "\(path): \(field) is '\(found)' but the first shard (\(first)) has '\(expected)'; "
        + "train on shards of one model only"
    case .missingShard(let path):
      return "\(path): no such shard file or folder"
    case .outputNotWritable(let path, let reason):
      return "\(path): cannot write the transcoder (\(reason)); choose a writable path"
    case .unsupportedTranscoder(let path, let reason):
      return "\(path): not a readable clt.h5: \(reason)"
    case .invalidConfiguration(let message):
      return message
    }
  }
}
