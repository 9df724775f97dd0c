/// The weights of the loss terms and the straight-through estimator's bandwidth
/// (see `CrossLayerTranscoder.loss` for the equations they enter).
public struct CLTLossCoefficients: Sendable, Equatable {
  /// λ, the weight of the tanh sparsity penalty.
  public var sparsity: Float
  /// c, the scale inside tanh(c · ‖W_dec,i‖ · a_i): large c makes the penalty close to L0.
  public var tanhScale: Float
  /// λ_p, the weight of the pre-activation penalty Σ relu(θ − h) that revives features that never fire.
  public var preActivation: Float
  /// ε, the rectangle kernel's bandwidth in the JumpReLU threshold's pseudo-gradient
  /// (Rajamanoharan et al. 2024, eq. 11).
  public var bandwidth: Float
  /// α, the weight of the AuxK term that makes dead features reconstruct the main error (0: off;
  /// `CrossLayerTranscoder+AuxK`).
  public var auxiliary: Float
  /// w[l], one per layer, multiplying layer l's squared error in the MSE term; nil weighs every
  /// layer 1. The targets are normalised per layer, so with equal weights an error on a layer
  /// whose raw outputs are hundreds of times larger than the others' costs no more than on any
  /// other; the trainer sets these from the raw sizes (`ActivationNormalizer.lossWeights`).
  public var layerWeights: [Float]?

  public init(
    sparsity: Float = 1e-3, tanhScale: Float = 1, preActivation: Float = 3e-6, bandwidth: Float = 1e-3,
    auxiliary: Float = 0, layerWeights: [Float]? = nil
  ) {
    self.sparsity = sparsity
    self.tanhScale = tanhScale
    self.preActivation = preActivation
    self.bandwidth = bandwidth
    self.auxiliary = auxiliary
    self.layerWeights = layerWeights
  }
}
