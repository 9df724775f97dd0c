import CLTFormat
import Foundation

/// What a training run derives from its hyper-parameters: the learning-rate and sparsity
/// schedules, the memory a run needs, each process's share, and the checks of the options.
extension TrainingConfiguration {
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
    // Inputs and targets twice (this step's and the next, read ahead), reconstructions, errors.
    let batchBytes = 6 * batch * l * d * 4 + batch * f * 4 + activeEntries * 16
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
    guard coefficients.auxiliary == 0 || auxK > 0 else {
      throw TrainingError.invalidConfiguration(
        "--auxk-k must be at least 1 when --auxk-coefficient is positive")
    }
    guard initialL0 > 0 else { throw TrainingError.invalidConfiguration("--initial-l0 must be positive") }
    guard layerWeightExponent.isFinite && layerWeightExponent >= 0 else {
      throw TrainingError.invalidConfiguration(
        "--layer-weight-exponent must be at least 0 (0: every layer alike, 1: by raw output size)")
    }
    guard outlierFactor == 0 || (outlierFactor.isFinite && outlierFactor >= 1) else {
      throw TrainingError.invalidConfiguration(
        "--outlier-factor must be 0 (no outlier tokens) or at least 1 (times the median squared norm)")
    }
    guard shuffleRows >= batch else {
      throw TrainingError.invalidConfiguration(
        "the shuffle buffer (\(shuffleRows) rows) must hold at least one batch (\(batch) tokens)")
    }
  }
}
