import Foundation

/// LayerNorm over the last dimension, as `torch.nn.LayerNorm`: (x - mean) / sqrt(var + eps) · weight + bias,
/// with the biased variance. Statistics are accumulated in Double so long rows stay exact to float precision.
/// inp (rows, dim), weight (dim), bias (dim), out (rows, dim); rstd (rows) receives 1/sqrt(var + eps) when given,
/// which the frozen linearisation used by attribution needs.
public func layerNormForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float, rstd: UnsafeMutablePointer<Float>? = nil
) {
  ParallelLoop.forEachChunk(count: rows, grain: 64) { range in
    for r in range {
      layerNormRow(out: out, inp: inp, weight: weight, bias: bias, row: r, dim: dim, eps: eps, rstd: rstd)
    }
  }
}

/// One row of `layerNormForward`.
@inline(__always)
func layerNormRow(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>, row r: Int, dim: Int, eps: Float, rstd: UnsafeMutablePointer<Float>?
) {
  let x = inp + r * dim
  let y = out + r * dim
  var sum: Double = 0
  for i in 0..<dim { sum += Double(x[i]) }
  let mean = Float(sum / Double(dim))
  var squares: Double = 0
  for i in 0..<dim {
    let d = Double(x[i] - mean)
    squares += d * d
  }
  let s = Float(1 / (squares / Double(dim) + Double(eps)).squareRoot())
  rstd?[r] = s
  for i in 0..<dim { y[i] = (x[i] - mean) * s * weight[i] + bias[i] }
}
