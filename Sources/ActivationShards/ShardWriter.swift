import Foundation
import HDF5

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes rows into numbered shards `shard-000000.h5`, ... in `directory`; each shard is written
/// as `.shard-000000.h5.tmp`, then renamed when complete; returns the URLs of shards completed by
/// each call so the caller can print them.
///
/// A row is one token: its id, its position in its window, its window index, and its MLP input
/// and output at every layer. The on-disk format is described in docs/FORMATS.md.
///
/// Crash safety: a consumer only ever sees complete shards, because a shard gets its final name
/// by an atomic rename after its file is closed and synced. If anything fails while writing,
/// the writer removes its temporary file, remembers the failure and rethrows it.
public final class ShardWriter {
  /// Where shards are written.
  public let directory: URL
  /// Written as root attributes of every shard. It may still change before the first `append`
  /// (a tool takes the folder first, then learns `plannedRows` while tokenising).
  public var metadata: ShardMetadata
  /// Rows per complete shard (the last shard may have fewer).
  public let rowsPerShard: Int
  /// Back-pressure: the most completed shards allowed to wait in `directory` (nil: no limit).
  public let maxPending: Int?
  /// How often to look for deleted shards while waiting on `maxPending`.
  public var pollInterval: TimeInterval = 0.2
  /// Called with each shard's final URL as soon as it has been renamed into place, also when a
  /// later shard of the same `append` then fails: a consumer reading paths never misses one.
  public var onShardCompleted: ((URL) -> Void)?
  /// How long to wait on `maxPending` for a consumer (a process holding
  /// `ShardLayout.consumerLock` in the folder) to appear before giving up the limit: without one,
  /// nothing will ever delete a shard and the wait would never end.
  public var consumerGrace: TimeInterval = 10
  /// Called once, with the number of waiting shards, when `maxPending` is given up for want of
  /// a consumer.
  public var onNoConsumer: ((Int) -> Void)?
  /// Called on every poll while waiting for room; what it throws ends the wait (a tool checks
  /// there whether its own reader has gone).
  public var whileWaiting: (() throws -> Void)?
  /// Whether a consumer has been seen holding its lock in the folder.
  public private(set) var sawConsumer = false
  /// Shards completed so far, in order.
  public private(set) var completedShards: [URL] = []
  /// Temporary files of an earlier, killed writer, removed when this one took the folder.
  public private(set) var removedLeftovers: [String] = []
  /// This writer's hold on the folder; released when it finishes or aborts.
  private var lock: FolderLock?
  private var limitWaived = false

  private let chunkRows: Int
  private let indexChunkRows: Int
  private var nextIndex = 0
  private var current: OpenShard?
  private var closed = false
  /// Reused conversion buffers, so appends allocate nothing per element.
  private var staging16: [UInt16] = []
  private var staging32: [Float] = []

  /// The shard being written.
  private final class OpenShard {
    let index: Int
    let temporaryURL: URL
    let finalURL: URL
    var file: HDF5File?
    var datasets: [HDF5Dataset]
    var rows = 0

    init(index: Int, temporaryURL: URL, finalURL: URL, file: HDF5File, datasets: [HDF5Dataset]) {
      self.index = index
      self.temporaryURL = temporaryURL
      self.finalURL = finalURL
      self.file = file
      self.datasets = datasets
    }

    var tokens: HDF5Dataset { datasets[0] }
    var positions: HDF5Dataset { datasets[1] }
    var windows: HDF5Dataset { datasets[2] }
    var mlpIn: HDF5Dataset { datasets[3] }
    var mlpOut: HDF5Dataset { datasets[4] }

    /// Closes datasets then the file, so that every byte is written (or an error thrown). Every
    /// one is closed even after a failure (a full disk fails the first), and the first error is
    /// thrown: an identifier left open would be closed again by HDF5 at exit.
    func close() throws {
      var firstError: Error?
      for dataset in datasets {
        do { try dataset.close() } catch { firstError = firstError ?? error }
      }
      datasets = []
      do { try file?.close() } catch { firstError = firstError ?? error }
      file = nil
      if let firstError { throw firstError }
    }
  }

