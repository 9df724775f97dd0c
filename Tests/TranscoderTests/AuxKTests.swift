import Foundation
import Kernels
import Testing

@testable import Transcoder

/// The AuxK term (`CrossLayerTranscoder+AuxK`) against a dense Double reference written from its
/// doc comment, its gradients against central differences of that reference (with the main error
/// e held fixed, as the term's stop-gradient says), and its purpose: dead features fire again.
@Suite struct AuxKTests {
  typealias Reference = TranscoderTests
  static let auxK = 3
  static let alpha: Float = 0.7
  /// Even features of layers 0 and 2 dead, none of layer 1: the targets start at layer 0, and a
  /// layer without dead features sits between two with them.
  static let dead: [[Int32]] = [
    stride(from: 0, to: Int32(Reference.features), by: 2).map { $0 }, [],
    stride(from: 0, to: Int32(Reference.features), by: 2).map { $0 },
  ]

  /// The forward pass with the AuxK selection on.
  static func forward(_ clt: CrossLayerTranscoder, _ x: [FloatBuffer], dead: [[Int32]]) -> CLTActivations {
    let act = CLTActivations(
      tokens: Reference.tokens, nLayers: Reference.nLayers, dModel: Reference.dModel,
      features: Reference.features)
    act.auxiliaryK = auxK
    return clt.forward(inputs: x, tokens: Reference.tokens, into: act, dead: dead, bandwidth: 0.2)
  }

  /// The main error e[l'] = y[l'] − ŷ[l'] of the parameters p (JumpReLU), (N·d) per layer.
  static func mainError(_ p: [Double], x: [[Double]], y: [[Double]]) -> [[Double]] {
    let a = Reference.jumpReLU(Reference.referencePre(p, x: x), Reference.thresholds(p))
    let yHat = Reference.referenceReconstruction(p, a: a)
    return zip(y, yHat).map { zip($0, $1).map { $0 - $1 } }
  }

  /// α · d · Σ_{l' ≥ first dead layer} ‖e[l'] − ê[l']‖² / ‖e[l']‖², with e given (held fixed) and
  /// ê from the k_aux largest positive dead pre-activations of p; and which entries were selected.
  static func referenceTerm(
    _ p: [Double], x: [[Double]], error e: [[Double]], dead: [[Int32]]
  ) -> (value: Double, selection: [Bool]) {
    let (nL, d, f, n) = (Reference.nLayers, Reference.dModel, Reference.features, Reference.tokens)
    let h = Reference.referencePre(p, x: x)
    var selected: [Bool] = []
    let aux = (0..<nL).map { l in
      var a = [Double](repeating: 0, count: n * f)
      for t in 0..<n {
        let ranked = dead[l].map { Int($0) }.filter { h[l][t * f + $0] > 0 }
          .sorted { h[l][t * f + $0] > h[l][t * f + $1] }
        for i in ranked.prefix(auxK) { a[t * f + i] = h[l][t * f + i] }
      }
      selected += a.map { $0 != 0 }
      return a
    }
    guard let first = dead.firstIndex(where: { !$0.isEmpty }) else { return (0, selected) }
    let lay = Reference.Layout()
    var value: Double = 0
    for target in first..<nL {
      var residual: Double = 0
      var norm: Double = 0
      for t in 0..<n {
        for j in 0..<d {
          var eHat: Double = 0
          for l in 0...target {
            for i in 0..<f { eHat += aux[l][t * f + i] * p[lay.decoder(l, target) + i * d + j] }
          }
          residual += pow(e[target][t * d + j] - eHat, 2)
          norm += pow(e[target][t * d + j], 2)
        }
      }
      value += Double(alpha) * Double(d) * residual / norm
    }
    return (value, selected)
  }

