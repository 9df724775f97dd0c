import CKernels
import Kernels

/// Gradients of the loss, laid out exactly like the parameters of `CrossLayerTranscoder`, and the
/// scratch the backward pass reuses from step to step.
public final class CLTGradients {
  /// ∂loss/∂W_enc[l], (F, d) each.
  public let encoderWeights: [FloatBuffer]
  /// ∂loss/∂b_enc[l], (F) each.
  public let encoderBiases: [FloatBuffer]
  /// The straight-through pseudo-gradient of the loss with respect to logθ[l], (F) each.
  public let logThresholds: [FloatBuffer]
  /// ∂loss/∂W_dec[l→l'] at `[l][l' − l]`, (F, d) each. Only the rows marked in
  /// `decoderRowsActive[l]` hold this step's gradient; the others are zero by definition (their
  /// feature did not fire) and are not written, so as not to clear 1.4 GB a step.
  public let decoderWeights: [[FloatBuffer]]
  /// ∂loss/∂b_dec[l'], (d) each.
  public let decoderBiases: [FloatBuffer]
  /// ∂loss/∂W_skip[l], (d, d) each; empty without a skip connection.
  public let skipWeights: [FloatBuffer]
  /// Per source layer l, 1 where feature i fired in the batch (its rows of ∂W_dec[l→·] are valid).
  public let decoderRowsActive: [UnsafeMutablePointer<UInt8>]
  /// Per source layer l, 1 where dead feature i took part in the AuxK term: its rows of ∂W_dec
  /// hold that term's gradient before the main pass adds its own.
  let auxiliaryRows: [UnsafeMutablePointer<UInt8>]
  let features: Int
  let dModel: Int
  private var outputGradientBuffers: [FloatBuffer] = []
  /// ∂sparsity/∂‖W_dec,i‖ / ‖W_dec,i‖ of one layer, (F): scratch for the backward pass.
  let normScales: FloatBuffer
  /// Σ over target layers of ‖∂W_dec[l→·]_i‖² for each feature i of one layer, (F): scratch.
  let rowSquares: UnsafeMutablePointer<Double>
  /// Per source layer, the squared norm of its valid decoder gradient rows as the backward pass
  /// wrote them, so that clipping need not read the decoder gradients again (a gigabyte a step at
  /// the demo's shape). Trusted by `squaredNorm` only until `decoderGradientsChanged`.
  var decoderSquaredNorms: [Double]
  private var decoderSquaredNormsAreCurrent = false
  private var entryGradientBuffer = FloatBuffer(count: 0)
  private var deadPullBuffer = FloatBuffer(count: 0)

  /// Every gradient buffer in the order of `CrossLayerTranscoder.parameterBuffers`.
  public var buffers: [FloatBuffer] {
    (0..<encoderWeights.count).flatMap { [encoderWeights[$0], encoderBiases[$0], logThresholds[$0]] }
      + decoderWeights.flatMap { $0 } + decoderBiases + skipWeights
  }

  /// Per buffer of `buffers`, the row mask the optimizer must honour (nil: every row is valid).
  public var rowMasks: [UnsafePointer<UInt8>?] {
    let dense = [UnsafePointer<UInt8>?](repeating: nil, count: 3 * encoderWeights.count)
    let decoders = decoderWeights.indices.flatMap { l in
      [UnsafePointer<UInt8>?](repeating: UnsafePointer(decoderRowsActive[l]), count: decoderWeights[l].count)
    }
    return dense + decoders
      + [UnsafePointer<UInt8>?](repeating: nil, count: decoderBiases.count + skipWeights.count)
  }

