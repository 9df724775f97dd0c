import CBLAS

/// out = inp · weight + bias, for a weight stored input-major as GPT-2's `Conv1D` does.
/// inp (rows, inDim), weight (inDim, outDim), bias (outDim) or nil, out (rows, outDim).
public func linearForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>?, rows: Int, inDim: Int, outDim: Int
) {
  if rows == 1 {  // one token (cached decoding): sgemv streams the weight once, with no packing copy
    cblas_sgemv(
      CblasRowMajor, CblasTrans, Int32(inDim), Int32(outDim), 1, weight, Int32(outDim), inp, 1, 0, out, 1)
  } else {
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(outDim), Int32(inDim),
      1, inp, Int32(inDim), weight, Int32(outDim), 0, out, Int32(outDim))
  }
  if let bias { addBias(out, bias: bias, rows: rows, dim: outDim) }
}

/// out = inp · weightᵀ + bias, for a weight stored output-major as `nn.Linear` and GGUF do
/// (and as a tied embedding matrix is when it serves as the unembedding).
/// inp (rows, inDim), weight (outDim, inDim), bias (outDim) or nil, out (rows, outDim).
public func linearTransposedForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>?, rows: Int, inDim: Int, outDim: Int
) {
  if rows == 1 {
    cblas_sgemv(
      CblasRowMajor, CblasNoTrans, Int32(outDim), Int32(inDim), 1, weight, Int32(inDim), inp, 1, 0, out, 1)
  } else {
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outDim), Int32(inDim),
      1, inp, Int32(inDim), weight, Int32(inDim), 0, out, Int32(outDim))
  }
  if let bias { addBias(out, bias: bias, rows: rows, dim: outDim) }
}

/// out += inp · weight, for a weight stored input-major (as `linearForward`): a linear term added
/// to an output already holding other terms (a transcoder's skip connection), in sgemm's own pass.
/// inp (rows, inDim), weight (inDim, outDim), out (rows, outDim).
public func linearForwardAccumulating(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int,
  inDim: Int, outDim: Int
) {
  cblas_sgemm(
    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(outDim), Int32(inDim),
    1, inp, Int32(inDim), weight, Int32(outDim), 1, out, Int32(outDim))
}

/// out = inpᵀ · grad: the gradient of an input-major weight (`linearForward`) from its layer's
/// inputs and the gradient of its outputs, summed over the rows.
/// inp (rows, inDim), grad (rows, outDim), out (inDim, outDim).
public func linearWeightGradient(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, grad: UnsafePointer<Float>, rows: Int,
  inDim: Int, outDim: Int
) {
  cblas_sgemm(
    CblasRowMajor, CblasTrans, CblasNoTrans, Int32(inDim), Int32(outDim), Int32(rows),
    1, inp, Int32(inDim), grad, Int32(outDim), 0, out, Int32(outDim))
}

/// Adds a bias to every row, in place (a separate pass rather than sgemm's beta = 1 on a
/// pre-filled output, which costs two passes).
/// x (rows, dim), bias (dim).
public func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, dim: Int) {
  ParallelLoop.forEachChunk(count: rows, grain: max(1, 16384 / dim)) { range in
    for r in range {
      let row = x + r * dim
      for i in 0..<dim { row[i] += bias[i] }
    }
  }
}

/// Adds `inp` into `out` element-wise: the residual connection.
/// out (count), inp (count).
public func residualAdd(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
  ParallelLoop.forEachChunk(count: count) { range in
    for i in range { out[i] += inp[i] }
  }
}

/// GFLOP/s of OpenBLAS's sgemm at one shape, (rows, inDim) · (inDim, outDim), over `calls` calls
/// after one warm-up, on the configured threads: what a dense kernel reaches on this machine now,
/// against which `--timing` lines put the sparse tools' tokens/s (docs/BENCHMARKS.md).
public func measuredSgemmGFLOPS(rows: Int, inDim: Int, outDim: Int, calls: Int = 20) -> Double {
  let inp = FloatBuffer((0..<(rows * inDim)).map { Float($0 % 7) * 0.1 })
  let weight = FloatBuffer((0..<(inDim * outDim)).map { Float($0 % 5) * 0.1 })
  let out = FloatBuffer(count: rows * outDim)
  func call() {
    linearForward(
      out: out.pointer, inp: inp.pointer, weight: weight.pointer, bias: nil, rows: rows, inDim: inDim,
      outDim: outDim)
  }
  call()
  let clock = ContinuousClock()
  let elapsed = clock.measure { for _ in 0..<calls { call() } }
  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
  return 2 * Double(rows) * Double(inDim) * Double(outDim) * Double(calls) / seconds / 1e9
}
