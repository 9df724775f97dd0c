import Foundation
import Kernels
import Testing

@testable import Transcoder

/// The transcoder against a dense Double-precision reference written from the equations in
/// `CrossLayerTranscoder`'s doc comments, and its gradients against central finite differences of
/// that reference.
@Suite struct TranscoderTests {
  static let nLayers = 3
  static let dModel = 8
  static let features = 16
  static let tokens = 5

  /// A small transcoder with non-zero biases and thresholds that differ per feature, so that every
  /// parameter group enters the loss.
  static func makeTranscoder(seed: UInt64 = 7) -> CrossLayerTranscoder {
    let clt = CrossLayerTranscoder(nLayers: nLayers, dModel: dModel, features: features, seed: seed)
    var rng = XorShiftGenerator(seed: seed &+ 1)
    for l in 0..<nLayers {
      for i in 0..<features {
        clt.encoderBiases[l][i] = Float.random(in: -0.2...0.2, using: &rng)
        clt.logThresholds[l][i] = Foundation.log(0.1) + Float.random(in: -0.5...0.5, using: &rng)
      }
      for j in 0..<dModel { clt.decoderBiases[l][j] = Float.random(in: -0.3...0.3, using: &rng) }
    }
    return clt
  }

  static func makeData(seed: UInt64, scale: Float) -> [FloatBuffer] {
    var rng = XorShiftGenerator(seed: seed)
    return (0..<nLayers).map { _ in
      FloatBuffer((0..<(tokens * dModel)).map { _ in Float.random(in: -scale...scale, using: &rng) })
    }
  }

  static let coefficientSets: [CLTLossCoefficients] = [
    CLTLossCoefficients(sparsity: 0, tanhScale: 2, preActivation: 0, bandwidth: 0.2),  // MSE alone
    CLTLossCoefficients(sparsity: 0.5, tanhScale: 2, preActivation: 0, bandwidth: 0.2),  // + sparsity
    CLTLossCoefficients(sparsity: 0, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2),  // + pre-activation
    CLTLossCoefficients(sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2),  // all three
    // Layers weighted unequally in the MSE (as `--layer-weight-exponent` makes them), alone and with all three.
    CLTLossCoefficients(
      sparsity: 0, tanhScale: 2, preActivation: 0, bandwidth: 0.2, layerWeights: [0.2, 2.3, 0.5]),
    CLTLossCoefficients(
      sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2, layerWeights: [0.2, 2.3, 0.5]),
    // Outlier tokens' errors weighted apart (`--outlier-factor`): the targets' rows have squared
    // norms of about 0.67, so each threshold puts some of the 5 tokens above it.
    CLTLossCoefficients(
      sparsity: 0, tanhScale: 2, preActivation: 0, bandwidth: 0.2,
      outlierWeights: OutlierWeights(thresholds: [0.6, 0.7, 0.5], weights: [0.1, 0.02, 3])),
    CLTLossCoefficients(
      sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2, layerWeights: [0.2, 2.3, 0.5],
      outlierWeights: OutlierWeights(thresholds: [0.6, 0.7, 0.5], weights: [0.1, 0.02, 3])),
  ]

  /// ω[l]_n: the outlier weight of token n's target row at layer l, from its squared norm summed
  /// in Float as the definition says, or 1.
  static func referenceTokenWeight(_ y: [[Double]], layer l: Int, token n: Int, k: CLTLossCoefficients)
    -> Double
  {
    guard let outliers = k.outlierWeights else { return 1 }
    let squares = (0..<dModel).reduce(Float(0)) {
      $0 + Float(y[l][n * dModel + $1]) * Float(y[l][n * dModel + $1])
    }
    return squares > outliers.thresholds[l] ? Double(outliers.weights[l]) : 1
  }

  // MARK: - Dense Double reference

