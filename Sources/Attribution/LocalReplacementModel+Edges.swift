import CBLAS
import Kernels
import Transcoder

/// The incoming edges of a batch of targets: one row over every source per target.
struct EdgeRows {
  /// (targets, sourceCount): row b, column s is the direct effect of source s on target b's input.
  let weights: FloatBuffer
  /// Per target, everything constant in the local replacement model (biases through the frozen
  /// norms and attention, decoder biases, the target's own bias): weights' row sum plus this
  /// is the target's input.
  let constants: [Float]
}

extension LocalReplacementModel {
  /// Incoming edges of `targets`, by one batched backward pass (vector-Jacobian products) of the
  /// local replacement model from their readouts down to the embeddings (Ameisen et al. 2025,
  /// §2.3: the direct effect A_{s→t} = a_s · (w_dec,s)ᵀ J_{s→t} w_enc,t, summed over the
  /// source's decoder layers). The gradient travels through the residual connections and each
  /// layer's frozen attention (output projection, transposed pattern, value projection, frozen
  /// norm); the MLPs pass it through unchanged because the transcoder replaces them and its
  /// features are sources, not functions of the stream. At the output of MLP l the gradient is
  /// read by the errors of layer l and by every active feature's decoder into layer l.
  ///
  /// The gradient is held position-major, (P, B, C) for P = the last target position + 1, so
  /// that each position's slice is one contiguous matrix for the decoder products.
  /// - Complexity: per layer two products of (P·B, C) by C-wide matrices and one P×P pattern
  ///   product per head, plus the decoder products over the active features at positions < P.
  func edgeRows(targets: [AttributionTarget]) -> EdgeRows {
    let batch = targets.count
    let width = (targets.map(\.position).max() ?? 0) + 1
    let c = model.dModel
    let sources = sourceCount
    let weights = FloatBuffer(count: batch * sources)
    var constants = targets.map(\.constant)
    let gradient = FloatBuffer(count: width * batch * c)
    let top = targets.map(\.layer).max() ?? 0

    func inject(_ layer: Int) {
      for (b, t) in targets.enumerated() where t.layer == layer {
        let g = gradient.pointer + (t.position * batch + b) * c
        for j in 0..<c { g[j] += t.readout[j] }
      }
    }
    if top == nLayers { inject(nLayers) }
    var l = min(top, nLayers - 1)
    while l >= 0 {
      if l < top {
        readMLPOutputSources(
          layer: l, gradient: gradient, batch: batch, width: width, weights: weights, constants: &constants)
      }
      inject(l)
      attentionBackward(layer: l, gradient: gradient, batch: batch, width: width, constants: &constants)
      l -= 1
    }
    for q in 0..<width {
      let column = embeddingSource(position: q)
      let dots = gradientDots(gradient, position: q, batch: batch, with: record.embeddings.pointer + q * c)
      for b in 0..<batch { weights[b * sources + column] = dots[b] }
    }
    return EdgeRows(weights: weights, constants: constants)
  }

  /// G[q, b] · v for every b: one matrix-vector product. v (C).
  private func gradientDots(
    _ gradient: FloatBuffer, position q: Int, batch: Int, with v: UnsafePointer<Float>
  )
    -> [Float]
  {
    let c = model.dModel
    return [Float](unsafeUninitializedCapacity: batch) { out, count in
      cblas_sgemv(
        CblasRowMajor, CblasNoTrans, Int32(batch), Int32(c), 1, gradient.pointer + q * batch * c, Int32(c), v,
        1,
        0, out.baseAddress!, 1)
      count = batch
    }
  }

