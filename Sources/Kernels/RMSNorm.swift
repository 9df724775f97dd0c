import Foundation

/// RMSNorm over the last dimension, as Llama's `LlamaRMSNorm`: x / sqrt(mean(x²) + eps) · weight,
/// with no mean subtraction and no bias. The sum of squares is accumulated in Double so long rows
/// stay exact to float precision (transformers computes it in float32 on upcast activations).
/// inp (rows, dim), weight (dim), out (rows, dim); rstd (rows) receives 1/sqrt(mean(x²) + eps) when
/// given, for the frozen linearisation attribution needs.
public func rmsNormForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int,
  dim: Int, eps: Float, rstd: UnsafeMutablePointer<Float>? = nil
) {
  ParallelLoop.forEachChunk(count: rows, grain: max(1, 16384 / max(dim, 1))) { range in
    for r in range {
      let x = inp + r * dim
      let y = out + r * dim
      var squares: Double = 0
      for i in 0..<dim { squares += Double(x[i]) * Double(x[i]) }
      let s = Float(1 / (squares / Double(dim) + Double(eps)).squareRoot())
      rstd?[r] = s
      for i in 0..<dim { y[i] = x[i] * s * weight[i] }
    }
  }
}
