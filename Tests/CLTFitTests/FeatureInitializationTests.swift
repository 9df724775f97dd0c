import ActivationShards
import CLTFormat
import Foundation
import HDF5
import Testing
import Transcoder
import TranscoderTraining

/// `clt-fit --init`: the trainer seeds its features from the first batch unless told not to, and
/// clt.h5 records which start a run took.
@Suite(.serialized) struct FeatureInitializationTests {
  let dir: URL

  init() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-initialization-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  /// A trainer on a synthetic dictionary's shards, before its first step.
  func trainer(_ initialization: FeatureInitialization, activation: CLTActivationFunction) throws
    -> CLTTrainer
  {
    var dictionary = SyntheticDictionary(seed: 4)
    let urls = try dictionary.writeShards(
      to: dir.appendingPathComponent("data-\(initialization)-\(activation)"), shards: 1, rows: 256)
    var configuration = TrainingConfiguration(
      features: 8, batch: 32, steps: 3, shuffleRows: 128, activation: activation, k: 2, initialL0: 2, seed: 9)
    configuration.initialization = initialization
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    return try CLTTrainer(configuration: configuration, stream: stream)
  }

  @Test(
    "the seeded start differs from the random one in the encoders and own-layer decoders alone",
    arguments: [CLTActivationFunction.batchTopK, .jumpReLU])
  func seededStartDiffersWhereItShould(activation: CLTActivationFunction) throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let seeded = try trainer(.tokens, activation: activation).transcoder
    let random = try trainer(.random, activation: activation).transcoder
    for l in 0..<seeded.nLayers {
      #expect(seeded.encoderWeights[l].array != random.encoderWeights[l].array, "layer \(l)'s encoder")
      #expect(seeded.encoderBiases[l].array != random.encoderBiases[l].array, "layer \(l)'s encoder biases")
      #expect(seeded.decoder(from: l, to: l).array != random.decoder(from: l, to: l).array)
      #expect(
        seeded.decoderBiases[l].array == random.decoderBiases[l].array, "b_dec is the targets' mean in both")
      for target in (l + 1)..<seeded.nLayers {
        #expect(seeded.decoder(from: l, to: target).array == random.decoder(from: l, to: target).array)
      }
    }
  }

  @Test("clt.h5 records the start; a file written before the choice existed reads as random")
  func initializationRoundTrip() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    for initialization in FeatureInitialization.allCases {
      let trainer = try trainer(initialization, activation: .batchTopK)
      _ = try trainer.trainStep()
      let url = dir.appendingPathComponent("\(initialization).h5")
      try trainer.file(createdBy: "test").write(to: url)
      #expect(try CLTFile.load(url: url).metadata.configuration.initialization == initialization)
    }
    let old = dir.appendingPathComponent("tokens.h5")
    let file = try HDF5File(url: old, mode: .readWrite)
    try file.removeAttribute("initialization")
    try file.close()
    #expect(try CLTFile.load(url: old).metadata.configuration.initialization == .random)
  }
}
