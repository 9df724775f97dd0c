import Kernels

/// Causal self-attention over rows of packed projections `q | k | v`, the layout both model
/// families produce with one product per layer (GPT-2's c_attn; Llama's stacked attn_q/k/v).
/// Each row is `heads · headDim` query values, then `kvHeads · headDim` keys, then as many values.
struct PackedAttention {
  let heads: Int
  let kvHeads: Int
  let headDim: Int

  var qDim: Int { heads * headDim }
  var kvDim: Int { kvHeads * headDim }
  var width: Int { qDim + 2 * kvDim }

  /// `batch` independent windows of `length` rows from position 0, in parallel across windows
  /// (many small products: BLAS on one thread each).
  /// qkv (batch · length, width), out (batch · length, qDim), scores (batch, length, length),
  /// probabilities (batch, heads, length, length) or nil.
  func attendWindows(
    qkv: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, batch: Int, length: Int, scale: Float,
    scores: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>? = nil
  ) {
    BLASThreads.singleThreaded {
      ParallelLoop.forEachChunk(count: batch, grain: 1) { windows in
        for b in windows {
          let window = qkv + b * length * width
          causalAttentionForward(
            out: out + b * length * qDim, ldo: qDim, q: window, ldq: width, k: window + qDim,
            v: window + qDim + kvDim, ldkv: width, newTokens: length, pastTokens: 0, heads: heads,
            kvHeads: kvHeads, headDim: headDim, scale: scale, scores: scores + b * length * length,
            probabilities: probabilities.map { $0 + b * heads * length * length })
        }
      }
    }
  }

  /// Appends `rows` new positions' keys and values to layer `layer` of `cache` (after
  /// `cache.count` earlier ones) and attends from them over the whole sequence.
  /// qkv (rows, width), out (rows, qDim), scores (rows, cache.count + rows),
  /// probabilities (heads, rows, cache.count + rows) or nil.
  func attendCached(
    qkv: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int, cache: KVCache, layer: Int,
    scale: Float, scores: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>? = nil
  ) {
    let past = cache.count
    let keys = cache.keys[layer].pointer
    let values = cache.values[layer].pointer
    for i in 0..<rows {
      (keys + (past + i) * kvDim).update(from: qkv + i * width + qDim, count: kvDim)
      (values + (past + i) * kvDim).update(from: qkv + i * width + qDim + kvDim, count: kvDim)
    }
    causalAttentionForward(
      out: out, ldo: qDim, q: qkv, ldq: width, k: keys, v: values, ldkv: kvDim, newTokens: rows,
      pastTokens: past, heads: heads, kvHeads: kvHeads, headDim: headDim, scale: scale, scores: scores,
      probabilities: probabilities)
  }
}
