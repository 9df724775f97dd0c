/// The SwiGLU gate of Llama's MLP, in place on the gate: gate ← silu(gate) · up, with
/// silu(x) = x / (1 + e^(-x)) computed by `fastExp`. The loop has no branch, so it vectorises
/// (`fastExp` clamps its argument, so a very negative gate gives x / huge = -0, not NaN).
/// gate (count), up (count).
public func swigluForward(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
  ParallelLoop.forEachChunk(count: count) { range in
    for i in range {
      let x = gate[i]
      gate[i] = x / (1 + fastExp(-x)) * up[i]
    }
  }
}
