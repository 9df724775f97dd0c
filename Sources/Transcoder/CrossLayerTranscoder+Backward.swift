import CKernels
import Foundation
import Kernels

/// The loss and its gradients, computed from the sparse activations feature by feature.
extension CrossLayerTranscoder {
  /// The training loss of one batch, `targets[l]` = y[l] (N, d) the MLP output of layer l:
  ///
  ///   MSE      = Σ_l w[l] Σ_n ω[l]_n ‖ŷ[l]_n − y[l]_n‖² / N  (w[l] = `coefficients.layerWeights`, else 1;
  ///              ω[l]_n = `coefficients.outlierWeights` for an outlier token, else 1)
  ///   sparsity = λ · Σ_l Σ_n Σ_i tanh(c · ‖W_dec,i^(l)‖ · a[l]_{n,i}) / N
  ///   preact   = λ_p · Σ_l Σ_n Σ_{i dead} relu(θref[l]_i − h[l]_{n,i}) / N
  ///   auxk     = α · d · Σ_{l'} ‖e[l'] − ê[l']‖² / ‖e[l']‖²   (AuxK on dead features; `+AuxK`)
  ///
  /// The sparsity term is Ameisen et al.'s tanh-of-decoder-weighted-activation penalty, a smooth
  /// stand-in for L0 (zero for a feature that is off). The pre-activation term follows Anthropic's
  /// January 2025 update: it is zero wherever a feature fires and otherwise pulls h up towards the
  /// threshold, so that a feature that has stopped firing (and gets no other gradient through its
  /// encoder) is drawn back. Here it applies only to the features the caller marks dead (`dead` in
  /// `forward`; the trainer marks those that have not fired for a window of tokens): over every
  /// (token, feature) pair its encoder gradient would be a second dense product as large as the
  /// encoder's forward, and for a feature that fires it only adds a small bias to h.
  /// For rank-selected activations θref is the layer's reference threshold (`forward`).
  public func loss(
    _ activations: CLTActivations, targets: [FloatBuffer], coefficients: CLTLossCoefficients
  ) -> CLTLoss {
    let norms = (0..<nLayers).map { decoderNorms(layer: $0) }
    var terms = lossTerms(
      activations, targets: targets, coefficients: coefficients, norms: norms, gradients: nil)
    terms.auxiliary = auxiliaryTerm(
      activations, targets: targets, coefficient: coefficients.auxiliary, gradients: false)
    return terms
  }

  /// Gradients of `loss(...).total` with respect to every parameter, in fresh buffers.
  public func gradients(
    _ activations: CLTActivations, inputs: [FloatBuffer], targets: [FloatBuffer],
    coefficients: CLTLossCoefficients
  ) -> CLTGradients {
    let grads = CLTGradients(nLayers: nLayers, dModel: dModel, features: features, skip: hasSkip)
    backward(activations, inputs: inputs, targets: targets, coefficients: coefficients, into: grads)
    return grads
  }

