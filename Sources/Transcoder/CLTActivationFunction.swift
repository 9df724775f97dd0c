/// How a layer's pre-activations h become its feature activations a.
public enum CLTActivationFunction: String, Sendable, CaseIterable {
  /// a = h · 1[h > θ] with a learned threshold θ per feature (Rajamanoharan et al. 2024), as in
  /// Ameisen et al. 2025. Sparsity comes from the tanh penalty, so L0 is set through λ.
  case jumpReLU = "jumprelu"
  /// The k largest positive pre-activations of each token (Gao et al. 2024): L0 = k exactly.
  case topK = "topk"
  /// The k·N largest positive pre-activations of a batch of N tokens (Bussmann et al. 2024): L0 = k
  /// on average, varying per token. At inference a token cannot see a batch, so it is a JumpReLU
  /// whose threshold is the running estimate of the smallest selected activation made in training.
  case batchTopK = "batchtopk"

  /// Whether features are chosen by rank (k) rather than by a learned threshold.
  public var selectsByRank: Bool { self != .jumpReLU }
}
