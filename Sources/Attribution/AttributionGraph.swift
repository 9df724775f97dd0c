/// An attribution graph of one prompt: nodes, and the direct effects between them in the local
/// replacement model (Ameisen et al. 2025, §2.3), before or after pruning.
///
/// Nodes are ordered features, errors, embeddings, logits. Only features and logits have
/// incoming edges and only features, errors and embeddings have outgoing ones, so the adjacency
/// is kept as a (targets × sources) matrix: targets are the features then the logits, sources the
/// features, errors and embeddings — the first `featureCount` of each are the same nodes.
public struct AttributionGraph: Sendable {
  /// The prompt's token ids.
  public let tokens: [Int32]
  /// The model's layers L.
  public let nLayers: Int
  /// Every node: features, errors, embeddings, logits, in that order.
  public let nodes: [AttributionNode]
  /// How many nodes of each kind (errors: L · positions; embeddings: positions).
  public let featureCount: Int
  public let errorCount: Int
  public let embeddingCount: Int
  public let logitCount: Int
  /// Row-major (targetCount, sourceCount): entry (t, s) is the direct effect of source s on target t.
  public internal(set) var adjacency: [Float]
  /// Per logit, its weight in influence: the model's probabilities of the chosen tokens, normalised
  /// to sum to one.
  public let logitWeights: [Float]
  /// Per target row, everything constant in the local replacement model: with the row's sum it
  /// gives the target's input (pre-activation, or logit minus the mean logit) when every active
  /// feature is a node.
  public let constants: [Float]
  /// Active features the prompt has in all (a graph keeps at most --max-feature-nodes of them).
  public let activeFeatureCount: Int
  /// Target rows whose feature edges were cut to `AttributionOptions.rowFeatureBudget` while the
  /// graph was built (0: every edge is exact).
  public let truncatedRows: Int

  /// Rows of the adjacency (features, then logits) and its columns (features, errors, embeddings).
  public var targetCount: Int { featureCount + logitCount }
  public var sourceCount: Int { featureCount + errorCount + embeddingCount }

  /// The node a target row stands for.
  public func node(ofTarget row: Int) -> Int { row < featureCount ? row : sourceCount + row - featureCount }

  /// The weight of the edge from source node `source` into target row `row`.
  public func weight(row: Int, source: Int) -> Float { adjacency[row * sourceCount + source] }

  /// The logit nodes' indices.
  public var logitNodes: Range<Int> { sourceCount..<(sourceCount + logitCount) }
  /// The error nodes' and the embedding nodes' indices.
  public var errorNodes: Range<Int> { featureCount..<(featureCount + errorCount) }
  public var embeddingNodes: Range<Int> { (featureCount + errorCount)..<sourceCount }
}
