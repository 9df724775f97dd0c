import CLTFormat
import Foundation
import GraphFormat

/// An attribution graph as `clt-attrib --format json` writes it (docs/FORMATS.md, "Attribution graph
/// JSON"): the nodes and links the page and the importance chart draw. Read from the JSON alone, so
/// a graph made elsewhere in the same circuit-tracer layout reads too.
public struct AttributionGraphFile: Sendable {
  /// What a node stands for, from its `feature_type`.
  public enum Kind: String, Sendable {
    case feature, error, embedding, logit
  }

  public struct Node: Sendable {
    public var id: String
    public var kind: Kind
    /// 0…L−1 for features and errors; −1 for embeddings, L for logits.
    public var layer: Int
    /// The JSON's `feature`: for a feature node circuit-tracer's Cantor pairing of layer and index,
    /// the token id (embeddings, logits) or nil (errors).
    public var feature: Int?
    /// A feature node's index in its layer (as in clt.h5): `feature_index` where the graph has it
    /// (clt-attrib writes it), else the middle of the node id `{layer}_{index}_{pos}`; nil for
    /// other nodes.
    public var featureIndex: Int?
    public var position: Int
    public var activation: Double?
    public var influence: Double
    public var probability: Double
    public var label: String
    /// A feature's supernode group (`label_group`), or nil where the graph has none.
    public var group: String?
  }

  public struct Link: Sendable {
    public var source: Int
    public var target: Int
    public var weight: Double
  }

  public var nodes: [Node]
  public var links: [Link]
  public var promptTokens: [String]
  public var layers: Int
  public var prompt: String
  /// The scalar metadata worth showing (scores, thresholds), as text.
  public var facts: [(String, String)]
  /// The transcoder the graph was made with, as its metadata records it: the model (`scan`,
  /// `model_sha256`), `n_layers` and `transcoder_features`; graphs older than those fields, or made
  /// elsewhere, leave them nil.
  public var transcoder: TranscoderIdentity

  /// The most layers a graph may have: far beyond any model's, yet small enough that a damaged
  /// number cannot overflow or size the drawing.
  static let maximumLayers = 100_000
}

extension AttributionGraphFile {
  /// Reads the graph; errors name the file and the node or link that is wrong.
  public static func read(_ path: String) throws -> AttributionGraphFile {
    let data = try JSONLines.data(path)
    guard !data.isEmpty else { throw PlotError.emptyInput(file: path, what: "graph") }
    let document: AttributionGraphDocument
    do {
      document = try AttributionGraphDocument.decode(data)
    } catch let error as AttributionGraphDocumentError {
      throw PlotError.badDocument(file: path, reason: error.reason)
    }
    return try AttributionGraphFile(document, path: path)
  }

