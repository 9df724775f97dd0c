import Foundation
import Kernels

/// Adam (Kingma & Ba 2015, Algorithm 1) over a transcoder's parameter buffers:
///   m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  p ← p − lr · m̂ / (√v̂ + ε̂)
/// with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ). Adam is what Ameisen et al. train CLTs with; its per-
/// coordinate scaling matters here because the threshold's pseudo-gradient and the decoder's
/// sparse gradients differ by orders of magnitude. A coordinate whose gradient is zero still decays
/// its moments and moves, exactly as in the dense algorithm (no lazy "sparse Adam" shortcut).
public final class AdamOptimizer {
  public var learningRate: Float
  public let beta1: Float
  public let beta2: Float
  public let epsilon: Float
  /// Number of steps taken, t.
  public private(set) var step = 0
  private let firstMoments: [FloatBuffer]
  private let secondMoments: [FloatBuffer]

  /// Moments shaped like `parameters` (see `CrossLayerTranscoder.parameterBuffers`).
  public init(
    parameters: [FloatBuffer], learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
    epsilon: Float = 1e-8
  ) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    firstMoments = parameters.map { FloatBuffer(count: $0.count) }
    secondMoments = parameters.map { FloatBuffer(count: $0.count) }
  }

  /// One update of every parameter from its gradient; the two lists are in the same order.
  public func update(parameters: [FloatBuffer], gradients: [FloatBuffer]) {
    precondition(parameters.count == firstMoments.count && gradients.count == parameters.count)
    step += 1
    let correction1 = 1 - Foundation.pow(beta1, Float(step))
    let correction2 = 1 - Foundation.pow(beta2, Float(step))
    let (b1, b2, lr, eps) = (beta1, beta2, learningRate, epsilon)
    for k in 0..<parameters.count {
      precondition(parameters[k].count == gradients[k].count, "parameter and gradient shapes differ")
      adamUpdate(
        parameters: parameters[k].pointer, gradients: gradients[k].pointer, first: firstMoments[k].pointer,
        second: secondMoments[k].pointer, count: parameters[k].count, beta1: b1, beta2: b2,
        learningRate: lr / correction1, secondCorrection: correction2, epsilon: eps)
    }
  }
}

/// p ← p − lr · m / (√(v / c₂) + ε) after the moment updates, element-wise; lr already holds the
/// first-moment bias correction lr/(1 − β₁ᵗ), c₂ = 1 − β₂ᵗ.
/// parameters, gradients, first, second (count).
public func adamUpdate(
  parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
  first: UnsafeMutablePointer<Float>,
  second: UnsafeMutablePointer<Float>, count: Int, beta1: Float, beta2: Float, learningRate: Float,
  secondCorrection: Float, epsilon: Float
) {
  ParallelLoop.forEachChunk(count: count) { range in
    for i in range {
      let g = gradients[i]
      first[i] = beta1 * first[i] + (1 - beta1) * g
      second[i] = beta2 * second[i] + (1 - beta2) * g * g
      parameters[i] -= learningRate * first[i] / ((second[i] / secondCorrection).squareRoot() + epsilon)
    }
  }
}
