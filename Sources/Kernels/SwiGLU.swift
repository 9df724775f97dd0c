import CKernels

/// The SwiGLU gate of Llama's MLP, in place on the gate: gate ← silu(gate) · up, with
/// silu(x) = x / (1 + e^(-x)). The loop is C (CKernels, AVX2 where the processor has it); its
/// exponential clamps its argument, so a very negative gate gives x / huge = -0, not NaN.
/// gate (count), up (count).
public func swigluForward(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
  ParallelLoop.forEachChunk(count: count) { range in
    swiglu_forward(gate + range.lowerBound, up + range.lowerBound, range.count)
  }
}
