/// How an attribution graph is built and pruned. The defaults are the paper's and circuit-tracer's
/// where they have one.
public struct AttributionOptions: Sendable {
  /// Logit tokens to explain; nil chooses the most likely tokens (`logitProbability`, `maxLogits`).
  public var targets: [Int]?
  /// Without `targets`: the fewest top tokens whose probabilities reach this much, at most `maxLogits`.
  public var logitProbability: Double = 0.95
  /// Without `targets`: at most this many logits.
  public var maxLogits: Int = 10
  /// Features whose incoming edges are computed (and which become nodes), chosen in order of
  /// estimated influence on the logits.
  public var maxFeatureNodes: Int = 2048
  /// Feature edges kept per target row while the graph is built: the largest by |weight| when a
  /// row has more non-zero ones (long prompts). Bounds the rows' memory; error and embedding
  /// edges are always all kept.
  public var rowFeatureBudget: Int = 16384
  /// Targets per backward pass (fewer for long prompts, so the gradient stays within ~64 MB).
  public var batchSize: Int = 256
  /// Fraction of the logits' influence the kept feature and error nodes must hold.
  public var nodeThreshold: Double = 0.8
  /// Fraction of the remaining influence the kept edges must hold.
  public var edgeThreshold: Double = 0.98
  /// What an embedding node stands for (`LocalReplacementModel` takes it; the JSON records it).
  public var embeddingNodes: EmbeddingNodes = .token

  /// The defaults.
  public init() {}
}

/// What an embedding node of a graph stands for. circuit-tracer's is the token embedding W_E[t],
/// with the position embedding held constant like a bias; the other choice folds W_pos[p] into the
/// node. On GPT-2 the two differ in the embedding edges by up to 1.14× the graph's largest edge,
/// and in the replacement score by about 0.01; on Llama, whose positions enter through RoPE, they
/// are the same.
public enum EmbeddingNodes: String, Sendable, CaseIterable {
  /// W_E[t]; W_pos[p] is constant (circuit-tracer's convention, the default).
  case token
  /// W_E[t] + W_pos[p], the whole input of the first block.
  case tokenAndPosition = "token+position"
}
