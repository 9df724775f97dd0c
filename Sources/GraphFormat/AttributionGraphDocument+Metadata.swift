extension AttributionGraphDocument {
  /// The graph's `metadata`: circuit-tracer's fields, then ours (docs/FORMATS.md lists which).
  public struct Metadata: Codable, Sendable, Equatable {
    public var schemaVersion: Int?
    /// The prompt's first words, lower-case, joined with `-`.
    public var slug: String?
    /// The model's name.
    public var scan: String?
    public var modelSHA256: String?
    /// The clt.h5 file name.
    public var transcoder: String?
    public var transcoderFeatures: Int?
    public var transcoderList: [String]?
    public var generator: String?
    public var prompt: String?
    public var promptTokens: [String]?
    public var promptTokenIDs: [Int]?
    public var nLayers: Int?
    public var nodeThreshold: Double?
    public var edgeThreshold: Double?
    public var maxFeatureNodes: Int?
    public var activeFeatures: Int?
    public var attributedFeatures: Int?
    public var truncatedRows: Int?
    public var rowFeatureBudget: Int?
    public var completenessScore: Double?
    public var replacementScore: Double?
    public var prunedCompletenessScore: Double?
    public var prunedReplacementScore: Double?
    public var prunedErrorInfluence: Double?
    /// "top" or "given".
    public var logitTargets: String?
    /// What an embedding node stands for: "token" or "token+position".
    public var embeddingNodes: String?
    /// Where the features' `clerp` labels come from: "index" or "logit effects" (nil: none).
    public var featureLabels: String?

    public enum CodingKeys: String, CodingKey, CaseIterable {
      case schemaVersion = "schema_version"
      case slug, scan
      case modelSHA256 = "model_sha256"
      case transcoder
      case transcoderFeatures = "transcoder_features"
      case transcoderList = "transcoder_list"
      case generator, prompt
      case promptTokens = "prompt_tokens"
      case promptTokenIDs = "prompt_token_ids"
      case nLayers = "n_layers"
      case nodeThreshold = "node_threshold"
      case edgeThreshold = "edge_threshold"
      case maxFeatureNodes = "max_feature_nodes"
      case activeFeatures = "active_features"
      case attributedFeatures = "attributed_features"
      case truncatedRows = "truncated_rows"
      case rowFeatureBudget = "row_feature_budget"
      case completenessScore = "completeness_score"
      case replacementScore = "replacement_score"
      case prunedCompletenessScore = "pruned_completeness_score"
      case prunedReplacementScore = "pruned_replacement_score"
      case prunedErrorInfluence = "pruned_error_influence"
      case logitTargets = "logit_targets"
      case embeddingNodes = "embedding_nodes"
      case featureLabels = "feature_labels"
    }

    /// No field known; the writer fills in what it has.
    public init() {}
  }
}
