import Foundation

/// Why shards could not be written or read; each message names the path involved.
public enum ShardError: Error, LocalizedError, Equatable {
  /// The output folder could not be created or written (permissions, full disk, a file in the
  /// way...).
  case directoryNotWritable(path: String, reason: String)
  /// The output folder already holds shards that this run would overwrite.
  case existingShards(directory: String, example: String)
  /// Arguments that cannot describe a shard (non-positive sizes, mismatched buffer lengths).
  case invalidArgument(String)
  /// A shard could not be written or completed; no file is left under its final name.
  case writeFailed(path: String, reason: String)
  /// `append` or `finish` after `finish`, `abort` or an earlier failure.
  case writerClosed(directory: String)
  /// A file is not a shard this code can read.
  case unsupportedFormat(path: String, reason: String)
  /// Another process is writing shards into the folder.
  case folderInUse(directory: String)
  /// A cross-layer transcoder (clt.h5, or a clt-fit checkpoint) was given where a shard belongs.
  case transcoderGiven(path: String)

  public var errorDescription: String? {
    switch self {
    case .directoryNotWritable(let path, let reason):
      return "\(path): cannot write shards here (\(reason)); choose a writable folder"
    case .existingShards(let directory, let example):
      return "\(directory): already holds shards (\(example)); "
        + "move or delete them, or choose an empty folder"
    case .invalidArgument(let message):
      return "shard writer: \(message)"
    case .writeFailed(let path, let reason):
      return "\(path): cannot write shard: \(reason)"
    case .writerClosed(let directory):
      return "\(directory): the shard writer was already finished or aborted"
    case .unsupportedFormat(let path, let reason):
      return "\(path): not a readable activation shard: \(reason)"
    case .folderInUse(let directory):
      return "\(directory): another gpt2-acts is writing shards here; wait for it to finish, "
        + "or give this run another --out-dir"
    case .transcoderGiven(let path):
      return "\(path) is a CLT (clt.h5), not an activation shard; give the shards gpt2-acts wrote"
    }
  }
}
