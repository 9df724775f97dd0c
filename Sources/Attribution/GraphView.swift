import FeatureIndex

/// The part of an attribution graph a person reads at once (Ameisen et al. 2025 show a few dozen
/// nodes, not the hundreds pruning keeps): the most influential features and errors, features
/// grouped into supernodes, the prompt's tokens and the logits, and each node's strongest inputs.
///
/// The rules, which docs/FORMATS.md repeats:
/// - **Node budget.** Kept features and errors are taken in order of influence on the logits
///   (`AttributionGraph.nodeInfluence`) until `maxNodes` nodes are drawn; a member joining a node
///   already drawn costs nothing.
/// - **Supernodes.** A feature joins a drawn feature node of its position with the same
///   `FeatureLabel.group` whose layer (that of its first, most influential member) is within
///   `supernodeSpan` layers of its own.
/// - **Errors.** A position's error nodes are one node at the layer of the most influential of
///   them: on a weak CLT errors carry much of the influence, and one per layer would crowd the
///   features out.
/// - **Edges.** A merged node's edge is the sum of its members' direct effects (edges inside a node
///   are left out). Each node gets its `inputsPerNode` strongest inputs of at least a tenth of its
///   strongest, and each source its strongest output; none below `minimumFraction` of the strongest
///   edge. The floors are mostly per node: an embedding's edges into layer 0 can be a hundred times
///   any edge higher up, and a floor relative to them alone left the upper layers without edges.
/// - **Tokens.** Every position of the prompt at the bottom, in order (on a prompt longer than
///   `maxTokenColumns`, only the positions a drawn node or edge touches); logits at the top.
public struct GraphView: Sendable {
  public enum Kind: Sendable, Equatable {
    case feature, supernode, error, embedding, logit
  }

  public struct Node: Sendable {
    public var kind: Kind
    /// The graph's node indices this node stands for (one, but for supernodes and errors).
    public var members: [Int]
    public var position: Int
    /// The layer it is drawn at: -1 for embeddings, the model's layer count for logits.
    public var layer: Int
    /// The sum of its members' influence on the logits.
    public var influence: Float
    /// For features and supernodes, the (first) member's label.
    public var label: FeatureLabel?
  }

  public struct Edge: Sendable, Equatable {
    /// Indices into `nodes`.
    public var source: Int
    public var target: Int
    public var weight: Float
  }

  public var nodes: [Node]
  public var edges: [Edge]
  /// Feature and error nodes pruning kept, of which `shownCount` are drawn.
  public var keptCount: Int

