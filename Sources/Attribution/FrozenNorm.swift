import Kernels
import LanguageModels

/// A LayerNorm (GPT-2) or RMSNorm (Llama) whose denominator can be frozen.
///
/// In the local replacement model (Ameisen et al. 2025, "Circuit Tracing", §2.2) every norm's
/// 1/σ is fixed at the value the original forward pass computed, which makes the norm linear:
/// LayerNorm becomes x ↦ centre(x) · rstd ⊙ w + b, RMSNorm x ↦ x · rstd ⊙ w. Centring is a
/// projection, hence linear and its own transpose, so it stays.
public struct FrozenNorm {
  let weight: FloatBuffer
  /// The LayerNorm bias; nil for RMSNorm.
  let bias: FloatBuffer?
  /// Whether the norm subtracts the mean (LayerNorm) or not (RMSNorm).
  let centred: Bool
  let dim: Int

  /// The model's norm, its 1/σ to be supplied from the recorded forward pass.
  init(_ norm: NormParameters) {
    weight = norm.weight
    bias = norm.bias
    centred = norm.centres
    dim = norm.dim
  }

  /// The frozen norm's linear part applied to one row: out = centre?(x) · rstd ⊙ w (no bias).
  /// x, out (dim).
  func frozenLinear(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rstd: Float) {
    let mean = centred ? Self.mean(x, dim) : 0
    for i in 0..<dim { out[i] = (x[i] - mean) * rstd * weight[i] }
  }

  /// The frozen norm's vector-Jacobian product for one row, in place: g ← centre?(g ⊙ w) · rstd.
  /// g (dim).
  func backwardInPlace(_ g: UnsafeMutablePointer<Float>, rstd: Float) {
    for i in 0..<dim { g[i] *= weight[i] * rstd }
    guard centred else { return }
    let mean = Self.mean(g, dim)
    for i in 0..<dim { g[i] -= mean }
  }

  /// What the frozen norm outputs for a zero input: its bias (LayerNorm) or zeros (RMSNorm).
  var constant: [Float] { bias?.array ?? [Float](repeating: 0, count: dim) }

  /// The readout vector r and constant c with u · norm_frozen(x) = r · x + c, for a fixed
  /// direction u read from the norm's output (a feature's encoder row, a logit's unembedding row).
  /// u (dim).
  func readout(_ u: [Float], rstd: Float) -> (vector: [Float], constant: Float) {
    var r = u
    r.withUnsafeMutableBufferPointer { backwardInPlace($0.baseAddress!, rstd: rstd) }
    let b = constant
    var c: Float = 0
    for i in 0..<dim { c += b[i] * u[i] }
    return (r, c)
  }

  private static func mean(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var sum: Double = 0
    for i in 0..<n { sum += Double(x[i]) }
    return Float(sum / Double(n))
  }
}
