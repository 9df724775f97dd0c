import ActivationShards
import CLTFormat
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
  /// Delete the shards whose paths came from stdin once loaded (what `clt-fit` does by default
  /// when reading a pipe: those shards exist for this run only). The consumer lock is held in
  /// their folders, so that the writer knows someone is making room.
  public var consumeStandardInput = false
  private var fromStandardInput: Set<URL> = []
  private var consumerLocks: [String: FolderLock] = [:]
  /// A line read ahead from stdin by `plannedRows`, handed out first by `nextPath`.
  private var peekedLine: String?
  /// Every argument shard (this process's share), for `plannedRows`.
  private let argumentPaths: [String]
  /// The `planned_rows` of the first shard read from stdin, once one has been opened.
  private var standardInputPlan: Int??
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
    argumentPaths = paths
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
      if consumes(url) { holdConsumerLock(in: url.deletingLastPathComponent()) }
      guard let reader = open(url) else { continue }
      try check(reader.metadata, path: path)
      if standardInputPlan == nil && fromStandardInput.contains(url) {
        standardInputPlan = .some(reader.metadata.plannedRows)
      }
      seen.append(url)
      return reader
    }
    return nil
  }

  /// The first shard, opened to learn the shapes, then put back so that the next pass starts
  /// with it.
  /// - Throws: `TrainingError.unreadableShards` when every shard given was skipped as unreadable,
  ///   `.noShards` when none was given.
  public func first() throws -> ShardReader {
    guard let first = try next() else {
      if let reason = skipped.first?.reason {
        throw TrainingError.unreadableShards(count: skipped.count, firstReason: reason)
      }
      throw TrainingError.noShards("none were given")
    }
    rewind()
    return first
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
    guard consumes(url) else { return }
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

  private func consumes(_ url: URL) -> Bool {
    consume || (consumeStandardInput && fromStandardInput.contains(url))
  }

  private func holdConsumerLock(in folder: URL) {
    guard consumerLocks[folder.path] == nil else { return }
    // Another consumer of the same folder holds it already: it makes room as well as this one.
    // A folder this process cannot write holds shards it cannot delete either: no lock there.
    if let lock = try? FolderLock(url: folder.appendingPathComponent(ShardLayout.consumerLock)) {
      consumerLocks[folder.path] = lock
    }
  }

  /// Ends the stream: removes the shards from stdin it began but did not finish (they exist for
  /// this run only, and no one else will read them), releases the consumer locks and removes the
  /// folders that are now empty, so that a pipeline leaves nothing behind.
  public func close() {
    let transient = { (url: URL) in self.consumeStandardInput && self.fromStandardInput.contains(url) }
    for url in seen where transient(url) { try? FileManager.default.removeItem(at: url) }
    seen.removeAll(where: transient)
    for (folder, lock) in consumerLocks {
      lock.release()
      rmdir(folder)  // fails, harmlessly, unless the folder is empty
    }
    consumerLocks = [:]
  }

  /// The rows one pass over the stream will bring: those of the argument shards, plus, when
  /// stdin is read, the run's total that the first shard from stdin records (`planned_rows`,
  /// written by gpt2-acts, which tokenises its corpus before writing any shard).
  /// - Throws: `TrainingError.unknownLength` when stdin's shards do not record it.
  public func plannedRows() throws -> Int {
    var rows = 0
    for path in argumentPaths {
      if let reader = try? ShardReader(url: URL(fileURLWithPath: path)) { rows += reader.rowCount }
    }
    guard readsStandardInput else { return rows }
    if standardInputPlan == nil {
      while peekedLine == nil, !standardInputDone {
        guard let line = readLine() else {
          standardInputDone = true
          break
        }
        let path = line.trimmingCharacters(in: .whitespaces)
        if !path.isEmpty { peekedLine = path }
      }
      guard let path = peekedLine else { return rows }
      standardInputPlan = .some(try ShardReader(url: URL(fileURLWithPath: path)).metadata.plannedRows)
    }
    guard let planned = standardInputPlan ?? nil else {
      throw TrainingError.unknownLength(
        path: seen.first { fromStandardInput.contains($0) }?.path ?? peekedLine ?? "-")
    }
    return rows + planned
  }

  private func nextPath() -> String? {
    if !pendingPaths.isEmpty { return pendingPaths.removeFirst() }
    if let line = peekedLine {
      peekedLine = nil
      fromStandardInput.insert(URL(fileURLWithPath: line))
      return line
    }
    while readsStandardInput && !standardInputDone {
      guard let line = readLine() else {
        standardInputDone = true
        return nil
      }
      let path = line.trimmingCharacters(in: .whitespaces)
      if !path.isEmpty {
        fromStandardInput.insert(URL(fileURLWithPath: path))
        return path
      }
    }
    return nil
  }

  private func check(_ candidate: ShardMetadata, path: String) throws {
    guard let first = metadata else {
      metadata = candidate
      firstPath = path
      return
    }
    if let (field, expected, found) = first.difference(from: candidate) {
      throw TrainingError.mismatchedShard(
        path: path, field: field, expected: expected, found: found, first: firstPath)
    }
  }

  /// Opens the first shard now and requires it to come from the model of `reference`, the
  /// metadata of the shard at `referencePath`: held-out shards (`clt-fit --eval`) of another model
  /// are refused before training rather than after it. Every later shard is checked against the
  /// first as usual, so all of them are of that model.
  /// - Throws: `TrainingError.heldOutMismatch`, or `.noShards` when there is no readable shard.
  public func requireModel(of reference: ShardMetadata, at referencePath: String) throws {
    guard let first = try next() else { throw TrainingError.noShards("--eval gave no readable shard") }
    rewind()
    guard let (field, expected, found) = reference.difference(from: first.metadata) else { return }
    func label(_ m: ShardMetadata, _ value: String) -> String {
      field == "model_sha256" || field == "architecture"
        ? TranscoderIdentity.modelLabel(name: m.model, sha256: m.modelSHA256) : "\(field) \(value)"
    }
    throw TrainingError.heldOutMismatch(
      path: first.url.path, heldOut: label(first.metadata, found), training: label(reference, expected),
      trainingPath: referencePath)
  }
}

extension ShardMetadata {
  /// The first of architecture, model_sha256, n_layers and d_model in which `other` differs from
  /// this shard's: the field, this shard's value and `other`'s; nil when they come from one model.
  func difference(from other: ShardMetadata) -> (field: String, mine: String, theirs: String)? {
    let fields: [(String, String, String)] = [
      ("architecture", architecture, other.architecture),
      ("model_sha256", modelSHA256, other.modelSHA256),
      ("n_layers", String(nLayers), String(other.nLayers)),
      ("d_model", String(dModel), String(other.dModel)),
    ]
    return fields.first { $0.1 != $0.2 }
  }
}