  /// The view of `report`'s pruned graph.
  /// - Parameters:
  ///   - label: a feature's label from its layer and index, or nil where there is none.
  public init(
    report: AttributionReport, maxNodes: Int = 40, inputsPerNode: Int = 2, minimumFraction: Float = 0.001,
    maxTokenColumns: Int = 40, supernodeSpan: Int = 4,
    label: (_ layer: Int, _ feature: Int) -> FeatureLabel? = { _, _ in nil }
  ) {
    let g = report.graph
    let kept = report.pruning.keptNodes
    let influence = report.influence
    keptCount = (0..<(g.featureCount + g.errorCount)).count(where: { kept[$0] })
    let labelled = Set(Self.labelCandidates(report, maxNodes: maxNodes).map { [$0.layer, $0.feature] })

    var nodes: [Node] = []
    var viewOf: [Int: Int] = [:]
    var featureNodes: [String: [Int]] = [:]  // "position group" → view nodes
    var errorNode: [Int: Int] = [:]  // position → view node
    func join(_ n: Int, _ v: Int) {
      nodes[v].members.append(n)
      nodes[v].influence += influence[n]
      if nodes[v].kind == .feature { nodes[v].kind = .supernode }
      viewOf[n] = v
    }
    func add(_ node: Node, _ n: Int) -> Int {
      viewOf[n] = nodes.count
      nodes.append(node)
      return nodes.count - 1
    }
    for n in Self.rankedCandidates(report) where nodes.count < maxNodes {
      switch g.nodes[n] {
      case .feature(let layer, let position, let index, _):
        guard labelled.contains([layer, index]) else { continue }
        let l = label(layer, index)
        let key = l.map { "\(position) \($0.group)" }
        if let key, let v = featureNodes[key]?.first(where: { abs(nodes[$0].layer - layer) <= supernodeSpan })
        {
          join(n, v)
        } else {
          let v = add(
            Node(
              kind: .feature, members: [n], position: position, layer: layer, influence: influence[n],
              label: l), n)
          if let key { featureNodes[key, default: []].append(v) }
        }
      case .error(let layer, let position):
        if let v = errorNode[position] {
          join(n, v)
        } else {
          errorNode[position] = add(
            Node(kind: .error, members: [n], position: position, layer: layer, influence: influence[n]), n)
        }
      default: continue
      }
    }
    let chosenCount = nodes.count
    for n in g.logitNodes where kept[n] {
      viewOf[n] = nodes.count
      nodes.append(
        Node(kind: .logit, members: [n], position: g.tokens.count - 1, layer: g.nLayers, influence: 0))
    }
    for n in g.embeddingNodes {
      guard case .embedding(let position, _) = g.nodes[n] else { continue }
      viewOf[n] = nodes.count
      nodes.append(
        Node(kind: .embedding, members: [n], position: position, layer: -1, influence: influence[n]))
    }

    // Every edge between view nodes, members summed.
    // Only the view's target rows are read, so a long prompt's graph costs (view nodes × sources).
    var sourceView = [Int](repeating: -1, count: g.sourceCount)
    for (n, v) in viewOf where n < g.sourceCount { sourceView[n] = v }
    var sums: [Int: [Int: Float]] = [:]  // target → source → weight
    for (n, target) in viewOf {
      let r = n < g.featureCount ? n : n - g.sourceCount + g.featureCount
      guard n < g.featureCount || g.logitNodes.contains(n) else { continue }
      for s in 0..<g.sourceCount where sourceView[s] >= 0 && sourceView[s] != target {
        let w = g.weight(row: r, source: s)
        if w != 0 { sums[target, default: [:]][sourceView[s], default: 0] += w }
      }
    }
    let all = sums.flatMap { target, row in row.map { Edge(source: $0.key, target: target, weight: $0.value) }
    }
    .sorted { (abs($0.weight), $1.source, $1.target) > (abs($1.weight), $0.source, $0.target) }
    let floor = (all.first.map { abs($0.weight) } ?? 0) * minimumFraction
    var strongestInput = [Float](repeating: 0, count: nodes.count)
    for e in all { strongestInput[e.target] = max(strongestInput[e.target], abs(e.weight)) }
    var drawn = Set<[Int]>()
    var inputs = [Int](repeating: 0, count: nodes.count)
    var hasOutput = [Bool](repeating: false, count: nodes.count)
    for e in all
    where abs(e.weight) >= max(floor, strongestInput[e.target] / 10) && inputs[e.target] < inputsPerNode {
      inputs[e.target] += 1
      hasOutput[e.source] = true
      drawn.insert([e.source, e.target])
    }
    for e in all where abs(e.weight) >= floor && !hasOutput[e.source] && nodes[e.source].kind != .embedding {
      hasOutput[e.source] = true
      drawn.insert([e.source, e.target])
    }
    var edges = all.filter { drawn.contains([$0.source, $0.target]) }

    // Tokens: all of a short prompt, else those in use.
    if g.tokens.count > maxTokenColumns {
      var used = Set(nodes[..<chosenCount].map(\.position))
      used.insert(g.tokens.count - 1)
      for e in edges { used.insert(nodes[e.source].position) }
      let keep = nodes.indices.filter { nodes[$0].kind != .embedding || used.contains(nodes[$0].position) }
      var renumber = [Int](repeating: -1, count: nodes.count)
      for (new, old) in keep.enumerated() { renumber[old] = new }
      nodes = keep.map { nodes[$0] }
      edges = edges.map { Edge(source: renumber[$0.source], target: renumber[$0.target], weight: $0.weight) }
    }
    self.nodes = nodes
    self.edges = edges.sorted { ($0.target, $0.source) < ($1.target, $1.source) }
  }

  /// The feature and error nodes pruning kept, most influential on the logits first (ties to the
  /// lower index): the order the view takes them in.
  static func rankedCandidates(_ report: AttributionReport) -> [Int] {
    let influence = report.influence
    return (0..<(report.graph.featureCount + report.graph.errorCount)).filter { report.pruning.keptNodes[$0] }
      .sorted { (influence[$0], $1) > (influence[$1], $0) }
  }

  /// The features a view of `maxNodes` nodes may draw, whose labels it asks for: the 4 × `maxNodes`
  /// most influential kept ones (supernodes let more than `maxNodes` in; a view never reaches
  /// further down).
  public static func labelCandidates(_ report: AttributionReport, maxNodes: Int) -> [(
    layer: Int, feature: Int
  )] {
    Array(report.features(among: rankedCandidates(report)).prefix(4 * maxNodes))
  }

  /// How many of the graph's feature and error nodes the view shows (members of merged nodes
  /// counted one by one).
  public var shownCount: Int {
    nodes.reduce(0) { $0 + ([.feature, .supernode, .error].contains($1.kind) ? $1.members.count : 0) }
  }
}
