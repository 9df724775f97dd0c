import ActivationShards
import CLTFormat
import Foundation
import Testing
import Transcoder

/// `mpirun -np 2 clt-fit`: data-parallel training on loopback, against one process on the same
/// rows. Skipped where Open MPI's mpirun is not installed (scripts/install-deps.sh installs it).
@Suite(.serialized, .enabled(if: MPIRun.available, "needs /usr/bin/mpirun (openmpi-bin)"))
struct MPITrainingTests {
  let dir: URL

  init() throws { dir = try ToolHarness.temporaryDirectory("mpi") }

  /// Sixteen shards of 32 rows, and options under which one process and two ranks see the same
  /// rows each step: the shuffle buffer holds exactly one global batch (64 rows: shards 0 and 1,
  /// then 2 and 3, ...), and rank r reads shards r, r + 2, ..., so its half of each batch is one
  /// shard. The 8 steps are one pass: later passes visit the shards in an order drawn per process.
  func options(_ output: String, _ extra: [String]) throws -> [String] {
    let shards = dir.appendingPathComponent("shards")
    if !FileManager.default.fileExists(atPath: shards.path) {
      try MPIRun.writeShards(to: shards, count: 16, rows: 32, nLayers: 2, dModel: 8)
    }
    return [
      "-o", dir.appendingPathComponent(output).path, "--features", "24", "--batch", "64", "--shuffle-tokens",
      "64", "--steps", "8", "--seed", "5", "--threads", "1", "--dead-window", "128", "--lr", "1e-2",
      "--quiet",
    ] + extra + [shards.path]
  }

