import ActivationShards
import Foundation
import LanguageModels
import ModelFormats
import Testing
import Tokenizers

/// `gpt2-acts` run as a user runs it, on a random checkpoint the test writes.
@Suite(.serialized) struct GPT2ActsTests {
  let dir: URL
  let model: URL
  let rankFile: URL

  init() throws { (dir, model, rankFile) = try ToolHarness.makeWorkspace("acts") }

  static let documents = [
    "The quick brown fox jumps over the lazy dog. It's 3:14 in the afternoon.",
    "Activation shards hold every layer's MLP input and output, row by row.",
    "Ünïcödé, 日本語, emoji 🙂 and\ttabs\n\nand blank lines.",
  ]

  func writeCorpus(_ documents: [String] = Self.documents) throws -> URL {
    let url = dir.appendingPathComponent("corpus.txt")
    try documents.joined(separator: "\n<|endoftext|>\n").write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  func acts(_ extra: [String], corpus: URL, environment: [String: String] = [:]) throws -> ToolHarness.Result
  {
    try ToolHarness.run(
      "gpt2-acts",
      [
        "--model", model.path, "--tokenizer", rankFile.path, "--quiet", "--out-dir",
        dir.appendingPathComponent("out").path,
      ]
        + extra + [corpus.path], environment: environment)
  }

  @Test(
    "sgemm runs on the kernels the CPU allows: not Prescott's on a CPU with AVX2, unless the user says so")
  func blasKernels() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    func core(_ environment: [String: String]) throws -> String {
      try? FileManager.default.removeItem(at: dir.appendingPathComponent("out"))
      let r = try acts(
        ["--context", "8", "--batch", "3", "--max-tokens", "20", "--timing"], corpus: corpus,
        environment: environment)
      #expect(r.status == 0, "\(r.stderr)")
      let line = r.stderr.split(separator: "\n").first { $0.hasPrefix("{") } ?? ""
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      return object?["blas_core"] as? String ?? "none"
    }
    let flags =
      (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
      .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? []
    let chosen = try core([:])
    if flags.contains("avx2") && flags.contains("fma") {
      #expect(chosen.lowercased() != "prescott", "a CPU with AVX2 and FMA got \(chosen)")
    }
    #expect(try core(["OPENBLAS_CORETYPE": "Prescott"]) == "Prescott", "the user's choice stands")
  }

  /// gpt2-acts into a fresh `out` folder with stdout a pipe (the harness reads it through one)
  /// or, `toFile`, a file (bash redirects it).
  func actsWithStdout(_ arguments: [String], corpus: URL, toFile: Bool) throws -> ToolHarness.Result {
    try? FileManager.default.removeItem(at: dir.appendingPathComponent("out"))
    let arguments =
      [
        "--model", model.path, "--tokenizer", rankFile.path, "--quiet", "--out-dir",
        dir.appendingPathComponent("out").path,
      ] + arguments + [corpus.path]
    let r =
      toFile
      ? try ToolHarness.runProgram(
        "/bin/bash",
        [
          "-c", "\"$0\" \"$@\" > \"$OUT\"",
          ToolHarness.binDirectory.appendingPathComponent("gpt2-acts").path,
        ] + arguments, environment: ["OUT": dir.appendingPathComponent("paths.txt").path])
      : try ToolHarness.run("gpt2-acts", arguments)
    #expect(r.status == 0, "\(r.stderr)")
    return r
  }

  @Test(
    "On a pipe gpt2-acts takes half the cores, leaving the rest to its reader; to a file all; --threads wins")
  func threadsOnPipe() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let cores = ProcessInfo.processInfo.activeProcessorCount
    func threads(_ extra: [String], toFile: Bool) throws -> Int? {
      let r = try actsWithStdout(
        ["--context", "8", "--max-tokens", "20", "--timing"] + extra, corpus: corpus, toFile: toFile)
      let line = r.stderr.split(separator: "\n").first { $0.hasPrefix("{") } ?? ""
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      return object?["threads"] as? Int
    }
    #expect(try threads([], toFile: false) == max(1, cores / 2))
    #expect(try threads([], toFile: true) == cores)
    #expect(try threads(["--threads", "3"], toFile: false) == 3)
  }