  /// The parameters flattened in one order: per layer W_enc, b_enc, logθ; then W_dec[l→l'] for
  /// l ≤ l'; then b_dec per layer.
  struct Layout {
    let L = TranscoderTests.nLayers
    let d = TranscoderTests.dModel
    let F = TranscoderTests.features
    func encoder(_ l: Int) -> Int { l * (F * d + 2 * F) }
    func encoderBias(_ l: Int) -> Int { encoder(l) + F * d }
    func logThreshold(_ l: Int) -> Int { encoder(l) + F * d + F }
    var decoderStart: Int { L * (F * d + 2 * F) }
    func decoder(_ l: Int, _ target: Int) -> Int {
      var index = 0
      for s in 0..<L {
        for t in s..<L {
          if s == l && t == target { return decoderStart + index * F * d }
          index += 1
        }
      }
      fatalError("no decoder \(l)→\(target)")
    }
    var decoderBiasStart: Int { decoderStart + L * (L + 1) / 2 * F * d }
    func decoderBias(_ l: Int) -> Int { decoderBiasStart + l * d }
    var count: Int { decoderBiasStart + L * d }
  }

  static func flatten(
    encoder: [FloatBuffer], encoderBias: [FloatBuffer], logThreshold: [FloatBuffer], decoder: [[FloatBuffer]],
    decoderBias: [FloatBuffer]
  ) -> [Double] {
    var flat: [Double] = []
    for l in 0..<nLayers {
      flat += encoder[l].array.map(Double.init)
      flat += encoderBias[l].array.map(Double.init)
      flat += logThreshold[l].array.map(Double.init)
    }
    for l in 0..<nLayers { for buffer in decoder[l] { flat += buffer.array.map(Double.init) } }
    for l in 0..<nLayers { flat += decoderBias[l].array.map(Double.init) }
    return flat
  }

  static func parameters(_ c: CrossLayerTranscoder) -> [Double] {
    flatten(
      encoder: c.encoderWeights, encoderBias: c.encoderBiases, logThreshold: c.logThresholds,
      decoder: c.decoderWeights, decoderBias: c.decoderBiases)
  }

  static func gradientVector(_ g: CLTGradients) -> [Double] {
    flatten(
      encoder: g.encoderWeights, encoderBias: g.encoderBiases, logThreshold: g.logThresholds,
      decoder: g.decoderWeights, decoderBias: g.decoderBiases)
  }

  /// h[l] (N·F) computed densely in Double.
  static func referencePre(_ p: [Double], x: [[Double]]) -> [[Double]] {
    let (L, d, F, N) = (nLayers, dModel, features, tokens)
    let lay = Layout()
    return (0..<L).map { l in
      var h = [Double](repeating: 0, count: N * F)
      for n in 0..<N {
        for i in 0..<F {
          var s = p[lay.encoderBias(l) + i]
          for j in 0..<d { s += x[l][n * d + j] * p[lay.encoder(l) + i * d + j] }
          h[n * F + i] = s
        }
      }
      return h
    }
  }

  static func thresholds(_ p: [Double]) -> [[Double]] {
    (0..<nLayers).map { l in (0..<features).map { Foundation.exp(p[Layout().logThreshold(l) + $0]) } }
  }

  /// ŷ[l'] = b_dec[l'] + Σ_{l ≤ l'} Σ_i a[l]_i W_dec[l→l']_i, summed over every feature (dense).
  static func referenceReconstruction(_ p: [Double], a: [[Double]]) -> [[Double]] {
    let (L, d, F, N) = (nLayers, dModel, features, tokens)
    let lay = Layout()
    return (0..<L).map { target in
      var out = [Double](repeating: 0, count: N * d)
      for n in 0..<N {
        for j in 0..<d {
          var s = p[lay.decoderBias(target) + j]
          for l in 0...target {
            for i in 0..<F { s += a[l][n * F + i] * p[lay.decoder(l, target) + i * d + j] }
          }
          out[n * d + j] = s
        }
      }
      return out
    }
  }

  static func referenceNorms(_ p: [Double], layer l: Int) -> [Double] {
    let lay = Layout()
    return (0..<features).map { i in
      var s: Double = 0
      for target in l..<nLayers {
        for j in 0..<dModel { s += pow(p[lay.decoder(l, target) + i * dModel + j], 2) }
      }
      return s.squareRoot()
    }
  }