  /// The loss and its gradients in one pass, written into `grads` (reused between steps: the rows
  /// of decoder gradients of features that did not fire are left stale and marked inactive in
  /// `grads.decoderRowsActive`, which is what the optimizer reads instead of zeros).
  ///
  /// With g[l'] = ∂loss/∂ŷ[l'] = 2w[l'](ŷ[l'] − y[l'])/N and, per token and feature i of layer l,
  ///   ∂loss/∂a_i = Σ_{l' ≥ l} W_dec[l→l']_i · g[l'] + (λ/N) · c‖W_dec,i‖ · (1 − tanh²(c‖W_dec,i‖ a_i)),
  /// the JumpReLU a = h · H(h − θ) is differentiated as in Rajamanoharan et al. 2024 (eqs. 10–11):
  ///   ∂a/∂h = 1[h > θ]                    (exact away from the jump),
  ///   ∂a/∂θ = −(θ/ε) · K((h − θ)/ε),  K(u) = 1[|u| < 1/2]   (straight-through pseudo-gradient:
  ///     the Heaviside step's derivative replaced by the rectangle kernel of bandwidth ε),
  /// and for a dead feature the pre-activation term adds −(λ_p/N)·1[h ≤ θ] to ∂/∂h and
  /// +(λ_p/N)·1[h ≤ θ] to ∂/∂θ. Finally ∂/∂logθ = θ · ∂/∂θ. For rank-selected activations ∂a/∂h = 1
  /// on the selected features and the threshold has no gradient.
  ///
  /// Only active features and near misses need ∂loss/∂a, so the decoder is read and written at
  /// their rows only, feature by feature: the dot products with g and the gradient row
  /// ∂W_dec[l→l']_i = Σ_n a_{n,i} g[l']_n + (∂sparsity/∂‖W_dec,i‖) W_dec[l→l']_i / ‖W_dec,i‖ share
  /// one pass over each row. ∂W_enc[l]_i = Σ_n ∂loss/∂h_{n,i} x[l]_n runs over the same entries;
  /// a dead feature's pull, −(λ_p/N) Σ_{n: h ≤ θ} x_n, is the column sum of x minus its few tokens
  /// above θ.
  ///
  /// With `decoderStep` the pass also takes Adam's step on every decoder row, each row as soon as
  /// its gradient is known (`decoder_row_backward_adam`): the decoder gradients are then never
  /// stored (their buffers in `grads` are scratch), which saves a third of a step's memory
  /// traffic, and only their squared norms are recorded, with the new rows' own squared norms for
  /// the next forward pass (`CLTActivations.decoderRowSquaresAreCurrent`). The caller must have chosen the step's
  /// gradient scale (clipping) beforehand, and must not update the decoders again.
  @discardableResult
  public func backward(
    _ act: CLTActivations, inputs: [FloatBuffer], targets: [FloatBuffer], coefficients: CLTLossCoefficients,
    into grads: CLTGradients, decoderStep: DecoderAdamStep? = nil
  ) -> CLTLoss {
    let norms = (0..<nLayers).map { act.decoderNorms(layer: $0) }
    var loss = lossTerms(act, targets: targets, coefficients: coefficients, norms: norms, gradients: grads)
    skipGradient(act, inputs: inputs, into: grads)
    // First the AuxK term's decoder rows, which the main pass adds to (and, with `decoderStep`,
    // updates with the rest of each row's gradient).
    loss.auxiliary = auxiliaryDecoderBackward(
      act, targets: targets, coefficient: coefficients.auxiliary, into: grads)
    let n = act.tokens
    let d = dModel
    let scale = 1 / Float(n)
    let lambda = coefficients.sparsity * scale
    let lambdaP = coefficients.preActivation * scale
    let c = coefficients.tanhScale
    let eps = coefficients.bandwidth
    let g = grads.outputGradients(tokens: n)

    for l in 0..<nLayers {
      let offsets = act.featureOffsets[l]
      let tokens = act.entryTokens[l]
      let values = act.entryValues[l]
      let norm = norms[l]
      // ∂sparsity/∂‖W_dec,i‖ / ‖W_dec,i‖, and whether the feature fired (its decoder rows move).
      let normScale = grads.normScales.pointer
      let rowsActive = grads.decoderRowsActive[l]
      let auxiliaryRows = grads.auxiliaryRows[l]
      for i in 0..<features {
        var s: Float = 0
        var fired = false
        for e in offsets[i]..<offsets[i + 1] where values[e] != 0 {
          fired = true
          let u = Foundation.tanh(c * norm[i] * values[e])
          s += lambda * c * values[e] * (1 - u * u)
        }
        normScale[i] = norm[i] > 0 ? s / norm[i] : 0
        rowsActive[i] = fired || auxiliaryRows[i] != 0 ? 1 : 0
      }
      // ∂loss/∂a of every entry, and ∂W_dec rows with their squared norms (for clipping).
      let gradA = grads.entryGradients(count: tokens.count)
      gradA.update(repeating: 0, count: tokens.count)
      let rowSquares = grads.rowSquares
      rowSquares.update(repeating: 0, count: features)
      tokens.withUnsafeBufferPointer { tokens in
        values.withUnsafeBufferPointer { values in
          let (tokens, values) = (tokens.baseAddress!, values.baseAddress!)
          for target in l..<nLayers {
            let w = decoder(from: l, to: target).pointer
            let gw = grads.decoderWeights[l][target - l].pointer
            let gt = g[target].pointer
            let newSquares = act.decoderRowSquares[target][l].pointer  // read into `norms` above
            let moments = decoderStep.map {
              ($0.firstMoments[l][target - l].pointer, $0.secondMoments[l][target - l].pointer)
            }
            withUnsafePointer(to: decoderStep?.constants ?? adam_step()) { step in
              ParallelLoop.forEachChunk(count: features, grain: 256) { range in
                for i in range {
                  let (first, count) = (offsets[i], offsets[i + 1] - offsets[i])
                  let accumulate = Int32(auxiliaryRows[i])
                  if let (m, v) = moments {  // every row takes Adam's step, fired or not
                    rowSquares[i] += decoder_row_backward_adam(
                      w + i * d, gt, tokens + first, values + first, count, d, normScale[i], accumulate,
                      gw + i * d, gradA + first, step, m + i * d, v + i * d, newSquares + i)
                  } else if count > 0 || accumulate != 0 {
                    rowSquares[i] += decoder_row_backward(
                      w + i * d, gt, tokens + first, values + first, count, d, normScale[i], accumulate,
                      gw + i * d, gradA + first)
                  }
                }
              }
            }
          }
        }
      }
      grads.decoderSquaredNorms[l] = (0..<features).reduce(0) {
        rowsActive[$1] != 0 ? $0 + rowSquares[$1] : $0
      }
      // The sparsity term's own derivative in a.
      for i in 0..<features {
        for e in offsets[i]..<offsets[i + 1] {
          let u = Foundation.tanh(c * norm[i] * values[e])
          gradA[e] += lambda * c * norm[i] * (1 - u * u)
        }
      }
      thresholdGradient(act, layer: l, gradA: gradA, lambdaP: lambdaP, bandwidth: eps, into: grads)
      encoderGradient(act, layer: l, gradA: gradA, input: inputs[l], lambdaP: lambdaP, into: grads)
      auxiliaryEncoderGradient(act, layer: l, input: inputs[l], into: grads)
    }
    grads.decoderSquaredNormsWritten()
    // Every decoder row took its step above, and left its new squared norm.
    act.decoderRowSquaresAreCurrent = decoderStep == nil ? nil : ObjectIdentifier(self)
    return loss
  }