  @Test("On a pipe gpt2-acts writes shards of 4096 rows, to a file 16384; --shard-tokens wins")
  func shardRowsOnPipe() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus(Array(repeating: Self.documents, count: 80).flatMap { $0 })
    // The rows of each shard gpt2-acts wrote for the first 5000 tokens.
    func shardRows(_ extra: [String], toFile: Bool) throws -> [Int] {
      _ = try actsWithStdout(
        ["--context", "64", "--batch", "16", "--max-tokens", "5000"] + extra, corpus: corpus, toFile: toFile)
      let out = dir.appendingPathComponent("out")
      return try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".h5") }
        .sorted()
        .map { try ShardReader(url: out.appendingPathComponent($0)).rowCount }
    }
    let onPipe = try shardRows([], toFile: false)
    #expect(onPipe.count == 2 && onPipe[0] == 4096, "\(onPipe)")
    let toFile = try shardRows([], toFile: true)
    #expect(toFile == [onPipe.reduce(0, +)], "the same rows in one shard: \(toFile) against \(onPipe)")
    #expect(try shardRows(["--shard-tokens", "3000"], toFile: false).first == 3000)
  }

  @Test("shards hold exactly the corpus' tokens, windowed with BOS, and the model's own MLP activations")
  func shardsMatchDirectForward() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let result = try acts(
      ["--context", "16", "--batch", "2", "--shard-tokens", "40", "--dtype", "f32"], corpus: corpus)
    #expect(result.status == 0, "stderr: \(result.stderr)")
    let paths = result.stdout.split(separator: "\n").map(String.init)
    #expect(paths.count >= 2, "several shards expected, got \(paths)")
    #expect(paths == paths.sorted(), "shards are printed in order")
    let leftovers = try FileManager.default.contentsOfDirectory(
      atPath: dir.appendingPathComponent("out").path
    )
    .filter { $0.hasSuffix(".tmp") }
    #expect(leftovers.isEmpty, "no temporary files remain: \(leftovers)")

    // The stream the windows are cut from: each document followed by <|endoftext|>.
    let tokenizer = try BPETokenizer.gpt2(rankFile: rankFile)
    let stream: [Int32] = Self.documents.flatMap { document -> [Int32] in tokenizer.encode(document) + [50256]
    }
    var tokens: [Int32] = []
    var positions: [Int32] = []
    var windows: [Int32] = []
    var mlpIn: [Float] = []
    var mlpOut: [Float] = []
    for path in paths {
      let shard = try ShardReader(url: URL(fileURLWithPath: path))
      #expect(
        shard.metadata.architecture == "gpt2" && shard.metadata.nLayers == 2 && shard.metadata.dModel == 16)
      #expect(shard.metadata.context == 16 && shard.metadata.dtype == .f32)
      #expect(shard.metadata.modelSHA256.count == 64)
      let rows = 0..<shard.rowCount
      tokens += try shard.readTokens(rows: rows)
      positions += try shard.readPositions(rows: rows)
      windows += try shard.readWindows(rows: rows)
      mlpIn += try shard.readActivations(.mlpIn, rows: rows)
      mlpOut += try shard.readActivations(.mlpOut, rows: rows)
    }
    #expect(tokens == stream, "every token of the stream is written once, in order, BOS rows excluded")
    #expect(positions.allSatisfy { $0 >= 1 && $0 < 16 })
    #expect(positions.prefix(15) == ArraySlice((1..<16).map(Int32.init)))

    // Recompute window by window in-process and compare (rows, layers, d) with the shards.
    let gpt2 = try GPT2Model(directory: model)
    var row = 0
    for w in 0...Int(windows.last!) {
      let members = windows.indices.filter { windows[$0] == Int32(w) }
      let window: [Int32] = [50256] + members.map { tokens[$0] }
      let taps = MLPTaps(nLayers: 2, rows: window.count, dModel: 16)
      _ = try gpt2.forward(tokens: window, batch: 1, length: window.count, taps: taps, computeLogits: false)
      for p in 1..<window.count {
        for l in 0..<2 {
          for j in 0..<16 {
            let shardIndex = (row * 2 + l) * 16 + j
            let direct = (l * window.count + p) * 16 + j
            #expect(abs(mlpIn[shardIndex] - taps.mlpIn[direct]) <= 1e-5, "mlp_in row \(row) layer \(l)")
            #expect(abs(mlpOut[shardIndex] - taps.mlpOut[direct]) <= 1e-5, "mlp_out row \(row) layer \(l)")
          }
        }
        row += 1
      }
    }
    #expect(row == tokens.count)
  }

  @Test("--keep-bos writes the BOS rows too, and f16 shards round the activations to half precision")
  func keepBOSAndFloat16() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let result = try acts(["--context", "16", "--keep-bos"], corpus: corpus)
    #expect(result.status == 0, "stderr: \(result.stderr)")
    let shard = try ShardReader(url: URL(fileURLWithPath: String(result.stdout.split(separator: "\n")[0])))
    #expect(shard.metadata.dtype == .f16)
    let positions = try shard.readPositions(rows: 0..<shard.rowCount)
    let tokens = try shard.readTokens(rows: 0..<shard.rowCount)
    #expect(positions.first == 0 && tokens.first == 50256, "the first row is the BOS position")
    #expect(
      positions.filter { $0 == 0 }.count == Int(try shard.readWindows(rows: 0..<shard.rowCount).last!) + 1)
    let values = try shard.readActivations(.mlpIn, rows: 0..<shard.rowCount)
    #expect(
      values.allSatisfy { Float(Float16($0)) == $0 }, "f16 values are exactly representable in half precision"
    )
  }

  @Test("--print-tokens prints each document's ids as JSON and needs no model")
  func printTokens() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let result = try ToolHarness.run(
      "gpt2-acts", ["--print-tokens", "--tokenizer", rankFile.path, "--model", "/nonexistent", corpus.path])
    #expect(result.status == 0, "stderr: \(result.stderr)")
    let tokenizer = try BPETokenizer.gpt2(rankFile: rankFile)
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.count == Self.documents.count)
    for (i, line) in lines.enumerated() {
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
      #expect(object["doc"] as? Int == i)
      #expect((object["tokens"] as? [Int])?.map(Int32.init) == tokenizer.encode(Self.documents[i]))
    }
  }

  @Test("--max-tokens stops after that many tokens have gone through the model")
  func maxTokens() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let result = try acts(
      ["--context", "8", "--batch", "3", "--max-tokens", "20", "--timing"], corpus: corpus)
    #expect(result.status == 0, "stderr: \(result.stderr)")
    let shard = try ShardReader(url: URL(fileURLWithPath: String(result.stdout.split(separator: "\n")[0])))
    // 20 tokens = two windows of 8 and one of 4; minus three BOS rows.
    #expect(shard.rowCount == 17)
    #expect(
      result.stderr.contains("\"total_tokens\": 20"), "the timing line counts the tokens: \(result.stderr)")
  }

  @Test("bad inputs fail with a message naming what is wrong and leave no shard behind")
  func badInputs() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    // Missing model folder.
    var r = try ToolHarness.run(
      "gpt2-acts",
      ["--model", dir.appendingPathComponent("nope").path, "--tokenizer", rankFile.path, corpus.path])
    #expect(r.status != 0 && r.stderr.contains("nope") && r.stderr.contains("not found"), "\(r.stderr)")
    // Truncated weights.
    let broken = dir.appendingPathComponent("broken")
    try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      at: model.appendingPathComponent("config.json"), to: broken.appendingPathComponent("config.json"))
    let weights = try Data(contentsOf: model.appendingPathComponent("model.safetensors"))
    try weights.prefix(weights.count - 100).write(to: broken.appendingPathComponent("model.safetensors"))
    r = try ToolHarness.run("gpt2-acts", ["--model", broken.path, "--tokenizer", rankFile.path, corpus.path])
    #expect(
      r.status != 0 && r.stderr.contains("truncated") && r.stderr.contains("model.safetensors"), "\(r.stderr)"
    )
    // Malformed config.json.
    try Data("{ not json".utf8).write(to: broken.appendingPathComponent("config.json"))
    r = try ToolHarness.run("gpt2-acts", ["--model", broken.path, "--tokenizer", rankFile.path, corpus.path])
    #expect(r.status != 0 && r.stderr.contains("config.json"), "\(r.stderr)")
    // Invalid UTF-8 in the corpus, named with its byte offset.
    let bad = dir.appendingPathComponent("bad.txt")
    try Data([0x41, 0x42, 0x43, 0xFF, 0x44]).write(to: bad)
    r = try acts(["--context", "16"], corpus: bad)
    #expect(r.status != 0 && r.stderr.contains("bad.txt") && r.stderr.contains("3"), "\(r.stderr)")
    // An out dir that cannot be created (its parent is a file).
    r = try ToolHarness.run(
      "gpt2-acts",
      [
        "--model", model.path, "--tokenizer", rankFile.path, "--context", "16", "--out-dir",
        corpus.path + "/shards",
        corpus.path,
      ])
    #expect(r.status != 0 && r.stderr.contains("shards"), "\(r.stderr)")
    // Nonsense options.
    r = try acts(["--context", "1"], corpus: corpus)
    #expect(r.status != 0 && r.stderr.contains("--context"), "\(r.stderr)")
    r = try acts(["--context", "65"], corpus: corpus)
    #expect(r.status != 0 && r.stderr.contains("64"), "\(r.stderr)")
    let out = dir.appendingPathComponent("out")
    let written = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
    #expect(
      written.filter { $0.hasSuffix(".h5") || $0.hasSuffix(".tmp") }.isEmpty, "failed runs wrote \(written)")
  }

  @Test("SIGTERM mid-run leaves the completed shards valid and no temporary file")
  func interruptedRunKeepsCompletedShards() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let long = (0..<400).map {
      "Document \($0) says something about activations and features, at some length."
    }
    let corpus = try writeCorpus(long)
    let out = dir.appendingPathComponent("out")
    let process = Process()
    process.executableURL = ToolHarness.binDirectory.appendingPathComponent("gpt2-acts")
    process.arguments = [
      "--model", model.path, "--tokenizer", rankFile.path, "--quiet", "--out-dir", out.path,
      "--context", "32", "--batch", "1", "--shard-tokens", "64", "--max-pending", "2", corpus.path,
    ]
    let stdout = Pipe()
    process.standardOutput = stdout
    process.standardError = FileHandle.nullDevice
    try process.run()
    // --max-pending 2 makes it wait, mid-run, once two shards exist; then interrupt it.
    let first = stdout.fileHandleForReading.availableData
    #expect(!first.isEmpty, "the first shard's path arrives before the run ends")
    Thread.sleep(forTimeInterval: 0.5)
    process.terminate()
    process.waitUntilExit()
    #expect(process.terminationStatus == 128 + SIGTERM || process.terminationReason == .uncaughtSignal)
    let files = try FileManager.default.contentsOfDirectory(atPath: out.path)
    #expect(files.filter { $0.hasSuffix(".tmp") }.isEmpty, "no temporary shard remains: \(files)")
    let shards = files.filter { $0.hasSuffix(".h5") }
    #expect(shards.count == 2)
    for name in shards {
      let shard = try ShardReader(url: out.appendingPathComponent(name))
      #expect(shard.rowCount == 64)
    }
  }

  @Test(
    "a full disk fails the run with an error naming the shard, keeps the completed shards and removes the partial one",
    .enabled(if: getuid() == 0, "mounting a small tmpfs needs root (CI runs as root)"))
  func fullDisk() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let long = (0..<300).map { "Document \($0) fills the disk with activations, one token at a time." }
    let corpus = try writeCorpus(long)
    let out = dir.appendingPathComponent("small-disk")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    let mount = try ToolHarness.runCommand(
      "/bin/mount", ["-t", "tmpfs", "-o", "size=160k", "tmpfs", out.path])
    try #require(mount == 0, "could not mount a tmpfs")
    defer { _ = try? ToolHarness.runCommand("/bin/umount", [out.path]) }
    let r = try ToolHarness.run(
      "gpt2-acts",
      [
        "--model", model.path, "--tokenizer", rankFile.path, "--quiet", "--out-dir", out.path, "--context",
        "32",
        "--shard-tokens", "128", "--dtype", "f32", corpus.path,
      ])
    #expect(r.status == 1, "a full disk fails the run with an error, not a crash (status \(r.status))")
    #expect(r.stderr.contains(out.path), "the error names the shard: \(r.stderr)")
    let files = try FileManager.default.contentsOfDirectory(atPath: out.path)
    #expect(files.filter { $0.hasSuffix(".tmp") }.isEmpty, "the partial shard is removed: \(files)")
    let shards = files.filter { $0.hasSuffix(".h5") }
    #expect(!shards.isEmpty, "some shards completed before the disk filled")
    #expect(r.stdout.split(separator: "\n").count == shards.count, "every completed shard was printed")
    for name in shards { #expect(try ShardReader(url: out.appendingPathComponent(name)).rowCount == 128) }
  }

  static let smolLM2 = ToolHarness.packageRoot.appendingPathComponent(
    "models/SmolLM2-135M-Instruct.Q4_1.gguf")

  @Test(
    "on SmolLM2's GGUF, shards say llama, use its own tokenizer and hold the model's own MLP activations",
    .enabled(
      if: FileManager.default.fileExists(atPath: smolLM2.path), "`make models` fetches SmolLM2 (CI does)"))
  func smolLM2Shards() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = try writeCorpus()
    let out = dir.appendingPathComponent("smol")
    let r = try ToolHarness.run(
      "gpt2-acts",
      [
        "--model", Self.smolLM2.path, "--quiet", "--out-dir", out.path, "--context", "16", "--max-tokens",
        "32",
        "--dtype", "f32", corpus.path,
      ])
    #expect(r.status == 0, "\(r.stderr)")
    let shard = try ShardReader(url: URL(fileURLWithPath: String(r.stdout.split(separator: "\n")[0])))
    #expect(
      shard.metadata.architecture == "llama" && shard.metadata.nLayers == 30 && shard.metadata.dModel == 576)
    #expect(shard.metadata.inputTap.contains("ffn_norm") && shard.metadata.outputTap.contains("ffn_down"))
    let tokenizer = try BPETokenizer.fromGGUF(ModelFormats.GGUFFile(url: Self.smolLM2))
    let stream: [Int32] = Self.documents.flatMap { document -> [Int32] in tokenizer.encode(document) + [0] }
    let tokens = try shard.readTokens(rows: 0..<shard.rowCount)
    #expect(tokens == Array(stream.prefix(30)), "two windows of 15 tokens after their <|endoftext|> (id 0)")
    // The first window, recomputed in-process.
    let model = try LlamaModel(gguf: Self.smolLM2, hashWeights: false)
    let window: [Int32] = [0] + stream.prefix(15)
    let taps = MLPTaps(nLayers: 30, rows: 16, dModel: 576)
    _ = try model.forward(tokens: window, batch: 1, length: 16, taps: taps, computeLogits: false)
    let mlpOut = try shard.readActivations(.mlpOut, rows: 0..<15)
    // Two windows in one batch against one alone: the products block differently, so compare
    // relative to the activations' scale (SmolLM2 has outlier dimensions in the hundreds).
    var worst: Float = 0
    var scale: Float = 0
    for p in 1..<16 {
      for l in 0..<30 {
        for j in 0..<576 {
          let direct = taps.mlpOut[(l * 16 + p) * 576 + j]
          worst = max(worst, abs(mlpOut[((p - 1) * 30 + l) * 576 + j] - direct))
          scale = max(scale, abs(direct))
        }
      }
    }
    #expect(worst / scale <= 1e-5, "shard and in-process MLP outputs differ by \(worst) of \(scale)")
  }
}
