import Foundation

/// What a dashboard shows of one feature: its top-activating contexts, how often it fired, where
/// it appears in attribution graphs, and its logit effects. Plain values only: the tool computes
/// the logit effects with the model and hands them over as token texts and numbers.
public struct FeatureDashboard: Sendable {
  /// A token and the feature's direct effect on its logit, per unit of activation.
  public struct LogitEffect: Sendable, Equatable {
    public var token: String
    public var value: Double

    public init(token: String, value: Double) {
      self.token = token
      self.value = value
    }
  }

  public var key: FeatureKey
  /// Strongest first.
  public var contexts: [ActivationContext]
  /// On how many of the tokens read it was active.
  public var firingTokens: Int
  /// The fraction of training tokens it fired on (clt.h5's `frequency_{layer}`), when known.
  public var trainingFrequency: Double?
  /// Lines about where the feature came from (graph nodes), shown under its heading.
  public var notes: [String]
  /// Largest first; empty when no model was given.
  public var promoted: [LogitEffect]
  /// Most negative first; empty when no model was given.
  public var suppressed: [LogitEffect]
  /// The feature's short label (the CLT's feature index, or its logit effects), when known.
  public var label: String?

  public init(
    key: FeatureKey, contexts: [ActivationContext], firingTokens: Int, trainingFrequency: Double? = nil,
    notes: [String] = [], promoted: [LogitEffect] = [], suppressed: [LogitEffect] = []
  ) {
    self.key = key
    self.contexts = contexts
    self.firingTokens = firingTokens
    self.trainingFrequency = trainingFrequency
    self.notes = notes
    self.promoted = promoted
    self.suppressed = suppressed
  }

  /// The HTML id of the feature's section, e.g. `L3-F117`.
  public var anchor: String { "L\(key.layer)-F\(key.feature)" }

  /// The distinct features of the graphs' feature nodes, the most influential first (a feature's
  /// influence: its largest over its nodes), at most `top`, each with a note per node naming the
  /// graph, the position and the prompt's token there.
  /// - Parameter graphs: each graph with the name its notes use (a file name).
  public static func graphFeatures(_ graphs: [(name: String, graph: AttributionGraphFile)], top: Int)
    -> [(key: FeatureKey, notes: [String])]
  {
    var influence: [FeatureKey: Double] = [:]
    var notes: [FeatureKey: [String]] = [:]
    for (name, graph) in graphs {
      for node in graph.nodes where node.kind == .feature {
        guard let feature = node.featureIndex else { continue }
        let key = FeatureKey(layer: node.layer, feature: feature)
        influence[key] = max(influence[key] ?? -.infinity, node.influence)
        let token =
          node.position < graph.promptTokens.count ? " " + tokenLabel(graph.promptTokens[node.position]) : ""
        notes[key, default: []].append(
          "\(name) @\(node.position)\(token): influence \(Axis.trimmed(node.influence))")
      }
    }
    return influence.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top)
      .map { ($0.key, notes[$0.key] ?? []) }
  }
}
