import Foundation
import Testing

/// The tools, run as a user runs them, on a sample of the damaged copies `FuzzedReaderTests` reads
/// in process: every targeted copy (huge lengths, negative indices) and every few of the cut and
/// flipped ones. A tool must succeed, or exit 1 or 2 with one line on stderr that names itself and
/// the file; a trap, an abort or a segfault is a crash, which ToolHarness records as a failure.
@Suite("Tools given damaged files") struct FuzzedToolTests {
  let dir: URL
  /// A corpus of two short documents.
  let corpus: URL

  init() throws {
    dir = try ToolHarness.temporaryDirectory("fuzzed-tools")
    corpus = dir.appendingPathComponent("corpus.txt")
    try "the then\n<|endoftext|>\nthe other".write(to: corpus, atomically: true, encoding: .utf8)
  }

  /// The made-up vocabulary as vocab.json + merges.txt in `folder`, which is returned.
  private func tokenizerFolder(_ name: String = "tokenizer") throws -> URL {
    let folder = dir.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try DamagedInputs.writeHuggingFaceTokenizer(in: folder)
    return folder
  }

  @Test("gpt2-acts on a damaged model.safetensors exits cleanly, naming it")
  func safetensors() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = dir.appendingPathComponent("model")
    try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
    try DamagedInputs.writeCheckpoint(in: model)
    let url = model.appendingPathComponent("model.safetensors")
    let tokenizer = try tokenizerFolder()
    let variants = DamagedInputs.sample(DamagedInputCases.safetensors(try Data(contentsOf: url)), stride: 12)
    try DamagedInputs.expectToolLoadsOrNames(variants, at: url, tool: "gpt2-acts") { i in
      [
        "--model", model.path, "--tokenizer", tokenizer.path, "--context", "8", "--quiet", "--out-dir",
        dir.appendingPathComponent("shards-\(i)").path, corpus.path,
      ]
    }
  }

  @Test("gpt2-acts on a damaged .gguf model exits cleanly, naming it")
  func gguf() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("model.gguf")
    let tokenizer = try tokenizerFolder()
    let variants = DamagedInputs.sample(
      try DamagedInputCases.gguf(try Data(contentsOf: DamagedInputs.ggufFixture)), stride: 16)
    try DamagedInputs.expectToolLoadsOrNames(variants, at: url, tool: "gpt2-acts") { _ in
      ["--model", url.path, "--tokenizer", tokenizer.path, "--quiet", "--out-dir", dir.path, corpus.path]
    }
  }

  @Test("clt-fit on a damaged shard exits cleanly, naming it")
  func shard() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try Data(contentsOf: try DamagedInputs.writeShard(in: dir))
    let url = dir.appendingPathComponent("damaged.h5")
    let output = dir.appendingPathComponent("clt.h5").path
    let variants = DamagedInputs.sample(DamagedInputCases.hdf5(data), stride: 12)
    try DamagedInputs.expectToolLoadsOrNames(variants, at: url, tool: "clt-fit", notices: true) { _ in
      ["-o", output, "--features", "8", "--batch", "8", "--steps", "1", "--quiet", url.path]
    }
  }

  @Test("clt-plot on a damaged clt.h5 exits cleanly, naming it")
  func transcoder() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try Data(contentsOf: try DamagedInputs.writeCLT(in: dir))
    let url = dir.appendingPathComponent("damaged.h5")
    let variants = DamagedInputs.sample(DamagedInputCases.hdf5(data), stride: 12)
    try DamagedInputs.expectToolLoadsOrNames(variants, at: url, tool: "clt-plot") { _ in
      ["decoder-norms", "--layer", "0", url.path]
    }
  }

  @Test("gpt2-acts on a damaged rank file, vocab.json or corpus JSONL exits cleanly, naming it")
  func tokenizerAndCorpus() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let rankFile = dir.appendingPathComponent("ranks.tiktoken")
    let ranks = DamagedInputs.rankFile()
    try DamagedInputs.expectToolLoadsOrNames(
      DamagedInputs.sample(DamagedInputCases.rankFile(ranks), stride: 12), at: rankFile, tool: "gpt2-acts"
    ) { _ in ["--print-tokens", "--tokenizer", rankFile.path, corpus.path] }

    let folder = try tokenizerFolder()
    let vocab = folder.appendingPathComponent("vocab.json")
    let variants = DamagedInputs.sample(DamagedInputCases.vocabulary(try Data(contentsOf: vocab)), stride: 12)
    // Only vocab.json is damaged, but a token it lost may be reported at the merge that needs it.
    for (i, variant) in variants.enumerated() {
      try variant.data.write(to: vocab)
      let result = try ToolHarness.run(
        "gpt2-acts", ["--print-tokens", "--tokenizer", folder.path, corpus.path])
      if result.status != 0 {
        #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1, "\(i) \(variant)")
        #expect(result.stderr.hasPrefix("gpt2-acts: error: ") && result.stderr.contains(folder.path))
      }
    }

    try ranks.write(to: rankFile)
    let jsonl = dir.appendingPathComponent("corpus.jsonl")
    try DamagedInputs.expectToolLoadsOrNames(
      DamagedInputs.sample(DamagedInputCases.corpus(DamagedInputs.corpusJSONL()), stride: 12), at: jsonl,
      tool: "gpt2-acts"
    ) { _ in ["--print-tokens", "--tokenizer", rankFile.path, jsonl.path] }
  }

  @Test("clt-plot on a damaged attribution graph JSON exits cleanly, naming it")
  func attributionGraph() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("graph.json")
    let variants = DamagedInputs.sample(DamagedInputCases.graph(try DamagedInputs.graphJSON()), stride: 12)
    try DamagedInputs.expectToolLoadsOrNames(variants, at: url, tool: "clt-plot") { _ in
      ["importance", url.path]
    }
  }
}