  /// MSE + sparsity as a function of the activations a (smooth in a).
  static func referenceLossOfA(_ p: [Double], a: [[Double]], y: [[Double]], k: CLTLossCoefficients) -> Double
  {
    let yHat = referenceReconstruction(p, a: a)
    var mse: Double = 0
    var sparsity: Double = 0
    for l in 0..<nLayers {
      let weight = Double(k.layerWeights?[l] ?? 1)
      for m in 0..<(tokens * dModel) {
        mse +=
          weight * referenceTokenWeight(y, layer: l, token: m / dModel, k: k) * pow(yHat[l][m] - y[l][m], 2)
      }
      let norms = referenceNorms(p, layer: l)
      for n in 0..<tokens {
        for i in 0..<features {
          sparsity += Foundation.tanh(Double(k.tanhScale) * norms[i] * a[l][n * features + i])
        }
      }
    }
    return (mse + Double(k.sparsity) * sparsity) / Double(tokens)
  }

  /// The whole loss and the active set, from the definition.
  static func referenceLoss(_ p: [Double], x: [[Double]], y: [[Double]], k: CLTLossCoefficients) -> (
    mse: Double, sparsity: Double, preact: Double, total: Double, mask: [Bool]
  ) {
    let h = referencePre(p, x: x)
    let theta = thresholds(p)
    var mask: [Bool] = []
    var preact: Double = 0
    let a = (0..<nLayers).map { l in
      (0..<(tokens * features)).map { m -> Double in
        let on = h[l][m] > theta[l][m % features]
        mask.append(on)
        preact += max(0, theta[l][m % features] - h[l][m])
        return on ? h[l][m] : 0
      }
    }
    let sparseFree = CLTLossCoefficients(
      sparsity: 0, tanhScale: k.tanhScale, preActivation: 0, bandwidth: k.bandwidth,
      layerWeights: k.layerWeights, outlierWeights: k.outlierWeights)
    let mse = referenceLossOfA(p, a: a, y: y, k: sparseFree)
    let sparsity = referenceLossOfA(p, a: a, y: y, k: k) - mse
    let pre = Double(k.preActivation) * preact / Double(tokens)
    return (mse, sparsity, pre, mse + sparsity + pre, mask)
  }

  /// a = h · 1[h > θ], per layer (N·F).
  static func jumpReLU(_ h: [[Double]], _ theta: [[Double]]) -> [[Double]] {
    var a = h
    for l in 0..<a.count {
      for m in 0..<a[l].count where !(h[l][m] > theta[l][m % features]) { a[l][m] = 0 }
    }
    return a
  }

  /// Every feature of every layer marked dead, so the pre-activation term covers all of them.
  static let allDead: [[Int32]] = Array(repeating: (0..<Int32(features)).map { $0 }, count: nLayers)

  /// The forward pass as training runs it, with the pre-activation term on every feature.
  static func trainingForward(
    _ clt: CrossLayerTranscoder, _ x: [FloatBuffer], _ k: CLTLossCoefficients
  ) -> CLTActivations {
    clt.forward(inputs: x, tokens: tokens, dead: allDead, bandwidth: k.bandwidth)
  }

  static func doubles(_ buffers: [FloatBuffer]) -> [[Double]] { buffers.map { $0.array.map(Double.init) } }

  // MARK: - Tests

