import ActivationShards
import CLTFormat
import Foundation
import LanguageModels
import ModelFormats
import Plots
import Testing
import Tokenizers

/// Every reader of an input file, in this process, given a few hundred damaged copies of a small
/// valid file of its format (`DamagedInputCases`): each copy loads, or is rejected with an error that
/// names the file. A trap would end the test run, so `FuzzedToolTests` runs a sample of the same
/// copies through the tools, where a crash is a recorded failure.
@Suite("Readers given damaged files") struct FuzzedReaderTests {
  let dir: URL

  init() throws {
    dir = try ToolHarness.temporaryDirectory("fuzzed-readers")
  }

  /// Checks `variants` with `read` at `url`, and that some load and some do not.
  private func check(
    _ variants: [DamagedInputs.Variant], at url: URL, partner: URL? = nil, read: (URL) throws -> Void
  ) throws {
    let loaded = try DamagedInputs.expectLoadedOrNamed(variants, at: url, partner: partner, read: read)
    #expect(loaded > 0 && loaded < variants.count, "\(loaded) of \(variants.count) copies load")
  }

  @Test("safetensors: cut, flipped, and with a huge header length, offsets or shape, loads or names the file")
  func safetensors() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try DamagedInputs.writeCheckpoint(in: dir)
    let url = dir.appendingPathComponent("model.safetensors")
    try check(DamagedInputCases.safetensors(try Data(contentsOf: url)), at: url) { url in
      let file = try SafetensorsFile(url: url)
      for name in file.tensors.keys.sorted() { _ = try file.floats(name) }
      _ = try GPT2Model(directory: url.deletingLastPathComponent(), hashWeights: false)
    }
  }

  @Test(
    "GGUF: cut, flipped, and with huge counts, lengths, dims, offsets and nesting, loads or names the file")
  func gguf() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let variants = try DamagedInputCases.gguf(try Data(contentsOf: DamagedInputs.ggufFixture))
    try check(variants, at: dir.appendingPathComponent("x.gguf")) { url in
      let file = try GGUFFile(url: url)
      for info in file.tensorInfos where info.type.map(GGMLType.dequantisable.contains) == true {
        _ = try file.floats(info.name)
      }
      // The fixture is neither a Llama nor a tokenizer: these must say so, naming the file.
      for interpret in [{ _ = try LlamaConfig(gguf: file) }, { _ = try BPETokenizer.fromGGUF(file) }] {
        do { try interpret() } catch { #expect(error.localizedDescription.contains(url.path)) }
      }
    }
  }

  @Test("activation shard: cut and flipped copies load or name the file")
  func shard() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try Data(contentsOf: try DamagedInputs.writeShard(in: dir))
    try check(DamagedInputCases.hdf5(data), at: dir.appendingPathComponent("x.h5")) { url in
      let reader = try ShardReader(url: url)
      let rows = 0..<reader.rowCount
      _ = (try reader.readTokens(rows: rows), try reader.readPositions(rows: rows))
      _ = (try reader.readWindows(rows: rows), try reader.readActivations(.mlpIn, rows: rows))
      _ = try reader.readActivations(.mlpOut, rows: rows)
    }
  }

  @Test("clt.h5: cut and flipped copies load or name the file")
  func transcoder() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try Data(contentsOf: try DamagedInputs.writeCLT(in: dir))
    try check(DamagedInputCases.hdf5(data), at: dir.appendingPathComponent("x.h5")) { url in
      _ = try CLTFile.summary(url: url)
      _ = try CLTFile.load(url: url)
    }
  }

  @Test("a clt.h5 given as a shard, and a shard given as a clt.h5, are named as what they are")
  func mixedUpKinds() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let shard = try DamagedInputs.writeShard(in: dir)
    let clt = try DamagedInputs.writeCLT(in: dir)
    #expect(throws: ShardError.transcoderGiven(path: clt.path)) { try ShardReader(url: clt) }
    #expect(throws: CLTFileError.shardGiven(path: shard.path)) { try CLTFile.load(url: shard) }
    #expect(throws: CLTFileError.shardGiven(path: shard.path)) { try CLTFile.summary(url: shard) }
    #expect(
      ShardError.transcoderGiven(path: clt.path).localizedDescription
        == "\(clt.path) is a CLT (clt.h5), not an activation shard; give the shards gpt2-acts wrote")
    #expect(
      CLTFileError.shardGiven(path: shard.path).localizedDescription
        == "\(shard.path) is an activation shard, not a CLT (clt.h5); give the clt.h5 clt-fit wrote")
  }

  @Test("tiktoken rank file: cut, flipped, and with a rank near 2^31, loads or names the file")
  func rankFile() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let variants = DamagedInputCases.rankFile(DamagedInputs.rankFile())
    try check(variants, at: dir.appendingPathComponent("x.tiktoken")) {
      _ = try BPETokenizer.gpt2(rankFile: $0).encode("the then")
    }
  }

  @Test("vocab.json and merges.txt: cut, flipped, and with a huge id, load or name a file")
  func huggingFaceTokenizer() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try DamagedInputs.writeHuggingFaceTokenizer(in: dir)
    let (vocab, merges) = (dir.appendingPathComponent("vocab.json"), dir.appendingPathComponent("merges.txt"))
    let (vocabData, mergesData) = (try Data(contentsOf: vocab), try Data(contentsOf: merges))
    func load(_: URL) throws {
      _ = try BPETokenizer.gpt2(vocabJSON: vocab, merges: merges).encode("the then")
    }
    // A damaged vocab.json may show as a merge that it lacks, reported at merges.txt's line.
    try check(DamagedInputCases.vocabulary(vocabData), at: vocab, partner: merges, read: load)
    try vocabData.write(to: vocab)
    try check(DamagedInputCases.merges(mergesData), at: merges, partner: vocab, read: load)
  }

  @Test("corpus JSONL: cut, flipped, deeply nested and huge-numbered lines read or name the file")
  func corpus() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try check(
      DamagedInputCases.corpus(DamagedInputs.corpusJSONL()), at: dir.appendingPathComponent("x.jsonl")
    ) {
      try CorpusReader(inputs: [$0.path]).forEachDocument { _ in }
    }
  }

  @Test(
    "attribution graph JSON: cut, flipped, and with bad layers, positions and indices, reads or names the file"
  )
  func attributionGraph() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try check(
      DamagedInputCases.graph(try DamagedInputs.graphJSON()), at: dir.appendingPathComponent("x.json")
    ) {
      let graph = try AttributionGraphFile.read($0.path)
      _ = try GraphPage(graph: graph, source: $0.path).html()
      _ = FeatureDashboard.graphFeatures([("x.json", graph)], top: 5)
      _ = try FeatureImportance.fromGraph(graph, file: nil, top: 5, source: $0.path)
    }
  }
}
