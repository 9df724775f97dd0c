/// What one training step measured, for progress lines and the `--log` JSON lines.
public struct StepMetrics: Sendable {
  /// 1-based step number.
  public var step: Int
  /// Tokens trained on so far, this step included.
  public var tokensSeen: Int
  /// The loss terms of this step's batch (before the update).
  public var meanSquaredError: Double
  public var sparsity: Double
  public var preActivation: Double
  /// The AuxK term (0 when off or when no feature is dead).
  public var auxiliary: Double = 0
  /// The learning rate and λ used.
  public var learningRate: Float
  public var lambda: Float
  /// The gradients' global norm before clipping.
  public var gradientNorm: Float
  /// Per layer ‖y − ŷ‖² / ‖y − ȳ‖² over the batch, ȳ the batch mean: 1 means no better than
  /// predicting the mean, 0 a perfect reconstruction.
  public var nmse: [Double]
  /// Per layer 1 − Var(y − ŷ) / Var(y): like 1 − NMSE, but blind to a constant offset.
  public var explainedVariance: [Double]
  /// Per layer, the mean number of active features per token.
  public var l0: [Double]
  /// Per layer, the fraction of features that have not fired within the dead window.
  public var deadFraction: [Double]
  /// Wall time of the step's forward pass, backward pass and update (clipping and Adam), in seconds.
  public var phaseSeconds: [Double]

  public var meanNMSE: Double { nmse.reduce(0, +) / Double(max(nmse.count, 1)) }
  public var meanDeadFraction: Double { deadFraction.reduce(0, +) / Double(max(deadFraction.count, 1)) }
  public var meanL0: Double { l0.reduce(0, +) / Double(max(l0.count, 1)) }
  public var totalLoss: Double { meanSquaredError + sparsity + preActivation + auxiliary }

  /// One JSON object on a line.
  public var jsonLine: String {
    func list(_ values: [Double]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
    return "{\"step\": \(step), \"tokens\": \(tokensSeen), \"loss\": \(totalLoss), "
      + "\"mse\": \(meanSquaredError), \"sparsity\": \(sparsity), \"preact\": \(preActivation), \"auxk\": \(auxiliary), "
      + "\"lr\": \(learningRate), \"lambda\": \(lambda), \"grad_norm\": \(gradientNorm), "
      + "\"mean_nmse\": \(meanNMSE), \"mean_l0\": \(meanL0), \"nmse\": \(list(nmse)), \"l0\": \(list(l0)), "
      + "\"explained_variance\": \(list(explainedVariance)), \"seconds\": \(list(phaseSeconds)), \"dead_fraction\": \(list(deadFraction))}"
  }
}
