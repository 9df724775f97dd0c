import Transcoder

/// Every hyper-parameter of a run; all of them are stored as attributes of clt.h5, which is why the
/// type lives with the file. What a run computes from them (the schedules, the memory estimate, the
/// checks of options) is in `TranscoderTraining`.
public struct TrainingConfiguration: Sendable, Equatable {
  /// F, features per layer.
  public var features: Int
  /// Tokens per step, N.
  public var batch: Int
  /// Optimizer steps to take; the run stops at `steps`.
  public var steps: Int
  /// The peak learning rate of Adam.
  public var learningRate: Float
  /// Steps of linear learning-rate warm-up from 0 to `learningRate`.
  public var warmupSteps: Int
  /// The fraction of steps at the end over which the learning rate decays linearly to 0.
  public var decayFraction: Double
  /// λ (its final value), c, λ_p, ε and AuxK's α; λ is warmed up linearly from 0 over the whole run.
  public var coefficients: CLTLossCoefficients
  /// p in the loss's layer weights w[l] ∝ (raw E‖y[l]‖²)^p, normalised to mean 1
  /// (`ActivationNormalizer.lossWeights`): 0 weighs every layer's normalised error alike, 1 by the
  /// layer's raw size. The reported NMSE is the per-layer normalised one whatever p is.
  public var layerWeightExponent: Double
  /// κ: a token whose MLP output's squared norm at a layer is above κ × the layer's median is an
  /// outlier, left out of that layer's output scale and weighted as the all-token scale would
  /// weigh it (`ActivationNormalizer`, `OutlierWeights`; clt-fit `--outlier-factor`). 0: none, every
  /// token sets the scale (the library's default; clt-fit's is `CLTFit.defaultOutlierFactor`).
  public var outlierFactor: Double = 0
  /// Whether the transcoder has a skip connection, ŷ[l] += x[l] · W_skip[l] (clt-fit `--skip`,
  /// its default; the library's default is without, as every file before it was).
  public var skipConnection = false
  /// The largest global L2 norm of the gradients; larger ones are scaled down to it (0: none).
  public var gradientClip: Float
  /// Clip each step by the previous step's gradient norm instead of its own, so that one process
  /// can take the decoders' Adam step inside the backward pass (`clt-fit --clip-previous-norm`):
  /// about 1.2× the tokens a second, at some quality per token (docs/BENCHMARKS.md).
  public var clipByPreviousNorm = false
  /// A feature that has not fired in this many tokens counts as dead.
  public var deadWindow: Int
  /// Rows held by the shuffle buffer.
  public var shuffleRows: Int
  /// JumpReLU, TopK or BatchTopK.
  public var activation: CLTActivationFunction
  /// Active features per token for TopK and BatchTopK.
  public var k: Int
  /// The JumpReLU thresholds start where each feature fires on initialL0 / F of the first batch,
  /// so that training starts at this mean L0 (`CrossLayerTranscoder.calibrateThresholds`); at
  /// most half the features are made to fire, whatever this asks.
  public var initialL0: Double
  /// Seeds the parameters and the sampling order.
  public var seed: UInt64
  /// Whether features start from the first batch's tokens or from the seed's random values alone
  /// (clt-fit's default depends on the activation: `CLTFit.defaultInitialization`).
  public var initialization: FeatureInitialization = .random
  /// k_aux of the AuxK term (used when `coefficients.auxiliary` > 0): per layer and token, how
  /// many of the dead features' largest pre-activations reconstruct the main error.
  public var auxK: Int

  public init(
    features: Int, batch: Int = 1024, steps: Int, learningRate: Float = 2e-4, warmupSteps: Int? = nil,
    decayFraction: Double = 0.2, coefficients: CLTLossCoefficients = CLTLossCoefficients(),
    gradientClip: Float = 1, deadWindow: Int = 1_000_000, shuffleRows: Int = 65_536,
    activation: CLTActivationFunction = .jumpReLU, k: Int = 64, initialL0: Double = 128, seed: UInt64 = 0,
    auxK: Int = 0, layerWeightExponent: Double = 0
  ) {
    self.features = features
    self.batch = batch
    self.steps = steps
    self.learningRate = learningRate
    self.warmupSteps = warmupSteps ?? min(1000, max(1, steps / 20))
    self.decayFraction = decayFraction
    self.coefficients = coefficients
    self.gradientClip = gradientClip
    self.deadWindow = deadWindow
    self.shuffleRows = shuffleRows
    self.activation = activation
    self.k = k
    self.initialL0 = initialL0
    self.seed = seed
    self.auxK = auxK
    self.layerWeightExponent = layerWeightExponent
  }
}
