import CLTFormat
import Foundation

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

  /// Reads the graph; errors name the file and the node or link that is wrong.
  public static func read(_ path: String) throws -> AttributionGraphFile {
    let data = try JSONLines.data(path)
    guard !data.isEmpty else { throw PlotError.emptyInput(file: path, what: "graph") }
    let root: [String: Any]
    do {
      guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw PlotError.badDocument(
          file: path, reason: "not a JSON object; expected clt-attrib --format json")
      }
      root = object
    } catch let error as PlotError {
      throw error
    } catch {
      throw PlotError.badDocument(file: path, reason: "not valid JSON; expected clt-attrib --format json")
    }
    guard let rawNodes = root["nodes"] as? [[String: Any]] else {
      throw PlotError.badDocument(file: path, reason: "missing list \"nodes\"")
    }
    guard let rawLinks = root["links"] as? [[String: Any]] else {
      throw PlotError.badDocument(file: path, reason: "missing list \"links\"")
    }
    guard !rawNodes.isEmpty else { throw PlotError.emptyInput(file: path, what: "nodes") }
    let metadata = root["metadata"] as? [String: Any] ?? [:]
    let promptTokens = metadata["prompt_tokens"] as? [String] ?? []
    let transcoder = TranscoderIdentity(
      model: metadata["scan"] as? String, modelSHA256: metadata["model_sha256"] as? String,
      nLayers: integer(metadata["n_layers"]), features: integer(metadata["transcoder_features"]))
    var layers = integer(metadata["n_layers"]) ?? 0
    guard (0...maximumLayers).contains(layers) else {
      throw PlotError.badDocument(
        file: path, reason: "metadata n_layers is \(layers), not between 0 and \(maximumLayers)")
    }
    if layers == 0 {
      layers = (rawNodes.compactMap { Int($0["layer"] as? String ?? "") }.max() ?? -1) + 1
    }
    var nodes: [Node] = []
    var index: [String: Int] = [:]
    for (i, raw) in rawNodes.enumerated() {
      guard let id = raw["node_id"] as? String else {
        throw PlotError.badDocument(file: path, reason: "nodes[\(i)] has no string \"node_id\"")
      }
      guard let type = raw["feature_type"] as? String else {
        throw PlotError.badDocument(file: path, reason: "node \(id) has no string \"feature_type\"")
      }
      let kind: Kind
      switch type {
      case "cross layer transcoder": kind = .feature
      case "mlp reconstruction error": kind = .error
      case "embedding": kind = .embedding
      case "logit": kind = .logit
      default:
        throw PlotError.badDocument(file: path, reason: "node \(id) has an unknown feature_type \"\(type)\"")
      }
      guard let position = integer(raw["ctx_idx"]), position >= 0 else {
        throw PlotError.badDocument(
          file: path, reason: "node \(id) has no non-negative whole number \"ctx_idx\"")
      }
      let layerText = raw["layer"] as? String ?? (raw["layer"] as? NSNumber)?.stringValue ?? ""
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
      if kind != .logit && kind != .embedding { layers = max(layers, layer + 1) }
      var featureIndex: Int?
      if kind == .feature {
        let parts = id.split(separator: "_")
        featureIndex = integer(raw["feature_index"]) ?? (parts.count == 3 ? Int(parts[1]) : nil)
        guard let featureIndex, featureIndex >= 0 else {
          throw PlotError.badDocument(
            file: path,
            reason: "feature node \(id) has no non-negative \"feature_index\" and no id {layer}_{index}_{pos}"
          )
        }
      }
      guard index[id] == nil else {
        throw PlotError.badDocument(file: path, reason: "node id \(id) appears twice")
      }
      index[id] = i
      nodes.append(
        Node(
          id: id, kind: kind, layer: layer, feature: integer(raw["feature"]),
          featureIndex: featureIndex,
          position: position,
          activation: (raw["activation"] as? NSNumber)?.doubleValue,
          influence: (raw["influence"] as? NSNumber)?.doubleValue ?? 0,
          probability: (raw["token_prob"] as? NSNumber)?.doubleValue ?? 0,
          label: raw["clerp"] as? String ?? id))
    }
    for i in nodes.indices where nodes[i].kind == .logit { nodes[i].layer = layers }
    let links = try rawLinks.enumerated().map { i, raw -> Link in
      guard let source = raw["source"] as? String, let target = raw["target"] as? String,
        let weight = (raw["weight"] as? NSNumber)?.doubleValue
      else {
        throw PlotError.badDocument(
          file: path, reason: "links[\(i)] needs \"source\", \"target\" and \"weight\"")
      }
      guard let s = index[source], let t = index[target] else {
        throw PlotError.badDocument(
          file: path, reason: "links[\(i)] joins \(source) → \(target), which is not among the nodes")
      }
      return Link(source: s, target: t, weight: weight)
    }
    var facts: [(String, String)] = []
    for key in [
      "scan", "transcoder", "completeness_score", "replacement_score", "pruned_completeness_score",
      "pruned_replacement_score", "node_threshold", "edge_threshold", "active_features",
      "attributed_features",
    ] {
      if let value = metadata[key] as? NSNumber {
        facts.append((key, Axis.trimmed(value.doubleValue)))
      } else if let value = metadata[key] as? String {
        facts.append((key, value))
      }
    }
    return AttributionGraphFile(
      nodes: nodes, links: links, promptTokens: promptTokens, layers: layers,
      prompt: metadata["prompt"] as? String ?? promptTokens.joined(), facts: facts, transcoder: transcoder)
  }

  /// The most layers a graph may have: far beyond any model's, yet small enough that a damaged
  /// number cannot overflow or size the drawing.
  static let maximumLayers = 100_000

  /// A JSON number that is a whole number within `Int`, or nil (a fraction, a string, 1e300).
  private static func integer(_ value: Any?) -> Int? {
    guard let number = value as? NSNumber else { return nil }
    return Int(exactly: number.doubleValue)
  }
}
