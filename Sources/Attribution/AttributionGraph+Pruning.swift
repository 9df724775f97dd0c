/// The graph's faithfulness scores (Ameisen et al. 2025, §2.4 "Graph evaluation"; computed as
/// circuit-tracer does), both in [0, 1].
public struct GraphScores: Sendable, Equatable {
  /// Influence-weighted fraction of the nodes' inputs that come from features and embeddings
  /// rather than error nodes.
  public var completeness: Double
  /// Fraction of the end-to-end influence on the logits that starts at embeddings rather than
  /// ending at error nodes.
  public var replacement: Double
}

/// What pruning kept, and what it cost.
public struct PruningResult: Sendable {
  /// The graph with every pruned edge set to zero.
  public let graph: AttributionGraph
  /// Per node, whether it stays. Logits and embeddings always do; features need an incoming and an
  /// outgoing kept edge, error nodes an outgoing one.
  public let keptNodes: [Bool]
  /// The fraction of the error nodes' total influence on the logits that the pruned-away error
  /// nodes carried (error nodes are pruned like features, never silently: this says how much).
  public let prunedErrorInfluence: Double
}

extension AttributionGraph {
  /// Row r of a target stands for source column r when it is a feature; logits stand for none.
  var rowSources: [Int?] { (0..<featureCount).map { $0 } + [Int?](repeating: nil, count: logitCount) }
  var influenceSeed: [Float] { [Float](repeating: 0, count: featureCount) + logitWeights }

  /// Each target row's Σ|weights| and each source node's influence on the logits through the
  /// normalised |adjacency|.
  func influence(of adjacency: [Float]) -> (rowSums: [Float], influence: [Float]) {
    let influence = Influence.propagate(
      adjacency: adjacency, rows: targetCount, columns: sourceCount, recurrent: featureCount,
      rowSource: rowSources, seed: influenceSeed)
    return (Influence.rowAbsoluteSums(adjacency, rows: targetCount, columns: sourceCount), influence)
  }

  /// Each source node's influence on the logits (Σ_k w · Âᵏ); logits have none.
  public var nodeInfluence: [Float] { influence(of: adjacency).influence }

  /// Completeness and replacement scores of this graph.
  public var scores: GraphScores { Self.scores(self, adjacency: adjacency) }

  static func scores(_ g: AttributionGraph, adjacency: [Float]) -> GraphScores {
    let (rowSums, influence) = g.influence(of: adjacency)
    let tokenInfluence = g.embeddingNodes.reduce(0.0) { $0 + Double(influence[$1]) }
    let errorInfluence = g.errorNodes.reduce(0.0) { $0 + Double(influence[$1]) }
    let replacement =
      tokenInfluence + errorInfluence > 0 ? tokenInfluence / (tokenInfluence + errorInfluence) : 1
    // Completeness: every node's non-error input fraction (1 for nodes without inputs), weighted
    // by its influence (plus its logit weight).
    var weighted: Double = 0
    var total: Double = 0
    for node in 0..<(g.sourceCount + g.logitCount) {
      let output =
        node < g.sourceCount ? Double(influence[node]) : Double(g.logitWeights[node - g.sourceCount])
      let row =
        node < g.featureCount ? node : (node >= g.sourceCount ? g.featureCount + node - g.sourceCount : nil)
      var errorFraction: Double = 0
      if let row, rowSums[row] > 0 {
        for j in g.errorNodes { errorFraction += Double(abs(adjacency[row * g.sourceCount + j])) }
        errorFraction /= Double(rowSums[row])
      }
      weighted += (1 - errorFraction) * output
      total += output
    }
    return GraphScores(completeness: total > 0 ? weighted / total : 1, replacement: replacement)
  }

  /// Node pruning's first step: the features and error nodes ranked together by influence, and the
  /// fewest that hold `threshold` of their total kept (ties at the cut stay). Embeddings and logits
  /// are always kept.
  func nodeMask(influence: [Float], threshold: Double) -> [Bool] {
    let prunable = featureCount + errorCount
    let cut = Influence.cumulativeThreshold(Array(influence[0..<prunable]), fraction: threshold)
    return (0..<(sourceCount + logitCount)).map { node in
      node >= prunable || (influence[node] > 0 && influence[node] >= cut)
    }
  }

  /// Edge scores of the node-pruned graph, in place: `masked` holds the adjacency with the pruned
  /// nodes' edges zeroed and becomes |Â|(t, s) times the target's influence plus its logit weight,
  /// so an edge counts as much as the influence flowing through it.
  func scoreEdges(_ masked: inout [Float]) {
    let (rowSums, influence) = influence(of: masked)
    let s = sourceCount
    for r in 0..<targetCount {
      let weight = r < featureCount ? influence[r] : logitWeights[r - featureCount]
      let scale = rowSums[r] > 0 ? weight / rowSums[r] : 0
      for j in 0..<s { masked[r * s + j] = abs(masked[r * s + j]) * scale }
    }
  }

  /// Prunes as the paper does: nodes by cumulative influence up to `nodeThreshold`, then edges by
  /// cumulative edge score up to `edgeThreshold`, then, until nothing changes, features left without
  /// an incoming or an outgoing edge and error nodes left without an outgoing one.
  /// - Complexity: memory for one more copy of the adjacency (the scores, which become the pruned
  ///   adjacency) and the positive scores while the edge threshold is found.
  public func pruned(nodeThreshold: Double, edgeThreshold: Double) -> PruningResult {
    let influence = nodeInfluence
    var keep = nodeMask(influence: influence, threshold: nodeThreshold)
    let s = sourceCount
    var scores = adjacency
    for r in 0..<targetCount {
      for j in 0..<s where !keep[node(ofTarget: r)] || !keep[j] { scores[r * s + j] = 0 }
    }
    scoreEdges(&scores)
    let cut = Influence.cumulativeThreshold(scores, fraction: edgeThreshold)
    // From here on `scores` is the pruned adjacency: kept edges keep their weight, the rest are 0.
    for k in 0..<scores.count { scores[k] = scores[k] > 0 && scores[k] >= cut ? adjacency[k] : 0 }
    var changed = true
    while changed {
      changed = false
      var hasIn = [Bool](repeating: false, count: targetCount)
      var hasOut = [Bool](repeating: false, count: s)
      for r in 0..<targetCount {
        for j in 0..<s where scores[r * s + j] != 0 {
          if keep[node(ofTarget: r)] && keep[j] {
            hasIn[r] = true
            hasOut[j] = true
          } else {
            scores[r * s + j] = 0
          }
        }
      }
      for node in 0..<(featureCount + errorCount) where keep[node] {
        let stays = node < featureCount ? hasIn[node] && hasOut[node] : hasOut[node]
        if !stays {
          keep[node] = false
          changed = true
        }
      }
    }
    var graph = self
    graph.adjacency = scores
    let errorTotal = errorNodes.reduce(0.0) { $0 + Double(influence[$1]) }
    let dropped = errorNodes.reduce(0.0) { $0 + (keep[$1] ? 0 : Double(influence[$1])) }
    return PruningResult(
      graph: graph, keptNodes: keep, prunedErrorInfluence: errorTotal > 0 ? dropped / errorTotal : 0)
  }
}