  /// Trains once alone and once on two ranks (`sharded`: with --shard-features) and compares
  /// every parameter of the two clt.h5. The skip connection, on by default, is off with
  /// --shard-features, so the single process goes without it there too.
  func compareSingleAndTwoRanks(_ extra: [String], sharded: Bool = false) throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let single = try ToolHarness.run(
      "clt-fit", try options("single.h5", extra + (sharded ? ["--no-skip"] : [])))
    #expect(single.status == 0, "\(single.stderr)")
    let ranks = try MPIRun.run(
      np: 2, "clt-fit", try options("mpi.h5", extra + (sharded ? ["--shard-features"] : [])))
    #expect(ranks.status == 0, "\(ranks.stderr)")
    let a = try CLTFile.load(url: dir.appendingPathComponent("single.h5"))
    let b = try CLTFile.load(url: dir.appendingPathComponent("mpi.h5"))
    #expect(a.metadata.steps == 8 && b.metadata.steps == 8)
    #expect(a.transcoder.hasSkip == !sharded && b.transcoder.hasSkip == !sharded)
    #expect(a.metadata.tokensSeen == b.metadata.tokensSeen, "both saw 8 global batches of 64")
    #expect(a.normalizer == b.normalizer, "the scales are estimated from the same 64 rows")
    var largest: Float = 0
    for (p, q) in zip(a.transcoder.parameterBuffers, b.transcoder.parameterBuffers) {
      for k in 0..<p.count { largest = max(largest, abs(p[k] - q[k])) }
    }
    #expect(largest < 1e-4, "largest parameter difference \(largest)")
    // The ranks changed the parameters: a run that never stepped would also compare equal.
    let start = CrossLayerTranscoder(nLayers: 2, dModel: 8, features: 24, seed: 5)
    let moved = zip(start.encoderWeights[0].array, b.transcoder.encoderWeights[0].array).map { abs($0 - $1) }
    #expect(moved.max()! > 1e-3)
    #expect(a.frequencies == b.frequencies, "firing counts are summed over the ranks")
  }

  @Test("JumpReLU on 2 ranks equals one process on the same global batch and seed")
  func dataParallelJumpReLU() throws { try compareSingleAndTwoRanks(["--activation", "jumprelu"]) }

  @Test("BatchTopK on 2 ranks selects across the global batch: equals one process")
  func dataParallelBatchTopK() throws {
    try compareSingleAndTwoRanks(["--activation", "batchtopk", "--k", "3"])
  }

  @Test("AuxK on 2 ranks normalises by the global batch's error: equals one process")
  func dataParallelAuxK() throws {
    // The two ranks' log (rank 0 writes it, after the single run's): the term was on, features died.
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("auxk-\(UUID().uuidString).jsonl")
    defer { try? FileManager.default.removeItem(at: log) }
    // k 1 of 24 features and a window shorter than a step: a feature that did not fire in the last
    // step is dead.
    try compareSingleAndTwoRanks([
      "--activation", "batchtopk", "--k", "1", "--dead-window", "32", "--auxk-coefficient", "0.5", "--auxk-k",
      "4", "--log", log.path, "--log-every", "1",
    ])
    let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
    let terms = lines.compactMap { line in
      (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["auxk"] as? Double
    }
    #expect(terms.count == 8 && terms.contains { $0 > 0 }, "auxk per step: \(terms)")
  }

  @Test("--shard-features, JumpReLU: each rank holds half the features; one clt.h5 equal to one process's")
  func shardedJumpReLU() throws { try compareSingleAndTwoRanks(["--activation", "jumprelu"], sharded: true) }

  @Test("--shard-features, BatchTopK and TopK select across the ranks' features: equal to one process")
  func shardedRankSelection() throws {
    // AuxK, on by default for rank selection, is off with --shard-features (and refused when asked).
    let noAuxK = ["--auxk-coefficient", "0"]
    try compareSingleAndTwoRanks(["--activation", "batchtopk", "--k", "3"] + noAuxK, sharded: true)
    try compareSingleAndTwoRanks(["--activation", "topk", "--k", "3"] + noAuxK, sharded: true)
  }

  @Test("--shard-features checkpoints a slice per rank; the run resumes on 2 ranks and not unsharded")
  func shardedCheckpoints() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let checkpoint = dir.appendingPathComponent("clt.h5.ckpt")
    let first = try MPIRun.run(
      np: 2, "clt-fit", try options("clt.h5", ["--shard-features", "--checkpoint-every", "4"]))
    #expect(first.status == 0, "\(first.stderr)")
    let slices = try [checkpoint, URL(fileURLWithPath: checkpoint.path + ".rank1")].map {
      try CLTFile.load(url: $0)
    }
    #expect(slices.map(\.metadata.steps) == [4, 4] && slices.map(\.transcoder.features) == [12, 12])
    let whole = try CLTFile.load(url: dir.appendingPathComponent("clt.h5"))
    #expect(whole.transcoder.features == 24 && whole.frequencies[0].count == 24)

    var resumed = try options("clt.h5", ["--shard-features", "--resume", checkpoint.path])
    resumed[resumed.firstIndex(of: "--steps")! + 1] = "6"
    let again = try MPIRun.run(np: 2, "clt-fit", resumed)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(try CLTFile.load(url: dir.appendingPathComponent("clt.h5")).metadata.steps == 6)
    let unsharded = try MPIRun.run(np: 2, "clt-fit", resumed.filter { $0 != "--shard-features" })
    #expect(unsharded.status != 0 && unsharded.stderr.contains("feature_ranks"), "\(unsharded.stderr)")
  }

  @Test(
    "A rank killed mid-run stops the job naming it; the last checkpoint is intact and resumes on 2 ranks or 1"
  )
  func killedRank() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = dir.appendingPathComponent("log.jsonl")
    let checkpoint = dir.appendingPathComponent("clt.h5.ckpt")
    var arguments = try options("clt.h5", ["--checkpoint-every", "5", "--log", log.path, "--log-every", "1"])
    arguments[arguments.firstIndex(of: "--steps")! + 1] = "1000000"
    let job = try MPIRun.start(np: 2, "clt-fit", arguments)
    let deadline = Date().addingTimeInterval(30)
    var lines = 0
    while Date() < deadline && lines < 12 {
      Thread.sleep(forTimeInterval: 0.05)
      lines = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").count ?? 0
    }
    #expect(lines >= 12, "the job took 12 steps in 30 s")
    let victim = try #require(MPIRun.rankProcess(1, of: job.process.processIdentifier))
    #expect(kill(victim, SIGKILL) == 0)
    let result = job.wait()
    #expect(result.status != 0, "a job that lost a rank must fail")
    #expect(result.stderr.contains("rank 1") && result.stderr.contains("signal 9"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("clt.h5").path))

    let saved = try CLTFile.load(url: checkpoint)
    let steps = saved.metadata.steps
    #expect(steps >= 10 && steps % 5 == 0, "checkpoints every 5 steps; the last is at \(steps)")
    var resumed = try options("clt.h5", ["--resume", checkpoint.path])
    resumed[resumed.firstIndex(of: "--steps")! + 1] = "\(steps + 3)"
    let again = try MPIRun.run(np: 2, "clt-fit", resumed)
    #expect(again.status == 0, "\(again.stderr)")
    let file = try CLTFile.load(url: dir.appendingPathComponent("clt.h5"))
    #expect(file.metadata.steps == steps + 3 && file.metadata.tokensSeen == (steps + 3) * 64)
    // The checkpoint holds the whole state: one process can go on from it too.
    try FileManager.default.removeItem(at: dir.appendingPathComponent("clt.h5"))
    let alone = try ToolHarness.run("clt-fit", resumed)
    #expect(alone.status == 0, "\(alone.stderr)")
    #expect(try CLTFile.load(url: dir.appendingPathComponent("clt.h5")).metadata.steps == steps + 3)
  }
}

