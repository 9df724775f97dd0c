import Kernels

/// Gradients of the loss, laid out exactly like the parameters of `CrossLayerTranscoder`.
public final class CLTGradients {
  /// ∂loss/∂W_enc[l], (F, d) each.
  public let encoderWeights: [FloatBuffer]
  /// ∂loss/∂b_enc[l], (F) each.
  public let encoderBiases: [FloatBuffer]
  /// The straight-through pseudo-gradient of the loss with respect to logθ[l], (F) each.
  public let logThresholds: [FloatBuffer]
  /// ∂loss/∂W_dec[l→l'] at `[l][l' − l]`, (F, d) each.
  public let decoderWeights: [[FloatBuffer]]
  /// ∂loss/∂b_dec[l'], (d) each.
  public let decoderBiases: [FloatBuffer]

  /// Every gradient buffer in the order of `CrossLayerTranscoder.parameterBuffers`.
  public var buffers: [FloatBuffer] {
    (0..<encoderWeights.count).flatMap { [encoderWeights[$0], encoderBiases[$0], logThresholds[$0]] }
      + decoderWeights.flatMap { $0 } + decoderBiases
  }

  /// Zero gradients for a transcoder of this shape.
  public init(nLayers: Int, dModel: Int, features: Int) {
    encoderWeights = (0..<nLayers).map { _ in FloatBuffer(count: features * dModel) }
    encoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: features) }
    logThresholds = (0..<nLayers).map { _ in FloatBuffer(count: features) }
    decoderWeights = (0..<nLayers).map { l in
      (l..<nLayers).map { _ in FloatBuffer(count: features * dModel) }
    }
    decoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: dModel) }
  }
}
