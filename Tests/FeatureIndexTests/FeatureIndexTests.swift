import ActivationShards
import CLTFormat
import FeatureIndex
import Foundation
import Kernels
import LanguageModels
import ReplacementModel
import Testing
import Transcoder

/// The feature index: streaming top examples, frequencies, logit effects, labels, its file's name,
/// round trip and the check that it belongs to the CLT at hand.
@Suite struct FeatureIndexTests {
  static func metadata(nLayers: Int, features: Int) -> CLTFileMetadata {
    let shards = ShardMetadata(
      architecture: "gpt2", model: "hand", modelSHA256: "", nLayers: nLayers, dModel: 3, context: 8,
      inputTap: "in", outputTap: "out", createdBy: "test")
    return CLTFileMetadata(
      shards: shards, features: features, configuration: TrainingConfiguration(features: features, steps: 1),
      tokensSeen: 0, steps: 0, createdBy: "test")
  }

  /// γ = 1, W_U = identity on a 3-token vocabulary, without centring: a feature's logit effects are
  /// its residual direction.
  static var readout: LogitReadout {
    LogitReadout(
      normWeight: FloatBuffer([1, 1, 1]), centers: false,
      unembedding: FloatBuffer([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      vocabularySize: 3, dModel: 3)
  }

  @Test(
    "the builder keeps each feature's strongest examples in order, with the tokens before them, and counts")
  func streamingExamples() {
    let builder = FeatureIndexBuilder(nLayers: 2, features: 2, examplesPerFeature: 2)
    let text = (0..<12).map { "t\($0)" }
    // Feature (0, 1) fires at every position with activation = position; (1, 0) once.
    var active = text.indices.map { [FeatureActivation(layer: 0, feature: 1, activation: Float($0))] }
    active[3].append(FeatureActivation(layer: 1, feature: 0, activation: 0.5))
    builder.add(tokens: text, active: active)
    builder.add(
      tokens: ["u0", "u1"], active: [[FeatureActivation(layer: 0, feature: 1, activation: 10.5)], []])
    #expect(builder.tokens == 14)
    let index = try? builder.index(
      transcoder: CrossLayerTranscoder(nLayers: 2, dModel: 3, features: 2),
      metadata: Self.metadata(nLayers: 2, features: 2), outputScales: [1, 1], readout: Self.readout,
      corpus: ["a.txt"], tokenText: { "v\($0)" })
    let f = index!.layers[0][1]
    #expect(f.examples.map(\.activation) == [11, 10.5])
    #expect(f.examples[0].token == "t11" && f.examples[0].before == (3..<11).map { "t\($0)" }.joined())
    #expect(f.examples[1].token == "u0" && f.examples[1].before == "")
    // Activation 0 at position 0 is not a firing.
    #expect(f.frequency == Float(12) / 14)
    #expect(
      index!.layers[1][0].frequency == Float(1) / 14 && index!.layers[1][0].examples[0].before == "t0t1t2")
    #expect(index!.layers[0][0].frequency == 0 && index!.layers[0][0].examples.isEmpty)
  }

  @Test("each feature's promoted and suppressed tokens are its logit effects")
  func logitEffects() throws {
    let transcoder = CrossLayerTranscoder(nLayers: 2, dModel: 3, features: 2)
    // Feature 1 of layer 0 writes (1, 0, 2) into layer 0 and (0, 3, 0) into layer 1; scales (2, 3).
    for (j, value) in [Float(1), 0, 2].enumerated() { transcoder.decoder(from: 0, to: 0)[3 + j] = value }
    for (j, value) in [Float(0), 3, 0].enumerated() { transcoder.decoder(from: 0, to: 1)[3 + j] = value }
    let index = try FeatureIndexBuilder(nLayers: 2, features: 2).index(
      transcoder: transcoder, metadata: Self.metadata(nLayers: 2, features: 2), outputScales: [2, 3],
      readout: Self.readout, corpus: [], tokenText: { "v\($0)" }, logitTokens: 3)
    // d = (0.5, 1, 1): tokens 1 and 2 tie above token 0; ties go to the lower id.
    #expect(index.layers[0][1].promoted == ["v1", "v2", "v0"])
    #expect(index.layers[0][1].suppressed == ["v0", "v1", "v2"])
    #expect(index.layers[0][1].label == FeatureLabel(text: "→ v1 · v2", group: "v1"))
  }

  @Test(
    "labels: firing tokens quoted and deduplicated, then the top promoted one; grouped case- and space-blind")
  func labels() {
    let label = FeatureLabel(firing: [" Paris", " Paris", "France", "Rome"], promoting: [" Paris", " Lyon"])
    #expect(label.text == "\" Paris\" \"France\" → Paris")
    #expect(label.group == "paris")
    #expect(FeatureLabel(firing: ["\n"], promoting: []).text == "\"⏎\"")
    #expect(FeatureLabel(firing: [], promoting: [" the", "\n"]).text == "→ the · ⏎")
    #expect(FeatureLabel(firing: [], promoting: []).text == "")
  }

  @Test("the index sits beside its clt.h5, round-trips, and is refused for another CLT of the same shape")
  func fileAndIdentity() throws {
    #expect(FeatureIndex.path(forTranscoder: "clt.h5") == "clt.index.json")
    #expect(FeatureIndex.path(forTranscoder: "runs/a/clt.h5") == "runs/a/clt.index.json")
    #expect(FeatureIndex.path(forTranscoder: "/x/model") == "/x/model.index.json")
    let a = CrossLayerTranscoder(nLayers: 2, dModel: 3, features: 2, seed: 1)
    let b = CrossLayerTranscoder(nLayers: 2, dModel: 3, features: 2, seed: 1)
    let c = CrossLayerTranscoder(nLayers: 2, dModel: 3, features: 2, seed: 2)
    #expect(FeatureIndex.fingerprint(of: a) == FeatureIndex.fingerprint(of: b))
    let metadata = Self.metadata(nLayers: 2, features: 2)
    let builder = FeatureIndexBuilder(nLayers: 2, features: 2)
    builder.add(tokens: ["x"], active: [[FeatureActivation(layer: 1, feature: 1, activation: 2)]])
    let index = try builder.index(
      transcoder: a, metadata: metadata, outputScales: [1, 1], readout: Self.readout, corpus: ["t"],
      tokenText: { "v\($0)" })
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("index-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = folder.appendingPathComponent("clt.index.json").path
    try index.encoded().write(to: URL(fileURLWithPath: path))
    let read = try #require(try FeatureIndex.read(path: path))
    #expect(read.layers == index.layers && read.fingerprint == index.fingerprint)
    #expect(read.mismatch(with: a, metadata: metadata) == nil)
    #expect(read.mismatch(with: c, metadata: metadata)?.contains("another clt.h5") == true)
    #expect(read.mismatch(with: a, metadata: Self.metadata(nLayers: 2, features: 4)) != nil)
    #expect(try FeatureIndex.read(path: folder.appendingPathComponent("none.json").path) == nil)
    try Data("{\"version\": 1".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: FeatureIndexError.self) { try FeatureIndex.read(path: path) }
  }
}
