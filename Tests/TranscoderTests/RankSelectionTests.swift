import CKernels
import Collectives
import Foundation
import Kernels
import Testing

@testable import Transcoder

/// TopK and BatchTopK against a dense Double reference that selects by sorting, and their
/// gradients against central differences (the selection is fixed where no value crosses the
/// k-th, so the loss is smooth there and ∂a/∂h = 1 on the selected features is exact).
@Suite struct RankSelectionTests {
  typealias Reference = TranscoderTests
  static let k = 3
  static let reference: Float = 0.25

  /// Selected (token, feature) pairs per layer: the k largest positive h of each token (TopK) or
  /// the k·N largest positive h of the batch (BatchTopK).
  static func referenceMask(_ h: [[Double]], activation: CLTActivationFunction) -> [[Bool]] {
    let (n, f) = (Reference.tokens, Reference.features)
    return h.map { layer in
      switch activation {
      case .topK:
        return (0..<(n * f)).map { m in
          let row = layer[(m / f * f)..<(m / f * f + f)]
          let kth = row.sorted(by: >)[k - 1]
          return layer[m] >= kth && layer[m] > 0
        }
      case .batchTopK:
        let kth = layer.sorted(by: >)[k * n - 1]
        return layer.map { $0 >= kth && $0 > 0 }
      case .jumpReLU:
        fatalError("rank selection only")
      }
    }
  }

  static func referenceLoss(
    _ p: [Double], x: [[Double]], y: [[Double]], k: CLTLossCoefficients, activation: CLTActivationFunction
  ) -> (total: Double, mask: [[Bool]]) {
    let h = Reference.referencePre(p, x: x)
    let mask = referenceMask(h, activation: activation)
    let a = (0..<h.count).map { l in (0..<h[l].count).map { mask[l][$0] ? h[l][$0] : 0 } }
    var preact: Double = 0
    for layer in h { for value in layer { preact += max(0, Double(reference) - value) } }
    let smooth = Reference.referenceLossOfA(p, a: a, y: y, k: k)
    return (smooth + Double(k.preActivation) * preact / Double(Reference.tokens), mask)
  }

  static func makeTranscoder(_ activation: CLTActivationFunction) -> CrossLayerTranscoder {
    let clt = Reference.makeTranscoder()
    clt.activation = activation
    clt.k = k
    return clt
  }

  static func run(_ clt: CrossLayerTranscoder, _ x: [FloatBuffer], _ k: CLTLossCoefficients) -> CLTActivations
  {
    clt.forward(
      inputs: x, tokens: Reference.tokens, dead: Reference.allDead, bandwidth: k.bandwidth,
      referenceThresholds: [Float](repeating: reference, count: Reference.nLayers))
  }

  @Test(
    "The selected features are the reference's: k per token (TopK), k·N per batch (BatchTopK)",
    arguments: [CLTActivationFunction.topK, .batchTopK])
  func selectionMatchesSorting(activation: CLTActivationFunction) {
    let clt = Self.makeTranscoder(activation)
    let x = Reference.makeData(seed: 11, scale: 1)
    let act = Self.run(clt, x, CLTLossCoefficients())
    let h = Reference.referencePre(Reference.parameters(clt), x: Reference.doubles(x))
    let mask = Self.referenceMask(h, activation: activation)
    let f = Reference.features
    for l in 0..<Reference.nLayers {
      for n in 0..<Reference.tokens {
        let want = (0..<f).filter { mask[l][n * f + $0] }
        #expect(act.active[l].row(n).indices.map(Int.init) == want, "layer \(l) token \(n)")
      }
      #expect(act.activeCount(layer: l) == Self.k * Reference.tokens, "no ties in random data: exactly k·N")
    }
  }

  @Test(
    "Gradients under TopK and BatchTopK match central differences; the threshold gets none",
    arguments: [CLTActivationFunction.topK, .batchTopK])
  func gradientsMatchFiniteDifferences(activation: CLTActivationFunction) {
    let k = CLTLossCoefficients(sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2)
    let clt = Self.makeTranscoder(activation)
    let xf = Reference.makeData(seed: 11, scale: 1)
    let yf = Reference.makeData(seed: 12, scale: 0.5)
    let (x, y) = (Reference.doubles(xf), Reference.doubles(yf))
    let act = Self.run(clt, xf, k)
    let grads = clt.gradients(act, inputs: xf, targets: yf, coefficients: k)
    let analytic = Reference.gradientVector(grads)
    let p = Reference.parameters(clt)
    let loss = clt.loss(act, targets: yf, coefficients: k).total
    #expect(
      abs(loss - Self.referenceLoss(p, x: x, y: y, k: k, activation: activation).total) < 1e-5 * max(1, loss))
    let lay = Reference.Layout()
    var worst: Double = 0
    var checked = 0
    for index in 0..<lay.count {
      var plus = p
      var minus = p
      plus[index] += 1e-4
      minus[index] -= 1e-4
      let up = Self.referenceLoss(plus, x: x, y: y, k: k, activation: activation)
      let down = Self.referenceLoss(minus, x: x, y: y, k: k, activation: activation)
      guard up.mask == down.mask else { continue }
      let numeric = (up.total - down.total) / 2e-4
      worst = max(worst, abs(analytic[index] - numeric) / max(1, abs(numeric)))
      checked += 1
    }
    #expect(worst < 1e-4, "worst relative error \(worst) over \(checked) coordinates")
    #expect(checked > lay.count * 9 / 10)
    for l in 0..<Reference.nLayers { #expect(grads.logThresholds[l].array.allSatisfy { $0 == 0 }) }
  }

  @Test("kth_largest equals sorting, duplicates included")
  func kthLargestMatchesSort() {
    var rng = XorShiftGenerator(seed: 9)
    for n in [1, 2, 7, 100, 1000] {
      let values = (0..<n).map { _ in Float(Int.random(in: -20...20, using: &rng)) / 4 }
      let sorted = values.sorted(by: >)
      var scratch = [Float](repeating: 0, count: n)
      for k in Set([1, (n + 1) / 2, n]) {
        let got = scratch.withUnsafeMutableBufferPointer { kth_largest(values, n, k, $0.baseAddress!) }
        #expect(got == sorted[k - 1], "n \(n), k \(k)")
      }
    }
  }

  @Test("The cross-process BatchTopK search (64-way narrowing on bit patterns) finds the same threshold")
  func sharedThresholdMatchesLocal() throws {
    let t = CrossLayerTranscoder(nLayers: 1, dModel: 4, features: 8, seed: 1)
    var rng = XorShiftGenerator(seed: 9)
    // Mixed signs, repeated values, and a tail of zeros.
    var h = (0..<4000).map { _ in Float.random(in: -3...3, using: &rng) }
    for i in stride(from: 0, to: 200, by: 7) { h[i + 1] = h[i] }
    for i in 3800..<4000 { h[i] = 0 }
    let group = SingleProcess()
    for select in [1, 2, 17, 300, 1500, 1900, 3999] {
      for hint: Float? in [nil, 0.5, 2.9] {
        let local = t.batchThreshold(preActivations: h, count: h.count, select: select, hint: hint)
        let shared = try t.sharedBatchThreshold(h, count: h.count, select: select, hint: hint, group: group)
        #expect(shared == local, "select \(select), hint \(String(describing: hint))")
      }
    }
  }
}
