import CBLAS
import CKernels
import Foundation

/// Causal multi-head self-attention for one sequence, given its projected queries, keys and values.
///
/// The `newTokens` queries sit at positions `pastTokens ..< pastTokens + newTokens`; the keys and
/// values cover positions `0 ..< pastTokens + newTokens` (a KV cache followed by the new rows), so the
/// same kernel serves whole windows (pastTokens = 0) and cached generation. Query head h reads
/// key/value head h / (heads / kvHeads), which covers grouped-query attention.
///
/// q (newTokens, ldq) with head h at columns h·headDim, k and v (pastTokens + newTokens, ldkv) with
/// kv head g at columns g·headDim, out (newTokens, ldo) with head h at columns h·headDim,
/// scale multiplies q·k (usually 1/√headDim); scores scratch (newTokens, pastTokens + newTokens); probabilities, when given, receives the
/// attention pattern (heads, newTokens, pastTokens + newTokens).
public func causalAttentionForward(
  out: UnsafeMutablePointer<Float>, ldo: Int,
  q: UnsafePointer<Float>, ldq: Int,
  k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldkv: Int,
  newTokens: Int, pastTokens: Int, heads: Int, kvHeads: Int, headDim: Int, scale: Float,
  scores: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>? = nil
) {
  let total = pastTokens + newTokens
  let group = heads / kvHeads
  for h in 0..<heads {
    let g = h / group
    // scores = scale · q_h · k_gᵀ   (newTokens, total)
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasTrans, Int32(newTokens), Int32(total), Int32(headDim),
      scale, q + h * headDim, Int32(ldq), k + g * headDim, Int32(ldkv), 0, scores, Int32(total))
    for i in 0..<newTokens {
      let row = scores + i * total
      let visible = pastTokens + i + 1
      softmaxForward(row, count: visible)
      for j in visible..<total { row[j] = 0 }
    }
    if let probabilities {
      (probabilities + h * newTokens * total).update(from: scores, count: newTokens * total)
    }
    // out_h = scores · v_g   (newTokens, headDim)
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(newTokens), Int32(headDim), Int32(total),
      1, scores, Int32(total), v + g * headDim, Int32(ldkv), 0, out + h * headDim, Int32(ldo))
  }
}

/// Numerically stable softmax in place: x ← exp(x - max x) / Σ exp(x - max x). The loops are C
/// (CKernels, AVX2 where available): in attention they would otherwise cost more than the products.
/// x (count).
public func softmaxForward(_ x: UnsafeMutablePointer<Float>, count: Int) {
  softmax_forward(x, count)
}
