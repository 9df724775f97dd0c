/// An attribution graph ready to write: the full graph, what pruning kept, the scores of both,
/// and what the writers need to label nodes.
public struct AttributionReport {
  /// The graph before pruning (its feature nodes are the --max-feature-nodes visited ones).
  public let graph: AttributionGraph
  /// What pruning kept.
  public let pruning: PruningResult
  /// Scores of the graph before and after pruning.
  public let scores: GraphScores
  public let prunedScores: GraphScores
  /// Each source node's influence on the logits in the graph before pruning.
  public let influence: [Float]
  /// How the graph was built and pruned, and what it was built from (for the output's metadata).
  public let options: AttributionOptions
  public let prompt: String
  public let modelName: String
  /// sha256 of the model's weights, and the transcoder's features per layer: with the layer count,
  /// what identifies the model and CLT the graph was made with, for the tools that read it with a
  /// clt.h5.
  public let modelSHA256: String
  public let transcoderName: String
  public let transcoderFeatures: Int
  /// A token's text, for labels.
  public let tokenText: (Int32) -> String

  /// Prunes `graph` as `options` say and scores it before and after.
  public init(
    graph: AttributionGraph, options: AttributionOptions, prompt: String, modelName: String,
    modelSHA256: String, transcoderName: String, transcoderFeatures: Int,
    tokenText: @escaping (Int32) -> String
  ) {
    self.graph = graph
    pruning = graph.pruned(nodeThreshold: options.nodeThreshold, edgeThreshold: options.edgeThreshold)
    scores = graph.scores
    prunedScores = pruning.graph.scores
    influence = graph.nodeInfluence
    self.options = options
    self.prompt = prompt
    self.modelName = modelName
    self.modelSHA256 = modelSHA256
    self.transcoderName = transcoderName
    self.transcoderFeatures = transcoderFeatures
    self.tokenText = tokenText
  }

  var lastPosition: Int { graph.tokens.count - 1 }

  /// The kept nodes' indices, in graph order.
  var keptNodes: [Int] { graph.nodes.indices.filter { pruning.keptNodes[$0] } }

  /// The (layer, index) of every kept feature node, in graph order.
  public var keptFeatures: [(layer: Int, feature: Int)] { features(among: keptNodes) }

  /// The (layer, index) of the feature nodes among `nodes`, in their order.
  public func features(among nodes: [Int]) -> [(layer: Int, feature: Int)] {
    nodes.compactMap {
      if case .feature(let layer, _, let index, _) = graph.nodes[$0] { return (layer, index) }
      return nil
    }
  }

  /// The kept edges as (source node, target node, weight).
  var keptEdges: [(source: Int, target: Int, weight: Float)] {
    var edges: [(Int, Int, Float)] = []
    forEachKeptEdge { edges.append(($0, $1, $2)) }
    return edges
  }

  /// Calls `body(source node, target node, weight)` for every kept edge, target rows in order,
  /// without collecting them (a long prompt's graph keeps millions).
  func forEachKeptEdge(_ body: (Int, Int, Float) throws -> Void) rethrows {
    let g = pruning.graph
    for r in 0..<g.targetCount {
      let target = g.node(ofTarget: r)
      for j in 0..<g.sourceCount {
        let w = g.weight(row: r, source: j)
        if w != 0 { try body(j, target, w) }
      }
    }
  }

  /// How many edges pruning kept.
  var keptEdgeCount: Int { pruning.graph.adjacency.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }

  /// One line for stderr: sizes and scores.
  public var summary: String {
    func f(_ x: Double) -> String { String(format: "%.3f", x) }
    let kept = keptNodes
    let features = kept.filter { $0 < graph.featureCount }.count
    return "\(graph.activeFeatureCount) active features, \(graph.featureCount) attributed, \(features) kept; "
      + "\(keptEdgeCount) edges; completeness \(f(scores.completeness)), replacement \(f(scores.replacement)) "
      + "(pruned graph: \(f(prunedScores.completeness)), \(f(prunedScores.replacement))); pruned error nodes "
      + "carried \(f(pruning.prunedErrorInfluence)) of the errors' influence"
  }
}
