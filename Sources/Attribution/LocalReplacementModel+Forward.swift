import CBLAS
import Kernels
import Transcoder

/// The residual stream of one run of the local replacement model.
public struct LocalForward {
  /// Per layer, the residual stream at the MLP input (after attention), (n, C): what feature
  /// pre-activations read.
  public let mlpInputResiduals: [FloatBuffer]
  /// The final residual stream, (n, C).
  public let final: FloatBuffer
  /// Logits at the last position (V).
  public let logits: [Float]
}

extension LocalReplacementModel {
  /// Runs the local replacement model forward: frozen attention and norms, each MLP replaced by
  /// Σ_{s ≤ l} a[s] · W_dec[s→l] / s_out[l] + b_dec[l] / s_out[l] (+ the skip term through the
  /// frozen MLP norm, + the error). Being linear, it
  /// is what the edges differentiate; the tests check them against it.
  /// - Parameters:
  ///   - activations: feature activations to use (default: the recorded ones).
  ///   - errors: error terms to use (default: the recorded ones).
  ///   - includeErrors: add each layer's error term, which makes the logits the original model's.
  public func forward(
    activations: [SparseActivations]? = nil, errors: [FloatBuffer]? = nil, includeErrors: Bool = true
  ) -> LocalForward {
    let acts = activations ?? self.activations
    let errors = errors ?? self.errors
    let n = positions
    let c = model.dModel
    let x = FloatBuffer(count: n * c)
    x.pointer.update(from: record.embeddings.pointer, count: n * c)
    let attended = FloatBuffer(count: n * c)
    let reconstruction = FloatBuffer(count: n * c)
    var residuals: [FloatBuffer] = []
    for l in 0..<nLayers {
      frozenAttention(layer: l, x: x.pointer, out: attended.pointer)
      residualAdd(out: x.pointer, inp: attended.pointer, count: n * c)
      let mid = FloatBuffer(count: n * c)
      mid.pointer.update(from: x.pointer, count: n * c)
      residuals.append(mid)
      decoders.reconstruct(
        target: l, from: acts, bias: transcoder.decoderBiases[l].pointer, into: reconstruction.pointer)
      let s = normalizer.outputScales[l]
      for k in 0..<n * c { x[k] += reconstruction[k] / s + (includeErrors ? errors[l][k] : 0) }
      if !skipWeights.isEmpty { addFrozenSkip(layer: l, residual: mid.pointer, into: x.pointer) }
    }
    let normed = [Float](unsafeUninitializedCapacity: c) { row, count in
      model.finalNorm.frozenLinear(
        out: row.baseAddress!, x: x.pointer + (n - 1) * c, rstd: record.finalRstd)
      let b = model.finalNorm.constant
      for j in 0..<c { row[j] += b[j] }
      count = c
    }
    var logits = [Float](repeating: 0, count: model.vocabularySize)
    logits.withUnsafeMutableBufferPointer { out in
      normed.withUnsafeBufferPointer {
        model.unembedding.forward(out: out.baseAddress!, inp: $0.baseAddress!, rows: 1)
      }
    }
    return LocalForward(mlpInputResiduals: residuals, final: x, logits: logits)
  }

  /// out += (norm_frozen(residual) + β) · W_skip_raw for every position: layer `l`'s skip term in
  /// the local replacement model, affine in the residual at the MLP's input. residual, out (n, C).
  func addFrozenSkip(layer l: Int, residual: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    let (n, c) = (positions, model.dModel)
    let norm = model.layers[l].mlpNorm
    let b = norm.constant
    let normed = FloatBuffer(count: n * c)
    for p in 0..<n {
      norm.frozenLinear(out: normed.pointer + p * c, x: residual + p * c, rstd: record.mlpRstd[l][p])
      for j in 0..<c { normed[p * c + j] += b[j] }
    }
    linearForwardAccumulating(
      out: out, inp: normed.pointer, weight: skipWeights[l].pointer, rows: n, inDim: c, outDim: c)
  }

  /// Layer `l`'s attention with its recorded patterns and norm denominators: affine in x.
  /// x, out (n, C).
  func frozenAttention(layer l: Int, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let n = positions
    let c = model.dModel
    let layer = model.layers[l]
    let normed = FloatBuffer(count: n * c)
    let b = layer.attentionNorm.constant
    for p in 0..<n {
      layer.attentionNorm.frozenLinear(
        out: normed.pointer + p * c, x: x + p * c, rstd: record.attentionRstd[l][p])
      for j in 0..<c { normed[p * c + j] += b[j] }
    }
    let (qDim, kvDim, hd) = (model.qDim, model.kvDim, model.headDim)
    let values = FloatBuffer(count: n * kvDim)
    layer.values.forward(out: values.pointer, inp: normed.pointer, rows: n)
    let heads = FloatBuffer(count: n * qDim)
    let group = model.heads / model.kvHeads
    let pattern = FloatBuffer(count: n * n)
    for h in 0..<model.heads {
      record.unpackPattern(layer: l, head: h, width: n, into: pattern.pointer)
      cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(hd), Int32(n), 1,
        pattern.pointer, Int32(n), values.pointer + (h / group) * hd, Int32(kvDim), 0,
        heads.pointer + h * hd, Int32(qDim))
    }
    layer.output.forward(out: out, inp: heads.pointer, rows: n)
  }

  /// Feature `source`'s pre-activation in a run of the local replacement model.
  public func preActivation(of source: Int, in run: LocalForward) -> Float {
    value(of: featureTarget(source), residual: run.mlpInputResiduals[feature(source).layer])
  }

  /// Token `token`'s logit minus the mean logit in a run of the local replacement model.
  public func relativeLogit(of token: Int, in run: LocalForward) -> Float {
    value(of: logitTarget(token), residual: run.final)
  }

  /// A target's input (pre-activation, or logit minus the mean logit) in a run.
  func input(of target: AttributionTarget, in run: LocalForward) -> Float {
    value(of: target, residual: target.layer == nLayers ? run.final : run.mlpInputResiduals[target.layer])
  }

  func value(of target: AttributionTarget, residual: FloatBuffer) -> Float {
    let c = model.dModel
    var sum = target.constant
    for j in 0..<c { sum += target.readout[j] * residual[target.position * c + j] }
    return sum
  }
}
