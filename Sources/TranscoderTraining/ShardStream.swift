import ActivationShards
import Foundation
import Transcoder

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
  /// Delete each shard once all of its rows are in the shuffle buffer (`clt-fit --consume`):
  /// with `gpt2-acts --max-pending` this bounds the disk a long streaming run needs. Consumed
  /// shards are not gone over again.
  public var consume = false
  /// Shards that could not be read, with the reason, in the order they were met.
  public private(set) var skipped: [(path: String, reason: String)] = []
  /// Called for each skipped shard (to report it as it happens).
  public var onSkip: ((String, String) -> Void)?

  /// - Parameters:
  ///   - arguments: shard files or folders of shards.
  ///   - readStandardInput: also read shard paths, one per line, from `lines` (stdin by default).
  ///   - share: for data-parallel training, this process's rank and the number of processes:
  ///     it keeps every size-th shard of the arguments (in order, from the rank-th), so the
  ///     processes read disjoint shards and together all of them.
  public init(
    arguments: [String], readStandardInput: Bool,
    lines: @escaping () -> String? = { Swift.readLine(strippingNewline: true) },
    share: (rank: Int, of: Int) = (0, 1)
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
    if share.of > 1 {
      let all = paths.count
      paths = paths.indices.filter { $0 % share.of == share.rank }.map { paths[$0] }
      guard !paths.isEmpty else {
        throw TrainingError.noShards(
          "\(all) shards among \(share.of) processes leave rank \(share.rank) none; "
            + "give at least one shard per process")
      }
    }
    pendingPaths = paths
    readsStandardInput = readStandardInput
    readLine = lines
  }

  /// The next shard, opened and checked, or nil when every argument and stdin are exhausted.
  /// A shard that cannot be opened (truncated, corrupt, not a shard) is skipped and recorded in
  /// `skipped`; one from another model is an error.
  public func next() throws -> ShardReader? {
    while !replay.isEmpty {
      let url = replay.removeFirst()
      if let reader = open(url) { return reader }
    }
    while let path = nextPath() {
      let url = URL(fileURLWithPath: path)
      guard FileManager.default.fileExists(atPath: path) else { throw TrainingError.missingShard(path: path) }
      guard let reader = open(url) else { continue }
      try check(reader.metadata, path: path)
      seen.append(url)
      return reader
    }
    return nil
  }

  private func open(_ url: URL) -> ShardReader? {
    do {
      return try ShardReader(url: url)
    } catch {
      skip(url.path, reason: error.localizedDescription)
      return nil
    }
  }

  /// Records a shard that could not be read and leaves it out of later epochs.
  public func skip(_ path: String, reason: String) {
    skipped.append((path, reason))
    seen.removeAll { $0.path == path }
    onSkip?(path, reason)
  }

  /// Every row of `url` has been loaded: with `consume`, the shard is deleted now.
  public func finished(_ url: URL) {
    guard consume else { return }
    seen.removeAll { $0 == url }
    try? FileManager.default.removeItem(at: url)
  }

  /// Starts another pass over the shards seen so far (another epoch); new paths are not read.
  /// With `seed` the pass visits them in an order drawn from it (Fisher–Yates), so that each
  /// epoch's stream of rows differs, not only the sampling from the buffer.
  public func rewind(shufflingWith seed: UInt64? = nil) {
    replay = seen
    guard let seed, replay.count > 1 else { return }
    var generator = XorShiftGenerator(seed: seed)
    for i in stride(from: replay.count - 1, to: 0, by: -1) {
      replay.swapAt(i, Int(generator.next() % UInt64(i + 1)))
    }
  }

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