  /// Creates `directory` if needed and checks that it is writable and holds no shards yet.
  ///
  /// - Throws: `ShardError.directoryNotWritable` naming the folder if it cannot be created or
  ///   written; `ShardError.existingShards` rather than silently overwriting an earlier run.
  public init(directory: URL, metadata: ShardMetadata, rowsPerShard: Int, maxPending: Int? = nil)
    throws
  {
    guard rowsPerShard > 0 else {
      throw ShardError.invalidArgument("rowsPerShard must be positive, got \(rowsPerShard)")
    }
    guard metadata.nLayers > 0, metadata.dModel > 0 else {
      throw ShardError.invalidArgument(
        "nLayers and dModel must be positive, got \(metadata.nLayers) and \(metadata.dModel)")
    }
    if let maxPending, maxPending < 1 {
      throw ShardError.invalidArgument("maxPending must be at least 1, got \(maxPending)")
    }
    self.directory = directory
    self.metadata = metadata
    self.rowsPerShard = rowsPerShard
    self.maxPending = maxPending
    self.chunkRows = ShardLayout.activationChunkRows(metadata: metadata, rowsPerShard: rowsPerShard)
    self.indexChunkRows = ShardLayout.indexChunkRows(rowsPerShard: rowsPerShard)
    (lock, removedLeftovers) = try Self.prepare(directory: directory)
  }

  deinit {
    abort()
  }

  /// Path of the in-progress temporary file, if any (so a signal handler can unlink it).
  public var temporaryPath: String? {
    current?.temporaryURL.path
  }

  /// Appends `rows` rows. mlpIn/mlpOut are LAYER-MAJOR float32 buffers shaped
  /// (nLayers, rows, dModel) -- the forward pass produces that -- and the writer transposes to
  /// [rows, nLayers, dModel] while converting to the shard dtype.
  ///
  /// Rows that overflow the current shard complete it and go to the next one; before a new
  /// shard is started the writer waits while `maxPending` completed shards are in the folder.
  /// - Returns: the shards completed by this call, in order.
  public func append(
    tokens: UnsafeBufferPointer<Int32>, positions: UnsafeBufferPointer<Int32>,
    windows: UnsafeBufferPointer<Int32>, mlpIn: UnsafePointer<Float>, mlpOut: UnsafePointer<Float>
  ) throws -> [URL] {
    guard !closed else { throw ShardError.writerClosed(directory: directory.path) }
    lookForConsumer()
    let rows = tokens.count
    guard positions.count == rows, windows.count == rows else {
      throw ShardError.invalidArgument(
        "tokens, positions and windows must have the same length, got \(rows), "
          + "\(positions.count) and \(windows.count)")
    }
    var completed: [URL] = []
    do {
      var offset = 0
      while offset < rows {
        let shard = try current ?? startShard()
        let take = min(rows - offset, rowsPerShard - shard.rows)
        try write(
          into: shard, rows: offset..<(offset + take), of: rows, tokens: tokens,
          positions: positions, windows: windows, mlpIn: mlpIn, mlpOut: mlpOut)
        offset += take
        if shard.rows == rowsPerShard {
          let url = try completeCurrent()
          onShardCompleted?(url)
          completed.append(url)
        }
      }
    } catch {
      fail()
      throw error
    }
    return completed
  }

  /// Completes the last (partial) shard, if it has any rows.
  ///
  /// Later calls to `append` throw; calling `finish` again returns no shards.
  public func finish() throws -> [URL] {
    guard !closed else { return [] }
    defer {
      closed = true
      lock?.release()
    }
    guard let shard = current, shard.rows > 0 else {
      abort()
      return []
    }
    do {
      let url = try completeCurrent()
      onShardCompleted?(url)
      return [url]
    } catch {
      fail()
      throw error
    }
  }

  /// Removes the temporary file of an unfinished shard (called on error or SIGINT/SIGTERM);
  /// completed shards are left intact.
  public func abort() {
    closed = true
    lock?.release()
    guard let shard = current else { return }
    current = nil
    try? shard.close()
    unlink(shard.temporaryURL.path)
  }

  // MARK: - Shard lifecycle

  private func fail() {
    abort()
  }

