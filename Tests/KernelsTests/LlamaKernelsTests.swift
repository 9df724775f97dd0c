import Foundation
import Kernels
import Testing

/// Llama's kernels (RMSNorm, SwiGLU, RoPE) against plain Double-precision references written
/// from their definitions.
@Suite struct LlamaKernelsTests {
  func random(_ n: Int, scale: Float = 1, seed: UInt64 = 7) -> [Float] {
    var g = SeededGenerator(seed: seed &+ UInt64(n))
    return (0..<n).map { _ in scale * Float.random(in: -1...1, using: &g) }
  }

  @Test("RMSNorm divides each row by sqrt(mean(x²) + eps), then applies the gain")
  func rmsNormMatchesDefinition() {
    let (rows, dim) = (4, 45)
    let x = random(rows * dim, scale: 3)
    let w = random(dim, seed: 11)
    var out = [Float](repeating: 0, count: rows * dim)
    var rstd = [Float](repeating: 0, count: rows)
    rmsNormForward(out: &out, inp: x, weight: w, rows: rows, dim: dim, eps: 1e-5, rstd: &rstd)
    for r in 0..<rows {
      let row = x[r * dim..<(r + 1) * dim].map(Double.init)
      let s = 1 / (row.map { $0 * $0 }.reduce(0, +) / Double(dim) + 1e-5).squareRoot()
      #expect(abs(Double(rstd[r]) - s) <= 1e-6 * s)
      for i in 0..<dim {
        #expect(abs(Double(out[r * dim + i]) - row[i] * s * Double(w[i])) <= 1e-5)
      }
    }
  }

  @Test("SwiGLU gives silu(gate) · up, also where the exponential saturates")
  func swigluMatchesDefinition() {
    // Two rows of 503, each laid out gate | up as the stacked product leaves them.
    let gate = (0..<1001).map { Float($0 - 500) * 0.031 } + [-100, -30, 30, 100, 0]
    let up = random(gate.count, scale: 2)
    let dim = gate.count / 2
    var gateUp: [Float] = []
    for r in 0..<2 {
      gateUp += gate[r * dim..<(r + 1) * dim]
      gateUp += up[r * dim..<(r + 1) * dim]
    }
    let reference = zip(gate, up).map { g, u in Double(g) / (1 + Foundation.exp(-Double(g))) * Double(u) }
    var out = [Float](repeating: .nan, count: 2 * dim)
    swigluForward(out: &out, gateUp: gateUp, rows: 2, dim: dim)
    for (got, want) in zip(out, reference) {
      #expect(abs(Double(got) - want) <= 1e-6 * max(1, abs(want)), "got \(got), want \(want)")
    }
  }

  /// The GGUF convention: rotating adjacent pairs of llama.cpp's permuted q/k rows gives the
  /// same vector, permuted, as Hugging Face's rotate_half on the unpermuted rows.
  @Test("adjacent-pair RoPE on permuted heads equals Hugging Face's rotate_half RoPE, permuted")
  func ropeMatchesRotateHalfAfterPermutation() {
    let (heads, headDim, rows, period, first) = (3, 8, 6, 3, 5)
    let half = headDim / 2
    let base = 10000.0
    let table = ropeTable(base: base, ropeDim: headDim, positions: first + period)
    let hf = random(rows * heads * headDim)
    // llama.cpp's permute: element j·half + i of a head moves to 2i + j.
    func permuted(_ v: [Float]) -> [Float] {
      var out = v
      for r in 0..<rows {
        for h in 0..<heads {
          for i in 0..<half {
            for j in 0..<2 {
              out[(r * heads + h) * headDim + 2 * i + j] = v[(r * heads + h) * headDim + j * half + i]
            }
          }
        }
      }
      return out
    }
    var rotated = hf
    for r in 0..<rows {
      let position = Double(first + r % period)
      for h in 0..<heads {
        let o = (r * heads + h) * headDim
        for i in 0..<half {
          let angle = position * pow(base, -Double(2 * i) / Double(headDim))
          let (a, b) = (Double(hf[o + i]), Double(hf[o + i + half]))
          rotated[o + i] = Float(a * cos(angle) - b * sin(angle))
          rotated[o + i + half] = Float(b * cos(angle) + a * sin(angle))
        }
      }
    }
    var gguf = permuted(hf)
    ropeForward(
      &gguf, ld: heads * headDim, rows: rows, heads: heads, headDim: headDim, ropeDim: headDim,
      firstPosition: first, period: period, table: table)
    for (got, want) in zip(gguf, permuted(rotated)) {
      #expect(abs(got - want) <= 1e-6, "got \(got), want \(want)")
    }
  }
}
