import Foundation
import Kernels

/// A cross-layer transcoder (CLT; Ameisen et al. 2025, "Circuit Tracing"): L layers of F features
/// each. Features of layer l read the residual stream's MLP input x[l] and write to the MLP outputs
/// of layer l and every later layer, so that the sum over source layers replaces each MLP.
///
/// Parameters (all `FloatBuffer`s, row-major):
/// - `encoderWeights[l]` W_enc[l] (F, d) and `encoderBiases[l]` b_enc[l] (F);
/// - `logThresholds[l]` logθ[l] (F): the JumpReLU threshold θ = exp(logθ) stays positive;
/// - `decoderWeights[l][l' − l]` W_dec[l→l'] (F, d) for l' ≥ l: row i is feature i's vector in layer l';
/// - `decoderBiases[l']` b_dec[l'] (d).
///
/// The forward pass is
///   h[l] = x[l] · W_enc[l]ᵀ + b_enc[l]                          (dense, sgemm)
///   a[l] = h[l] ⊙ 1[h[l] > θ[l]]                                 (JumpReLU)
///   ŷ[l'] = b_dec[l'] + Σ_{l ≤ l'} a[l] · W_dec[l→l']            (sparse)
/// The decoder sum is computed from the active features only: with k active features a token costs
/// O(k · L · d) instead of the O(F · L² · d) of a dense product. On a CPU this is where training
/// wins: a GPU pays the dense product because gathers are slow there, a CPU's gathers are cheap
/// rows of memory, and for L = 12 the decoder holds L(L+1)/2 = 78 matrices against 12 encoders.
public final class CrossLayerTranscoder {
  public let nLayers: Int
  public let dModel: Int
  public let features: Int
  public let encoderWeights: [FloatBuffer]
  public let encoderBiases: [FloatBuffer]
  public let logThresholds: [FloatBuffer]
  public let decoderWeights: [[FloatBuffer]]
  public let decoderBiases: [FloatBuffer]