  private func startShard() throws -> OpenShard {
    try waitForRoom()
    let index = nextIndex
    let temporaryURL = directory.appendingPathComponent(ShardLayout.temporaryName(index))
    let finalURL = directory.appendingPathComponent(ShardLayout.shardName(index))
    do {
      let file = try HDF5File.create(url: temporaryURL)
      // Registered before anything else can fail, so that `abort` removes the file.
      let shard = OpenShard(
        index: index, temporaryURL: temporaryURL, finalURL: finalURL, file: file, datasets: [])
      current = shard
      try metadata.write(to: file)
      for name in [ShardLayout.tokens, ShardLayout.positions, ShardLayout.windows] {
        shard.datasets.append(
          try file.createDataset(
            name, elementType: .int32, shape: [0], maxShape: [nil], chunkShape: [indexChunkRows]))
      }
      let elementType: HDF5ElementType = metadata.dtype == .f16 ? .float16 : .float32
      for tensor in [ShardTensor.mlpIn, .mlpOut] {
        shard.datasets.append(
          try file.createDataset(
            tensor.datasetName, elementType: elementType,
            shape: [0, metadata.nLayers, metadata.dModel],
            maxShape: [nil, metadata.nLayers, metadata.dModel],
            chunkShape: [chunkRows, metadata.nLayers, metadata.dModel]))
      }
      nextIndex += 1
      return shard
    } catch let error as HDF5Error {
      if current == nil { unlink(temporaryURL.path) }  // a file HDF5 may have left behind
      throw ShardError.writeFailed(path: finalURL.path, reason: error.localizedDescription)
    }
  }

  /// Closes, syncs and renames the current shard to its final name.
  private func completeCurrent() throws -> URL {
    guard let shard = current else {
      throw ShardError.invalidArgument("no shard in progress")
    }
    do {
      try shard.close()
    } catch {
      throw ShardError.writeFailed(
        path: shard.finalURL.path, reason: error.localizedDescription)
    }
    try Self.sync(shard.temporaryURL, finalPath: shard.finalURL.path)
    if rename(shard.temporaryURL.path, shard.finalURL.path) != 0 {
      throw ShardError.writeFailed(
        path: shard.finalURL.path,
        reason: "cannot rename \(shard.temporaryURL.lastPathComponent): \(Self.lastErrno())")
    }
    current = nil
    completedShards.append(shard.finalURL)
    lookForConsumer()
    return shard.finalURL
  }

  /// Notes whether a consumer holds its lock in the folder (checked at every append: a consumer
  /// takes it only once it has read the first path, and may have ended before any wait).
  private func lookForConsumer() {
    guard !sawConsumer else { return }
    sawConsumer = FolderLock.isHeld(directory.appendingPathComponent(ShardLayout.consumerLock))
  }

  /// Waits while `maxPending` or more completed shards are in the folder, as long as a consumer
  /// holds its lock there; with none for `consumerGrace` seconds the limit is given up
  /// (`onNoConsumer`), since nothing would ever make room.
  private func waitForRoom() throws {
    guard let maxPending, !limitWaived else { return }
    let consumerLock = directory.appendingPathComponent(ShardLayout.consumerLock)
    var alone: TimeInterval = 0
    while case let pending = try completedShardCount(), pending >= maxPending {
      if FolderLock.isHeld(consumerLock) {
        sawConsumer = true
        alone = 0
      } else if alone >= consumerGrace {
        limitWaived = true
        onNoConsumer?(pending)
        return
      } else {
        alone += pollInterval
      }
      try whileWaiting?()
      Thread.sleep(forTimeInterval: pollInterval)
    }
  }

  private func completedShardCount() throws -> Int {
    do {
      return try FileManager.default.contentsOfDirectory(atPath: directory.path)
        .filter { ShardLayout.isShardName(Substring($0)) }.count
    } catch {
      throw ShardError.directoryNotWritable(
        path: directory.path, reason: "cannot list it: \(error.localizedDescription)")
    }
  }

  // MARK: - Row writing

  /// Writes rows `range` of an append of `total` rows into `shard`, transposing the layer-major
  /// activations to row-major and converting them to the shard dtype.
  private func write(
    into shard: OpenShard, rows range: Range<Int>, of total: Int,
    tokens: UnsafeBufferPointer<Int32>, positions: UnsafeBufferPointer<Int32>,
    windows: UnsafeBufferPointer<Int32>, mlpIn: UnsafePointer<Float>, mlpOut: UnsafePointer<Float>
  ) throws {
    do {
      let start = shard.rows
      let newRows = start + range.count
      for dataset in shard.datasets { try dataset.extend(toRows: newRows) }
      try shard.tokens.writeRows(UnsafeBufferPointer(rebasing: tokens[range]), start: start)
      try shard.positions.writeRows(UnsafeBufferPointer(rebasing: positions[range]), start: start)
      try shard.windows.writeRows(UnsafeBufferPointer(rebasing: windows[range]), start: start)
      // Bounded blocks keep the staging buffer small whatever the append size.
      let blockRows = max(chunkRows, 64)
      var blockStart = range.lowerBound
      while blockStart < range.upperBound {
        let block = blockStart..<min(blockStart + blockRows, range.upperBound)
        let fileRow = start + (blockStart - range.lowerBound)
        try writeActivations(mlpIn, rows: block, of: total, to: shard.mlpIn, at: fileRow)
        try writeActivations(mlpOut, rows: block, of: total, to: shard.mlpOut, at: fileRow)
        blockStart = block.upperBound
      }
      shard.rows = newRows
    } catch let error as HDF5Error {
      throw ShardError.writeFailed(path: shard.finalURL.path, reason: error.localizedDescription)
    }
  }