  @Test("The AuxK term equals its definition computed in Double")
  func termMatchesDefinition() {
    let clt = Reference.makeTranscoder()
    let x = Reference.makeData(seed: 11, scale: 1)
    let y = Reference.makeData(seed: 12, scale: 0.5)
    let k = CLTLossCoefficients(
      sparsity: 0, tanhScale: 2, preActivation: 0, bandwidth: 0.2, auxiliary: Self.alpha)
    let act = Self.forward(clt, x, dead: Self.dead)
    let loss = clt.loss(act, targets: y, coefficients: k)
    let p = Reference.parameters(clt)
    let (xd, yd) = (Reference.doubles(x), Reference.doubles(y))
    let want = Self.referenceTerm(p, x: xd, error: Self.mainError(p, x: xd, y: yd), dead: Self.dead)
    #expect(
      abs(loss.auxiliary - want.value) < 1e-5 * max(1, want.value),
      "got \(loss.auxiliary), want \(want.value)")
    let selected = want.selection.filter { $0 }.count
    #expect(selected == (0..<Reference.nLayers).map { act.auxiliaryCount(layer: $0) }.reduce(0, +))
    // The check needs tokens with more positive dead pre-activations than k_aux, and some with fewer.
    #expect(selected > 0 && selected < Reference.tokens * Self.auxK * 2, "selected \(selected)")
  }

  @Test("The AuxK gradients of W_enc, b_enc and W_dec match central differences with e held fixed")
  func gradientsMatchFiniteDifferences() {
    let clt = Reference.makeTranscoder()
    let xf = Reference.makeData(seed: 11, scale: 1)
    let yf = Reference.makeData(seed: 12, scale: 0.5)
    let (x, y) = (Reference.doubles(xf), Reference.doubles(yf))
    var k = CLTLossCoefficients(sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2)
    // The term's gradient: the whole gradient with it less the whole gradient without it.
    let without = Reference.gradientVector(
      clt.gradients(Self.forward(clt, xf, dead: Self.dead), inputs: xf, targets: yf, coefficients: k))
    k.auxiliary = Self.alpha
    let with = Reference.gradientVector(
      clt.gradients(Self.forward(clt, xf, dead: Self.dead), inputs: xf, targets: yf, coefficients: k))
    let analytic = zip(with, without).map { $0 - $1 }
    let p = Reference.parameters(clt)
    let e = Self.mainError(p, x: x, y: y)
    let lay = Reference.Layout()
    var groups: [(name: String, range: Range<Int>)] = []
    for l in 0..<Reference.nLayers {
      groups.append(("W_enc[\(l)]", lay.encoder(l)..<lay.encoderBias(l)))
      groups.append(("b_enc[\(l)]", lay.encoderBias(l)..<lay.logThreshold(l)))
      groups.append(("logθ[\(l)]", lay.logThreshold(l)..<(lay.logThreshold(l) + Reference.features)))
    }
    groups.append(("W_dec", lay.decoderStart..<lay.decoderBiasStart))
    groups.append(("b_dec", lay.decoderBiasStart..<lay.count))
    let check = FiniteDifferences(parameters: p, analytic: analytic, groups: groups) {
      Self.referenceTerm($0, x: x, error: e, dead: Self.dead)
    }
    for (name, worst) in check.worst { #expect(worst < 1e-3, "\(name): worst relative error \(worst)") }
    #expect(
      check.skipped * 20 < check.checked,
      "too few coordinates checked: \(check.checked), skipped \(check.skipped)")
    #expect(check.nonzero > 100, "the term should move many parameters, moved \(check.nonzero)")
  }

  @Test("The gradient norm recorded for clipping counts the AuxK term's decoder rows")
  func recordedNormIncludesAuxiliaryRows() {
    let clt = Reference.makeTranscoder()
    let x = Reference.makeData(seed: 11, scale: 1)
    let y = Reference.makeData(seed: 12, scale: 0.5)
    var k = Reference.coefficientSets[3]
    k.auxiliary = Self.alpha
    let act = Self.forward(clt, x, dead: Self.dead)
    #expect(act.auxiliaryCount(layer: 0) > 0, "the term selects entries")
    let grads = clt.gradients(act, inputs: x, targets: y, coefficients: k)
    let recorded = grads.squaredNorm()
    grads.decoderGradientsChanged()
    let recomputed = grads.squaredNorm()
    #expect(abs(recorded - recomputed) <= 1e-5 * recomputed)
  }

  @Test(
    "Adam's step taken inside the backward pass equals the backward pass then Adam, AuxK rows included",
    arguments: [0, 1] as [Float])
  func decoderStepInBackwardMatchesSeparateUpdate(alpha: Float) {
    let x = Reference.makeData(seed: 11, scale: 1)
    let y = Reference.makeData(seed: 12, scale: 0.5)
    var k = Reference.coefficientSets[3]
    k.auxiliary = alpha
    var results: [(parameters: [[Float]], moments: [[Float]], norm: Double, loss: Double)] = []
    for fused in [false, true] {
      let clt = Reference.makeTranscoder()
      let optimizer = AdamOptimizer(parameters: clt.parameterBuffers, learningRate: 0.01)
      let grads = CLTGradients(nLayers: clt.nLayers, dModel: clt.dModel, features: clt.features)
      var norm = 0.0
      var loss = 0.0
      for step in 0..<3 {  // later steps start from moments the earlier ones left
        let act = Self.forward(clt, x, dead: Self.dead)
        if step == 0 { #expect(alpha == 0 || act.auxiliaryCount(layer: 0) > 0, "the term selects entries") }
        let scale: Float = 0.7
        if fused {
          let adam = optimizer.nextStep(gradientScale: scale)
          loss =
            clt.backward(
              act, inputs: x, targets: y, coefficients: k, into: grads,
              decoderStep: optimizer.decoderStep(adam, of: clt)
            ).total
          optimizer.apply(
            adam, parameters: clt.parameterBuffers, gradients: grads.buffers,
            skipping: clt.decoderBufferIndices)
        } else {
          loss = clt.backward(act, inputs: x, targets: y, coefficients: k, into: grads).total
          optimizer.update(
            parameters: clt.parameterBuffers, gradients: grads.buffers, rowMasks: grads.rowMasks,
            maskRows: clt.features, gradientScale: scale)
        }
        norm = grads.squaredNorm()
      }
      results.append(
        (
          clt.parameterBuffers.map(\.array), (optimizer.firstMoments + optimizer.secondMoments).map(\.array),
          norm,
          loss
        ))
    }
    let (separate, fused) = (results[0], results[1])
    #expect(abs(separate.norm - fused.norm) <= 1e-5 * separate.norm, "recorded |g|²")
    #expect(abs(separate.loss - fused.loss) <= 1e-6 * abs(separate.loss), "loss")
    for (a, b) in zip(separate.parameters + separate.moments, fused.parameters + fused.moments) {
      for (u, v) in zip(a, b) { #expect(abs(u - v) <= 1e-5 * max(1, abs(u)), "parameter or moment") }
    }
  }

  @Test("Without dead features the AuxK term is zero and leaves the gradients as they were")
  func zeroWithoutDeadFeatures() {
    let clt = Reference.makeTranscoder()
    let x = Reference.makeData(seed: 11, scale: 1)
    let y = Reference.makeData(seed: 12, scale: 0.5)
    var k = CLTLossCoefficients(sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2)
    let none: [[Int32]] = Array(repeating: [], count: Reference.nLayers)
    let without = Reference.gradientVector(
      clt.gradients(Self.forward(clt, x, dead: none), inputs: x, targets: y, coefficients: k))
    k.auxiliary = Self.alpha
    let act = Self.forward(clt, x, dead: none)
    #expect(clt.loss(act, targets: y, coefficients: k).auxiliary == 0)
    let with = Reference.gradientVector(clt.gradients(act, inputs: x, targets: y, coefficients: k))
    #expect(with == without)
  }

  /// Trains a BatchTopK CLT whose features 8 ..< 16 of each layer start with encoder rows a
  /// hundredth of the others' (they never make the batch's top k·N) for `steps` steps, a feature
  /// counting as dead after 5 steps without firing; returns per layer how many of them fire on
  /// the last batch.
  static func revivedFeatures(alpha: Float, steps: Int = 150) -> [Int] {
    let (nL, d, f, n) = (2, 8, 16, 256)
    let clt = CrossLayerTranscoder(nLayers: nL, dModel: d, features: f, seed: 3)
    clt.activation = .batchTopK
    clt.k = 2
    for l in 0..<nL {
      for i in 8..<f { for j in 0..<d { clt.encoderWeights[l][i * d + j] *= 0.01 } }
    }
    var rng = XorShiftGenerator(seed: 5)
    let mixing = (0..<nL).map { _ in (0..<(d * d)).map { _ in Float.random(in: -1...1, using: &rng) } }
    let x = (0..<nL).map { _ in FloatBuffer(count: n * d) }
    let y = (0..<nL).map { _ in FloatBuffer(count: n * d) }
    let act = CLTActivations(tokens: n, nLayers: nL, dModel: d, features: f)
    act.auxiliaryK = 4
    let grads = CLTGradients(nLayers: nL, dModel: d, features: f)
    let adam = AdamOptimizer(parameters: clt.parameterBuffers, learningRate: 1e-2)
    let coefficients = CLTLossCoefficients(sparsity: 0, preActivation: 0, auxiliary: alpha)
    var idle = [[Int]](repeating: [Int](repeating: 0, count: f), count: nL)
    for _ in 0..<steps {
      // y[l] = x[l] · M[l]: dense, so that two features a token cannot reconstruct it.
      for l in 0..<nL {
        for m in 0..<(n * d) { x[l][m] = Float.random(in: -1...1, using: &rng) }
        for t in 0..<n {
          for j in 0..<d {
            var s: Float = 0
            for q in 0..<d { s += x[l][t * d + q] * mixing[l][q * d + j] }
            y[l][t * d + j] = s
          }
        }
      }
      let dead = idle.map { layer in layer.indices.filter { layer[$0] >= 5 }.map(Int32.init) }
      clt.forward(inputs: x, tokens: n, into: act, dead: dead)
      clt.backward(act, inputs: x, targets: y, coefficients: coefficients, into: grads)
      adam.update(
        parameters: clt.parameterBuffers, gradients: grads.buffers, rowMasks: grads.rowMasks, maskRows: f)
      for l in 0..<nL {
        for i in 0..<f { idle[l][i] = act.firingCounts[l][i] > 0 ? 0 : idle[l][i] + 1 }
      }
    }
    return (0..<nL).map { l in (8..<f).filter { act.firingCounts[l][$0] > 0 }.count }
  }

  @Test("Features that never make BatchTopK's selection fire again with AuxK and stay dead without it")
  func deadFeaturesRevive() {
    let without = Self.revivedFeatures(alpha: 0)
    let with = Self.revivedFeatures(alpha: 1.0 / 32)
    #expect(without == [0, 0], "without AuxK: \(without) of 8 per layer fire")
    #expect(with.allSatisfy { $0 >= 2 }, "with AuxK: \(with) of 8 per layer fire")
  }
}
