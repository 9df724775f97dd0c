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
  /// The weights of outlier tokens' errors, layer by layer (nil: every token 1).
  public var outlierWeights: OutlierWeights?

  public init(
    sparsity: Float = 1e-3, tanhScale: Float = 1, preActivation: Float = 3e-6, bandwidth: Float = 1e-3,
    auxiliary: Float = 0, layerWeights: [Float]? = nil, outlierWeights: OutlierWeights? = nil
  ) {
    self.sparsity = sparsity
    self.tanhScale = tanhScale
    self.preActivation = preActivation
    self.bandwidth = bandwidth
    self.auxiliary = auxiliary
    self.layerWeights = layerWeights
    self.outlierWeights = outlierWeights
  }
}

/// Per layer, the normalised squared norm ‖y[l]_n‖² above which a target row is an outlier token,
/// and the weight of that row's squared error; every other row weighs 1.
///
/// A few tokens of some layers carry massive MLP outputs (SmolLM2-135M: 0.2% of tokens hold 99.7%
/// of layer 11's energy). Were the layer's scale set from every token, the other 99.8% would be
/// scaled to almost nothing and the loss would ignore them. So the scale comes from the other
/// tokens and the outliers' errors are weighted down to what they weighed under the all-token
/// scale (`ActivationNormalizer.init(meanSquaredInputNorms:outputRowSquares:dModel:outlierFactor:)`).
public struct OutlierWeights: Sendable, Equatable {
  /// Per layer, the threshold on the normalised squared norm of a target row.
  public var thresholds: [Float]
  /// Per layer, the weight of a row above the threshold.
  public var weights: [Float]

  public init(thresholds: [Float], weights: [Float]) {
    precondition(thresholds.count == weights.count, "one threshold and one weight per layer")
    self.thresholds = thresholds
    self.weights = weights
  }

  /// The weight of row `row` (d floats) of layer l's targets.
  @inline(__always)
  public func weight(layer l: Int, row: UnsafePointer<Float>, d: Int) -> Float {
    var squares: Float = 0
    for j in 0..<d { squares += row[j] * row[j] }
    return squares > thresholds[l] ? weights[l] : 1
  }
}