  private func writeActivations(
    _ source: UnsafePointer<Float>, rows: Range<Int>, of total: Int, to dataset: HDF5Dataset,
    at fileRow: Int
  ) throws {
    let layers = metadata.nLayers
    let width = metadata.dModel
    let count = rows.count * layers * width
    switch metadata.dtype {
    case .f16:
      if staging16.count < count { staging16 = [UInt16](repeating: 0, count: count) }
      try staging16.withUnsafeMutableBufferPointer { staging in
        for (r, row) in rows.enumerated() {
          for layer in 0..<layers {
            let from = UnsafeBufferPointer(start: source + (layer * total + row) * width, count: width)
            let to = UnsafeMutableBufferPointer(rebasing: staging[((r * layers + layer) * width)...])
            Float16Conversion.convert(from, to: UnsafeMutableBufferPointer(rebasing: to[0..<width]))
          }
        }
        try dataset.writeRows(
          rawBytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: staging[0..<count])),
          start: fileRow)
      }
    case .f32:
      if staging32.count < count { staging32 = [Float](repeating: 0, count: count) }
      try staging32.withUnsafeMutableBufferPointer { staging in
        guard let base = staging.baseAddress else { return }
        for (r, row) in rows.enumerated() {
          for layer in 0..<layers {
            (base + (r * layers + layer) * width).update(
              from: source + (layer * total + row) * width, count: width)
          }
        }
        try dataset.writeRows(UnsafeBufferPointer(rebasing: staging[0..<count]), start: fileRow)
      }
    }
  }

  // MARK: - File system helpers

  /// Creates the folder, proves it writable with a probe file, takes the writer's lock, removes
  /// the temporary shards a killed writer left, and refuses existing shards.
  /// - Returns: the lock and the leftovers removed.
  private static func prepare(directory: URL) throws -> (FolderLock, [String]) {
    let path = directory.path
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw ShardError.directoryNotWritable(
        path: path, reason: "cannot create it: \(error.localizedDescription)")
    }
    // access(W_OK) is not enough: it ignores read-only mounts for some file systems and
    // always succeeds for root; creating a file is the real test.
    let probe = directory.appendingPathComponent(".write-probe-\(getpid())-\(UUID().uuidString)")
    let fd = open(probe.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else {
      throw ShardError.directoryNotWritable(path: path, reason: lastErrno())
    }
    close(fd)
    unlink(probe.path)
    guard let lock = try FolderLock(url: directory.appendingPathComponent(ShardLayout.writerLock)) else {
      throw ShardError.folderInUse(directory: path)
    }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    if let existing = names.filter({ ShardLayout.isShardName(Substring($0)) }).sorted().first {
      lock.release()
      throw ShardError.existingShards(directory: path, example: existing)
    }
    // Holding the lock, any temporary shard is a killed writer's.
    let leftovers = names.filter(ShardLayout.isTemporaryName).map {
      directory.appendingPathComponent($0).path
    }
    for leftover in leftovers { unlink(leftover) }
    return (lock, leftovers)
  }

  /// fsyncs a closed shard, so a crash right after the rename cannot leave a truncated shard.
  private static func sync(_ url: URL, finalPath: String) throws {
    let fd = open(url.path, O_RDONLY)
    guard fd >= 0 else {
      throw ShardError.writeFailed(path: finalPath, reason: "cannot reopen to sync: \(lastErrno())")
    }
    defer { close(fd) }
    if fsync(fd) != 0 {
      throw ShardError.writeFailed(path: finalPath, reason: "cannot sync to disk: \(lastErrno())")
    }
  }

  private static func lastErrno() -> String {
    String(cString: strerror(errno))
  }
}
