import Foundation
import HDF5
import Testing

/// `clt-fit` run as a user runs it: fed by `gpt2-acts` through a pipe.
@Suite(.serialized) struct CLTFitToolTests {
  let dir: URL
  let model: URL
  let rankFile: URL

  init() throws { (dir, model, rankFile) = try ToolHarness.makeWorkspace("fit") }

  func shell(_ command: String) throws -> ToolHarness.Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolHarness.Result(
      status: process.terminationStatus, stdout: "", stderr: String(decoding: data, as: UTF8.self))
  }

  func writeCorpus() throws -> URL {
    let url = dir.appendingPathComponent("corpus.txt")
    let text = (0..<20).map { "Document \($0): the quick brown fox jumps over the lazy dog again." }
      .joined(separator: "\n<|endoftext|>\n")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  @Test("gpt2-acts | clt-fit: clt.h5 names the model's sha256 and taps")
  func pipelineEndToEnd() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let bin = ToolHarness.binDirectory.path
    let out = dir.appendingPathComponent("clt.h5").path
    let shards = dir.appendingPathComponent("shards").path
    let result = try shell(
      "'\(bin)/gpt2-acts' --model '\(model.path)' --tokenizer '\(rankFile.path)' --quiet --out-dir '\(shards)' "
        + "--context 16 --shard-tokens 64 '\(corpus.path)' | '\(bin)/clt-fit' -o '\(out)' --features 16 "
        + "--batch 32 --steps 20 --keep-shards --log '\(dir.path)/metrics.jsonl' --log-every 5")
    #expect(result.status == 0, "stderr: \(result.stderr)")
    let file = try HDF5File(path: out)
    defer { try? file.close() }
    let shard = try HDF5File(
      path: shards + "/" + (try FileManager.default.contentsOfDirectory(atPath: shards).sorted().first!))
    defer { try? shard.close() }
    for name in ["model_sha256", "input_tap", "output_tap", "architecture", "model"] {
      #expect(try file.stringAttribute(name) == shard.stringAttribute(name), "\(name)")
    }
    #expect(try file.stringAttribute("model_sha256").count == 64)
    #expect(try file.int64Attribute("steps") == 20 && file.int64Attribute("tokens_seen") == 640)
    #expect(try file.openDataset("W_dec_0_1").shape == [16, 16])
    // Without --k, a small CLT gets a quarter of its features as k, so that it stays sparse.
    #expect(try file.stringAttribute("activation") == "batchtopk" && file.int64Attribute("k") == 4)
    let log = try String(contentsOfFile: dir.path + "/metrics.jsonl", encoding: .utf8)
    #expect(log.split(separator: "\n").count == 4)
  }

  @Test("shards of two models: clt-fit fails naming the shard")
  func mismatchedModels() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let other = dir.appendingPathComponent("other")
    try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
    try ToolHarness.makeCheckpoint(in: other, layers: 3)  // other weights, so another sha256
    for (name, checkpoint) in [("a", model), ("b", other)] {
      let r = try ToolHarness.run(
        "gpt2-acts",
        [
          "--model", checkpoint.path, "--tokenizer", rankFile.path, "--quiet", "--out-dir",
          dir.appendingPathComponent(name).path, "--context", "16", corpus.path,
        ])
      #expect(r.status == 0, "\(r.stderr)")
    }
    let result = try ToolHarness.run(
      "clt-fit",
      [
        "-o", dir.appendingPathComponent("clt.h5").path, "--steps", "1", "--batch", "8", "--quiet",
        dir.appendingPathComponent("a").path, dir.appendingPathComponent("b").path,
      ])
    #expect(result.status != 0)
    #expect(
      result.stderr.contains("clt-fit: error:") && result.stderr.contains("model_sha256"), "\(result.stderr)")
    #expect(result.stderr.contains(dir.appendingPathComponent("b").path), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("clt.h5").path))
  }

  @Test("no shards and an unwritable output are refused up front")
  func refusals() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let none = try ToolHarness.run(
      "clt-fit", ["-o", dir.appendingPathComponent("x.h5").path, "--steps", "1"], stdin: "")
    #expect(none.status != 0 && none.stderr.contains("no activation shards"), "\(none.stderr)")
    let unwritable = try ToolHarness.run(
      "clt-fit", ["-o", "/nonexistent-dir/x.h5", "--steps", "1"], stdin: "")
    #expect(unwritable.status != 0 && unwritable.stderr.contains("cannot write"), "\(unwritable.stderr)")
  }

  /// Dumps the test corpus to `shards/` and returns the folder.
  func dumpShards() throws -> URL {
    let corpus = try writeCorpus()
    let shards = dir.appendingPathComponent("shards")
    let r = try ToolHarness.run(
      "gpt2-acts",
      [
        "--model", model.path, "--tokenizer", rankFile.path, "--quiet", "--out-dir", shards.path, "--context",
        "16", "--shard-tokens", "64", corpus.path,
      ])
    #expect(r.status == 0, "\(r.stderr)")
    return shards
  }

  @Test("SIGINT finishes the step and writes a checkpoint; --resume continues it and --eval is stored")
  func interruptAndResume() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let shards = try dumpShards()
    let out = dir.appendingPathComponent("clt.h5")
    let checkpoint = dir.appendingPathComponent("clt.h5.ckpt")
    let log = dir.appendingPathComponent("log.jsonl")
    let process = Process()
    process.executableURL = ToolHarness.binDirectory.appendingPathComponent("clt-fit")
    process.arguments = [
      "-o", out.path, "--features", "16", "--batch", "16", "--steps", "1000000", "--log", log.path,
      "--log-every",
      "1", "--quiet", shards.path,
    ]
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
      let lines = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").count ?? 0
      if lines >= 3 { break }
      Thread.sleep(forTimeInterval: 0.05)
    }
    process.interrupt()
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    #expect(!FileManager.default.fileExists(atPath: out.path), "an interrupted run writes no clt.h5")
    let saved = try HDF5File(path: checkpoint.path)
    let steps = try saved.int64Attribute("steps")
    #expect(try saved.int64Attribute("checkpoint") == 1 && steps >= 3)
    try saved.close()

    let resumed = try ToolHarness.run(
      "clt-fit",
      [
        "-o", out.path, "--features", "16", "--batch", "16", "--steps", "\(steps + 5)", "--resume",
        checkpoint.path, "--eval", shards.path, "--log", log.path, shards.path,
      ])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(
      resumed.stderr.contains("resumed from") && resumed.stderr.contains("held-out"), "\(resumed.stderr)")
    let file = try HDF5File(path: out.path)
    defer { try? file.close() }
    #expect(try file.int64Attribute("steps") == steps + 5)
    #expect(try file.int64Attribute("eval_tokens") > 0)
    #expect(try file.openDataset("eval_nmse").shape == [Int(file.int64Attribute("n_layers"))])
  }

  @Test("A configuration larger than the machine's memory is refused up front with the figures")
  func memoryRefusal() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let shards = try dumpShards()
    let result = try ToolHarness.run(
      "clt-fit",
      ["-o", dir.appendingPathComponent("x.h5").path, "--features", "200000000", "--steps", "1", shards.path])
    #expect(result.status != 0)
    #expect(result.stderr.contains("GiB") && result.stderr.contains("--features"), "\(result.stderr)")
  }

  /// The niceness of each of `pid`'s threads (field 19 of /proc/PID/task/TID/stat).
  static func threadNiceness(_ pid: Int32) -> [Int] { threads(pid).map(\.niceness) }

  /// Each thread of `pid`: its name, niceness and CPU time so far (clock ticks).
  static func threads(_ pid: Int32) -> [(name: String, niceness: Int, ticks: Int)] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.sorted { Int($0) ?? 0 < Int($1) ?? 0 }.compactMap { tid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
        let start = stat.firstIndex(of: "("), let end = stat.lastIndex(of: ")")
      else { return nil }
      // Fields from the third on follow the command name's closing parenthesis.
      let fields = stat[stat.index(after: end)...].split(separator: " ")
      guard fields.count > 16, let nice = Int(fields[16]), let user = Int(fields[11]),
        let system = Int(fields[12])
      else { return nil }
      return (String(stat[stat.index(after: start)..<end]), nice, user + system)
    }
  }

  @Test(
    "clt-fit reading a pipe drops every thread, OpenBLAS's too, to the lowest priority; --keep-priority keeps it"
  )
  func pipeConsumerTakesTheLowestPriority() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try #require(FileManager.default.fileExists(atPath: "/proc/self/task"), "needs Linux's /proc")
    // What clt-fit starts with: this process's niceness, which it inherits.
    let own = Int(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
    var waited: TimeInterval = 0
    for keep in [false, true] {
      let process = Process()
      process.executableURL = ToolHarness.binDirectory.appendingPathComponent("clt-fit")
      process.arguments =
        ["-q", "-o", dir.appendingPathComponent("clt.h5").path, "--threads", "2"]
        + (keep ? ["--keep-priority"] : [])
      let silent = Pipe()  // open and silent: clt-fit waits for its first shard path
      process.standardInput = silent
      process.standardError = FileHandle.nullDevice
      try process.run()
      let start = Date()
      var niceness: [Int] = []
      repeat {
        Thread.sleep(forTimeInterval: 0.1)
        niceness = Self.threadNiceness(process.processIdentifier)
      } while (keep ? Date().timeIntervalSince(start) < 2 + 3 * waited : niceness.contains { $0 != 19 })
        && Date().timeIntervalSince(start) < 60 && process.isRunning
      if !keep { waited = Date().timeIntervalSince(start) }
      try silent.fileHandleForWriting.close()
      process.waitUntilExit()
      #expect(niceness.count > 1, "clt-fit runs more than one thread")
      #expect(niceness.allSatisfy { $0 == (keep ? own : 19) }, "keep \(keep): \(niceness)")
      // No shard path came: one line of error and a non-zero exit, not a hang.
      #expect(process.terminationStatus != 0)
    }
  }

  /// Seconds of CPU that `pid` has used (utime + stime from /proc/PID/stat, at 100 ticks a second).
  static func cpuSeconds(_ pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let end = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
      return nil
    }
    return (user + system) / 100
  }

  @Test("clt-fit on a pipe lowers the worker threads that start while it trains (libdispatch's own)")
  func pipeConsumerLowersItsTrainingThreads() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try #require(FileManager.default.fileExists(atPath: "/proc/self/task"), "needs Linux's /proc")
    let shards = try dumpShards()
    let first = try #require(
      try FileManager.default.contentsOfDirectory(atPath: shards.path).filter { $0.hasSuffix(".h5") }.min())
    let process = Process()
    process.executableURL = ToolHarness.binDirectory.appendingPathComponent("clt-fit")
    process.arguments = [
      "-q", "-o", dir.appendingPathComponent("clt.h5").path, "--threads", "2", "--features", "1024",
      "--batch", "16", "--steps", "100000", "--shuffle-tokens", "32", "--keep-shards",
    ]
    let feed = Pipe()
    process.standardInput = feed
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer {
      try? feed.fileHandleForWriting.close()
      process.terminate()
      process.waitUntilExit()
    }
    // One shard's steps, then clt-fit waits on the open pipe for the next path: idle, every
    // thread it trained with still there. A shard is 4 steps of about 20 ms, most of it on the
    // main thread, and the kernel charges CPU time in 10 ms ticks to whichever thread runs at
    // the tick, so the workers may not have been charged yet (on a busy machine, often not): the
    // shard is fed again (it is kept) until two threads have been, at most 20 times. 1024
    // features give the workers a share of each step.
    let pid = process.processIdentifier
    var (busy, idle) = (0.0, 0)
    let deadline = Date().addingTimeInterval(120)
    var threads = Self.threads(pid)
    for _ in 0..<20 where threads.filter({ $0.ticks > 0 }).count < 2 {
      feed.fileHandleForWriting.write(Data((shards.appendingPathComponent(first).path + "\n").utf8))
      idle = 0
      while idle < 10 && Date() < deadline && process.isRunning {
        Thread.sleep(forTimeInterval: 0.1)
        let used = Self.cpuSeconds(pid) ?? busy
        idle = used == busy && used > 0 ? idle + 1 : 0
        busy = used
      }
      threads = Self.threads(pid)
    }
    #expect(idle >= 10, "clt-fit did not settle to wait for the next shard")
    // The main thread, OpenBLAS's and the batch reader's, and libdispatch's workers.
    #expect(threads.count > 3, "\(threads)")
    // A libdispatch worker started after the last step's lowering may wait at its QoS's niceness
    // until its first share of work lowers it; every thread that has run is at 19.
    #expect(threads.allSatisfy { $0.niceness == 19 || $0.ticks == 0 }, "\(threads)")
    #expect(threads.filter { $0.ticks > 0 }.count >= 2, "\(threads)")
  }
}
