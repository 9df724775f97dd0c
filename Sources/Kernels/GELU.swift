import Foundation

/// GELU with the tanh approximation (`gelu_new` in transformers, GPT-2's activation), in place:
/// x ← 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
/// x (count).
public func geluTanhForward(_ x: UnsafeMutablePointer<Float>, count: Int) {
  let c: Float = 0.797_884_560_802_865_4  // √(2/π)
  for i in 0..<count {
    let v = x[i]
    x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v)))
  }
}