  /// A transcoder with parameters drawn from `seed` alone, so a run is reproducible.
  /// W_enc ~ U(−1/√d, 1/√d) keeps h of order |x|; W_dec ~ U(−1/√(L·F), 1/√(L·F)) keeps the
  /// summed contributions of up to L source layers small at the start (as the paper's
  /// initialisation scales decoders by the number of layers); biases start at zero and every
  /// threshold at `initialThreshold`.
  public init(nLayers: Int, dModel: Int, features: Int, seed: UInt64, initialThreshold: Float = 0.1) {
    precondition(nLayers > 0 && dModel > 0 && features > 0, "a transcoder needs positive sizes")
    precondition(initialThreshold > 0, "θ = exp(logθ) is positive")
    self.nLayers = nLayers
    self.dModel = dModel
    self.features = features
    var rng = XorShiftGenerator(seed: seed)
    func uniform(_ count: Int, bound: Float) -> FloatBuffer {
      let buffer = FloatBuffer(count: count)
      for k in 0..<count { buffer[k] = Float.random(in: -bound...bound, using: &rng) }
      return buffer
    }
    let encoderBound = 1 / Float(dModel).squareRoot()
    let decoderBound = 1 / Float(nLayers * features).squareRoot()
    encoderWeights = (0..<nLayers).map { _ in uniform(features * dModel, bound: encoderBound) }
    encoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: features) }
    logThresholds = (0..<nLayers).map { _ in
      FloatBuffer([Float](repeating: Foundation.log(initialThreshold), count: features))
    }
    decoderWeights = (0..<nLayers).map { l in
      (l..<nLayers).map { _ in uniform(features * dModel, bound: decoderBound) }
    }
    decoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: dModel) }
  }

  /// Every parameter buffer in one fixed order (per layer W_enc, b_enc, logθ; then W_dec[l→l'] for
  /// l ≤ l'; then b_dec per layer), matching `CLTGradients.buffers`, so an optimizer can pair them.
  public var parameterBuffers: [FloatBuffer] {
    (0..<nLayers).flatMap { [encoderWeights[$0], encoderBiases[$0], logThresholds[$0]] }
      + decoderWeights.flatMap { $0 } + decoderBiases
  }

  /// W_dec[source→target], (F, d); target ≥ source.
  public func decoder(from source: Int, to target: Int) -> FloatBuffer {
    precondition(source <= target && target < nLayers, "features decode only to their layer and later ones")
    return decoderWeights[source][target - source]
  }

  /// ‖W_dec,i^(l)‖ for every feature i of layer l: the norm of its decoder rows into all target
  /// layers l' ≥ l, concatenated. It scales the sparsity penalty so that shrinking a_i while
  /// growing the decoder cannot dodge it (Ameisen et al. 2025, the sparsity term).
  public func decoderNorms(layer l: Int) -> [Float] {
    var squares = [Double](repeating: 0, count: features)
    for target in l..<nLayers {
      let w = decoder(from: l, to: target).pointer
      for i in 0..<features {
        var s: Double = 0
        for j in 0..<dModel { s += Double(w[i * dModel + j]) * Double(w[i * dModel + j]) }
        squares[i] += s
      }
    }
    return squares.map { Float($0.squareRoot()) }
  }

  // MARK: - Forward

  /// The forward pass for N tokens. `inputs[l]` is x[l] (N, d), the MLP input of layer l.
  public func forward(inputs: [FloatBuffer], tokens n: Int) -> CLTActivations {
    precondition(inputs.count == nLayers, "one input per layer")
    precondition(inputs.allSatisfy { $0.count == n * dModel }, "each input is (N, d)")
    var pre: [FloatBuffer] = []
    var thresholds: [FloatBuffer] = []
    var offsets: [[Int]] = []
    var indices: [[Int32]] = []
    var values: [[Float]] = []
    for l in 0..<nLayers {
      let h = FloatBuffer(count: n * features)
      linearTransposedForward(
        out: h.pointer, inp: inputs[l].pointer, weight: encoderWeights[l].pointer,
        bias: encoderBiases[l].pointer, rows: n, inDim: dModel, outDim: features)
      let theta = FloatBuffer(logThresholds[l].array.map { Foundation.exp($0) })
      let sparse = jumpReLUSparse(
        preActivations: h.pointer, thresholds: theta.pointer, rows: n, features: features)
      pre.append(h)
      thresholds.append(theta)
      offsets.append(sparse.offsets)
      indices.append(sparse.indices)
      values.append(sparse.values)
    }
    let reconstructions = (0..<nLayers).map { _ in FloatBuffer(count: n * dModel) }
    for target in 0..<nLayers {
      let out = reconstructions[target].pointer
      let bias = decoderBiases[target].pointer
      ParallelLoop.forEachChunk(count: n, grain: 8) { range in
        for t in range {
          let row = out + t * dModel
          row.update(from: bias, count: dModel)
          for source in 0...target {
            let span = offsets[source][t]..<offsets[source][t + 1]
            sparseRowsAccumulate(
              out: row, indices: indices[source][span], values: values[source][span],
              decoder: self.decoder(from: source, to: target).pointer, dModel: dModel)
          }
        }
      }
    }
    return CLTActivations(
      tokens: n, preActivations: pre, thresholds: thresholds, activeOffsets: offsets,
      activeFeatures: indices, activeValues: values, reconstructions: reconstructions)
  }

  // MARK: - Loss

  /// The training loss of one batch, `targets[l]` = y[l] (N, d) the MLP output of layer l:
  ///
  ///   MSE      = Σ_l Σ_n ‖ŷ[l]_n − y[l]_n‖² / N
  ///   sparsity = λ · Σ_l Σ_n Σ_i tanh(c · ‖W_dec,i^(l)‖ · a[l]_{n,i}) / N
  ///   preact   = λ_p · Σ_l Σ_n Σ_i relu(θ[l]_i − h[l]_{n,i}) / N
  ///
  /// The sparsity term is Ameisen et al.'s tanh-of-decoder-weighted-activation penalty, a smooth
  /// stand-in for L0 (zero for a feature that is off). The pre-activation term is the one in
  /// Anthropic's January 2025 update: it is zero wherever a feature fires and otherwise pulls h up
  /// towards θ, so a feature that never fires (a dead feature, which gets no other gradient
  /// through its encoder) is drawn back towards firing; it is summed over every (token, feature)
  /// pair, which with a small λ_p matters mainly for those features.
  public func loss(
    _ activations: CLTActivations, targets: [FloatBuffer], coefficients: CLTLossCoefficients
  ) -> CLTLoss {
    let n = activations.tokens
    precondition(targets.count == nLayers && targets.allSatisfy { $0.count == n * dModel }, "y[l] is (N, d)")
    var mse: Double = 0
    var sparsity: Double = 0
    var preact: Double = 0
    let c = Double(coefficients.tanhScale)
    for l in 0..<nLayers {
      let yHat = activations.reconstructions[l].pointer
      let y = targets[l].pointer
      for k in 0..<(n * dModel) {
        let r = Double(yHat[k]) - Double(y[k])
        mse += r * r
      }
      let norms = decoderNorms(layer: l)
      for (i, a) in zip(activations.activeFeatures[l], activations.activeValues[l]) {
        sparsity += Foundation.tanh(c * Double(norms[Int(i)]) * Double(a))
      }
      let h = activations.preActivations[l].pointer
      let theta = activations.thresholds[l].pointer
      for t in 0..<n {
        for i in 0..<features { preact += max(0, Double(theta[i]) - Double(h[t * features + i])) }
      }
    }
    let scale = 1 / Double(n)
    return CLTLoss(
      meanSquaredError: mse * scale, sparsity: Double(coefficients.sparsity) * sparsity * scale,
      preActivation: Double(coefficients.preActivation) * preact * scale)
  }

  // MARK: - Backward

  /// Gradients of `loss(...).total` with respect to every parameter.
  ///
  /// With g[l'] = ∂loss/∂ŷ[l'] = 2(ŷ[l'] − y[l'])/N and, per token and feature i of layer l,
  ///   ∂loss/∂a_i = Σ_{l' ≥ l} W_dec[l→l']_i · g[l'] + (λ/N) · c‖W_dec,i‖ · (1 − tanh²(c‖W_dec,i‖ a_i)),
  /// the JumpReLU a = h · H(h − θ) is differentiated as in Rajamanoharan et al. 2024 (eqs. 10–11):
  ///   ∂a/∂h = 1[h > θ]                    (exact away from the jump),
  ///   ∂a/∂θ = −(θ/ε) · K((h − θ)/ε),  K(u) = 1[|u| < 1/2]   (straight-through pseudo-gradient:
  ///     the Heaviside step's derivative replaced by the rectangle kernel of bandwidth ε),
  /// and the pre-activation term adds the exact −(λ_p/N)·1[h < θ] to ∂/∂h and +(λ_p/N)·1[h < θ] to ∂/∂θ.
  /// Finally ∂/∂logθ = θ · ∂/∂θ. Only the features that fire or lie within ε/2 of their threshold
  /// need ∂loss/∂a, so the decoder is read and written at active rows only; the encoder's
  /// gradients go through sgemm: ∂W_enc[l] = (∂loss/∂h[l])ᵀ · x[l], ∂b_enc[l] = Σ_n ∂loss/∂h[l]_n.
  /// The sparsity term's dependence on the decoder is ∂‖W_dec,i‖/∂W_dec[l→l']_i = W_dec[l→l']_i / ‖W_dec,i‖.
  public func gradients(
    _ activations: CLTActivations, inputs: [FloatBuffer], targets: [FloatBuffer],
    coefficients: CLTLossCoefficients
  ) -> CLTGradients {
    let n = activations.tokens
    let grads = CLTGradients(nLayers: nLayers, dModel: dModel, features: features)
    let scale = 1 / Float(n)
    let lambda = coefficients.sparsity * scale
    let lambdaP = coefficients.preActivation * scale
    let c = coefficients.tanhScale
    let eps = coefficients.bandwidth

    // g[l'] = 2(ŷ − y)/N, and the output bias gradient Σ_n g.
    let g = (0..<nLayers).map { l -> FloatBuffer in
      let buffer = FloatBuffer(count: n * dModel)
      let yHat = activations.reconstructions[l].pointer
      let y = targets[l].pointer
      for k in 0..<(n * dModel) { buffer[k] = 2 * scale * (yHat[k] - y[k]) }
      columnSums(out: grads.decoderBiases[l].pointer, inp: buffer.pointer, rows: n, cols: dModel)
      return buffer
    }

    let gradH = FloatBuffer(count: n * features)
    let gradHT = FloatBuffer(count: features * n)
    for l in 0..<nLayers {
      let norms = decoderNorms(layer: l)
      var normScalar = [Float](repeating: 0, count: features)  // ∂sparsity/∂‖W_dec,i‖
      let h = activations.preActivations[l].pointer
      let theta = activations.thresholds[l].pointer
      let gradTheta = grads.logThresholds[l].pointer  // holds ∂/∂θ until the final scaling
      let offsets = activations.activeOffsets[l]
      let active = activations.activeFeatures[l]
      let values = activations.activeValues[l]
      gradH.zero()
      for t in 0..<n {
        let hRow = h + t * features
        let gRow = gradH.pointer + t * features
        var next = offsets[t]  // the next active entry of this token, features in increasing order
        for i in 0..<features {
          let isActive = next < offsets[t + 1] && Int(active[next]) == i
          let a: Float = isActive ? values[next] : 0
          if isActive { next += 1 }
          let inWindow = abs(hRow[i] - theta[i]) < eps / 2
          if hRow[i] < theta[i] {
            gRow[i] -= lambdaP
            gradTheta[i] += lambdaP
          }
          guard isActive || inWindow else { continue }
          // ∂loss/∂a_i: the reconstruction error read back through the decoder rows, plus sparsity.
          var gradA: Float = 0
          for target in l..<nLayers {
            let row = decoder(from: l, to: target).pointer + i * dModel
            let gt = g[target].pointer + t * dModel
            var dot: Float = 0
            for j in 0..<dModel { dot += row[j] * gt[j] }
            gradA += dot
          }
          let u = Foundation.tanh(c * norms[i] * a)
          gradA += lambda * c * norms[i] * (1 - u * u)
          if isActive {
            gRow[i] += gradA
            normScalar[i] += lambda * c * a * (1 - u * u)
            for target in l..<nLayers {
              let row = grads.decoderWeights[l][target - l].pointer + i * dModel
              let gt = g[target].pointer + t * dModel
              for j in 0..<dModel { row[j] += a * gt[j] }
            }
          }
          if inWindow { gradTheta[i] += gradA * (-theta[i] / eps) }
        }
      }
      for i in 0..<features where normScalar[i] != 0 && norms[i] > 0 {
        let s = normScalar[i] / norms[i]
        for target in l..<nLayers {
          let w = decoder(from: l, to: target).pointer + i * dModel
          let row = grads.decoderWeights[l][target - l].pointer + i * dModel
          for j in 0..<dModel { row[j] += s * w[j] }
        }
      }
      for i in 0..<features { gradTheta[i] *= theta[i] }
      transpose(out: gradHT.pointer, inp: gradH.pointer, rows: n, cols: features)
      linearForward(
        out: grads.encoderWeights[l].pointer, inp: gradHT.pointer, weight: inputs[l].pointer, bias: nil,
        rows: features, inDim: n, outDim: dModel)
      columnSums(out: grads.encoderBiases[l].pointer, inp: gradH.pointer, rows: n, cols: features)
    }
    return grads
  }
}
