/// The value of each loss term for one batch, accumulated in Double so that a finite-difference
/// check can resolve changes far below Float's precision of the total.
public struct CLTLoss: Sendable, Equatable {
  /// Σ_l w[l] ‖ŷ[l] − y[l]‖² / N (w[l] = 1 unless `CLTLossCoefficients.layerWeights` says otherwise).
  public var meanSquaredError: Double
  /// λ · Σ_l Σ_i tanh(c · ‖W_dec,i^(l)‖ · a_i) / N.
  public var sparsity: Double
  /// λ_p · Σ_l Σ_i relu(θ_i − h_i) / N.
  public var preActivation: Double
  /// α · d · Σ_{l'} ‖e[l'] − ê[l']‖² / ‖e[l']‖², the AuxK term (`CrossLayerTranscoder+AuxK`).
  public var auxiliary: Double = 0

  public var total: Double { meanSquaredError + sparsity + preActivation + auxiliary }
}
