import CBLAS

/// out = inp · weight + bias, for a weight stored input-major as GPT-2's `Conv1D` does.
/// inp (rows, inDim), weight (inDim, outDim), bias (outDim) or nil, out (rows, outDim).
public func linearForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>?, rows: Int, inDim: Int, outDim: Int
) {
  var beta: Float = 0
  if let bias {
    for r in 0..<rows { (out + r * outDim).update(from: bias, count: outDim) }
    beta = 1
  }
  if rows == 1 {  // one token (cached decoding): sgemv streams the weight once, with no packing copy
    cblas_sgemv(
      CblasRowMajor, CblasTrans, Int32(inDim), Int32(outDim), 1, weight, Int32(outDim), inp, 1, beta, out, 1)
    return
  }
  cblas_sgemm(
    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(outDim), Int32(inDim),
    1, inp, Int32(inDim), weight, Int32(outDim), beta, out, Int32(outDim))
}

/// out = inp · weightᵀ + bias, for a weight stored output-major as `nn.Linear` and GGUF do
/// (and as a tied embedding matrix is when it serves as the unembedding).
/// inp (rows, inDim), weight (outDim, inDim), bias (outDim) or nil, out (rows, outDim).
public func linearTransposedForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>?, rows: Int, inDim: Int, outDim: Int
) {
  var beta: Float = 0
  if let bias {
    for r in 0..<rows { (out + r * outDim).update(from: bias, count: outDim) }
    beta = 1
  }
  if rows == 1 {
    cblas_sgemv(
      CblasRowMajor, CblasNoTrans, Int32(outDim), Int32(inDim), 1, weight, Int32(inDim), inp, 1, beta, out, 1)
    return
  }
  cblas_sgemm(
    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outDim), Int32(inDim),
    1, inp, Int32(inDim), weight, Int32(inDim), beta, out, Int32(outDim))
}

/// Adds `inp` into `out` element-wise: the residual connection.
/// out (count), inp (count).
public func residualAdd(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
  for i in 0..<count { out[i] += inp[i] }
}
