import CBLAS
import Dispatch
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
  /// The gradient is held position-major, (P, B, C) for P = the last target position + 1. At
  /// layer l and position q only the targets at or above layer l and at or after position q can
  /// have a gradient (attention is causal, and nothing flows down from a layer a target is below),
  /// so each product gathers just those rows, multiplies them, and scatters the result back.
  ///
  /// The positions are shared out among the threads (interleaved, since early positions have more
  /// live rows), each with its own scratch and BLAS on one thread: every product of one position is
  /// too small for BLAS's own threads, and splitting the targets instead would have each thread
  /// gather every decoder row of the pass again.
  /// - Complexity: per layer and position, two products of the live rows by C-wide matrices and
  ///   one product with the decoder rows of the features active there; one triangular P×P pattern
  ///   product per head and layer.
  func edgeRows(targets: [AttributionTarget]) -> EdgeRows {
    let threads = BLASThreads.current
    return BLASThreads.singleThreaded { edgeRows(targets: targets, threads: threads) }
  }

  private func edgeRows(targets: [AttributionTarget], threads: Int) -> EdgeRows {
    let width = (targets.map(\.position).max() ?? 0) + 1
    let c = model.dModel
    // Scratch for the decoder products, sized for the position with the most active features.
    let widest =
      (0..<width).map { q in activations.reduce(0) { $0 + $1.offsets[q + 1] - $1.offsets[q] } }.max() ?? 0
    let batch = Batch(
      targets: targets, width: width, widest: widest, dModel: c,
      rowWidth: max(c, model.qDim, model.kvDim), attentionWidth: model.qDim, threads: threads)
    let sources = sourceCount
    let weights = FloatBuffer(count: batch.count * sources)
    let gradient = FloatBuffer(count: width * batch.count * c)
    let top = targets.map(\.layer).max() ?? 0

    func inject(_ layer: Int) {
      for (b, t) in targets.enumerated() where t.layer == layer {
        let g = gradient.pointer + (t.position * batch.count + b) * c
        for j in 0..<c { g[j] += t.readout[j] }
      }
    }
    if top == nLayers { inject(nLayers) }
    var l = min(top, nLayers - 1)
    while l >= 0 {
      if l < top {
        readMLPOutputSources(layer: l, gradient: gradient, batch: batch, weights: weights)
        skipBackward(layer: l, gradient: gradient, batch: batch)
      }
      inject(l)
      attentionBackward(layer: l, gradient: gradient, batch: batch)
      l -= 1
    }
    batch.eachPosition { q, scratch in
      let live = batch.live(position: q, fromLayer: 0)
      let dots = scratch.dots(gradient, position: q, live: live, with: embeddingVectors.pointer + q * c)
      let column = embeddingSource(position: q)
      for (k, b) in live.enumerated() { weights[b * sources + column] = dots[k] }
      if let held = heldEmbeddings {
        let constant = scratch.dots(gradient, position: q, live: live, with: held.pointer + q * c)
        for (k, b) in live.enumerated() { scratch.constants[b] += constant[k] }
      }
    }
    var constants = targets.map(\.constant)
    for scratch in batch.scratch {
      for b in 0..<batch.count { constants[b] += scratch.constants[b] }
    }
    return EdgeRows(weights: weights, constants: constants)
  }

  /// One backward pass's targets, a scratch per thread, and the head-major gradient every layer's
  /// attention reuses.
  private final class Batch {
    let count: Int
    let width: Int
    let positions: [Int]
    let layers: [Int]
    let scratch: [Scratch]
    /// The gradient through the attention's output projection, head-major (H, width, count · hd),
    /// so that each head's transposed pattern is one product. A target's rows are written from the
    /// first layer it is live at; until then they hold the zeros they were made with, which the
    /// products keep (a live set only grows as the pass goes down), so one buffer serves every layer.
    let byHead: FloatBuffer

    init(
      targets: [AttributionTarget], width: Int, widest: Int, dModel: Int, rowWidth: Int, attentionWidth: Int,
      threads: Int
    ) {
      count = targets.count
      self.width = width
      positions = targets.map(\.position)
      layers = targets.map(\.layer)
      scratch = (0..<max(1, threads)).map { _ in
        Scratch(count: targets.count, width: width, widest: widest, dModel: dModel, rowWidth: rowWidth)
      }
      byHead = FloatBuffer(count: width * targets.count * attentionWidth)
    }

    /// The targets whose gradient at position q, at or below layer `fromLayer`'s attention, can be non-zero.
    func live(position q: Int, fromLayer layer: Int) -> [Int] {
      (0..<count).filter { positions[$0] >= q && layers[$0] >= layer }
    }

    /// Calls `body(i, scratch)` for every i in 0..<count, thread t taking t, t + T, t + 2T, ...
    /// with its own scratch. Each i must touch only its own rows and columns.
    func each(_ count: Int, _ body: (Int, Scratch) -> Void) {
      let threads = scratch.count
      guard threads > 1 && count > 1 else {
        for i in 0..<count { body(i, scratch[0]) }
        return
      }
      // Iteration i touches only its own rows and columns, and thread t only scratch[t].
      ParallelLoop.forEachIndex(count: threads) { t in
        for i in stride(from: t, to: count, by: threads) { body(i, scratch[t]) }
      }
    }

    /// `each` over the pass's positions.
    func eachPosition(_ body: (Int, Scratch) -> Void) { each(width, body) }
  }

  /// One thread's buffers for a backward pass.
  private final class Scratch: @unchecked Sendable {
    let count: Int
    let dModel: Int
    /// The gathered, scaled decoder rows of one position and their products with the live rows.
    let decoders: FloatBuffer
    let products: FloatBuffer
    /// Live rows gathered into a compact matrix (count, rowWidth), and a product's result.
    let compact: FloatBuffer
    let compactOut: FloatBuffer
    /// One head's attention pattern block, (width, width).
    let pattern: FloatBuffer
    /// This thread's share of each target's constant term.
    var constants: [Float]

    init(count: Int, width: Int, widest: Int, dModel: Int, rowWidth: Int) {
      self.count = count
      self.dModel = dModel
      decoders = FloatBuffer(count: widest * dModel)
      products = FloatBuffer(count: widest * count)
      compact = FloatBuffer(count: count * rowWidth)
      compactOut = FloatBuffer(count: count * rowWidth)
      pattern = FloatBuffer(count: width * width)
      constants = [Float](repeating: 0, count: count)
    }

    /// Copies rows `live` of the (count, width)-strided matrix at `base` (rows `dim` wide) into `compact`.
    func gather(_ base: UnsafePointer<Float>, live: [Int], dim: Int) -> UnsafeMutablePointer<Float> {
      for (k, b) in live.enumerated() { (compact.pointer + k * dim).update(from: base + b * dim, count: dim) }
      return compact.pointer
    }

    /// G[q, b] · v for the live targets b at position q. v (dModel).
    func dots(_ gradient: FloatBuffer, position q: Int, live: [Int], with v: UnsafePointer<Float>) -> [Float]
    {
      let m = live.count
      let rows = gather(gradient.pointer + q * count * dModel, live: live, dim: dModel)
      return [Float](unsafeUninitializedCapacity: m) { out, n in
        if m > 0 {
          cblas_sgemv(
            CblasRowMajor, CblasNoTrans, Int32(m), Int32(dModel), 1, rows, Int32(dModel), v, 1, 0,
            out.baseAddress!, 1)
        }
        n = m
      }
    }
  }

  /// Reads the gradient at the output of MLP `l`: the error nodes of layer l, the decoder vectors
  /// into layer l of every active feature of layers ≤ l (times its activation), and the decoder
  /// bias (and a constant first position's error) as a constant. Only targets above layer l see that output.
  private func readMLPOutputSources(layer l: Int, gradient: FloatBuffer, batch: Batch, weights: FloatBuffer) {
    let c = model.dModel
    let sources = sourceCount
    let scale = 1 / normalizer.outputScales[l]
    let bias = transcoder.decoderBiases[l].array.map { $0 * scale }
    batch.eachPosition { q, scratch in
      let live = batch.live(position: q, fromLayer: l + 1)
      let m = live.count
      guard m > 0 else { return }
      let errorDots = scratch.dots(gradient, position: q, live: live, with: errors[l].pointer + q * c)
      let column = errorSource(layer: l, position: q)
      let biasDots = bias.withUnsafeBufferPointer {
        scratch.dots(gradient, position: q, live: live, with: $0.baseAddress!)
      }
      // A constant first position's error is part of the constant, not an error node.
      let errorIsConstant = q == 0 && constantFirstPosition
      for (k, b) in live.enumerated() {
        if errorIsConstant {
          scratch.constants[b] += errorDots[k]
        } else {
          weights[b * sources + column] = errorDots[k]
        }
        scratch.constants[b] += biasDots[k]
      }
      // Every active feature at position q whose decoders reach layer l.
      var columns: [Int] = []
      for s in 0...l {
        let span = activations[s].offsets[q]..<activations[s].offsets[q + 1]
        columns.append(contentsOf: span.map { featureOffsets[s] + $0 })
      }
      guard !columns.isEmpty else { return }
      let k = columns.count
      let decoders = scratch.decoders
      var row = 0
      for s in 0...l {
        let a = activations[s]
        let span = a.offsets[q]..<a.offsets[q + 1]
        guard !span.isEmpty else { continue }
        let scales = a.values[span].map { $0 * scale }
        a.indices[span].withUnsafeBufferPointer { indices in
          self.decoders.gatherRows(
            from: s, to: l, indices: indices.baseAddress!, scales: scales, count: span.count,
            into: decoders.pointer + row * c)
        }
        row += span.count
      }
      // The dots gathered the live rows into `compact` already.
      let products = scratch.products
      cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(k), Int32(c), 1, scratch.compact.pointer,
        Int32(c), decoders.pointer, Int32(c), 0, products.pointer, Int32(k))
      for (kk, b) in live.enumerated() {
        let out = weights.pointer + b * sources
        for (i, column) in columns.enumerated() { out[column] += products[kk * k + i] }
      }
    }
  }

  /// G ← G + Jᵀ G through layer `l`'s skip connection (W_skip, then the frozen MLP norm), for the
  /// targets above layer l, and the skip's constant output into their constants. Runs after the
  /// MLP's sources read G, before the targets of layer l join (they read the MLP's input).
  private func skipBackward(layer l: Int, gradient: FloatBuffer, batch: Batch) {
    guard !skipWeights.isEmpty else { return }
    let c = model.dModel
    let norm = model.layers[l].mlpNorm
    let weight = skipWeights[l].pointer
    let constant = skipConstants[l]
    let hasConstant = constant.contains { $0 != 0 }
    batch.eachPosition { q, scratch in
      let live = batch.live(position: q, fromLayer: l + 1)
      let m = live.count
      guard m > 0 else { return }
      if hasConstant {
        let dots = constant.withUnsafeBufferPointer {
          scratch.dots(gradient, position: q, live: live, with: $0.baseAddress!)
        }
        for (k, b) in live.enumerated() { scratch.constants[b] += dots[k] }
      }
      // (m, C_out) · W_skipᵀ: W is input-major (C_in, C_out).
      let rows = scratch.gather(gradient.pointer + q * batch.count * c, live: live, dim: c)
      cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(c), Int32(c), 1, rows, Int32(c), weight,
        Int32(c), 0, scratch.compactOut.pointer, Int32(c))
      let rstd = record.mlpRstd[l][q]
      for (k, b) in live.enumerated() {
        let row = scratch.compactOut.pointer + k * c
        norm.backwardInPlace(row, rstd: rstd)
        let g = gradient.pointer + (q * batch.count + b) * c
        for j in 0..<c { g[j] += row[j] }
      }
    }
  }

  /// G ← G + Jᵀ G through layer `l`'s frozen attention, and the attention's constant output into
  /// the targets' constants. G (width, batch, C), position-major.
  private func attentionBackward(layer l: Int, gradient: FloatBuffer, batch: Batch) {
    let c = model.dModel
    let layer = model.layers[l]
    let (qDim, kvDim, hd) = (model.qDim, model.kvDim, model.headDim)
    let (count, width) = (batch.count, batch.width)
    let live = (0..<width).map { batch.live(position: $0, fromLayer: l) }
    let attentionConstant = attentionConstants[l]
    let hasConstant = attentionConstant.contains { $0 != 0 }
    // Through the output projection, then into the head-major copy.
    let stride = count * hd
    let byHead = batch.byHead
    batch.eachPosition { q, scratch in
      guard !live[q].isEmpty else { return }
      if hasConstant {
        let dots = attentionConstant.withUnsafeBufferPointer {
          scratch.dots(gradient, position: q, live: live[q], with: $0.baseAddress!)
        }
        for (k, b) in live[q].enumerated() { scratch.constants[b] += dots[k] }
      }
      let m = live[q].count
      let rows = scratch.gather(gradient.pointer + q * count * c, live: live[q], dim: c)
      layer.output.backward(gradIn: scratch.compactOut.pointer, gradOut: rows, rows: m)
      for (k, b) in live[q].enumerated() {
        let src = scratch.compactOut.pointer + k * qDim
        for h in 0..<model.heads {
          (byHead.pointer + (h * width + q) * stride + b * hd).update(from: src + h * hd, count: hd)
        }
      }
    }
    // Each head's Aᵀ · g in place, A the (width × width) pattern block: lower triangular (causal),
    // so a triangular product does half a square one's work.
    batch.each(model.heads) { h, scratch in
      let pattern = scratch.pattern
      record.unpackPattern(layer: l, head: h, width: width, into: pattern.pointer)
      cblas_strmm(
        CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, Int32(width), Int32(stride), 1,
        pattern.pointer, Int32(width), byHead.pointer + h * width * stride, Int32(stride))
    }
    // Summed over the query heads of each key-value head, through the value projection and the
    // frozen norm; the residual connection adds the result.
    let group = model.heads / model.kvHeads
    batch.eachPosition { q, scratch in
      guard !live[q].isEmpty else { return }
      let m = live[q].count
      for (k, b) in live[q].enumerated() {
        let dst = scratch.compact.pointer + k * kvDim
        for g in 0..<model.kvHeads {
          let out = dst + g * hd
          out.update(repeating: 0, count: hd)
          for h in (g * group)..<((g + 1) * group) {
            residualAdd(out: out, inp: byHead.pointer + (h * width + q) * stride + b * hd, count: hd)
          }
        }
      }
      layer.values.backward(gradIn: scratch.compactOut.pointer, gradOut: scratch.compact.pointer, rows: m)
      let rstd = record.attentionRstd[l][q]
      for (k, b) in live[q].enumerated() {
        let row = scratch.compactOut.pointer + k * c
        layer.attentionNorm.backwardInPlace(row, rstd: rstd)
        let g = gradient.pointer + (q * count + b) * c
        for j in 0..<c { g[j] += row[j] }
      }
    }
  }
}
