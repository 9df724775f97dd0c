import Kernels
import Testing

@testable import Transcoder

/// The optimizer, on the transcoder it will train.
@Suite struct AdamOptimizerTests {
  @Test("Adam's first step moves each coordinate by lr against its gradient's sign")
  func firstStepIsSignTimesLearningRate() {
    let p = FloatBuffer([1, -2, 3])
    let g = FloatBuffer([0.5, -4, 1e-3])
    let adam = AdamOptimizer(parameters: [p], learningRate: 0.1, epsilon: 0)
    adam.update(parameters: [p], gradients: [g])
    // m̂ = g and v̂ = g² after one step, so the update is lr · g/|g| whatever |g| is.
    let want: [Float] = [0.9, -1.9, 2.9]
    for k in 0..<3 { #expect(abs(p[k] - want[k]) < 1e-6, "p[\(k)] = \(p[k])") }
  }

  @Test("Sixty Adam steps on one batch cut the transcoder's loss by more than half")
  func adamReducesLoss() {
    let clt = TranscoderTests.makeTranscoder()
    let x = TranscoderTests.makeData(seed: 11, scale: 1)
    let y = TranscoderTests.makeData(seed: 12, scale: 0.5)
    let k = CLTLossCoefficients(sparsity: 1e-3, tanhScale: 1, preActivation: 1e-4, bandwidth: 0.05)
    let adam = AdamOptimizer(parameters: clt.parameterBuffers, learningRate: 1e-2)
    func loss() -> Double {
      clt.loss(TranscoderTests.trainingForward(clt, x, k), targets: y, coefficients: k).total
    }
    let before = loss()
    for _ in 0..<60 {
      let act = TranscoderTests.trainingForward(clt, x, k)
      let grads = clt.gradients(act, inputs: x, targets: y, coefficients: k)
      adam.update(parameters: clt.parameterBuffers, gradients: grads.buffers)
    }
    let after = loss()
    #expect(after.isFinite && after < 0.5 * before, "loss \(before) → \(after)")
  }
}
