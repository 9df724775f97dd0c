import CKernels

/// The SwiGLU gate of Llama's MLP: out ← silu(gate) · up, with silu(x) = x / (1 + e^(-x)), reading
/// each row's gate and up halves from one stacked product. The loop is C (CKernels, AVX2 where the
/// processor has it); its exponential clamps its argument, so a very negative gate gives -0, not NaN.
/// out (rows, dim), gateUp (rows, 2·dim) with gate in the first half of each row, up in the second.
public func swigluForward(out: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>, rows: Int, dim: Int)
{
  ParallelLoop.forEachChunk(count: rows, grain: max(1, 16384 / dim)) { range in
    for r in range { swiglu_forward(out + r * dim, gateUp + r * 2 * dim, gateUp + r * 2 * dim + dim, dim) }
  }
}