  /// Reads the gradient at the output of MLP `l`: the error nodes of layer l, the decoder vectors
  /// into layer l of every active feature of layers ≤ l (times its activation), and the decoder
  /// bias as a constant.
  private func readMLPOutputSources(
    layer l: Int, gradient: FloatBuffer, batch: Int, width: Int, weights: FloatBuffer,
    constants: inout [Float]
  ) {
    let c = model.dModel
    let sources = sourceCount
    let scale = 1 / normalizer.outputScales[l]
    let bias = transcoder.decoderBiases[l].array.map { $0 * scale }
    for q in 0..<width {
      let errorDots = gradientDots(gradient, position: q, batch: batch, with: errors[l].pointer + q * c)
      let column = errorSource(layer: l, position: q)
      let biasDots = bias.withUnsafeBufferPointer {
        gradientDots(gradient, position: q, batch: batch, with: $0.baseAddress!)
      }
      for b in 0..<batch {
        weights[b * sources + column] = errorDots[b]
        constants[b] += biasDots[b]
      }
      // Every active feature at position q whose decoders reach layer l.
      var columns: [Int] = []
      for s in 0...l {
        let span = activations[s].offsets[q]..<activations[s].offsets[q + 1]
        columns.append(contentsOf: span.map { featureOffsets[s] + $0 })
      }
      guard !columns.isEmpty else { continue }
      let k = columns.count
      let decoders = FloatBuffer(count: k * c)
      var row = 0
      for s in 0...l {
        let a = activations[s]
        let w = transcoder.decoder(from: s, to: l).pointer
        for e in a.offsets[q]..<a.offsets[q + 1] {
          let factor = a.values[e] * scale
          let src = w + Int(a.indices[e]) * c
          let dst = decoders.pointer + row * c
          for j in 0..<c { dst[j] = src[j] * factor }
          row += 1
        }
      }
      let products = FloatBuffer(count: batch * k)
      cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(k), Int32(c), 1,
        gradient.pointer + q * batch * c, Int32(c), decoders.pointer, Int32(c), 0, products.pointer, Int32(k))
      for b in 0..<batch {
        let out = weights.pointer + b * sources
        for (i, column) in columns.enumerated() { out[column] += products[b * k + i] }
      }
    }
  }

  /// G ← G + Jᵀ G through layer `l`'s frozen attention, and the attention's constant output into
  /// `constants`. G (width, batch, C), position-major.
  private func attentionBackward(
    layer l: Int, gradient: FloatBuffer, batch: Int, width: Int, constants: inout [Float]
  ) {
    let c = model.dModel
    let n = positions
    let layer = model.layers[l]
    let (qDim, kvDim, hd) = (model.qDim, model.kvDim, model.headDim)
    let rows = width * batch
    let attentionConstant = attentionConstants[l]
    if attentionConstant.contains(where: { $0 != 0 }) {
      for q in 0..<width {
        let dots = attentionConstant.withUnsafeBufferPointer {
          gradientDots(gradient, position: q, batch: batch, with: $0.baseAddress!)
        }
        for b in 0..<batch { constants[b] += dots[b] }
      }
    }
    // Through the output projection: (rows, C) → (rows, qDim).
    let headGradient = FloatBuffer(count: rows * qDim)
    layer.output.backward(gradIn: headGradient.pointer, gradOut: gradient.pointer, rows: rows)
    // Head-major copy, (H, width, batch · hd), so that each head's transposed pattern is one product.
    let stride = batch * hd
    let byHead = FloatBuffer(count: model.heads * width * stride)
    for q in 0..<width {
      for b in 0..<batch {
        let src = headGradient.pointer + (q * batch + b) * qDim
        for h in 0..<model.heads {
          (byHead.pointer + (h * width + q) * stride + b * hd).update(from: src + h * hd, count: hd)
        }
      }
    }
    // Values' gradient per key-value head: Σ over its query heads of Aᵀ · g (width × width pattern block).
    let group = model.heads / model.kvHeads
    let valueByHead = FloatBuffer(count: model.kvHeads * width * stride)
    for h in 0..<model.heads {
      let g = h / group
      cblas_sgemm(
        CblasRowMajor, CblasTrans, CblasNoTrans, Int32(width), Int32(stride), Int32(width), 1,
        record.patterns[l].pointer + h * n * n, Int32(n), byHead.pointer + h * width * stride, Int32(stride),
        h % group == 0 ? 0 : 1, valueByHead.pointer + g * width * stride, Int32(stride))
    }
    let valueGradient = FloatBuffer(count: rows * kvDim)
    for q in 0..<width {
      for b in 0..<batch {
        let dst = valueGradient.pointer + (q * batch + b) * kvDim
        for g in 0..<model.kvHeads {
          dst.advanced(by: g * hd).update(
            from: valueByHead.pointer + (g * width + q) * stride + b * hd, count: hd)
        }
      }
    }
    // Through the value projection and the frozen norm, then the residual connection adds it.
    let normGradient = FloatBuffer(count: rows * c)
    layer.values.backward(gradIn: normGradient.pointer, gradOut: valueGradient.pointer, rows: rows)
    for q in 0..<width {
      let rstd = record.attentionRstd[l][q]
      for b in 0..<batch {
        let g = normGradient.pointer + (q * batch + b) * c
        layer.attentionNorm.backwardInPlace(g, rstd: rstd)
      }
    }
    residualAdd(out: gradient.pointer, inp: normGradient.pointer, count: rows * c)
  }
}
