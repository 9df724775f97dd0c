extension AttributionGraphDocument {
  /// One node (circuit-tracer's `Node.feature_node`, `error_node`, `token_node`, `logit_node`).
  public struct Node: Codable, Sendable, Equatable {
    /// What a node stands for: its `feature_type`.
    public enum FeatureType: String, Sendable {
      case feature = "cross layer transcoder"
      case error = "mlp reconstruction error"
      case embedding
      case logit
    }

    public var nodeID: String?
    public var jsNodeID: String?
    /// A `FeatureType`'s raw value; kept as text, so a reader can name one it does not know.
    public var featureType: String?
    /// "0" … "L-1", "E" or "L+1"; a number in the file is read as its text.
    public var layer: String?
    /// Cantor pairing of layer and index (features), -1 (errors), position (embeddings), token id
    /// (logits).
    public var feature: Int?
    /// Ours: a feature's index in its layer.
    public var featureIndex: Int?
    /// Ours: an embedding's token id.
    public var tokenID: Int?
    /// The position.
    public var ctxIdx: Int?
    /// Cumulative influence; written as null where a node has none (logits).
    public var influence: Double?
    /// Ours: influence on the logits.
    public var logitInfluence: Double?
    public var runIdx: Int?
    public var reverseCtxIdx: Int?
    public var tokenProb: Double?
    public var isTargetLogit: Bool?
    /// A feature's activation; written as null for the other kinds.
    public var activation: Double?
    /// A label.
    public var clerp: String?
    /// Ours: a feature's label group; features of one position with one group form a supernode.
    public var labelGroup: String?

    public enum CodingKeys: String, CodingKey {
      case nodeID = "node_id"
      case jsNodeID = "jsNodeId"
      case featureType = "feature_type"
      case layer, feature
      case featureIndex = "feature_index"
      case tokenID = "token_id"
      case ctxIdx = "ctx_idx"
      case influence
      case logitInfluence = "logit_influence"
      case runIdx = "run_idx"
      case reverseCtxIdx = "reverse_ctx_idx"
      case tokenProb = "token_prob"
      case isTargetLogit = "is_target_logit"
      case activation, clerp
      case labelGroup = "label_group"
    }

    /// No field known; the writer fills in what it has.
    public init() {}

    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      nodeID = try c.decodeIfPresent(String.self, forKey: .nodeID)
      jsNodeID = try c.decodeIfPresent(String.self, forKey: .jsNodeID)
      featureType = try c.decodeIfPresent(String.self, forKey: .featureType)
      // circuit-tracer writes the layer as a string; other writers may give a number.
      if let number = try? c.decodeIfPresent(Int.self, forKey: .layer) {
        layer = String(number)
      } else {
        layer = try c.decodeIfPresent(String.self, forKey: .layer)
      }
      feature = try c.decodeIfPresent(Int.self, forKey: .feature)
      featureIndex = try c.decodeIfPresent(Int.self, forKey: .featureIndex)
      tokenID = try c.decodeIfPresent(Int.self, forKey: .tokenID)
      ctxIdx = try c.decodeIfPresent(Int.self, forKey: .ctxIdx)
      influence = try c.decodeIfPresent(Double.self, forKey: .influence)
      logitInfluence = try c.decodeIfPresent(Double.self, forKey: .logitInfluence)
      runIdx = try c.decodeIfPresent(Int.self, forKey: .runIdx)
      reverseCtxIdx = try c.decodeIfPresent(Int.self, forKey: .reverseCtxIdx)
      tokenProb = try c.decodeIfPresent(Double.self, forKey: .tokenProb)
      isTargetLogit = try c.decodeIfPresent(Bool.self, forKey: .isTargetLogit)
      activation = try c.decodeIfPresent(Double.self, forKey: .activation)
      clerp = try c.decodeIfPresent(String.self, forKey: .clerp)
      labelGroup = try c.decodeIfPresent(String.self, forKey: .labelGroup)
    }

    /// Every field it has; `influence` and `activation` also when they are nil (as null), since
    /// circuit-tracer's `Node` requires both keys.
    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encodeIfPresent(nodeID, forKey: .nodeID)
      try c.encodeIfPresent(jsNodeID, forKey: .jsNodeID)
      try c.encodeIfPresent(featureType, forKey: .featureType)
      try c.encodeIfPresent(layer, forKey: .layer)
      try c.encodeIfPresent(feature, forKey: .feature)
      try c.encodeIfPresent(featureIndex, forKey: .featureIndex)
      try c.encodeIfPresent(tokenID, forKey: .tokenID)
      try c.encodeIfPresent(ctxIdx, forKey: .ctxIdx)
      try c.encode(influence, forKey: .influence)
      try c.encodeIfPresent(logitInfluence, forKey: .logitInfluence)
      try c.encodeIfPresent(runIdx, forKey: .runIdx)
      try c.encodeIfPresent(reverseCtxIdx, forKey: .reverseCtxIdx)
      try c.encodeIfPresent(tokenProb, forKey: .tokenProb)
      try c.encodeIfPresent(isTargetLogit, forKey: .isTargetLogit)
      try c.encode(activation, forKey: .activation)
      try c.encodeIfPresent(clerp, forKey: .clerp)
      try c.encodeIfPresent(labelGroup, forKey: .labelGroup)
    }
  }
}
