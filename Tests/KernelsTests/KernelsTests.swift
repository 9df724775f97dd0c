import Foundation
import Kernels
import Testing

/// Each kernel against a plain Double-precision reference written from its definition.
@Suite struct KernelsTests {
  var rng = SystemRandomNumberGenerator()

  func random(_ n: Int, scale: Float = 1) -> [Float] {
    var g = SeededGenerator(seed: UInt64(n))
    return (0..<n).map { _ in scale * Float.random(in: -1...1, using: &g) }
  }

  @Test("fastExp is within 3e-7 relative of exp over the float range it serves")
  func fastExpIsAccurate() {
    var worst: Double = 0
    var x: Float = -87
    while x < 88 {
      let got = fastExp(x)
      let want = Foundation.exp(Double(x))
      worst = max(worst, abs(Double(got) - want) / want)
      x += 0.0137
    }
    #expect(worst < 3e-7, "worst relative error \(worst)")
  }

  @Test("GELU matches 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) to 1e-6 of max(1, |x|)")
  func geluMatchesDefinition() {
    var values = (0..<2003).map { Float($0 - 1001) * 0.013 }
    values += [-100, -20, 20, 100, 0]
    let reference = values.map { v -> Double in
      let x = Double(v)
      return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }
    var fused = values.map { $0 - 0.25 }
    let bias = [Float](repeating: 0.25, count: values.count)
    values.withUnsafeMutableBufferPointer { geluTanhForward($0.baseAddress!, count: $0.count) }
    biasGeluTanhForward(&fused, bias: bias, rows: 1, dim: fused.count)
    for (got, want) in zip(values, reference) {
      #expect(abs(Double(got) - want) <= 1e-6 * max(1, abs(want)), "gelu: got \(got), want \(want)")
    }
    for (got, want) in zip(fused, reference) {
      #expect(abs(Double(got) - want) <= 2e-6 * max(1, abs(want)), "gelu(x + bias): got \(got), want \(want)")
    }
  }

  @Test("LayerNorm normalises each row with the biased variance, then applies gain and bias")
  func layerNormMatchesDefinition() {
    let rows = 3
    let dim = 37
    let x = random(rows * dim, scale: 5).enumerated().map { $0.element + Float($0.offset % dim) }
    let w = random(dim)
    let b = random(dim)
    var out = [Float](repeating: 0, count: rows * dim)
    var rstd = [Float](repeating: 0, count: rows)
    layerNormForward(out: &out, inp: x, weight: w, bias: b, rows: rows, dim: dim, eps: 1e-5, rstd: &rstd)
    for r in 0..<rows {
      let row = x[r * dim..<(r + 1) * dim].map(Double.init)
      let mean = row.reduce(0, +) / Double(dim)
      let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(dim)
      let s = 1 / (variance + 1e-5).squareRoot()
      #expect(abs(Double(rstd[r]) - s) <= 1e-6 * s)
      for i in 0..<dim {
        let want = (row[i] - mean) * s * Double(w[i]) + Double(b[i])
        #expect(abs(Double(out[r * dim + i]) - want) <= 1e-5)
      }
    }
  }

  @Test("linearForward and linearTransposedForward compute inp·W + b for both weight layouts")
  func linearMatchesDefinition() {
    let (rows, inDim, outDim) = (5, 7, 3)
    let x = random(rows * inDim)
    let w = random(inDim * outDim)  // (inDim, outDim)
    let wT = (0..<outDim * inDim).map { w[($0 % inDim) * outDim + $0 / inDim] }  // (outDim, inDim)
    let b = random(outDim)
    var a = [Float](repeating: 0, count: rows * outDim)
    var c = [Float](repeating: 0, count: rows * outDim)
    linearForward(out: &a, inp: x, weight: w, bias: b, rows: rows, inDim: inDim, outDim: outDim)
    linearTransposedForward(out: &c, inp: x, weight: wT, bias: b, rows: rows, inDim: inDim, outDim: outDim)
    for r in 0..<rows {
      for o in 0..<outDim {
        var want = Double(b[o])
        for i in 0..<inDim { want += Double(x[r * inDim + i]) * Double(w[i * outDim + o]) }
        #expect(abs(Double(a[r * outDim + o]) - want) < 1e-5)
        #expect(abs(Double(c[r * outDim + o]) - want) < 1e-5)
      }
    }
  }

  @Test(
    "causal attention with a cache equals the naive softmax(q·kᵀ·scale)·v over visible keys, GQA included")
  func attentionMatchesDefinition() {
    let (heads, kvHeads, headDim, past, new) = (4, 2, 3, 2, 3)
    let total = past + new
    let q = random(new * heads * headDim)
    let k = random(total * kvHeads * headDim, scale: 2)
    let v = random(total * kvHeads * headDim)
    var out = [Float](repeating: 0, count: new * heads * headDim)
    var scores = [Float](repeating: 0, count: new * total)
    var probabilities = [Float](repeating: 0, count: heads * new * total)
    causalAttentionForward(
      out: &out, ldo: heads * headDim, q: q, ldq: heads * headDim, k: k, v: v, ldkv: kvHeads * headDim,
      newTokens: new, pastTokens: past, heads: heads, kvHeads: kvHeads, headDim: headDim, scale: 0.7,
      scores: &scores, probabilities: &probabilities)
    for h in 0..<heads {
      let g = h / (heads / kvHeads)
      for i in 0..<new {
        let visible = past + i + 1
        let logits = (0..<visible).map { j in
          (0..<headDim).reduce(0.0) {
            $0 + Double(q[i * heads * headDim + h * headDim + $1])
              * Double(k[j * kvHeads * headDim + g * headDim + $1])
          } * 0.7
        }
        let m = logits.max()!
        let e = logits.map { Foundation.exp($0 - m) }
        let p = e.map { $0 / e.reduce(0, +) }
        for j in 0..<total {
          let got = Double(probabilities[(h * new + i) * total + j])
          #expect(abs(got - (j < visible ? p[j] : 0)) < 1e-6, "pattern h\(h) i\(i) j\(j)")
        }
        for d in 0..<headDim {
          let want = (0..<visible).reduce(0.0) {
            $0 + p[$1] * Double(v[$1 * kvHeads * headDim + g * headDim + d])
          }
          #expect(abs(Double(out[i * heads * headDim + h * headDim + d]) - want) < 1e-5)
        }
      }
    }
  }
}

/// A small deterministic generator so the kernels' inputs are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
  mutating func next() -> UInt64 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return state ^ (state >> 29)
  }
}
