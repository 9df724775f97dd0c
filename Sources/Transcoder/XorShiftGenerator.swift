/// A seeded xorshift64* generator (Vigna 2016), so that a transcoder's initial parameters are a
/// pure function of its seed on every platform: `SystemRandomNumberGenerator` is not seedable, and
/// Swift's `Float.random(in:using:)` is deterministic given a deterministic generator.
public struct XorShiftGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// Any seed is valid: xorshift needs a non-zero state, so the seed is mixed with a fixed odd
  /// constant and a zero result replaced by that constant.
  public init(seed: UInt64) {
    let mixed = seed ^ 0x9E37_79B9_7F4A_7C15
    state = mixed == 0 ? 0x9E37_79B9_7F4A_7C15 : mixed
    for _ in 0..<4 { _ = next() }  // decorrelate nearby seeds
  }

  public mutating func next() -> UInt64 {
    state ^= state >> 12
    state ^= state << 25
    state ^= state >> 27
    return state &* 0x2545_F491_4F6C_DD1D
  }
}
