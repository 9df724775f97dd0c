/// GELU with the tanh approximation (`gelu_new` in transformers, GPT-2's activation), in place:
/// x ← 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
///
/// Computed as x · sigmoid(2y) = x / (1 + exp(-2y)) with y the tanh argument — the same function,
/// one exponential instead of tanh — eight lanes at a time with `exp8`.
/// x (count).
public func geluTanhForward(_ x: UnsafeMutablePointer<Float>, count: Int) {
  let c: Float = 0.797_884_560_802_865_4  // √(2/π)
  var i = 0
  while i + 8 <= count {
    let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
    let y = c * (v + 0.044715 * v * v * v)
    let r = v / (1 + exp8(-2 * y))
    UnsafeMutableRawPointer(x + i).storeBytes(of: r, as: SIMD8<Float>.self)
    i += 8
  }
  while i < count {
    let v = x[i]
    let y = c * (v + 0.044715 * v * v * v)
    x[i] = v / (1 + exp8(SIMD8(repeating: -2 * y))[0])
    i += 1
  }
}

/// e^x for eight lanes, to about 2 ulp over the float range (inputs are clamped to ±88, where
/// e^x stays finite): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-6 Taylor polynomial
/// (truncation error below 1.2e-7 relative), and 2ⁿ built in the exponent bits.
@inline(__always)
public func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
  let clamped = x.clamped(lowerBound: SIMD8(repeating: -87.3), upperBound: SIMD8(repeating: 88))
  let n = (clamped * 1.442_695_04).rounded(.toNearestOrEven)
  // ln 2 split in two so that n·ln2 is exact in the high part (Cody-Waite reduction).
  let r = clamped - n * 0.693_145_75 - n * 1.428_606_8e-6
  var p: SIMD8<Float> = SIMD8(repeating: 1.0 / 720)
  p = p * r + 1.0 / 120
  p = p * r + 1.0 / 24
  p = p * r + 1.0 / 6
  p = p * r + 0.5
  p = p * r + 1
  p = p * r + 1
  let exponent = (SIMD8<Int32>(n) &+ 127) &<< 23
  return p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
}
