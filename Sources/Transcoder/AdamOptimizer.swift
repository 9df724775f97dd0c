import CKernels
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
  public internal(set) var step = 0
  /// m and v, one buffer per parameter buffer (a checkpoint saves and restores them).
  public let firstMoments: [FloatBuffer]
  public let secondMoments: [FloatBuffer]

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

  /// Continues from a checkpoint whose moments have been read into `firstMoments` and
  /// `secondMoments`: the bias corrections depend on the step count.
  public func restore(step: Int) { self.step = step }

  /// One update of every parameter from its gradient; the lists are in the same order.
  /// - Parameters:
  ///   - rowMasks: per buffer, nil (every gradient valid) or a mask over its rows (of
  ///     count / rows elements each, rows = the mask's length `maskRows`): where it is 0 the
  ///     gradient is taken as zero without being read (see `CLTGradients.decoderRowsActive`).
  ///   - gradientScale: multiplies every gradient (global-norm clipping) inside the same pass.
  public func update(
    parameters: [FloatBuffer], gradients: [FloatBuffer], rowMasks: [UnsafePointer<UInt8>?]? = nil,
    maskRows: Int = 0, gradientScale: Float = 1
  ) {
    let k = nextStep(gradientScale: gradientScale)
    apply(k, parameters: parameters, gradients: gradients, rowMasks: rowMasks, maskRows: maskRows)
  }

  /// Begins step t + 1 and returns its constants, which `apply` and the decoder pass that updates
  /// as it goes (`CrossLayerTranscoder.backward(…, decoderStep:)`) use; every buffer must then be
  /// updated with them exactly once.
  public func nextStep(gradientScale: Float) -> adam_step {
    step += 1
    let correction1 = 1 - Foundation.pow(beta1, Float(step))
    let correction2 = 1 - Foundation.pow(beta2, Float(step))
    return adam_step(
      scale: gradientScale, b1: beta1, b2: beta2, lr: learningRate / correction1, inv_c2: 1 / correction2,
      eps: epsilon)
  }

  /// Applies step `k` (from `nextStep`) to the parameter buffers whose index is not in `skipping`
  /// (those some other pass has updated); the arguments are those of `update`.
  public func apply(
    _ k: adam_step, parameters: [FloatBuffer], gradients: [FloatBuffer],
    rowMasks: [UnsafePointer<UInt8>?]? = nil,
    maskRows: Int = 0, skipping: Range<Int> = 0..<0
  ) {
    precondition(parameters.count == firstMoments.count && gradients.count == parameters.count)
    for q in 0..<parameters.count where !skipping.contains(q) {
      precondition(parameters[q].count == gradients[q].count, "parameter and gradient shapes differ")
      let mask = rowMasks?[q]
      let rows = mask == nil ? parameters[q].count : maskRows
      let d = parameters[q].count / rows
      let (p, g, m, v) = (
        parameters[q].pointer, gradients[q].pointer, firstMoments[q].pointer, secondMoments[q].pointer
      )
      withUnsafePointer(to: k) { k in
        ParallelLoop.forEachChunk(count: rows, grain: max(1, 16384 / d)) { range in
          let offset = range.lowerBound * d
          adam_rows(
            p + offset, g + offset, mask.map { $0 + range.lowerBound }, m + offset, v + offset, range.count,
            d, k)
        }
      }
    }
  }

  /// Step `k`'s moments for a transcoder's decoders, for the backward pass that applies it to
  /// them as it computes their gradients.
  public func decoderStep(_ k: adam_step, of transcoder: CrossLayerTranscoder) -> DecoderAdamStep {
    var q = transcoder.decoderBufferIndices.lowerBound
    var first: [[FloatBuffer]] = []
    var second: [[FloatBuffer]] = []
    for l in 0..<transcoder.nLayers {
      let count = transcoder.nLayers - l
      first.append(Array(firstMoments[q..<(q + count)]))
      second.append(Array(secondMoments[q..<(q + count)]))
      q += count
    }
    return DecoderAdamStep(constants: k, firstMoments: first, secondMoments: second)
  }
}

/// Adam's step for the decoder weights, taken by the backward pass row by row while each row's
/// gradient is in registers (`decoder_row_backward_adam`): the gradient is then never written to
/// memory and read back. Moments at `[l][l' − l]`, like `CrossLayerTranscoder.decoderWeights`.
public struct DecoderAdamStep {
  public let constants: adam_step
  let firstMoments: [[FloatBuffer]]
  let secondMoments: [[FloatBuffer]]
}
