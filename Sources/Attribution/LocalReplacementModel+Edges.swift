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
    // Latest position first: at position q only the targets at q or later can have a gradient
    // (attention is causal), and they are then a prefix of the batch, so every product at q
    // covers just that prefix.
    let order = targets.indices.sorted { targets[$0].position > targets[$1].position }
    let sorted = order.map { targets[$0] }
    let width = (sorted.first?.position ?? 0) + 1
    // Scratch for the decoder products, sized for the position with the most active features.
    let widest =
      (0..<width).map { q in activations.reduce(0) { $0 + $1.offsets[q + 1] - $1.offsets[q] } }.max() ?? 0
    let batch = Batch(
      count: sorted.count, width: width,
      live: (0..<width).map { q in sorted.lastIndex { $0.position >= q }.map { $0 + 1 } ?? 0 }, rows: order,
      decoders: FloatBuffer(count: widest * model.dModel), products: FloatBuffer(count: widest * sorted.count)
    )
    let c = model.dModel
    let sources = sourceCount
    let weights = FloatBuffer(count: batch.count * sources)
    var constants = targets.map(\.constant)
    let gradient = FloatBuffer(count: width * batch.count * c)
    let top = sorted.map(\.layer).max() ?? 0

    func inject(_ layer: Int) {
      for (b, t) in sorted.enumerated() where t.layer == layer {
        let g = gradient.pointer + (t.position * batch.count + b) * c
        for j in 0..<c { g[j] += t.readout[j] }
      }
    }
    if top == nLayers { inject(nLayers) }
    var l = min(top, nLayers - 1)
    while l >= 0 {
      if l < top {
        readMLPOutputSources(
          layer: l, gradient: gradient, batch: batch, weights: weights, constants: &constants)
      }
      inject(l)
      attentionBackward(layer: l, gradient: gradient, batch: batch, constants: &constants)
      l -= 1
    }
    for q in 0..<width {
      let column = embeddingSource(position: q)
      let dots = gradientDots(gradient, position: q, batch: batch, with: record.embeddings.pointer + q * c)
      for b in 0..<dots.count { weights[order[b] * sources + column] = dots[b] }
    }
    return EdgeRows(weights: weights, constants: constants)
  }

  /// The shape of one backward pass: `count` targets sorted by position, latest first; the gradient
  /// covers positions 0..<width, and at position q only the first live[q] targets can be non-zero.
  private struct Batch {
    let count: Int
    let width: Int
    let live: [Int]
    /// The row of the result (the callers' order) of each sorted target.
    let rows: [Int]
    /// Scratch: the gathered, scaled decoder rows of one position and their products with G.
    let decoders: FloatBuffer
    let products: FloatBuffer
  }

  /// G[q, b] · v for the live targets b at position q: one matrix-vector product. v (C).
  private func gradientDots(
    _ gradient: FloatBuffer, position q: Int, batch: Batch, with v: UnsafePointer<Float>
  )
    -> [Float]
  {
    let c = model.dModel
    let m = batch.live[q]
    return [Float](unsafeUninitializedCapacity: m) { out, count in
      if m > 0 {
        cblas_sgemv(
          CblasRowMajor, CblasNoTrans, Int32(m), Int32(c), 1, gradient.pointer + q * batch.count * c,
          Int32(c), v,
          1, 0, out.baseAddress!, 1)
      }
      count = m
    }
  }

  /// Reads the gradient at the output of MLP `l`: the error nodes of layer l, the decoder vectors
  /// into layer l of every active feature of layers ≤ l (times its activation), and the decoder
  /// bias as a constant.
  private func readMLPOutputSources(
    layer l: Int, gradient: FloatBuffer, batch: Batch, weights: FloatBuffer, constants: inout [Float]
  ) {
    let c = model.dModel
    let sources = sourceCount
    let scale = 1 / normalizer.outputScales[l]
    let bias = transcoder.decoderBiases[l].array.map { $0 * scale }
    for q in 0..<batch.width {
      let m = batch.live[q]
      guard m > 0 else { continue }
      let errorDots = gradientDots(gradient, position: q, batch: batch, with: errors[l].pointer + q * c)
      let column = errorSource(layer: l, position: q)
      let biasDots = bias.withUnsafeBufferPointer {
        gradientDots(gradient, position: q, batch: batch, with: $0.baseAddress!)
      }
      for b in 0..<m {
        weights[batch.rows[b] * sources + column] = errorDots[b]
        constants[batch.rows[b]] += biasDots[b]
      }
      // Every active feature at position q whose decoders reach layer l.
      var columns: [Int] = []
      for s in 0...l {
        let span = activations[s].offsets[q]..<activations[s].offsets[q + 1]
        columns.append(contentsOf: span.map { featureOffsets[s] + $0 })
      }
      guard !columns.isEmpty else { continue }
      let k = columns.count
      let decoders = batch.decoders
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
      let products = batch.products
      cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(k), Int32(c), 1,
        gradient.pointer + q * batch.count * c, Int32(c), decoders.pointer, Int32(c), 0, products.pointer,
        Int32(k))
      for b in 0..<m {
        let out = weights.pointer + batch.rows[b] * sources
        for (i, column) in columns.enumerated() { out[column] += products[b * k + i] }
      }
    }
  }

  /// G ← G + Jᵀ G through layer `l`'s frozen attention, and the attention's constant output into
  /// `constants`. G (width, batch, C), position-major.
  private func attentionBackward(layer l: Int, gradient: FloatBuffer, batch: Batch, constants: inout [Float])
  {
    let c = model.dModel
    let n = positions
    let layer = model.layers[l]
    let (qDim, kvDim, hd) = (model.qDim, model.kvDim, model.headDim)
    let (count, width) = (batch.count, batch.width)
    let attentionConstant = attentionConstants[l]
    if attentionConstant.contains(where: { $0 != 0 }) {
      for q in 0..<width {
        let dots = attentionConstant.withUnsafeBufferPointer {
          gradientDots(gradient, position: q, batch: batch, with: $0.baseAddress!)
        }
        for b in 0..<dots.count { constants[batch.rows[b]] += dots[b] }
      }
    }
    // Through the output projection, position by position over the live targets: (m, C) → (m, qDim).
    let headGradient = FloatBuffer(count: width * count * qDim)
    for q in 0..<width {
      layer.output.backward(
        gradIn: headGradient.pointer + q * count * qDim, gradOut: gradient.pointer + q * count * c,
        rows: batch.live[q])
    }
    // Head-major copy, (H, width, count · hd), so that each head's transposed pattern is one product.
    let stride = count * hd
    let byHead = FloatBuffer(count: model.heads * width * stride)
    for q in 0..<width {
      for b in 0..<batch.live[q] {
        let src = headGradient.pointer + (q * count + b) * qDim
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
    let valueGradient = FloatBuffer(count: width * count * kvDim)
    for q in 0..<width {
      for b in 0..<batch.live[q] {
        let dst = valueGradient.pointer + (q * count + b) * kvDim
        for g in 0..<model.kvHeads {
          dst.advanced(by: g * hd).update(
            from: valueByHead.pointer + (g * width + q) * stride + b * hd, count: hd)
        }
      }
    }
    // Through the value projection and the frozen norm, then the residual connection adds it.
    for q in 0..<width {
      let m = batch.live[q]
      guard m > 0 else { continue }
      let rows = FloatBuffer(count: m * c)
      layer.values.backward(gradIn: rows.pointer, gradOut: valueGradient.pointer + q * count * kvDim, rows: m)
      let rstd = record.attentionRstd[l][q]
      for b in 0..<m { layer.attentionNorm.backwardInPlace(rows.pointer + b * c, rstd: rstd) }
      residualAdd(out: gradient.pointer + q * count * c, inp: rows.pointer, count: m * c)
    }
  }
}
