import Kernels

/// The JumpReLU of one layer, kept sparse: a = h · 1[h > θ] (Rajamanoharan et al. 2024, eq. 2),
/// returned as compressed rows of the features that fire, because a trained transcoder keeps only
/// a few dozen of F features active per token and every later step should cost that, not F.
/// preActivations (rows, features), thresholds (features); offsets (rows + 1).
public func jumpReLUSparse(
  preActivations: UnsafePointer<Float>, thresholds: UnsafePointer<Float>, rows: Int, features: Int
) -> (offsets: [Int], indices: [Int32], values: [Float]) {
  var offsets = [Int](repeating: 0, count: rows + 1)
  var indices: [Int32] = []
  var values: [Float] = []
  for n in 0..<rows {
    let h = preActivations + n * features
    for i in 0..<features where h[i] > thresholds[i] {
      indices.append(Int32(i))
      values.append(h[i])
    }
    offsets[n + 1] = indices.count
  }
  return (offsets, indices, values)
}

/// out += Σ_k values[k] · decoder[indices[k], :], the decoder rows of the active features only.
/// out (dModel), indices (k), values (k), decoder (features, dModel).
@inline(__always)
public func sparseRowsAccumulate(
  out: UnsafeMutablePointer<Float>, indices: ArraySlice<Int32>, values: ArraySlice<Float>,
  decoder: UnsafePointer<Float>, dModel: Int
) {
  for (index, value) in zip(indices, values) {
    let row = decoder + Int(index) * dModel
    for j in 0..<dModel { out[j] += value * row[j] }
  }
}

/// out = inpᵀ, so that a weight gradient ∂W = gᵀ · x can use `linearForward`'s sgemm.
/// inp (rows, cols), out (cols, rows).
public func transpose(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int, cols: Int) {
  for r in 0..<rows {
    for c in 0..<cols { out[c * rows + r] = inp[r * cols + c] }
  }
}

/// out = Σ_r inp[r, :], the gradient of a bias added to every row.
/// inp (rows, cols), out (cols).
public func columnSums(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int, cols: Int) {
  out.update(repeating: 0, count: cols)
  for r in 0..<rows {
    let row = inp + r * cols
    for c in 0..<cols { out[c] += row[c] }
  }
}
