import CLTFormat
import Foundation
import LanguageModels
import Transcoder

@testable import Attribution

/// The tiny random-weight checkpoints the LanguageModels tests already check against transformers,
/// and small random transcoders with thresholds low enough that many features fire.
enum TinyModels {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("LanguageModelsTests/Fixtures")

  static func gpt2() throws -> GPT2Model {
    try GPT2Model(directory: fixtures.appendingPathComponent("gpt2-tiny"), hashWeights: false)
  }

  static func llama() throws -> LlamaModel {
    try LlamaModel(gguf: fixtures.appendingPathComponent("llama-tiny.gguf"), hashWeights: false)
  }

  /// A transcoder for `model` with non-trivial normalisation scales, so that the tests see them.
  /// With `skip` it has a skip connection too, W_skip[l] filled with values of either sign
  /// that differ per layer, row and column; the other parameters are the same as without.
  static func transcoder(
    for model: any LanguageModel, features: Int = 24, seed: UInt64 = 7, skip: Bool = false
  )
    -> (CrossLayerTranscoder, ActivationNormalizer)
  {
    let info = model.description
    let clt = CrossLayerTranscoder(
      nLayers: info.nLayers, dModel: info.dModel, features: features, seed: seed, initialThreshold: 0.3,
      skip: skip)
    for l in 0..<info.nLayers {
      for i in 0..<features { clt.encoderBiases[l][i] = Float(i % 5) * 0.05 - 0.1 }
      for j in 0..<info.dModel { clt.decoderBiases[l][j] = Float(j % 7) * 0.01 }
    }
    for (l, w) in clt.skipWeights.enumerated() {
      for k in 0..<w.count { w[k] = 0.1 * Foundation.sin(Float(k * 7 + l * 3 + 1)) }
    }
    let normalizer = ActivationNormalizer(
      inputScales: (0..<info.nLayers).map { 1.3 + 0.1 * Float($0) },
      outputScales: (0..<info.nLayers).map { 0.8 + 0.2 * Float($0) })
    return (clt, normalizer)
  }

  /// A prompt of `count` in-vocabulary ids.
  static func prompt(_ count: Int, vocabulary: Int) -> [Int32] {
    (0..<count).map { Int32(($0 * 37 + 11) % vocabulary) }
  }
}

/// max |a - b| / max |b|.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
  var diff: Float = 0
  var scale: Float = 0
  for i in 0..<a.count {
    diff = max(diff, abs(a[i] - b[i]))
    scale = max(scale, abs(b[i]))
  }
  return diff.isNaN ? .infinity : diff / max(scale, 1e-30)
}
