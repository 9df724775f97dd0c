import Kernels

/// How a model turns its last residual stream into logits: the final norm, then the unembedding.
///
/// logits = W_U · (γ ⊙ n(x)) (+ W_U · β for GPT-2's LayerNorm bias), where n(x) = (x − mean(x)) / σ
/// for a LayerNorm and x / rms(x) for an RMSNorm. What a direction v written into the residual
/// stream does to the logits with the denominator held fixed (the direct logit effect that
/// Neuronpedia and circuit-tracer show) is W_U · (γ ⊙ c(v)), c the norm's centring (exact, since
/// it is linear) or the identity.
public struct LogitReadout {
  /// γ, the final norm's weight (C).
  public let normWeight: FloatBuffer
  /// Whether the final norm subtracts the mean over the residual stream (LayerNorm) before scaling.
  public let centers: Bool
  /// W_U (V, C), output-major: row t is token t's unembedding.
  public let unembedding: FloatBuffer
  public let vocabularySize: Int
  public let dModel: Int

  public init(
    normWeight: FloatBuffer, centers: Bool, unembedding: FloatBuffer, vocabularySize: Int, dModel: Int
  ) {
    precondition(normWeight.count == dModel && unembedding.count == vocabularySize * dModel)
    self.normWeight = normWeight
    self.centers = centers
    self.unembedding = unembedding
    self.vocabularySize = vocabularySize
    self.dModel = dModel
  }

  /// The direct logit effect of `rows` residual-stream directions, the final norm's denominator
  /// held fixed: out[r] = W_U · (γ ⊙ c(directions[r])).
  /// directions (rows, C), out (rows, V).
  public func directEffects(
    of directions: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>
  ) {
    let c = dModel
    let scaled = FloatBuffer(count: rows * c)
    for r in 0..<rows {
      let v = directions + r * c
      var mean: Float = 0
      if centers {
        for j in 0..<c { mean += v[j] }
        mean /= Float(c)
      }
      for j in 0..<c { scaled[r * c + j] = (v[j] - mean) * normWeight[j] }
    }
    linearTransposedForward(
      out: out, inp: scaled.pointer, weight: unembedding.pointer, bias: nil, rows: rows, inDim: c,
      outDim: vocabularySize)
  }
}

extension GPT2Model {
  /// ln_f then the unembedding tied to wte.
  public var logitReadout: LogitReadout {
    LogitReadout(
      normWeight: weights.lnFWeight, centers: true, unembedding: weights.tokenEmbedding,
      vocabularySize: config.vocabSize, dModel: config.nEmbd)
  }
}

extension LlamaModel {
  /// The output RMSNorm then the LM head (or the tied token embedding).
  public var logitReadout: LogitReadout {
    LogitReadout(
      normWeight: weights.outputNorm, centers: false, unembedding: weights.unembedding,
      vocabularySize: description.vocabularySize, dModel: config.dModel)
  }
}
