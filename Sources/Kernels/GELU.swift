import CKernels

/// GELU with the tanh approximation (`gelu_new` in transformers, GPT-2's activation), in place:
/// x ← 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as x / (1 + exp(-2·√(2/π)·(x + 0.044715·x³))),
/// the same function with one exponential. The loop is C (CKernels) so that it runs as AVX2 where
/// the processor has it.
/// x (count).
public func geluTanhForward(_ x: UnsafeMutablePointer<Float>, count: Int) {
  ParallelLoop.forEachChunk(count: count) { range in
    gelu_tanh_bias_forward(x + range.lowerBound, nil, 1, range.count)
  }
}

/// x ← GELU(x + bias), row by row: the MLP's first bias and activation fused into one pass.
/// x (rows, dim), bias (dim).
public func biasGeluTanhForward(
  _ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, dim: Int
) {
  ParallelLoop.forEachChunk(count: rows, grain: max(1, 16384 / dim)) { range in
    gelu_tanh_bias_forward(x + range.lowerBound * dim, bias, range.count, dim)
  }
}

/// e^x to about 2 ulp over the float range (inputs are clamped to [-87.3, 88], where e^x stays a
/// normal float): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-6 Taylor polynomial (truncation
/// error below 1.2e-7 relative), and 2ⁿ built in the exponent bits. n is rounded by the
/// 1.5·2²³ trick, so there is no float-to-int conversion and loops over it vectorise.
@inline(__always)
public func fastExp(_ x: Float) -> Float {
  let clamped = Swift.min(Swift.max(x, -87.3), 88)
  let shifted = clamped * 1.442_695_04 + 12_582_912  // n sits in the low mantissa bits
  let n = shifted - 12_582_912
  // ln 2 split in two so that n·ln2 is exact in the high part (Cody-Waite reduction).
  let r = clamped - n * 0.693_145_75 - n * 1.428_606_8e-6
  var p: Float = 1.0 / 720
  p = p * r + 1.0 / 120
  p = p * r + 1.0 / 24
  p = p * r + 1.0 / 6
  p = p * r + 0.5
  p = p * r + 1
  p = p * r + 1
  let scale = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
  return p * Float(bitPattern: scale)
}