  // MARK: - Pieces

  /// The three loss terms; with `gradients`, also g[l'] = 2w[l']·ω[l']_n(ŷ − y)/N into its
  /// output-gradient buffers (ω the outlier tokens' weight, 1 for the others) and ∂b_dec = Σ_n g, in
  /// the same pass. Fills `act.squaredErrors` and `residualSums`, unweighted: they give the
  /// per-layer NMSE, which stays comparable whatever the weights.
  func lossTerms(
    _ act: CLTActivations, targets: [FloatBuffer], coefficients: CLTLossCoefficients, norms: [[Float]],
    gradients: CLTGradients?
  ) -> CLTLoss {
    let n = act.tokens
    let d = dModel
    precondition(targets.count == nLayers && targets.allSatisfy { $0.count >= n * d }, "y[l] is (N, d)")
    let weights = coefficients.layerWeights
    precondition(weights.map { $0.count == nLayers } ?? true, "one loss weight per layer")
    let g = gradients?.outputGradients(tokens: n)
    let outliers = coefficients.outlierWeights
    precondition(outliers.map { $0.thresholds.count == nLayers } ?? true, "one outlier threshold per layer")
    var mse: Double = 0
    for l in 0..<nLayers {
      let weight = weights?[l] ?? 1
      let scale = 2 * weight / Float(n)
      let yHat = act.reconstructions[l].pointer
      let y = targets[l].pointer
      var sums = [Double](repeating: 0, count: d)
      var weightedSums = [Double](repeating: 0, count: d)
      var total: Double = 0
      var weightedTotal: Double = 0
      for t in 0..<n {
        let base = t * d
        let rowWeight = outliers?.weight(layer: l, row: y + base, d: d) ?? 1
        for j in 0..<d {
          let r = yHat[base + j] - y[base + j]
          total += Double(r * r)
          weightedTotal += Double(rowWeight) * Double(r * r)
          sums[j] += Double(r)
          weightedSums[j] += Double(rowWeight * r)
          if let g { g[l][base + j] = scale * rowWeight * r }
        }
      }
      act.squaredErrors[l] = total
      act.residualSums[l] = sums
      mse += Double(weight) * weightedTotal
      if let gradients {
        for j in 0..<d { gradients.decoderBiases[l][j] = Float(Double(scale) * weightedSums[j]) }
      }
    }
    var sparsity: Double = 0
    var preact: Double = 0
    let c = Double(coefficients.tanhScale)
    for l in 0..<nLayers {
      let offsets = act.featureOffsets[l]
      let values = act.entryValues[l]
      for i in 0..<features {
        for e in offsets[i]..<offsets[i + 1] where values[e] != 0 {
          sparsity += Foundation.tanh(c * Double(norms[l][i]) * Double(values[e]))
        }
      }
      preact += act.deadPreActivationSum[l]
    }
    let inverse = 1 / Double(n)
    return CLTLoss(
      meanSquaredError: mse * inverse, sparsity: Double(coefficients.sparsity) * sparsity * inverse,
      preActivation: Double(coefficients.preActivation) * preact * inverse)
  }

