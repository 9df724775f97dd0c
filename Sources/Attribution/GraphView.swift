import FeatureIndex

/// The part of an attribution graph a person reads at once (Ameisen et al. 2025 show a few dozen
/// nodes, not the hundreds pruning keeps): the most influential features and errors, features
/// grouped into supernodes, the prompt's tokens and the logits, and each node's strongest inputs.
///
/// The rules, which docs/FORMATS.md repeats:
/// - **Node budget.** The `maxNodes` feature and error nodes pruning kept with the largest
///   influence on the logits (`AttributionGraph.nodeInfluence`).
/// - **Supernodes.** Chosen features at one position with the same `FeatureLabel.group`, within
///   `supernodeSpan` layers of the lowest of them, become one node listing its members, placed at
///   that lowest layer (a wider span would pull a late feature far below its layer).
/// - **Errors.** Each chosen error node stays one node, at its layer and position, drawn small: on
///   a weak CLT they are most of the influence, and merging them across layers hid where it enters.
/// - **Edges.** A merged node's edge is the sum of its members' direct effects (edges between
///   members of one node are left out). Each node gets its `inputsPerNode` strongest inputs and
///   each source its strongest output, but never an edge below `minimumFraction` of the strongest
///   one drawn, which would be too thin to see.
/// - **Tokens.** Every position of the prompt at the bottom, in order (on a prompt longer than
///   `maxTokenColumns`, only the positions a chosen node or drawn edge touches); logits at the top.
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
  /// Feature and error nodes pruning kept, of which `maxNodes` were chosen.
  public var keptCount: Int

  /// The view of `report`'s pruned graph.
  /// - Parameters:
  ///   - label: a feature's label from its layer and index, or nil where there is none.
  public init(
    report: AttributionReport, maxNodes: Int = 40, inputsPerNode: Int = 3, minimumFraction: Float = 0.05,
    maxTokenColumns: Int = 40, supernodeSpan: Int = 4,
    label: (_ layer: Int, _ feature: Int) -> FeatureLabel? = { _, _ in nil }
  ) {
    let g = report.graph
    let kept = report.pruning.keptNodes
    let influence = report.influence
    keptCount = (0..<(g.featureCount + g.errorCount)).count(where: { kept[$0] })
    let chosen = Self.chosenNodes(report, maxNodes: maxNodes)

    // Merge the chosen features by (position, group), within the span; features come layer by layer.
    var nodes: [Node] = []
    var viewOf: [Int: Int] = [:]
    var groups: [String: Int] = [:]
    for n in chosen {
      var key: String? = nil
      var node: Node
      switch g.nodes[n] {
      case .feature(let layer, let position, let index, _):
        let l = label(layer, index)
        if let l { key = "f\(position)\u{1F}\(l.group)" }
        node = Node(kind: .feature, members: [n], position: position, layer: layer, influence: 0, label: l)
      case .error(let layer, let position):
        node = Node(kind: .error, members: [n], position: position, layer: layer, influence: 0, label: nil)
      default: continue
      }
      node.influence = influence[n]
      if let key, let existing = groups[key], node.layer - nodes[existing].layer <= supernodeSpan {
        nodes[existing].members.append(n)
        nodes[existing].influence += influence[n]
        if nodes[existing].kind == .feature { nodes[existing].kind = .supernode }
        viewOf[n] = existing
      } else {
        if let key { groups[key] = nodes.count }
        viewOf[n] = nodes.count
        nodes.append(node)
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
    var drawn = Set<[Int]>()
    var inputs = [Int](repeating: 0, count: nodes.count)
    var hasOutput = [Bool](repeating: false, count: nodes.count)
    for e in all where abs(e.weight) >= floor && inputs[e.target] < inputsPerNode {
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

  /// The `maxNodes` feature and error nodes pruning kept with the most influence on the logits
  /// (ties to the lower index), in graph order.
  public static func chosenNodes(_ report: AttributionReport, maxNodes: Int) -> [Int] {
    let g = report.graph
    let influence = report.influence
    let candidates = (0..<(g.featureCount + g.errorCount)).filter { report.pruning.keptNodes[$0] }
    return candidates.sorted { (influence[$0], $1) > (influence[$1], $0) }.prefix(maxNodes).sorted()
  }

  /// The (layer, index) of the features among `chosenNodes`, whose labels the view asks for.
  public static func chosenFeatures(_ report: AttributionReport, maxNodes: Int) -> [(
    layer: Int, feature: Int
  )] {
    report.features(among: chosenNodes(report, maxNodes: maxNodes))
  }

  /// How many of the graph's feature and error nodes the view shows (members of merged nodes
  /// counted one by one).
  public var shownCount: Int {
    nodes.reduce(0) { $0 + ([.feature, .supernode, .error].contains($1.kind) ? $1.members.count : 0) }
  }
}
