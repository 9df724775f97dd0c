import ActivationShards
import Foundation
import OutputFiles
import Testing

/// The pipeline never hangs, never loses shards and never replaces what is not its own: each case
/// runs the tools as a shell user would.
@Suite(.serialized) struct PipelineSafetyTests {
  let dir: URL
  let model: URL
  let rankFile: URL

  init() throws { (dir, model, rankFile) = try ToolHarness.makeWorkspace("safety") }

  /// Runs `command` with bash in the workspace, the tools first on PATH, and a time limit: a hang
  /// is a failure, not a stuck test run.
  func bash(_ command: String, seconds: Int = 120) throws -> ToolHarness.Result {
    let path =
      ToolHarness.binDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")
    return try ToolHarness.runProgram(
      "/usr/bin/env",
      ["PATH=\(path)", "timeout", "\(seconds)", "bash", "-c", "cd '\(dir.path)' || exit 99; \(command)"])
  }

  /// gpt2-acts on the workspace's model, with `extra` options, on `corpus.txt`.
  var acts: String {
    "gpt2-acts --model model --tokenizer '\(rankFile.path)' --context 16 --quiet"
  }

  func writeCorpus(documents: Int = 40) throws {
    let text = (0..<documents).map { "Document \($0): the quick brown fox jumps over the lazy dog again." }
      .joined(separator: "\n<|endoftext|>\n")
    try text.write(to: dir.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
  }

  func names(_ folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(folder).path)) ?? [])
      .sorted()
  }

  @Test("A consumer that stops early stops gpt2-acts at once, with no half-written or unread shard left")
  func stoppedConsumerStopsProducer() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try writeCorpus(documents: 400)
    // clt-fit takes 2 steps of 32 rows, far fewer than the corpus holds, and stops.
    let r = try bash(
      "\(acts) --shard-tokens 64 --out-dir s corpus.txt "
        + "| clt-fit -q -o clt.h5 --steps 2 --batch 32 --shuffle-tokens 64 --features 8; "
        + "echo \"status ${PIPESTATUS[*]}\" >&2", seconds: 60)
    #expect(r.stderr.contains("status 0 0"), "both exit 0: \(r.stderr)")
    #expect(names("s").isEmpty, "no shard, temporary file or lock is left: \(names("s"))")
  }

  @Test(
    "A reader that deletes the shard it read and leaves before it was seen locking the folder gets the rest removed"
  )
  func quickConsumerStillCleansUp() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try writeCorpus(documents: 400)
    // What a short clt-fit run does on a loaded machine between two of gpt2-acts's looks: read a
    // path, delete that shard, exit (here without ever taking the consumer's lock).
    let r = try bash(
      "\(acts) --shard-tokens 64 --out-dir s corpus.txt | { read -r first; rm -f \"$first\"; }; "
        + "echo \"status ${PIPESTATUS[*]}\" >&2", seconds: 60)
    #expect(r.stderr.contains("status 0 0"), "both exit 0: \(r.stderr)")
    #expect(names("s").isEmpty, "the shards it had not read are removed: \(names("s"))")
  }

  @Test(
    "--max-pending with a reader that deletes nothing does not hang: the limit is given up, with a message")
  func noDeadlockWithoutConsumer() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try writeCorpus()
    let r = try bash(
      "\(acts) --shard-tokens 64 --max-pending 1 --out-dir s corpus.txt "
        + "| clt-fit -q -o clt.h5 --keep-shards --steps 1 --batch 32 --features 8 2>&1",
      seconds: 90)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("no reader deletes them"), "\(r.stderr)")
    #expect(names("s").filter { $0.hasPrefix("shard-") }.count > 1, "--keep-shards keeps them")
  }

  @Test("clt-fit given shard arguments does not read stdin (an open, silent stdin does not hang it)")
  func argumentsDoNotReadStdin() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try writeCorpus()
    #expect(try bash("\(acts) --out-dir s corpus.txt > /dev/null").status == 0)
    // stdin stays open and silent until clt-fit has ended, or 60 s have passed.
    let process = Process()
    process.executableURL = ToolHarness.binDirectory.appendingPathComponent("clt-fit")
    process.arguments = ["-q", "-o", "clt.h5", "--steps", "1", "--batch", "32", "--features", "8", "s"]
    process.currentDirectoryURL = dir
    let silent = Pipe()
    process.standardInput = silent
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
    let finishedAlone = !process.isRunning
    try silent.fileHandleForWriting.close()
    process.waitUntilExit()
    #expect(finishedAlone && process.terminationStatus == 0, "clt-fit waited for stdin")
  }

  @Test("A second gpt2-acts on the same --out-dir is refused while the first is writing")
  func oneWriterPerFolder() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let metadata = ShardMetadata(
      architecture: "gpt2", model: "m", modelSHA256: "", nLayers: 1, dModel: 2, context: 4, inputTap: "i",
      outputTap: "o", createdBy: "test")
    let folder = dir.appendingPathComponent("s")
    let first = try ShardWriter(directory: folder, metadata: metadata, rowsPerShard: 4)
    #expect(throws: ShardError.folderInUse(directory: folder.path)) {
      _ = try ShardWriter(directory: folder, metadata: metadata, rowsPerShard: 4)
    }
    first.abort()
    // Released: the folder can be written again, and a killed writer's temporary shard is removed.
    try Data([1, 2, 3]).write(to: folder.appendingPathComponent(".shard-000000.h5.tmp"))
    let second = try ShardWriter(directory: folder, metadata: metadata, rowsPerShard: 4)
    #expect(second.removedLeftovers == [folder.appendingPathComponent(".shard-000000.h5.tmp").path])
    second.abort()
  }

  @Test(
    "Outputs that are special files are written in place, never replaced; a folder is refused before work")
  func specialFilesAreNotReplaced() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try writeCorpus()
    #expect(try bash("\(acts) --out-dir s corpus.txt > /dev/null").status == 0)
    let fifo = dir.appendingPathComponent("fifo").path
    #expect(mkfifo(fifo, 0o644) == 0)
    // A reader drains the FIFO while clt-fit writes its log there and clt.h5 to /dev/null.
    let r = try bash(
      "timeout 60 cat fifo > log-copy & clt-fit -q -o /dev/null --log fifo --steps 2 --log-every 1 --batch 32 --features 8 s; "
        + "status=$?; wait; exit $status")
    #expect(r.status == 0, "\(r.stderr)")
    var info = stat()
    #expect(stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR, "/dev/null is still a device")
    #expect(stat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "the FIFO is still a FIFO")
    let log = try String(contentsOf: dir.appendingPathComponent("log-copy"), encoding: .utf8)
    #expect(log.split(separator: "\n").count == 2, "the log went through the FIFO: \(log)")

    try FileManager.default.createDirectory(
      at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
    let folder = try bash("clt-fit -o out --steps 1 --features 8 s")
    #expect(folder.status == 1 && folder.stderr.contains("out is a folder"), "\(folder.stderr)")
    #expect(!folder.stderr.contains("step 1"), "refused before training: \(folder.stderr)")
  }

  @Test("gpt2-acts refuses an --out-dir it cannot use before reading the corpus")
  func outDirRefusedFirst() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try writeCorpus()
    let r = try bash(
      "gpt2-acts --model model --tokenizer '\(rankFile.path)' --context 16 --out-dir corpus.txt corpus.txt")
    #expect(r.status == 1 && r.stderr.contains("corpus.txt: cannot write shards here"), "\(r.stderr)")
    #expect(!r.stderr.contains("tokenising"), "refused before tokenising: \(r.stderr)")
  }

  @Test("A killed run's temporary output is removed by the next run; a live process's is left alone")
  func leftoversAreRemoved() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let target = dir.appendingPathComponent("clt.h5")
    let dead = dir.appendingPathComponent(".clt.h5.tmp-2147483646")  // no such process
    let live = dir.appendingPathComponent(".clt.h5.tmp-1")  // init is always running
    for url in [dead, live] { try Data([0]).write(to: url) }
    let output = try OutputTarget(path: target.path)
    #expect(output.removedLeftovers == [dead.path])
    #expect(FileManager.default.fileExists(atPath: live.path))
  }

  @Test("A failed write to stdout is one line of error and a non-zero exit, in every tool that writes there")
  func standardOutputFailure() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try writeCorpus(documents: 3)
    let r = try bash("\(acts) --print-tokens corpus.txt > /dev/full")
    #expect(r.status == 1, "\(r.stderr)")
    #expect(
      r.stderr == "gpt2-acts: error: cannot write to standard output (No space left on device); "
        + "the program reading it may have stopped, or the disk is full\n", "\(r.stderr)")
    // The reader is gone before the first write (EPIPE, with SIGPIPE ignored as by Python or nohup).
    let pipe = try bash(
      "trap '' PIPE; { sleep 1; \(acts) --print-tokens corpus.txt; echo \"status $?\" >&2; } | true")
    #expect(
      pipe.stderr.hasPrefix("gpt2-acts: error: cannot write to standard output (Broken pipe)")
        && pipe.stderr.hasSuffix("status 1\n"), "\(pipe.stderr)")
  }
}
