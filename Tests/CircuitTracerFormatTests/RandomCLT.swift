import ActivationShards
import CLTFormat
import Foundation
import Kernels
import LanguageModels
import Transcoder

/// A small random clt.h5 with scales far from 1, random biases and thresholds, and the model it
/// claims to come from: what the conversion tests export and import.
enum RandomCLT {
  static let model = ModelDescription(
    architecture: "gpt2", name: "tiny-gpt2", sha256: String(repeating: "ab", count: 32), nLayers: 3,
    dModel: 8,
    vocabularySize: 50257, contextLength: 64, inputTap: "ln_2 output (MLP input)",
    outputTap: "MLP output (c_proj, before the residual add)")

  static func make(features: Int = 12, seed: UInt64 = 11) -> CLTFile {
    let (l, d) = (model.nLayers, model.dModel)
    let t = CrossLayerTranscoder(nLayers: l, dModel: d, features: features, seed: seed, initialThreshold: 0.1)
    var rng = XorShiftGenerator(seed: seed &+ 1)
    for layer in 0..<l {
      for i in 0..<features {
        t.encoderBiases[layer][i] = Float.random(in: -0.2...0.2, using: &rng)
        t.logThresholds[layer][i] = Foundation.log(Float.random(in: 0.02...0.3, using: &rng))
      }
      for j in 0..<d { t.decoderBiases[layer][j] = Float.random(in: -0.5...0.5, using: &rng) }
    }
    let shards = ShardMetadata(
      architecture: model.architecture, model: model.name, modelSHA256: model.sha256, nLayers: l, dModel: d,
      context: model.contextLength, inputTap: model.inputTap, outputTap: model.outputTap, createdBy: "test")
    return CLTFile(
      transcoder: t,
      normalizer: ActivationNormalizer(inputScales: [0.5, 2.0, 3.7], outputScales: [1.5, 0.25, 4.0]),
      frequencies: [[Float]](repeating: [Float](repeating: 0.1, count: features), count: l),
      metadata: CLTFileMetadata(
        shards: shards, features: features,
        configuration: TrainingConfiguration(features: features, steps: 1),
        tokensSeen: 0, steps: 0, createdBy: "test"))
  }

  /// Per layer, `rows` raw MLP inputs (rows, d), of a size the input scales would normalise.
  static func inputs(rows: Int, file: CLTFile, seed: UInt64 = 5) -> [[Float]] {
    var rng = XorShiftGenerator(seed: seed)
    let d = file.transcoder.dModel
    return file.normalizer.inputScales.map { s in
      (0..<rows * d).map { _ in Float.random(in: -2...2, using: &rng) / s }
    }
  }

  /// Feature activations and reconstructions in the model's units: inputs scaled by s_in before the
  /// encoder, reconstructions divided by s_out, as the tools run a clt.h5.
  static func run(_ file: CLTFile, inputs: [[Float]]) -> (
    activations: [SparseActivations], outputs: [[Float]]
  ) {
    let t = file.transcoder
    let rows = inputs[0].count / t.dModel
    let activations = (0..<t.nLayers).map { l in
      let scaled = inputs[l].map { $0 * file.normalizer.inputScales[l] }
      return scaled.withUnsafeBufferPointer { t.encode(layer: l, input: $0.baseAddress!, rows: rows) }
    }
    let outputs = (0..<t.nLayers).map { target in
      var out = [Float](repeating: 0, count: rows * t.dModel)
      out.withUnsafeMutableBufferPointer {
        t.reconstruct(target: target, from: activations, into: $0.baseAddress!)
      }
      return out.map { $0 / file.normalizer.outputScales[target] }
    }
    return (activations, outputs)
  }

  /// A fresh folder, removed by the caller.
  static func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-convert-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}