  /// ∂loss/∂W_skip[l] = x[l]ᵀ · g[l] for every layer (sgemm), when the transcoder has a skip
  /// connection: g is the whole reconstruction's gradient, which the skip term shares.
  private func skipGradient(_ act: CLTActivations, inputs: [FloatBuffer], into grads: CLTGradients) {
    guard hasSkip else { return }
    let g = grads.outputGradients(tokens: act.tokens)
    for l in 0..<nLayers {
      linearWeightGradient(
        out: grads.skipWeights[l].pointer, inp: inputs[l].pointer, grad: g[l].pointer, rows: act.tokens,
        inDim: dModel, outDim: dModel)
    }
  }

  /// ∂loss/∂logθ[l] (JumpReLU only; zero otherwise).
  private func thresholdGradient(
    _ act: CLTActivations, layer l: Int, gradA: UnsafePointer<Float>, lambdaP: Float, bandwidth eps: Float,
    into grads: CLTGradients
  ) {
    let out = grads.logThresholds[l]
    out.zero()
    guard activation == .jumpReLU else { return }
    let theta = act.thresholds[l]
    let offsets = act.featureOffsets[l]
    let pre = act.entryPre[l]
    for i in 0..<features {
      var s: Float = 0
      for e in offsets[i]..<offsets[i + 1] where abs(pre[e] - theta[i]) < eps / 2 {
        s += gradA[e] * (-theta[i] / eps)
      }
      out[i] = s
    }
    for (slot, i) in act.dead[l].enumerated() { out[Int(i)] += lambdaP * Float(act.deadBelowCounts[l][slot]) }
    for i in 0..<features { out[i] *= theta[i] }
  }

  /// ∂loss/∂W_enc[l] and ∂loss/∂b_enc[l], feature by feature over the entries that fired, plus the
  /// dead features' pull.
  private func encoderGradient(
    _ act: CLTActivations, layer l: Int, gradA: UnsafePointer<Float>, input: FloatBuffer, lambdaP: Float,
    into grads: CLTGradients
  ) {
    let (n, d) = (act.tokens, dModel)
    let offsets = act.featureOffsets[l]
    let tokens = act.entryTokens[l]
    let values = act.entryValues[l]
    let x = input.pointer
    let gw = grads.encoderWeights[l].pointer
    let gb = grads.encoderBiases[l].pointer
    ParallelLoop.forEachChunk(count: features, grain: 256) { range in
      for i in range {
        let row = gw + i * d
        row.update(repeating: 0, count: d)
        var bias: Float = 0
        for e in offsets[i]..<offsets[i + 1] where values[e] != 0 {
          row_axpy(row, x + Int(tokens[e]) * d, gradA[e], d)
          bias += gradA[e]
        }
        gb[i] = bias
      }
    }
    let dead = act.dead[l]
    guard !dead.isEmpty else { return }
    // −(λ_p/N) Σ_{n: h ≤ θref} x_n = −(λ_p/N) (Σ_n x_n − Σ_{n: h > θref} x_n): per dead feature a
    // row (d) of the scratch, after the column sum in the first d.
    let scratch = grads.deadPulls(count: (dead.count + 1) * d)
    let columnSum = scratch
    columnSum.update(repeating: 0, count: d)
    for t in 0..<n { row_axpy(columnSum, x + t * d, 1, d) }
    let pull = scratch + d
    for slot in dead.indices { (pull + slot * d).update(from: columnSum, count: d) }
    for (slot, token) in act.deadAbove[l] {
      row_axpy(pull + Int(slot) * d, x + Int(token) * d, -1, d)
    }
    for (slot, i) in dead.enumerated() {
      row_axpy(gw + Int(i) * d, pull + slot * d, -lambdaP, d)
      gb[Int(i)] -= lambdaP * Float(act.deadBelowCounts[l][slot])
    }
  }
}
