import FeatureIndex
import Foundation
import GraphFormat

/// Writes an attribution graph as an `AttributionGraphDocument` (circuit-tracer's graph-file
/// layout, documented in docs/FORMATS.md, "Attribution graph JSON"): fills in its metadata and
/// nodes and streams its links.
public enum GraphJSONWriter {
  /// The pruned graph of `report` as one JSON object (UTF-8).
  public static func write(
    _ report: AttributionReport, labels: FeatureLabels = .none
  ) throws -> Data {
    var data = Data()
    try write(report, labels: labels) { data.append($0) }
    return data
  }

  /// The same object streamed to `sink` in consecutive UTF-8 chunks of about a megabyte: the links
  /// are formatted one by one as pruning yields them, since a long prompt's graph keeps millions and
  /// a value per link would take gigabytes. A feature's `clerp` is its label from `labels`, where
  /// there is one.
  public static func write(
    _ report: AttributionReport, labels: FeatureLabels = .none,
    to sink: (Data) throws -> Void
  ) throws {
    let g = report.graph
    let last = report.lastPosition
    // Node ids are digits, letters, '_' and '-'; made once, shared by the nodes and the links.
    let ids = g.nodes.map { $0.id(nLayers: g.nLayers, lastPosition: last) }
    try AttributionGraphDocument.stream(
      metadata: metadata(report, labels: labels), nodes: nodes(report, ids: ids, labels: labels),
      qParams: AttributionGraphDocument.QueryParameters(), to: sink
    ) { emit in
      try report.forEachKeptEdge { source, target, weight in
        try emit(.init(source: ids[source], target: ids[target], weight: Double(weight)))
      }
    }
  }

  /// The document's `metadata`: the prompt, the model and transcoder, the options and the scores.
  static func metadata(_ report: AttributionReport, labels: FeatureLabels)
    -> AttributionGraphDocument.Metadata
  {
    let g = report.graph
    let options = report.options
    var m = AttributionGraphDocument.Metadata()
    m.schemaVersion = AttributionGraphDocument.schemaVersion
    m.slug = slug(report.prompt)
    m.scan = report.modelName
    m.modelSHA256 = report.modelSHA256
    m.transcoder = report.transcoderName
    m.transcoderFeatures = report.transcoderFeatures
    m.transcoderList = []
    m.generator = "clt-attrib"
    m.prompt = report.prompt
    m.promptTokens = g.tokens.map { report.tokenText($0) }
    m.promptTokenIDs = g.tokens.map(Int.init)
    m.nLayers = g.nLayers
    m.nodeThreshold = options.nodeThreshold
    m.edgeThreshold = options.edgeThreshold
    m.maxFeatureNodes = options.maxFeatureNodes
    m.activeFeatures = g.activeFeatureCount
    m.attributedFeatures = g.featureCount
    m.truncatedRows = g.truncatedRows
    m.rowFeatureBudget = options.rowFeatureBudget
    m.completenessScore = report.scores.completeness
    m.replacementScore = report.scores.replacement
    m.prunedCompletenessScore = report.prunedScores.completeness
    m.prunedReplacementScore = report.prunedScores.replacement
    m.prunedErrorInfluence = report.pruning.prunedErrorInfluence
    m.logitTargets = options.targets == nil ? "top" : "given"
    m.embeddingNodes = options.embeddingNodes.rawValue
    m.featureLabels = labels.source?.rawValue
    return m
  }

  /// The kept nodes, each with the fields circuit-tracer's node of its kind has and ours.
  static func nodes(
    _ report: AttributionReport, ids: [String], labels: FeatureLabels
  ) -> [AttributionGraphDocument.Node] {
    let g = report.graph
    let last = report.lastPosition
    // circuit-tracer marks the first logit node (the most likely target) as the target logit.
    let logitTokens = g.nodes.compactMap { node -> Int? in
      if case .logit(let t, _) = node { return t }
      return nil
    }
    let cumulative = cumulativeInfluence(report.influence)
    return report.keptNodes.map { node in
      let n = g.nodes[node]
      var object = AttributionGraphDocument.Node()
      object.nodeID = ids[node]
      object.jsNodeID = n.jsNodeID(lastPosition: last)
      object.influence = node < g.sourceCount ? cumulative[node] : nil
      object.logitInfluence = node < g.sourceCount ? Double(report.influence[node]) : 0
      object.runIdx = 0
      object.reverseCtxIdx = 0
      object.tokenProb = 0
      object.isTargetLogit = false
      switch n {
      case .feature(let layer, let position, let index, let activation):
        object.featureType = AttributionGraphDocument.Node.FeatureType.feature.rawValue
        object.layer = String(layer)
        object.feature = cantorPairing(layer, index)
        object.featureIndex = index
        object.ctxIdx = position
        object.activation = Double(activation)
        object.clerp = labels[layer, index]?.text ?? "L\(layer) #\(index)"
        object.labelGroup = labels[layer, index]?.group
      case .error(let layer, let position):
        object.featureType = AttributionGraphDocument.Node.FeatureType.error.rawValue
        object.layer = String(layer)
        object.feature = -1
        object.ctxIdx = position
        object.clerp = "error L\(layer) @\(position)"
      case .embedding(let position, let token):
        object.featureType = AttributionGraphDocument.Node.FeatureType.embedding.rawValue
        object.layer = "E"
        object.feature = position
        object.tokenID = Int(token)
        object.ctxIdx = position
        object.clerp = "Emb: \(report.tokenText(token))"
      case .logit(let token, let probability):
        object.featureType = AttributionGraphDocument.Node.FeatureType.logit.rawValue
        object.layer = String(g.nLayers + 1)
        object.feature = token
        object.ctxIdx = last
        object.tokenProb = Double(probability)
        object.isTargetLogit = logitTokens.first == token
        object.clerp =
          "Output \"\(report.tokenText(Int32(token)))\" (p=\(String(format: "%.3f", probability)))"
      }
      return object
    }
  }

  /// circuit-tracer's node influence as its graph files carry it (`prune_graph`'s
  /// `cumulative_scores`): nodes sorted by influence, largest first, each given the running sum of
  /// influence up to and including it over the total, so the most influential node has the smallest
  /// value and the frontend's pruning threshold keeps the nodes at or below it.
  static func cumulativeInfluence(_ influence: [Float]) -> [Double] {
    let total = influence.reduce(0.0) { $0 + Double($1) }
    var result = [Double](repeating: 0, count: influence.count)
    guard total > 0 else { return result }
    var running = 0.0
    for i in influence.indices.sorted(by: { influence[$0] > influence[$1] }) {
      running += Double(influence[i])
      result[i] = running / total
    }
    return result
  }

  /// The feature number circuit-tracer's frontend gives a CLT feature: the Cantor pairing of its
  /// layer and index, (l + i)(l + i + 1)/2 + i, unique over all layers.
  static func cantorPairing(_ layer: Int, _ index: Int) -> Int {
    (layer + index) * (layer + index + 1) / 2 + index
  }

  /// A file-name-safe slug of the prompt's first words.
  static func slug(_ prompt: String) -> String {
    let words = prompt.lowercased().split { !$0.isLetter && !$0.isNumber }.prefix(6)
    return words.isEmpty ? "prompt" : words.joined(separator: "-")
  }
}
