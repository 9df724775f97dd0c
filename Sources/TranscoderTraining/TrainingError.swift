import CLTFormat
import Foundation

/// Why training could not start or go on; each message names the file or option involved and
/// says what to do.
public enum TrainingError: Error, LocalizedError, Equatable {
  /// No shard paths were given, neither as arguments nor on stdin, or the shards held no rows.
  case noShards(String)
  /// A shard's metadata differs from the first shard's: it comes from another model or shape.
  case mismatchedShard(path: String, field: String, expected: String, found: String, first: String)
  /// A held-out shard (`--eval`) of another model than the training shards: each described by its
  /// model (or the field that differs), the first training shard named.
  case heldOutMismatch(path: String, heldOut: String, training: String, trainingPath: String)
  /// Shards were given but every one was skipped as unreadable; `firstReason` names the first.
  case unreadableShards(count: Int, firstReason: String)
  /// A path given as a shard is neither a file nor a folder.
  case missingShard(path: String)
  /// A checkpoint whose own datasets (the optimizer's counts) do not fit it; told as
  /// `CLTFileError.unsupportedTranscoder` tells a clt.h5's.
  case unsupportedTranscoder(path: String, reason: String)
  /// Options that cannot describe a run.
  case invalidConfiguration(String)
  /// A checkpoint that does not belong to this run (another model, shape or activation).
  case checkpointMismatch(path: String, reason: String)
  /// The run would need more memory than the machine has.
  case insufficientMemory(neededBytes: Int, availableBytes: Int, detail: String)
  /// A --time-limit that is not a positive duration.
  case invalidTimeLimit(String)
  /// Data-parallel processes that should hold identical parameters do not.
  case replicasDiverged(step: Int, rank: Int)
  /// Shards read from stdin that do not say how many rows the run will bring, with no
  /// --steps or --tokens to plan by.
  case unknownLength(path: String)

  public var errorDescription: String? {
    switch self {
    case .noShards(let detail):
      return "no activation shards: \(detail); pass shard files or folders as arguments, "
        + "or pipe `gpt2-acts` into clt-fit"
    case .mismatchedShard(let path, let field, let expected, let found, let first):
      return "\(path): \(field) is '\(found)' but the first shard (\(first)) has '\(expected)'; "
        + "train on shards of one model only"
    case .heldOutMismatch(let path, let heldOut, let training, let trainingPath):
      return
        "\(path) (--eval) holds activations of \(heldOut), the training shards (\(trainingPath), ...) of "
        + "\(training); give --eval shards of the model the CLT is trained on"
    case .unreadableShards(let count, let firstReason):
      let which = count == 1 ? "the shard given could not" : "none of the \(count) shards given could"
      return "no activation shards: \(which) be read (\(firstReason))"
    case .missingShard(let path):
      return "\(path): no such shard file or folder"
    case .unsupportedTranscoder(let path, let reason):
      return CLTFileError.unsupportedTranscoder(path: path, reason: reason).errorDescription
    case .invalidConfiguration(let message):
      return message
    case .checkpointMismatch(let path, let reason):
      return "\(path): cannot resume from this checkpoint: \(reason); resume with the options and shards "
        + "the checkpoint was made with, or start afresh without --resume"
    case .insufficientMemory(let needed, let available, let detail):
      let gib = { (bytes: Int) in String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
      return
        "this run needs about \(gib(needed)) of memory (\(detail)) and the machine has \(gib(available)); "
        + "lower --features, --batch or --shuffle-tokens"
    case .replicasDiverged(let step, let rank):
      return "at step \(step) rank \(rank)'s parameters differ from another rank's, so no checkpoint "
        + "was written; resume from the last checkpoint, and report this (the ranks should take identical steps)"
    case .unknownLength(let path):
      return "\(path) does not say how many rows its run writes (it predates planned_rows), so one pass "
        + "cannot be planned; give --steps or --tokens"
    case .invalidTimeLimit(let text):
      return
        "--time-limit '\(text)' is not a duration; give seconds or a number with s, m or h (7200, 90m, 2h)"
    }
  }
}
