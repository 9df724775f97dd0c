import Foundation
import Kernels
import Testing

@testable import Transcoder

/// The skip connection, ŷ[l] += x[l] · W_skip[l]: its forward term against a Double reference, and
/// its gradients, which must be the skip-free transcoder's gradients for the targets less the skip
/// term (for every other parameter) and the central differences of the loss (for W_skip itself).
@Suite struct SkipConnectionTests {
  typealias T = TranscoderTests

  /// `TranscoderTests.makeTranscoder()` and the same transcoder with a skip connection whose
  /// weights have either sign.
  static func pair() -> (plain: CrossLayerTranscoder, skip: CrossLayerTranscoder) {
    let plain = T.makeTranscoder()
    let skip = CrossLayerTranscoder(nLayers: T.nLayers, dModel: T.dModel, features: T.features, skip: true)
    for (to, from) in zip(skip.parameterBuffers, plain.parameterBuffers) {
      to.pointer.update(from: from.pointer, count: from.count)
    }
    var rng = XorShiftGenerator(seed: 99)
    for w in skip.skipWeights {
      for k in 0..<w.count { w[k] = Float.random(in: -0.4...0.4, using: &rng) }
    }
    return (plain, skip)
  }

  /// x[l] · W_skip[l] in Double, (N·d) per layer.
  static func skipTerm(_ clt: CrossLayerTranscoder, _ x: [FloatBuffer]) -> [[Double]] {
    let (d, n) = (T.dModel, T.tokens)
    return (0..<T.nLayers).map { l in
      (0..<(n * d)).map { m in
        let (t, j) = (m / d, m % d)
        return (0..<d).reduce(0.0) { $0 + Double(x[l][t * d + $1]) * Double(clt.skipWeights[l][$1 * d + j]) }
      }
    }
  }

  static let coefficients = CLTLossCoefficients(
    sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2, layerWeights: [0.2, 2.3, 0.5])

  @Test("ŷ with a skip is the skip-free ŷ plus x·W_skip, in training's forward and at inference")
  func forwardAddsTheSkipTerm() {
    let (plain, skip) = Self.pair()
    let x = T.makeData(seed: 11, scale: 1)
    let without = plain.forward(inputs: x, tokens: T.tokens)
    let with = skip.forward(inputs: x, tokens: T.tokens)
    let term = Self.skipTerm(skip, x)
    #expect(term.joined().contains { abs($0) > 0.5 }, "the skip term must be large enough to matter")
    for l in 0..<T.nLayers {
      #expect(with.active[l].indices == without.active[l].indices, "the skip leaves the features alone")
      for m in 0..<(T.tokens * T.dModel) {
        let want = Double(without.reconstructions[l][m]) + term[l][m]
        #expect(abs(Double(with.reconstructions[l][m]) - want) < 1e-5, "ŷ[\(l)][\(m)]")
      }
      // Inference: `reconstruct` then `addSkip`, as clt-replace and clt-fit --eval call them.
      let out = FloatBuffer(count: T.tokens * T.dModel)
      skip.reconstruct(target: l, from: with.active, into: out.pointer)
      skip.addSkip(layer: l, input: x[l].pointer, rows: T.tokens, into: out.pointer)
      for m in 0..<out.count { #expect(abs(out[m] - with.reconstructions[l][m]) < 1e-5) }
    }
  }

  @Test("with a skip, every other gradient is the skip-free one's for the targets y − x·W_skip")
  func otherGradientsSeeTheSkipAsShiftedTargets() {
    let (plain, skip) = Self.pair()
    let x = T.makeData(seed: 11, scale: 1)
    let y = T.makeData(seed: 12, scale: 0.5)
    let term = Self.skipTerm(skip, x)
    let shifted = (0..<T.nLayers).map { l in
      FloatBuffer((0..<y[l].count).map { y[l][$0] - Float(term[l][$0]) })
    }
    let k = Self.coefficients
    let withAct = T.trainingForward(skip, x, k)
    let withoutAct = T.trainingForward(plain, x, k)
    let loss = (
      skip.loss(withAct, targets: y, coefficients: k),
      plain.loss(withoutAct, targets: shifted, coefficients: k)
    )
    #expect(abs(loss.0.total - loss.1.total) < 1e-4 * max(1, loss.1.total))
    let with = skip.gradients(withAct, inputs: x, targets: y, coefficients: k)
    let without = plain.gradients(withoutAct, inputs: x, targets: shifted, coefficients: k)
    #expect(with.buffers.count == without.buffers.count + T.nLayers, "W_skip's gradients come last")
    var largest: Float = 0
    for (a, b) in zip(with.buffers, without.buffers) {
      for m in 0..<b.count {
        largest = max(largest, abs(b[m]))
        #expect(abs(a[m] - b[m]) < 1e-4 * max(1, abs(b[m])))
      }
    }
    #expect(largest > 0.01)
  }

  @Test("∂loss/∂W_skip matches central differences of the weighted MSE in Double")
  func skipGradientMatchesFiniteDifferences() {
    let (_, skip) = Self.pair()
    let x = T.makeData(seed: 11, scale: 1)
    let y = T.makeData(seed: 12, scale: 0.5)
    // Outlier weights too: some of the 5 tokens' target rows are above each threshold.
    var k = Self.coefficients
    k.outlierWeights = OutlierWeights(thresholds: [0.6, 0.7, 0.5], weights: [0.1, 0.02, 3])
    let act = T.trainingForward(skip, x, k)
    let grads = skip.gradients(act, inputs: x, targets: y, coefficients: k)
    let (d, n) = (T.dModel, T.tokens)
    let yd = T.doubles(y)
    // ŷ less its skip term, held fixed: W_skip moves neither the features nor the other terms.
    let term = Self.skipTerm(skip, x)
    let rest = (0..<T.nLayers).map { l in
      (0..<(n * d)).map { Double(act.reconstructions[l][$0]) - term[l][$0] }
    }
    func loss(_ w: [Double], layer l: Int) -> Double {
      var total: Double = 0
      for t in 0..<n {
        let weight = T.referenceTokenWeight(yd, layer: l, token: t, k: k)
        for j in 0..<d {
          var yHat = rest[l][t * d + j]
          for i in 0..<d { yHat += Double(x[l][t * d + i]) * w[i * d + j] }
          total += weight * pow(yHat - yd[l][t * d + j], 2)
        }
      }
      return Double(k.layerWeights![l]) * total / Double(n)
    }
    for l in 0..<T.nLayers {
      let w = skip.skipWeights[l].array.map(Double.init)
      for index in stride(from: 0, to: w.count, by: 5) {
        var (plus, minus) = (w, w)
        plus[index] += 1e-4
        minus[index] -= 1e-4
        let numeric = (loss(plus, layer: l) - loss(minus, layer: l)) / 2e-4
        let analytic = Double(grads.skipWeights[l][index])
        #expect(abs(analytic - numeric) < 1e-4 * max(1, abs(numeric)), "W_skip[\(l)][\(index)]")
      }
    }
  }
}
