import CLTFormat
import Kernels
import LanguageModels
import Transcoder

/// A feature's direct effect on the logits: the tokens its decoders promote and suppress through
/// the final norm and the unembedding, with nothing in between (what a dashboard lists).
///
/// For feature i of layer l, the direction it writes into the residual stream per unit of
/// activation is d = Σ_{l' ≥ l} W_dec[l→l'][i] / s_out[l'] (raw model units: clt.h5's decoders
/// reconstruct MLP outputs multiplied by s_out, see `ActivationNormalizer`), and its effect on the
/// logits is W_U · (γ ⊙ c(d)) (`LogitReadout.directEffects`). The final norm's denominator is left
/// out, as Neuronpedia and circuit-tracer leave it out of their logit effects: the values compare
/// tokens and features, not sizes of logit changes in a given context.
public struct FeatureLogitEffects: Sendable, Equatable {
  /// A token and its logit change per unit of the feature's activation.
  public struct Effect: Sendable, Equatable {
    public var tokenID: Int
    public var value: Float
  }

  public var layer: Int
  public var feature: Int
  /// The tokens with the largest effect, largest first.
  public var promoted: [Effect]
  /// The tokens with the most negative effect, most negative first.
  public var suppressed: [Effect]

  /// d for feature `feature` of layer `layer`: its decoder rows into every target layer, each
  /// divided by that layer's output scale (`outputScales`, one per layer), summed (C).
  public static func residualDirection(
    decoders: some DecoderRows, outputScales: [Float], layer: Int, feature: Int
  ) -> [Float] {
    var direction = [Float](repeating: 0, count: decoders.dModel)
    direction.withUnsafeMutableBufferPointer { out in
      for target in layer..<decoders.nLayers {
        decoders.addDecoderRow(
          from: layer, to: target, feature: feature, scale: 1 / outputScales[target], into: out.baseAddress!)
      }
    }
    return direction
  }

  /// `residualDirection` of a loaded clt.h5's transcoder.
  public static func residualDirection(file: CLTFile, layer: Int, feature: Int) -> [Float] {
    residualDirection(
      decoders: file.transcoder, outputScales: file.normalizer.outputScales, layer: layer, feature: feature)
  }

  /// The `top` promoted and suppressed tokens of each feature in `features` (layer, index), from a
  /// loaded clt.h5.
  public static func compute(
    file: CLTFile, readout: LogitReadout, features: [(layer: Int, feature: Int)], top: Int
  ) throws -> [FeatureLogitEffects] {
    try compute(
      decoders: file.transcoder, outputScales: file.normalizer.outputScales, readout: readout,
      features: features, top: top)
  }

  /// The `top` promoted and suppressed tokens of each feature in `features` (layer, index), from
  /// decoders held in any precision and the clt.h5's output scales.
  /// - Complexity: one (n, C) × (C, V) product for n features, then O(V · top) per feature.
  public static func compute(
    decoders: some DecoderRows, outputScales: [Float], readout: LogitReadout,
    features: [(layer: Int, feature: Int)], top: Int
  ) throws -> [FeatureLogitEffects] {
    guard decoders.dModel == readout.dModel else {
      throw ReplacementError.unknownFeature(
        spec: "logit effects",
        reason: "the transcoder's d_model \(decoders.dModel) is not the model's \(readout.dModel)")
    }
    for (layer, feature) in features {
      guard layer >= 0, layer < decoders.nLayers, feature >= 0, feature < decoders.features else {
        throw ReplacementError.unknownFeature(
          spec: "feature \(layer):\(feature)",
          reason:
            "the transcoder has layers 0..\(decoders.nLayers - 1) and features 0..\(decoders.features - 1)")
      }
    }
    guard !features.isEmpty else { return [] }
    let v = readout.vocabularySize
    let directions = FloatBuffer(
      features.flatMap {
        residualDirection(
          decoders: decoders, outputScales: outputScales, layer: $0.layer, feature: $0.feature)
      })
    let logits = FloatBuffer(count: features.count * v)
    readout.directEffects(of: directions.pointer, rows: features.count, out: logits.pointer)
    return features.enumerated().map { r, f in
      let row = UnsafeBufferPointer(start: logits.pointer + r * v, count: v)
      return FeatureLogitEffects(
        layer: f.layer, feature: f.feature, promoted: extremes(row, count: top, largest: true),
        suppressed: extremes(row, count: top, largest: false))
    }
  }

  /// The `count` largest (or smallest) values of `row` with their indices, in that order; ties go
  /// to the lower index.
  static func extremes(_ row: UnsafeBufferPointer<Float>, count: Int, largest: Bool) -> [Effect] {
    func better(_ a: Effect, _ b: Effect) -> Bool {
      a.value != b.value ? (largest ? a.value > b.value : a.value < b.value) : a.tokenID < b.tokenID
    }
    var kept: [Effect] = []
    kept.reserveCapacity(count + 1)
    for (i, value) in row.enumerated() where value.isFinite {
      let candidate = Effect(tokenID: i, value: value)
      if kept.count == count, let last = kept.last, !better(candidate, last) { continue }
      let at = kept.firstIndex { better(candidate, $0) } ?? kept.count
      kept.insert(candidate, at: at)
      if kept.count > count { kept.removeLast() }
    }
    return kept
  }
}