  /// The graph `document` holds, checked: every node of a known kind with a position and a layer,
  /// feature nodes with an index, ids unique, links between nodes.
  init(_ document: AttributionGraphDocument, path: String) throws {
    guard !document.nodes.isEmpty else { throw PlotError.emptyInput(file: path, what: "nodes") }
    let metadata = document.metadata
    let promptTokens = metadata.promptTokens ?? []
    let transcoder = TranscoderIdentity(
      model: metadata.scan, modelSHA256: metadata.modelSHA256, nLayers: metadata.nLayers,
      features: metadata.transcoderFeatures)
    var layers = metadata.nLayers ?? 0
    guard (0...Self.maximumLayers).contains(layers) else {
      throw PlotError.badDocument(
        file: path, reason: "metadata n_layers is \(layers), not between 0 and \(Self.maximumLayers)")
    }
    if layers == 0 {
      layers = (document.nodes.compactMap { $0.layer.flatMap { Int($0) } }.max() ?? -1) + 1
    }
    var nodes: [Node] = []
    var index: [String: Int] = [:]
    for (i, raw) in document.nodes.enumerated() {
      let node = try Self.node(raw, at: i, layers: layers, path: path)
      if node.kind != .logit && node.kind != .embedding { layers = max(layers, node.layer + 1) }
      guard index[node.id] == nil else {
        throw PlotError.badDocument(file: path, reason: "node id \(node.id) appears twice")
      }
      index[node.id] = i
      nodes.append(node)
    }
    for i in nodes.indices where nodes[i].kind == .logit { nodes[i].layer = layers }
    let links = try document.links.enumerated().map { i, raw -> Link in
      guard let s = index[raw.source], let t = index[raw.target] else {
        throw PlotError.badDocument(
          file: path, reason: "links[\(i)] joins \(raw.source) → \(raw.target), which is not among the nodes")
      }
      return Link(source: s, target: t, weight: raw.weight)
    }
    let facts: [(String, String?)] = [
      ("scan", metadata.scan), ("transcoder", metadata.transcoder),
      ("completeness_score", metadata.completenessScore.map(Axis.trimmed)),
      ("replacement_score", metadata.replacementScore.map(Axis.trimmed)),
      ("pruned_completeness_score", metadata.prunedCompletenessScore.map(Axis.trimmed)),
      ("pruned_replacement_score", metadata.prunedReplacementScore.map(Axis.trimmed)),
      ("node_threshold", metadata.nodeThreshold.map(Axis.trimmed)),
      ("edge_threshold", metadata.edgeThreshold.map(Axis.trimmed)),
      ("active_features", metadata.activeFeatures.map { Axis.trimmed(Double($0)) }),
      ("attributed_features", metadata.attributedFeatures.map { Axis.trimmed(Double($0)) }),
    ]
    self.init(
      nodes: nodes, links: links, promptTokens: promptTokens, layers: layers,
      prompt: metadata.prompt ?? promptTokens.joined(),
      facts: facts.compactMap { key, value in value.map { (key, $0) } }, transcoder: transcoder)
  }

  /// Node `i` of the file, checked; a logit's layer is set once the graph's layers are known.
  private static func node(
    _ raw: AttributionGraphDocument.Node, at i: Int, layers: Int, path: String
  ) throws -> Node {
    guard let id = raw.nodeID else {
      throw PlotError.badDocument(file: path, reason: "nodes[\(i)] has no string \"node_id\"")
    }
    guard let type = raw.featureType else {
      throw PlotError.badDocument(file: path, reason: "node \(id) has no string \"feature_type\"")
    }
    let kind: Kind
    switch AttributionGraphDocument.Node.FeatureType(rawValue: type) {
    case .feature: kind = .feature
    case .error: kind = .error
    case .embedding: kind = .embedding
    case .logit: kind = .logit
    case nil:
      throw PlotError.badDocument(file: path, reason: "node \(id) has an unknown feature_type \"\(type)\"")
    }
    guard let position = raw.ctxIdx, position >= 0 else {
      throw PlotError.badDocument(
        file: path, reason: "node \(id) has no non-negative whole number \"ctx_idx\"")
    }
    let layerText = raw.layer ?? ""
    var layer: Int
    switch kind {
    case .embedding: layer = -1
    case .logit: layer = layers
    default:
      guard let l = Int(layerText), (0..<maximumLayers).contains(l) else {
        throw PlotError.badDocument(
          file: path,
          reason: "node \(id) has no layer number between 0 and \(maximumLayers - 1) (\"\(layerText)\")")
      }
      layer = l
    }
    var featureIndex: Int?
    if kind == .feature {
      let parts = id.split(separator: "_")
      featureIndex = raw.featureIndex ?? (parts.count == 3 ? Int(parts[1]) : nil)
      guard let featureIndex, featureIndex >= 0 else {
        throw PlotError.badDocument(
          file: path,
          reason: "feature node \(id) has no non-negative \"feature_index\" and no id {layer}_{index}_{pos}")
      }
    }
    return Node(
      id: id, kind: kind, layer: layer, feature: raw.feature, featureIndex: featureIndex, position: position,
      activation: raw.activation, influence: raw.influence ?? 0, probability: raw.tokenProb ?? 0,
      label: raw.clerp ?? id, group: raw.labelGroup)
  }
}
