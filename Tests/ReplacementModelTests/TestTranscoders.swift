import ActivationShards
import CLTFormat
import Foundation
import Kernels
import LanguageModels
import ReplacementModel
import Transcoder

/// The tiny random-weight models of the LanguageModels golden tests, and random transcoders made
/// to fit them.
enum TestModels {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("LanguageModelsTests/Fixtures")

  static func gpt2() throws -> GPT2Model {
    try GPT2Model(directory: fixtures.appendingPathComponent("gpt2-tiny"))
  }

  static func llama() throws -> LlamaModel {
    try LlamaModel(gguf: fixtures.appendingPathComponent("llama-tiny.gguf"))
  }

  /// Both families, for tests that must hold for each.
  static func both() throws -> [any LanguageModel] { [try gpt2(), try llama()] }

  /// `count` token ids spread over the model's vocabulary.
  static func tokens(_ count: Int, for model: any LanguageModel, salt: Int = 0) -> [Int32] {
    let v = model.description.vocabularySize
    return (0..<count).map { Int32(($0 * 7919 + 13 + salt * 31) % v) }
  }
}

/// A random transcoder for `model`, its normalisation scales measured on the model's own
/// activations for `tokens` (so that about half the features fire, as with a real one), wrapped
/// as a clt.h5 would be, with the model's identity in its metadata. With `skip` it has a skip
/// connection too, of small weights of either sign.
func makeCLTFile(
  for model: any LanguageModel, features: Int = 24, seed: UInt64 = 1, tokens: [Int32], skip: Bool = false
) throws -> CLTFile {
  let info = model.description
  let taps = MLPTaps(nLayers: info.nLayers, rows: tokens.count, dModel: info.dModel)
  _ = try model.forward(tokens: tokens, batch: 1, length: tokens.count, taps: taps, computeLogits: false)
  func meanSquares(_ buffer: FloatBuffer) -> [Double] {
    (0..<info.nLayers).map { l in
      let p = taps.pointer(buffer, layer: l)
      var sum = 0.0
      for k in info.dModel..<tokens.count * info.dModel { sum += Double(p[k] * p[k]) }
      return sum / Double(tokens.count - 1)
    }
  }
  let normalizer = ActivationNormalizer(
    meanSquaredInputNorms: meanSquares(taps.mlpIn), meanSquaredOutputNorms: meanSquares(taps.mlpOut),
    dModel: info.dModel)
  let transcoder = CrossLayerTranscoder(
    nLayers: info.nLayers, dModel: info.dModel, features: features, seed: seed, initialThreshold: 0.1,
    skip: skip)
  for (l, w) in transcoder.skipWeights.enumerated() {
    for k in 0..<w.count { w[k] = 0.2 * Foundation.sin(Float(3 * k + l + 1)) }
  }
  for l in 0..<info.nLayers {  // non-zero decoder biases, so that the bias path is exercised too
    for j in 0..<info.dModel { transcoder.decoderBiases[l][j] = 0.01 * Float(j % 5) }
  }
  let shards = ShardMetadata(
    architecture: info.architecture, model: info.name, modelSHA256: info.sha256, nLayers: info.nLayers,
    dModel: info.dModel, context: info.contextLength, inputTap: info.inputTap, outputTap: info.outputTap,
    createdBy: "test")
  let metadata = CLTFileMetadata(
    shards: shards, features: features, configuration: TrainingConfiguration(features: features, steps: 1),
    tokensSeen: 0, steps: 0, createdBy: "test")
  return CLTFile(
    transcoder: transcoder, normalizer: normalizer,
    frequencies: Array(repeating: Array(repeating: 0, count: features), count: info.nLayers),
    metadata: metadata)
}

/// A hook that runs another and then records every layer's output it left, row-major (rows, d)
/// per layer, from the latest call.
final class RecordingHook: MLPReplacement {
  let inner: (any MLPReplacement)?
  let dModel: Int
  var outputs: [[Float]] = []
  /// Each layer's MLP input, as the hook received it.
  var inputs: [[Float]] = []

  init(_ inner: (any MLPReplacement)?, dModel: Int) {
    self.inner = inner
    self.dModel = dModel
  }

  func replace(
    layer: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int,
    positions: RowPositions
  ) {
    if layer == 0 {
      outputs.removeAll()
      inputs.removeAll()
    }
    inputs.append(Array(UnsafeBufferPointer(start: input, count: rows * dModel)))
    inner?.replace(layer: layer, input: input, output: output, rows: rows, positions: positions)
    outputs.append(Array(UnsafeBufferPointer(start: output, count: rows * dModel)))
  }
}

/// max |a − b| / max |b|.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
  var diff: Float = 0
  var scale: Float = 0
  for i in a.indices {
    diff = max(diff, abs(a[i] - b[i]))
    scale = max(scale, abs(b[i]))
  }
  return diff.isNaN ? .infinity : diff / max(scale, 1e-30)
}
