import ActivationShards
import Dispatch
import Foundation
import Testing

/// Lets a test hand a non-Sendable writer to a background thread it then waits for.
private final class Box<T>: @unchecked Sendable {
  var value: T
  init(_ value: T) { self.value = value }
}

@Suite struct ShardWriterTests {
  let rows = SyntheticRows(layers: 3, width: 5)

  @Test(
    "2.5 shards written in uneven appends read back transposed, in order, with their metadata",
    arguments: [ShardDType.f16, .f32])
  func writeAndReadBack(dtype: ShardDType) throws {
    let dir = try TemporaryDirectory()
    let metadata = SyntheticRows.metadata(dtype)
    let writer = try ShardWriter(directory: dir.url, metadata: metadata, rowsPerShard: 8)
    var completed: [URL] = []
    var start = 0
    for count in [3, 7, 1, 6, 3] {  // 20 rows; the 7- and 6-row appends cross shard boundaries
      completed += try rows.append(start..<(start + count), to: writer)
      start += count
    }
    #expect(
      completed.map(\.lastPathComponent) == ["shard-000000.h5", "shard-000001.h5"],
      "full shards are reported as soon as they complete, in order")
    #expect(writer.temporaryPath != nil, "the partial third shard is in progress")
    let last = try writer.finish()
    #expect(last.map(\.lastPathComponent) == ["shard-000002.h5"], "finish completes the rest")
    #expect(writer.temporaryPath == nil, "nothing is in progress after finish")
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted()
    #expect(
      names == ["shard-000000.h5", "shard-000001.h5", "shard-000002.h5"],
      "no temporary file is left behind")

    var globalRow = 0
    for (url, expectedRows) in zip(completed + last, [8, 8, 4]) {
      let reader = try ShardReader(url: url)
      #expect(reader.metadata == metadata, "metadata round-trips")
      #expect(reader.rowCount == expectedRows, "\(url.lastPathComponent) has its rows")
      let range = globalRow..<(globalRow + expectedRows)
      let all = 0..<expectedRows
      #expect(try reader.readTokens(rows: all) == range.map(rows.token), "tokens in order")
      #expect(try reader.readPositions(rows: all) == range.map(rows.position), "positions")
      #expect(try reader.readWindows(rows: all) == range.map(rows.window), "windows")
      for tensor in ShardTensor.allCases {
        let values = try reader.readActivations(tensor, rows: all)
        let expected = rows.expected(tensor, rows: range, dtype: dtype)
        #expect(values == expected, "\(tensor) is row-major and rounded only to \(dtype)")
      }
      let middle = try reader.readActivations(.mlpOut, rows: 2..<4)
      #expect(
        middle == rows.expected(.mlpOut, rows: (globalRow + 2)..<(globalRow + 4), dtype: dtype),
        "a block of rows inside a shard reads the right rows")
      globalRow += expectedRows
    }
  }

  @Test("a shard reached through a symbolic link reads like the shard itself")
  func symbolicLinkToShard() throws {
    let dir = try TemporaryDirectory()
    let writer = try ShardWriter(
      directory: dir.url, metadata: SyntheticRows.metadata(.f16), rowsPerShard: 8)
    let shard = try rows.append(0..<8, to: writer)[0]
    _ = try writer.finish()
    // A folder of links is how a researcher picks a few shards of a large dump for a run.
    let link = dir.url.appendingPathComponent("picked.h5")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: shard)
    let reader = try ShardReader(url: link)
    #expect(reader.rowCount == 8, "the link's target, not the link, is measured")
    #expect(
      try reader.readActivations(.mlpIn, rows: 0..<8) == rows.expected(.mlpIn, rows: 0..<8, dtype: .f16),
      "the rows read through the link are the shard's")
  }

  @Test("abort removes the in-progress temporary file and keeps completed shards")
  func abortRemovesTemporaryFile() throws {
    let dir = try TemporaryDirectory()
    let writer = try ShardWriter(
      directory: dir.url, metadata: SyntheticRows.metadata(.f16), rowsPerShard: 8)
    let completed = try rows.append(0..<11, to: writer)
    #expect(completed.count == 1, "the first shard completed")
    let temporary = try #require(writer.temporaryPath, "the second shard is in progress")
    #expect(URL(fileURLWithPath: temporary).lastPathComponent == ".shard-000001.h5.tmp")
    #expect(FileManager.default.fileExists(atPath: temporary), "the temporary file exists")
    writer.abort()
    #expect(!FileManager.default.fileExists(atPath: temporary), "abort deleted it")
    #expect(writer.temporaryPath == nil, "nothing is in progress after abort")
    #expect(try ShardReader(url: completed[0]).rowCount == 8, "the completed shard is intact")
    #expect(throws: ShardError.self, "appending after abort is refused") {
      try rows.append(11..<12, to: writer)
    }
  }

  @Test("a folder that cannot be created gives an error naming it")
  func unwritableDirectory() throws {
    let dir = try TemporaryDirectory()
    let blocker = dir.url.appendingPathComponent("a-file")
    try Data("x".utf8).write(to: blocker)
    let target = blocker.appendingPathComponent("shards")
    do {
      _ = try ShardWriter(
        directory: target, metadata: SyntheticRows.metadata(.f16), rowsPerShard: 4)
      Issue.record("a folder under a regular file must be refused")
    } catch let error as ShardError {
      guard case .directoryNotWritable(let path, _) = error else {
        Issue.record("unexpected error: \(error)")
        return
      }
      #expect(path == target.path, "the error names the folder")
      #expect(
        error.localizedDescription.hasPrefix(target.path + ": cannot write shards here"),
        "the message says what is wrong: \(error.localizedDescription)")
    }
  }

  @Test("a folder that already holds shards is refused rather than overwritten")
  func existingShardsRefused() throws {
    let dir = try TemporaryDirectory()
    try Data().write(to: dir.url.appendingPathComponent("shard-000000.h5"))
    #expect(
      throws: ShardError.existingShards(directory: dir.url.path, example: "shard-000000.h5"),
      "an earlier run's shards are not overwritten"
    ) {
      _ = try ShardWriter(
        directory: dir.url, metadata: SyntheticRows.metadata(.f16), rowsPerShard: 4)
    }
  }

  @Test("mismatched token, position and window counts are an error, not a crash")
  func mismatchedLengths() throws {
    let dir = try TemporaryDirectory()
    let writer = try ShardWriter(
      directory: dir.url, metadata: SyntheticRows.metadata(.f32, layers: 1, width: 1),
      rowsPerShard: 4)
    let two: [Int32] = [1, 2]
    let one: [Int32] = [1]
    let floats: [Float] = [0, 0]
    #expect(throws: ShardError.self, "lengths must agree") {
      try two.withUnsafeBufferPointer { t in
        try one.withUnsafeBufferPointer { p in
          _ = try writer.append(tokens: t, positions: p, windows: t, mlpIn: floats, mlpOut: floats)
        }
      }
    }
  }

  @Test("with maxPending 1, starting the next shard waits until the consumer deletes one")
  func maxPendingBlocksUntilDeletion() throws {
    let dir = try TemporaryDirectory()
    let writer = Box(
      try ShardWriter(
        directory: dir.url, metadata: SyntheticRows.metadata(.f16), rowsPerShard: 2,
        maxPending: 1))
    writer.value.pollInterval = 0.02
    let first = try rows.append(0..<2, to: writer.value)
    #expect(first.map(\.lastPathComponent) == ["shard-000000.h5"], "first shard completed")

    let done = DispatchSemaphore(value: 0)
    let result = Box<Result<[URL], Error>?>(nil)
    let rows = self.rows
    Thread.detachNewThread {
      result.value = Result { try rows.append(2..<4, to: writer.value) }
      done.signal()
    }
    #expect(done.wait(timeout: .now() + 0.3) == .timedOut, "the writer waits for room")
    try FileManager.default.removeItem(at: first[0])
    #expect(done.wait(timeout: .now() + 5) == .success, "deleting a shard lets it continue")
    let second = try #require(result.value).get()
    #expect(second.map(\.lastPathComponent) == ["shard-000001.h5"], "the next shard completed")
  }
}