  @Test("The sparse decoder forward equals the dense reference ŷ = b_dec + Σ_{l ≤ l'} a[l]·W_dec[l→l']")
  func sparseForwardMatchesDense() {
    let clt = Self.makeTranscoder()
    let x = Self.makeData(seed: 11, scale: 1)
    let act = clt.forward(inputs: x, tokens: Self.tokens)
    let p = Self.parameters(clt)
    let h = Self.referencePre(p, x: Self.doubles(x))
    let theta = Self.thresholds(p)
    let a = Self.jumpReLU(h, theta)
    let yHat = Self.referenceReconstruction(p, a: a)
    var active = 0
    for l in 0..<Self.nLayers {
      active += act.activeCount(layer: l)
      let sparse = act.active[l]
      for n in 0..<Self.tokens {
        let (indices, values) = sparse.row(n)
        let want = (0..<Self.features).filter { a[l][n * Self.features + $0] != 0 }
        #expect(indices.map(Int.init) == want, "layer \(l) token \(n): active features")
        for (i, v) in zip(indices, values) {
          #expect(abs(Double(v) - h[l][n * Self.features + Int(i)]) < 1e-5)
        }
      }
      for (got, want) in zip(act.reconstructions[l].array, yHat[l]) {
        #expect(abs(Double(got) - want) < 1e-5, "ŷ[\(l)]: got \(got), want \(want)")
      }
    }
    // The inference path (layer by layer, from the token-major activations) gives the same ŷ.
    for target in 0..<Self.nLayers {
      var out = [Float](repeating: 0, count: Self.tokens * Self.dModel)
      clt.reconstruct(target: target, from: act.active, into: &out)
      for (got, want) in zip(out, act.reconstructions[target].array) { #expect(abs(got - want) < 1e-5) }
    }
    let pairs = Self.nLayers * Self.tokens * Self.features
    #expect(active > 0 && active < pairs, "the check needs both active and inactive features, got \(active)")
  }

  @Test("With every threshold huge no feature fires and the reconstruction is exactly b_dec")
  func hugeThresholdsGiveDecoderBias() {
    let clt = Self.makeTranscoder()
    for l in 0..<Self.nLayers { for i in 0..<Self.features { clt.logThresholds[l][i] = 30 } }
    let act = clt.forward(inputs: Self.makeData(seed: 11, scale: 1), tokens: Self.tokens)
    for l in 0..<Self.nLayers {
      #expect(act.activeCount(layer: l) == 0)
      let bias = clt.decoderBiases[l].array
      for n in 0..<Self.tokens {
        let row = Array(act.reconstructions[l].array[(n * Self.dModel)..<((n + 1) * Self.dModel)])
        #expect(row == bias)
      }
    }
  }

  @Test("The same seed gives identical parameters and another seed different ones")
  func initialisationIsDeterministic() {
    let first = CrossLayerTranscoder(nLayers: 3, dModel: 8, features: 16, seed: 42)
    let second = CrossLayerTranscoder(nLayers: 3, dModel: 8, features: 16, seed: 42)
    let other = CrossLayerTranscoder(nLayers: 3, dModel: 8, features: 16, seed: 43)
    #expect(Self.parameters(first) == Self.parameters(second))
    #expect(Self.parameters(first) != Self.parameters(other))
    #expect(first.decoderWeights.map(\.count) == [3, 2, 1])
  }

  @Test("Each loss term equals its definition computed in Double", arguments: coefficientSets)
  func lossMatchesDefinition(k: CLTLossCoefficients) {
    let clt = Self.makeTranscoder()
    let x = Self.makeData(seed: 11, scale: 1)
    let y = Self.makeData(seed: 12, scale: 0.5)
    let loss = clt.loss(Self.trainingForward(clt, x, k), targets: y, coefficients: k)
    let want = Self.referenceLoss(Self.parameters(clt), x: Self.doubles(x), y: Self.doubles(y), k: k)
    if k.outlierWeights != nil {  // both kinds of token occur, so the weights are exercised
      let weights = (0..<Self.nLayers).flatMap { l in
        (0..<Self.tokens).map { Self.referenceTokenWeight(Self.doubles(y), layer: l, token: $0, k: k) == 1 }
      }
      #expect(Set(weights).count == 2)
    }
    #expect(abs(loss.meanSquaredError - want.mse) < 1e-5 * max(1, want.mse))
    #expect(abs(loss.sparsity - want.sparsity) < 1e-5 * max(1, want.sparsity))
    #expect(abs(loss.preActivation - want.preact) < 1e-5 * max(1, want.preact))
  }

  @Test(
    "Gradients of W_enc, b_enc, W_dec and b_dec match central differences of the loss, term by term",
    arguments: coefficientSets)
  func gradientsMatchFiniteDifferences(k: CLTLossCoefficients) {
    let clt = Self.makeTranscoder()
    let xf = Self.makeData(seed: 11, scale: 1)
    let yf = Self.makeData(seed: 12, scale: 0.5)
    let (x, y) = (Self.doubles(xf), Self.doubles(yf))
    let act = Self.trainingForward(clt, xf, k)
    let analytic = Self.gradientVector(clt.gradients(act, inputs: xf, targets: yf, coefficients: k))
    let p = Self.parameters(clt)
    let lay = Layout()
    var groups: [(name: String, range: Range<Int>)] = []
    for l in 0..<Self.nLayers {
      groups.append(("W_enc[\(l)]", lay.encoder(l)..<lay.encoderBias(l)))
      groups.append(("b_enc[\(l)]", lay.encoderBias(l)..<lay.logThreshold(l)))
    }
    groups.append(("W_dec", lay.decoderStart..<lay.decoderBiasStart))
    groups.append(("b_dec", lay.decoderBiasStart..<lay.count))
    // A step that crosses a JumpReLU threshold changes the mask: no derivative there.
    let check = FiniteDifferences(parameters: p, analytic: analytic, groups: groups) { q in
      let loss = Self.referenceLoss(q, x: x, y: y, k: k)
      return (loss.total, loss.mask)
    }
    for (name, worst) in check.worst { #expect(worst < 1e-4, "\(name): worst relative error \(worst)") }
    #expect(
      check.skipped * 20 < check.checked,
      "too few coordinates checked: \(check.checked), skipped \(check.skipped)")
  }

  @Test(
    "The threshold's pseudo-gradient is Σ_n ∂L/∂a · (−θ/ε)·1[|h − θ| < ε/2] · θ plus the pre-activation term",
    arguments: coefficientSets)
  func thresholdGradientMatchesClosedForm(k: CLTLossCoefficients) {
    let clt = Self.makeTranscoder()
    let xf = Self.makeData(seed: 11, scale: 1)
    let yf = Self.makeData(seed: 12, scale: 0.5)
    let act = Self.trainingForward(clt, xf, k)
    let grads = clt.gradients(act, inputs: xf, targets: yf, coefficients: k)
    let p = Self.parameters(clt)
    let (F, N) = (Self.features, Self.tokens)
    let h = Self.referencePre(p, x: Self.doubles(xf))
    let theta = Self.thresholds(p)
    let a = Self.jumpReLU(h, theta)
    let y = Self.doubles(yf)
    let eps = Double(k.bandwidth)
    var windowHits = 0
    for l in 0..<Self.nLayers {
      for i in 0..<F {
        var want: Double = 0
        for n in 0..<N {
          let m = n * F + i
          if h[l][m] < theta[l][i] { want += Double(k.preActivation) / Double(N) }
          guard abs(h[l][m] - theta[l][i]) < eps / 2 else { continue }
          windowHits += 1
          // ∂L/∂a by central differences of the (smooth in a) MSE + sparsity.
          let delta = 1e-5
          var plus = a
          var minus = a
          plus[l][m] += delta
          minus[l][m] -= delta
          let gradA =
            (Self.referenceLossOfA(p, a: plus, y: y, k: k) - Self.referenceLossOfA(p, a: minus, y: y, k: k))
            / (2 * delta)
          want += gradA * (-theta[l][i] / eps)
        }
        want *= theta[l][i]
        let got = Double(grads.logThresholds[l][i])
        #expect(abs(got - want) < 1e-4 * max(1, abs(want)), "logθ[\(l)][\(i)]: got \(got), want \(want)")
      }
    }
    #expect(windowHits > 5, "the check needs pre-activations within ε/2 of θ, got \(windowHits)")
  }
}
