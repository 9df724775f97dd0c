import Transcoder

/// Every hyper-parameter of a run; all of them are stored as attributes of clt.h5.
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
  /// λ (its final value), c, λ_p and ε; λ is warmed up linearly from 0 over the whole run.
  public var coefficients: CLTLossCoefficients
  /// The largest global L2 norm of the gradients; larger ones are scaled down to it.
  public var gradientClip: Float
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

  public init(
    features: Int, batch: Int = 1024, steps: Int, learningRate: Float = 2e-4, warmupSteps: Int? = nil,
    decayFraction: Double = 0.2, coefficients: CLTLossCoefficients = CLTLossCoefficients(),
    gradientClip: Float = 1, deadWindow: Int = 1_000_000, shuffleRows: Int = 65_536,
    activation: CLTActivationFunction = .jumpReLU, k: Int = 64, initialL0: Double = 128, seed: UInt64 = 0
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
  }

  /// The learning rate at step t (0-based): linear warm-up, constant, then linear decay to 0 over
  /// the last `decayFraction` of the run.
  public func learningRate(step t: Int) -> Float {
    let warm = min(1, Double(t + 1) / Double(max(warmupSteps, 1)))
    let decaySteps = Double(steps) * decayFraction
    let decay = decaySteps > 0 ? min(1, Double(steps - t) / decaySteps) : 1
    return learningRate * Float(warm * decay)
  }

  /// λ(t) = λ · (t + 1) / steps: the sparsity penalty grows over the run, so that features first
  /// learn to reconstruct and only then are pushed to be sparse (Ameisen et al. 2025).
  public func sparsity(step t: Int) -> Float {
    coefficients.sparsity * Float(min(1, Double(t + 1) / Double(max(steps, 1))))
  }

  /// Bytes a run of this configuration holds at its peak, for a model of `nLayers` × `dModel`,
  /// and how they divide. The transcoder has P = L(F·d + 2F) + F·d·L(L+1)/2 + L·d parameters (the
  /// L(L+1)/2 decoders dominate); training holds four copies (parameters, gradients and Adam's two
  /// moments), the shuffle buffer and the batch's activations.
  public func memoryEstimate(nLayers l: Int, dModel d: Int) -> (bytes: Int, detail: String) {
    let f = features
    let parameters = l * (f * d + 2 * f) + f * d * l * (l + 1) / 2 + l * d
    let model = 4 * 4 * parameters
    let shuffle = shuffleRows * 2 * l * d * 4
    let activeEntries = batch * l * Int(Swift.max(initialL0, Double(k))) * 2
    let batchBytes = 4 * batch * l * d * 4 + batch * f * 4 + activeEntries * 16
    let gib = { (bytes: Int) in String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
    return (
      model + shuffle + batchBytes,
      "\(parameters / 1_000_000)M parameters × 4 copies = \(gib(model)), shuffle buffer \(gib(shuffle)), "
        + "batch \(gib(batchBytes))"
    )
  }

  /// What one of `processes` processes holds (the figures a memory estimate per machine needs):
  /// its share of the batch and of the shuffle buffer (data parallel), or its share of the
  /// features (`shardingFeatures`).
  public func perProcess(_ processes: Int, shardingFeatures: Bool = false) -> TrainingConfiguration {
    var local = self
    if shardingFeatures {
      local.features = features / processes
    } else {
      local.batch = batch / processes
      local.shuffleRows = max(local.batch, shuffleRows / processes)
    }
    return local
  }

  func validate() throws {
    guard features > 0 else { throw TrainingError.invalidConfiguration("--features must be at least 1") }
    guard batch > 0 else { throw TrainingError.invalidConfiguration("--batch must be at least 1") }
    guard steps > 0 else { throw TrainingError.invalidConfiguration("--steps must be at least 1") }
    guard learningRate > 0 else { throw TrainingError.invalidConfiguration("--lr must be positive") }
    guard k > 0 else { throw TrainingError.invalidConfiguration("--k must be at least 1") }
    guard initialL0 > 0 else { throw TrainingError.invalidConfiguration("--initial-l0 must be positive") }
    guard shuffleRows >= batch else {
      throw TrainingError.invalidConfiguration(
        "the shuffle buffer (\(shuffleRows) rows) must hold at least one batch (\(batch) tokens)")
    }
  }
}
