import ActivationShards
import Foundation

/// The shards to train on, one at a time: first those named as arguments (a folder stands for its
/// `shard-*.h5` files, sorted), then the paths read line by line from stdin as `gpt2-acts` prints
/// them. Stdin is read only when the next shard is wanted, so training starts on the first shard
/// while later ones are still being written.
///
/// Every shard's metadata is checked against the first one's: mixing models (a different
/// checkpoint hash) or shapes would silently train a transcoder on nonsense.
public final class ShardStream {
  private var pendingPaths: [String]
  private let readsStandardInput: Bool
  private var standardInputDone = false
  private let readLine: () -> String?
  /// Every shard handed out so far, in order, so that a run can go over them again (`rewind`).
  public private(set) var seen: [URL] = []
  private var replay: [URL] = []
  /// The first shard's metadata, which every other shard must match.
  public private(set) var metadata: ShardMetadata?
  private var firstPath = ""

  /// - Parameters:
  ///   - arguments: shard files or folders of shards.
  ///   - readStandardInput: also read shard paths, one per line, from `lines` (stdin by default).
  public init(
    arguments: [String], readStandardInput: Bool,
    lines: @escaping () -> String? = { Swift.readLine(strippingNewline: true) }
  ) throws {
    var paths: [String] = []
    for argument in arguments {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
        throw TrainingError.missingShard(path: argument)
      }
      if isDirectory.boolValue {
        let names = try FileManager.default.contentsOfDirectory(atPath: argument)
          .filter { $0.hasPrefix("shard-") && $0.hasSuffix(".h5") }.sorted()
        paths += names.map { URL(fileURLWithPath: argument).appendingPathComponent($0).path }
      } else {
        paths.append(argument)
      }
    }
    pendingPaths = paths
    readsStandardInput = readStandardInput
    readLine = lines
  }

  /// The next shard, opened and checked, or nil when every argument and stdin are exhausted.
  public func next() throws -> ShardReader? {
    if !replay.isEmpty { return try ShardReader(url: replay.removeFirst()) }
    guard let path = nextPath() else { return nil }
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.fileExists(atPath: path) else { throw TrainingError.missingShard(path: path) }
    let reader = try ShardReader(url: url)
    try check(reader.metadata, path: path)
    seen.append(url)
    return reader
  }

  /// Starts another pass over the shards seen so far (another epoch); new paths are not read.
  public func rewind() { replay = seen }

  private func nextPath() -> String? {
    if !pendingPaths.isEmpty { return pendingPaths.removeFirst() }
    while readsStandardInput && !standardInputDone {
      guard let line = readLine() else {
        standardInputDone = true
        return nil
      }
      let path = line.trimmingCharacters(in: .whitespaces)
      if !path.isEmpty { return path }
    }
    return nil
  }

  private func check(_ candidate: ShardMetadata, path: String) throws {
    guard let first = metadata else {
      metadata = candidate
      firstPath = path
      return
    }
    let fields: [(String, String, String)] = [
      ("architecture", first.architecture, candidate.architecture),
      ("model_sha256", first.modelSHA256, candidate.modelSHA256),
      ("n_layers", String(first.nLayers), String(candidate.nLayers)),
      ("d_model", String(first.dModel), String(candidate.dModel)),
    ]
    for (field, expected, found) in fields where expected != found {
      throw TrainingError.mismatchedShard(
        path: path, field: field, expected: expected, found: found, first: firstPath)
    }
  }
}
