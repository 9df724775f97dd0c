import Kernels

/// What a forward pass over N tokens keeps for the loss and the backward pass.
///
/// The active features of each layer are stored as compressed rows (CSR): token n's active
/// features are `activeFeatures[l][activeOffsets[l][n] ..< activeOffsets[l][n + 1]]`, with their
/// values in `activeValues[l]` at the same positions. The decoder then touches only these rows.
public final class CLTActivations {
  /// Number of tokens N.
  public let tokens: Int
  /// h[l] = x[l] · W_enc[l]ᵀ + b_enc[l], per layer (N, F).
  public let preActivations: [FloatBuffer]
  /// θ[l] = exp(logθ[l]) at the time of the forward pass, per layer (F).
  public let thresholds: [FloatBuffer]
  /// Per layer, N + 1 offsets into `activeFeatures` / `activeValues`.
  public let activeOffsets: [[Int]]
  /// Per layer, the indices of the features with h > θ, token by token.
  public let activeFeatures: [[Int32]]
  /// Per layer, a = h for those features (JumpReLU keeps the pre-activation itself).
  public let activeValues: [[Float]]
  /// ŷ[l'], per layer (N, d).
  public let reconstructions: [FloatBuffer]

  init(
    tokens: Int, preActivations: [FloatBuffer], thresholds: [FloatBuffer], activeOffsets: [[Int]],
    activeFeatures: [[Int32]], activeValues: [[Float]], reconstructions: [FloatBuffer]
  ) {
    self.tokens = tokens
    self.preActivations = preActivations
    self.thresholds = thresholds
    self.activeOffsets = activeOffsets
    self.activeFeatures = activeFeatures
    self.activeValues = activeValues
    self.reconstructions = reconstructions
  }

  /// Number of (token, feature) pairs active in layer `layer`.
  public func activeCount(layer: Int) -> Int { activeFeatures[layer].count }
}
