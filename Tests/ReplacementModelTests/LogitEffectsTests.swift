import ActivationShards
import CLTFormat
import Foundation
import Kernels
import LanguageModels
import ReplacementModel
import Testing
import Transcoder

/// Feature logit effects: a hand computation on a 2-layer, 3-wide transcoder and a 4-token
/// vocabulary, and the tiny models' own final norms and unembeddings read through `logitReadout`.
@Suite struct LogitEffectsTests {
  /// A transcoder of 2 layers, d_model 3, 2 features, all zero but for feature 1 of layer 0:
  /// W_dec[0→0] row 1 = (1, 0, 2), W_dec[0→1] row 1 = (0, 3, 0), output scales (2, 3).
  static func handTranscoder() -> CLTFile {
    let transcoder = CrossLayerTranscoder(nLayers: 2, dModel: 3, features: 2)
    for (j, value) in [Float(1), 0, 2].enumerated() { transcoder.decoder(from: 0, to: 0)[3 + j] = value }
    for (j, value) in [Float(0), 3, 0].enumerated() { transcoder.decoder(from: 0, to: 1)[3 + j] = value }
    let shards = ShardMetadata(
      architecture: "gpt2", model: "hand", modelSHA256: "", nLayers: 2, dModel: 3, context: 8, inputTap: "in",
      outputTap: "out", createdBy: "test")
    return CLTFile(
      transcoder: transcoder, normalizer: ActivationNormalizer(inputScales: [1, 1], outputScales: [2, 3]),
      frequencies: [[0, 0], [0, 0]],
      metadata: CLTFileMetadata(
        shards: shards, features: 2, configuration: TrainingConfiguration(features: 2, steps: 1),
        tokensSeen: 0,
        steps: 0, createdBy: "test"))
  }

  /// γ = (3, 6, 6); W_U rows (1,0,0), (0,1,0), (1,1,0), (0,0,2).
  static func handReadout(centers: Bool) -> LogitReadout {
    LogitReadout(
      normWeight: FloatBuffer([3, 6, 6]), centers: centers,
      unembedding: FloatBuffer([1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 2]), vocabularySize: 4, dModel: 3)
  }

  @Test(
    "by hand: d = (1,0,2)/2 + (0,3,0)/3 = (0.5,1,1); centred (−1/3,1/6,1/6); γ ⊙ it (−1,1,1); logits (−1,1,0,2)"
  )
  func handComputedLayerNorm() throws {
    let file = Self.handTranscoder()
    #expect(FeatureLogitEffects.residualDirection(file: file, layer: 0, feature: 1) == [0.5, 1, 1])
    let effects = try FeatureLogitEffects.compute(
      file: file, readout: Self.handReadout(centers: true), features: [(0, 1), (1, 0)], top: 2)
    func pairs(_ list: [FeatureLogitEffects.Effect]) -> [[Double]] {
      list.map { [Double($0.tokenID), (Double($0.value) * 1e4).rounded() / 1e4] }
    }
    #expect(pairs(effects[0].promoted) == [[3, 2], [1, 1]])
    #expect(pairs(effects[0].suppressed) == [[0, -1], [2, 0]])
    #expect(effects[1].promoted.allSatisfy { $0.value == 0 }, "a feature with zero decoders moves no logit")
  }

  @Test("by hand, RMSNorm (no centring): γ ⊙ d = (1.5, 6, 6); logits (1.5, 6, 7.5, 12)")
  func handComputedRMSNorm() throws {
    let effects = try FeatureLogitEffects.compute(
      file: Self.handTranscoder(), readout: Self.handReadout(centers: false), features: [(0, 1)], top: 4)
    #expect(effects[0].promoted.map(\.tokenID) == [3, 2, 1, 0])
    #expect(effects[0].promoted.map(\.value) == [12, 7.5, 6, 1.5])
    #expect(effects[0].suppressed.map(\.tokenID) == [0, 1, 2, 3])
  }

  @Test("unknown features and a transcoder of another width are refused")
  func refusals() throws {
    let file = Self.handTranscoder()
    #expect(throws: ReplacementError.self) {
      try FeatureLogitEffects.compute(
        file: file, readout: Self.handReadout(centers: true), features: [(2, 0)], top: 1)
    }
    let wide = LogitReadout(
      normWeight: FloatBuffer([1, 1, 1, 1]), centers: true, unembedding: FloatBuffer(count: 8),
      vocabularySize: 2,
      dModel: 4)
    #expect(throws: ReplacementError.self) {
      try FeatureLogitEffects.compute(file: file, readout: wide, features: [(0, 0)], top: 1)
    }
  }

  @Test(
    "on the tiny GPT-2 and Llama, the effects are the decoders through ln_f / the output norm and W_U, in double precision"
  )
  func tinyModels() throws {
    for model in try TestModels.both() {
      let file = try makeCLTFile(for: model, tokens: TestModels.tokens(12, for: model))
      let (c, v) = (model.description.dModel, model.description.vocabularySize)
      let (gamma, unembedding, centers): (FloatBuffer, FloatBuffer, Bool) =
        if let gpt2 = model as? GPT2Model {
          (gpt2.weights.lnFWeight, gpt2.weights.tokenEmbedding, true)
        } else {
          ((model as! LlamaModel).weights.outputNorm, (model as! LlamaModel).weights.unembedding, false)
        }
      let (layer, feature) = (model.description.nLayers - 2, 3)
      var d = [Double](repeating: 0, count: c)
      for target in layer..<model.description.nLayers {
        for j in 0..<c {
          d[j] +=
            Double(file.transcoder.decoder(from: layer, to: target)[feature * c + j])
            / Double(file.normalizer.outputScales[target])
        }
      }
      let mean = centers ? d.reduce(0, +) / Double(c) : 0
      let expected = (0..<v).map { t in
        (0..<c).reduce(0.0) { $0 + Double(unembedding[t * c + $1]) * Double(gamma[$1]) * (d[$1] - mean) }
      }
      let found = try FeatureLogitEffects.compute(
        file: file, readout: model.logitReadout, features: [(layer, feature)], top: 5)[0]
      let order = expected.indices.sorted { expected[$0] > expected[$1] }
      #expect(found.promoted.map(\.tokenID) == Array(order.prefix(5)), "\(model.description.architecture)")
      #expect(found.suppressed.map(\.tokenID) == Array(order.reversed().prefix(5)))
      let scale = expected.map(abs).max()!
      for e in found.promoted + found.suppressed {
        #expect(abs(Double(e.value) - expected[e.tokenID]) <= 1e-4 * scale, "token \(e.tokenID)")
      }
    }
  }
}