  /// Zero gradients for a transcoder of this shape, every row marked valid.
  public init(nLayers: Int, dModel: Int, features: Int, skip: Bool = false) {
    self.features = features
    self.dModel = dModel
    encoderWeights = (0..<nLayers).map { _ in FloatBuffer(count: features * dModel) }
    encoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: features) }
    logThresholds = (0..<nLayers).map { _ in FloatBuffer(count: features) }
    decoderWeights = (0..<nLayers).map { l in
      (l..<nLayers).map { _ in FloatBuffer(count: features * dModel) }
    }
    decoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: dModel) }
    skipWeights = skip ? (0..<nLayers).map { _ in FloatBuffer(count: dModel * dModel) } : []
    normScales = FloatBuffer(count: features)
    rowSquares = .allocate(capacity: features)
    decoderSquaredNorms = [Double](repeating: 0, count: nLayers)
    decoderRowsActive = (0..<nLayers).map { _ in
      let mask = UnsafeMutablePointer<UInt8>.allocate(capacity: features)
      mask.initialize(repeating: 1, count: features)
      return mask
    }
    auxiliaryRows = (0..<nLayers).map { _ in
      let mask = UnsafeMutablePointer<UInt8>.allocate(capacity: features)
      mask.initialize(repeating: 0, count: features)
      return mask
    }
  }

  deinit {
    for mask in decoderRowsActive + auxiliaryRows { mask.deallocate() }
    rowSquares.deallocate()
  }

  /// Marks `decoderSquaredNorms` as those of the decoder gradients now held (the backward pass).
  func decoderSquaredNormsWritten() { decoderSquaredNormsAreCurrent = true }

  /// Says that the decoder gradients were changed after the backward pass (summed across
  /// processes, say), so that `squaredNorm` reads them again.
  public func decoderGradientsChanged() { decoderSquaredNormsAreCurrent = false }

  /// g[l'] = ∂loss/∂ŷ[l'], (N, d) per layer: scratch for the backward pass.
  func outputGradients(tokens: Int) -> [FloatBuffer] {
    if outputGradientBuffers.first?.count != tokens * dModel {
      outputGradientBuffers = decoderBiases.map { _ in FloatBuffer(count: tokens * dModel) }
    }
    return outputGradientBuffers
  }

  /// ∂loss/∂a of each entry (active feature or near miss) of one layer, `count` of them: scratch
  /// for the backward pass, grown to the largest layer seen and then reused. Not cleared.
  func entryGradients(count: Int) -> UnsafeMutablePointer<Float> {
    Self.scratch(&entryGradientBuffer, count: count)
  }

  /// The column sum of one layer's inputs and the dead features' pulls (d each): scratch for the
  /// backward pass, `count` floats, grown like `entryGradients`. Not cleared.
  func deadPulls(count: Int) -> UnsafeMutablePointer<Float> { Self.scratch(&deadPullBuffer, count: count) }

  /// `buffer`, replaced by a larger one when it holds fewer than `count` floats.
  private static func scratch(_ buffer: inout FloatBuffer, count: Int) -> UnsafeMutablePointer<Float> {
    if buffer.count < count { buffer = FloatBuffer(count: count) }
    return buffer.pointer
  }

  /// ‖g‖² over every valid gradient entry, for clipping by the global norm.
  public func squaredNorm() -> Double {
    var total: Double = 0
    let nLayers = encoderWeights.count
    for (q, (buffer, mask)) in zip(buffers, rowMasks).enumerated() {
      if decoderSquaredNormsAreCurrent && q >= 3 * nLayers && mask != nil { continue }
      guard let mask else {
        total += sum_squares(buffer.pointer, buffer.count)
        continue
      }
      let rows = features
      let d = buffer.count / rows
      var partial = [Double](repeating: 0, count: BLASThreads.current)
      partial.withUnsafeMutableBufferPointer { partial in
        let partial = partial.baseAddress!
        ParallelLoop.forEachIndex(count: BLASThreads.current) { part in
          let chunk = (rows + BLASThreads.current - 1) / BLASThreads.current
          var s: Double = 0
          for r in (part * chunk)..<min(rows, (part + 1) * chunk) where mask[r] != 0 {
            s += sum_squares(buffer.pointer + r * d, d)
          }
          partial[part] = s
        }
      }
      total += partial.reduce(0, +)
    }
    if decoderSquaredNormsAreCurrent { total += decoderSquaredNorms.reduce(0, +) }
    return total
  }
}
