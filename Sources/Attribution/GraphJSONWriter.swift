import Foundation

/// Writes an attribution graph as JSON modelled on circuit-tracer's graph files (the format
/// Neuronpedia's graph viewer reads): `metadata`, `qParams`, `nodes`, `links`. The layout is
/// documented in docs/FORMATS.md ("Attribution graph JSON").
public enum GraphJSONWriter {
  /// The schema's version, `metadata.schema_version`.
  public static let schemaVersion = 1

  /// The pruned graph of `report` as one JSON object (UTF-8).
  public static func write(_ report: AttributionReport) throws -> Data {
    var data = Data()
    try write(report) { data.append($0) }
    return data
  }

  /// The same object streamed to `sink` in consecutive UTF-8 chunks of about a megabyte: the links
  /// are formatted one by one, since a long prompt's graph keeps millions and a dictionary per link
  /// for `JSONSerialization` would take gigabytes. Keys are in sorted order, as `.sortedKeys` writes them.
  public static func write(_ report: AttributionReport, to sink: (Data) throws -> Void) throws {
    let g = report.graph
    let last = report.lastPosition
    let options = report.options
    // circuit-tracer marks the first logit node (the most likely target) as the target logit.
    let logitTokens = g.nodes.compactMap { node -> Int? in
      if case .logit(let t, _) = node { return t }
      return nil
    }
    let metadata: [String: Any] = [
      "schema_version": schemaVersion,
      "slug": slug(report.prompt),
      "scan": report.modelName,
      "model_sha256": report.modelSHA256,
      "transcoder": report.transcoderName,
      "transcoder_features": report.transcoderFeatures,
      "transcoder_list": [String](),
      "generator": "clt-attrib",
      "prompt": report.prompt,
      "prompt_tokens": g.tokens.map { report.tokenText($0) },
      "prompt_token_ids": g.tokens.map(Int.init),
      "n_layers": g.nLayers,
      "node_threshold": options.nodeThreshold,
      "edge_threshold": options.edgeThreshold,
      "max_feature_nodes": options.maxFeatureNodes,
      "active_features": g.activeFeatureCount,
      "attributed_features": g.featureCount,
      "truncated_rows": g.truncatedRows,
      "row_feature_budget": options.rowFeatureBudget,
      "completeness_score": report.scores.completeness,
      "replacement_score": report.scores.replacement,
      "pruned_completeness_score": report.prunedScores.completeness,
      "pruned_replacement_score": report.prunedScores.replacement,
      "pruned_error_influence": report.pruning.prunedErrorInfluence,
      "logit_targets": options.targets == nil ? "top" : "given",
    ]
    let cumulative = cumulativeInfluence(report.influence)
    let nodes = report.keptNodes.map { node -> [String: Any] in
      let n = g.nodes[node]
      var object: [String: Any] = [
        "node_id": n.id(nLayers: g.nLayers, lastPosition: last),
        "jsNodeId": n.jsNodeID(lastPosition: last),
        "influence": node < g.sourceCount ? cumulative[node] as Any : NSNull() as Any,
        "logit_influence": node < g.sourceCount ? Double(report.influence[node]) : 0,
        "run_idx": 0, "reverse_ctx_idx": 0, "token_prob": 0, "is_target_logit": false,
        "activation": NSNull(),
      ]
      switch n {
      case .feature(let layer, let position, let index, let activation):
        object.merge([
          "feature_type": "cross layer transcoder", "layer": String(layer),
          "feature": cantorPairing(layer, index), "feature_index": index, "ctx_idx": position,
          "activation": Double(activation), "clerp": "L\(layer) #\(index)",
        ]) { $1 }
      case .error(let layer, let position):
        object.merge([
          "feature_type": "mlp reconstruction error", "layer": String(layer), "feature": -1,
          "ctx_idx": position, "clerp": "error L\(layer) @\(position)",
        ]) { $1 }
      case .embedding(let position, let token):
        object.merge([
          "feature_type": "embedding", "layer": "E", "feature": position, "token_id": Int(token),
          "ctx_idx": position, "clerp": "Emb: \(report.tokenText(token))",
        ]) { $1 }
      case .logit(let token, let probability):
        object.merge([
          "feature_type": "logit", "layer": String(g.nLayers + 1), "feature": token, "ctx_idx": last,
          "token_prob": Double(probability), "is_target_logit": logitTokens.first == token,
          "clerp": "Output \"\(report.tokenText(Int32(token)))\" (p=\(String(format: "%.3f", probability)))",
        ]) { $1 }
      }
      return object
    }
    let qParams: [String: Any] = [
      "pinnedIds": [String](), "supernodes": [[String]](), "linkType": "both", "clickedId": "", "sg_pos": "",
    ]
    func encoded(_ object: Any) throws -> Data {
      try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
    // Node ids are digits, letters, '_' and '-': nothing in them needs escaping.
    let ids = g.nodes.map { $0.id(nLayers: g.nLayers, lastPosition: last) }
    try sink(Data("{\"links\":[".utf8))
    var chunk = ""
    var first = true
    try report.forEachKeptEdge { source, target, weight in
      chunk +=
        (first ? "" : ",") + "{\"source\":\"\(ids[source])\",\"target\":\"\(ids[target])\",\"weight\":"
        + "\(Double(weight))}"
      first = false
      if chunk.utf8.count >= 1 << 20 {
        try sink(Data(chunk.utf8))
        chunk = ""
      }
    }
    try sink(Data((chunk + "],\"metadata\":").utf8))
    try sink(try encoded(metadata))
    try sink(Data(",\"nodes\":".utf8))
    try sink(try encoded(nodes))
    try sink(Data(",\"qParams\":".utf8))
    try sink(try encoded(qParams))
    try sink(Data("}".utf8))
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
