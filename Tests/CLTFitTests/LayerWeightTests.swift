import ActivationShards
import CLTFormat
import Foundation
import HDF5
import Testing
import Transcoder
import TranscoderTraining

/// The loss's layer weights (`--layer-weight-exponent`): how they follow the raw output sizes,
/// that training takes them, and how clt.h5 records the choice.
@Suite(.serialized) struct LayerWeightTests {
  let dir: URL

  init() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-layerweight-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  /// Three layers whose raw outputs have mean squared norms 1, 100 and 10 000 (d = 4).
  static let normalizer = ActivationNormalizer(
    meanSquaredInputNorms: [1, 1, 1], meanSquaredOutputNorms: [1, 100, 10_000], dModel: 4)

  @Test(
    "w[l] ∝ (E‖y[l]‖²)^p with a mean of 1 over the layers; p = 0 gives none",
    arguments: [0.25, 0.5, 1.0, 2.0])
  func weightsFollowRawSizeWithMeanOne(p: Double) throws {
    let weights = try #require(Self.normalizer.lossWeights(exponent: p))
    #expect(weights.count == 3)
    let mean = weights.reduce(0, +) / Float(weights.count)
    #expect(abs(mean - 1) < 1e-5, "mean weight \(mean)")
    // Each layer is 100 times the one before it in raw E‖y‖², so 100^p times its weight.
    let ratio = Float(Foundation.pow(100, p))
    #expect(abs(weights[1] / weights[0] / ratio - 1) < 1e-4)
    #expect(abs(weights[2] / weights[1] / ratio - 1) < 1e-4)
    #expect(Self.normalizer.lossWeights(exponent: 0) == nil)
  }

  func train(exponent: Double, name: String) throws -> (CLTTrainer, URL) {
    var dictionary = SyntheticDictionary(seed: 4)
    let urls = try dictionary.writeShards(
      to: dir.appendingPathComponent("data-\(name)"), shards: 1, rows: 256)
    let configuration = TrainingConfiguration(
      features: 8, batch: 32, steps: 3, shuffleRows: 128, seed: 9, layerWeightExponent: exponent)
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    let trainer = try CLTTrainer(configuration: configuration, stream: stream)
    while !trainer.isFinished { _ = try trainer.trainStep() }
    let url = dir.appendingPathComponent(name)
    try trainer.file(createdBy: "test").write(to: url)
    return (trainer, url)
  }

  @Test("clt.h5 stores the exponent; a file written before it existed reads as uniform (0)")
  func exponentRoundTrip() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let (weighted, url) = try train(exponent: 0.5, name: "weighted.h5")
    #expect(try CLTFile.load(url: url).metadata.configuration.layerWeightExponent == 0.5)
    let (uniform, old) = try train(exponent: 0, name: "old.h5")
    // Weighting changes what training does, so the test above could fail.
    #expect(
      weighted.transcoder.parameterBuffers.map(\.array) != uniform.transcoder.parameterBuffers.map(\.array))
    let file = try HDF5File(url: old, mode: .readWrite)
    try file.removeAttribute("layer_weight_exponent")
    try file.close()
    #expect(try CLTFile.load(url: old).metadata.configuration.layerWeightExponent == 0)
  }

  @Test("a negative or infinite exponent is refused before training, naming the option")
  func invalidExponent() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    for (n, p) in [-1, Double.infinity].enumerated() {
      #expect {
        _ = try train(exponent: p, name: "bad-\(n).h5")
      } throws: { error in
        "\(error.localizedDescription)".contains("--layer-weight-exponent")
      }
    }
  }
}