/// Launching the built tools under Open MPI's mpirun, and the shards the tests train on.
enum MPIRun {
  static let path = "/usr/bin/mpirun"
  static var available: Bool { FileManager.default.isExecutableFile(atPath: path) }

  /// `mpirun -np N tool arguments` on this machine: processes may outnumber the cores
  /// (--oversubscribe), and CI runs as root, which Open MPI refuses unless told.
  static func run(np: Int, _ tool: String, _ arguments: [String]) throws -> ToolHarness.Result {
    try start(np: np, tool, arguments).wait()
  }

  /// A job started in the background, its stderr (with stdout) collected until it ends.
  struct Job {
    let process: Process
    let output: Pipe

    func wait() -> ToolHarness.Result {
      let data = output.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      return ToolHarness.Result(
        status: process.terminationStatus, stdout: "", stderr: String(decoding: data, as: UTF8.self))
    }
  }

  /// Starts `mpirun -np N tool arguments` and returns at once.
  static func start(np: Int, _ tool: String, _ arguments: [String]) throws -> Job {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments =
      ["-np", "\(np)", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none"]
      + [ToolHarness.binDirectory.appendingPathComponent(tool).path] + arguments
    // Copy-in/copy-out for shared memory: containers often forbid the single-copy mechanism
    // (process_vm_readv), and the tests' messages are small.
    process.environment = ProcessInfo.processInfo.environment.merging(
      ["OMPI_MCA_btl_vader_single_copy_mechanism": "none"]
    ) { $1 }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return Job(process: process, output: output)
  }

  /// The process id of rank `rank` of the job mpirun `parent` started on this machine: the
  /// child whose environment has OMPI_COMM_WORLD_RANK=rank.
  static func rankProcess(_ rank: Int, of parent: Int32) -> Int32? {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
      guard let pid = Int32(entry),
        let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        status.contains("\nPPid:\t\(parent)\n"),
        let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
      else { continue }
      let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
    }
    return nil
  }

  /// `count` shards of `rows` random rows each (Gaussian-ish inputs, outputs a fixed linear map
  /// of them plus noise), so that a CLT has something to learn.
  static func writeShards(to directory: URL, count: Int, rows: Int, nLayers: Int, dModel: Int) throws {
    let metadata = ShardMetadata(
      architecture: "synthetic", model: "synthetic", modelSHA256: String(repeating: "b", count: 64),
      nLayers: nLayers, dModel: dModel, context: rows, dtype: .f32, inputTap: "x", outputTap: "y",
      createdBy: "MPITrainingTests")
    let writer = try ShardWriter(directory: directory, metadata: metadata, rowsPerShard: rows)
    var rng = XorShiftGenerator(seed: 11)
    let map = (0..<(dModel * dModel)).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
    for _ in 0..<count {
      var x = [Float](repeating: 0, count: nLayers * rows * dModel)
      var y = x
      for r in 0..<(nLayers * rows) {
        for j in 0..<dModel { x[r * dModel + j] = Float.random(in: -1...1, using: &rng) }
        for j in 0..<dModel {
          var s = Float.random(in: -0.05...0.05, using: &rng)
          for i in 0..<dModel { s += map[j * dModel + i] * max(x[r * dModel + i], 0) }
          y[r * dModel + j] = s
        }
      }
      let tokens = [Int32](repeating: 0, count: rows)
      let positions = (0..<rows).map { Int32($0) }
      _ = try tokens.withUnsafeBufferPointer { t in
        try positions.withUnsafeBufferPointer { p in
          try writer.append(tokens: t, positions: p, windows: t, mlpIn: x, mlpOut: y)
        }
      }
    }
    _ = try writer.finish()
  }
}
