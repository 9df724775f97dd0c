import Foundation

/// Writes an attribution graph as JSON modelled on circuit-tracer's graph files (the format
/// Neuronpedia's graph viewer reads): `metadata`, `qParams`, `nodes`, `links`. The layout is
/// documented in docs/FORMATS.md ("Attribution graph JSON").
public enum GraphJSONWriter {
  /// The schema's version, `metadata.schema_version`.
  public static let schemaVersion = 1

  /// The pruned graph of `report` as one JSON object (UTF-8).
  public static func write(_ report: AttributionReport) throws -> Data {
    let g = report.graph
    let last = report.lastPosition
    let options = report.options
    let logitTokens = Set(
      g.nodes.compactMap { node -> Int? in
        if case .logit(let t, _) = node { return t }
        return nil
      })
    let metadata: [String: Any] = [
      "schema_version": schemaVersion,
      "slug": slug(report.prompt),
      "scan": report.modelName,
      "transcoder": report.transcoderName,
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
    let nodes = report.keptNodes.map { node -> [String: Any] in
      var object: [String: Any] = [
        "node_id": g.nodes[node].id(lastPosition: last),
        "influence": node < g.sourceCount ? Double(report.influence[node]) : 0,
      ]
      switch g.nodes[node] {
      case .feature(let layer, let position, let index, let activation):
        object.merge([
          "feature_type": "cross layer transcoder", "layer": String(layer), "feature": index,
          "ctx_idx": position, "activation": Double(activation), "token_prob": 0, "is_target_logit": false,
          "clerp": "L\(layer) #\(index)",
        ]) { $1 }
      case .error(let layer, let position):
        object.merge([
          "feature_type": "mlp reconstruction error", "layer": String(layer), "feature": NSNull(),
          "ctx_idx": position, "activation": NSNull(), "token_prob": 0, "is_target_logit": false,
          "clerp": "error L\(layer) @\(position)",
        ]) { $1 }
      case .embedding(let position, let token):
        object.merge([
          "feature_type": "embedding", "layer": "E", "feature": Int(token), "ctx_idx": position,
          "activation": NSNull(), "token_prob": 0, "is_target_logit": false,
          "clerp": "Emb: \(report.tokenText(token))",
        ]) { $1 }
      case .logit(let token, let probability):
        object.merge([
          "feature_type": "logit", "layer": String(g.nLayers), "feature": token, "ctx_idx": last,
          "activation": NSNull(), "token_prob": Double(probability),
          "is_target_logit": logitTokens.contains(token),
          "clerp": "Output \"\(report.tokenText(Int32(token)))\" (p=\(String(format: "%.3f", probability)))",
        ]) { $1 }
      }
      return object
    }
    let links = report.keptEdges.map { e -> [String: Any] in
      [
        "source": g.nodes[e.source].id(lastPosition: last),
        "target": g.nodes[e.target].id(lastPosition: last),
        "weight": Double(e.weight),
      ]
    }
    let root: [String: Any] = [
      "metadata": metadata,
      "qParams": ["pinnedIds": [String](), "supernodes": [[String]](), "linkType": "both"],
      "nodes": nodes,
      "links": links,
    ]
    return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
  }

  /// A file-name-safe slug of the prompt's first words.
  static func slug(_ prompt: String) -> String {
    let words = prompt.lowercased().split { !$0.isLetter && !$0.isNumber }.prefix(6)
    return words.isEmpty ? "prompt" : words.joined(separator: "-")
  }
}
