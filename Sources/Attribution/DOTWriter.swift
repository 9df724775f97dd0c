import FeatureIndex
import Foundation

/// Writes an attribution graph as Graphviz DOT: embeddings at the bottom, one rank per layer,
/// logits at the top; features as rounded boxes, errors as grey diamonds, embeddings and logits in
/// their own colours; edge width by |weight|, blue for positive and red for negative.
public enum DOTWriter {
  /// The legible picture (`GraphView`): layers as ranks from the prompt's tokens at the bottom to
  /// the logits at the top, positions as columns in prompt order, a column of layer names at the
  /// left, and only the view's edges: those up the layers weightless (dot routes them between the
  /// ranks without pulling nodes out of their columns), any other unconstrained, so that a merged
  /// node's edge pointing level or down cannot reorder the ranks.
  public static func write(_ report: AttributionReport, view: GraphView) -> String {
    let g = report.graph
    let name = { (v: Int) in "n\(v)" }
    let layers = Set(view.nodes.lazy.filter { $0.kind != .embedding && $0.kind != .logit }.map(\.layer))
      .sorted()
    let rankKeys = [-1] + layers + [g.nLayers]
    func rankName(_ layer: Int) -> String {
      layer < 0 ? "tokens" : layer == g.nLayers ? "logits" : "L\(layer)"
    }
    let shown = view.shownCount
    let header =
      "\(report.modelName): \(quotedPrompt(report.prompt))\ncompleteness "
      + "\(String(format: "%.2f", report.scores.completeness)), replacement "
      + "\(String(format: "%.2f", report.scores.replacement)); the \(shown) most influential of "
      + "\(view.keptCount) kept features and errors in \(view.nodes.count(where: { [.feature, .supernode, .error].contains($0.kind) })) nodes, "
      + "\(view.edges.count) strongest edges"
    var lines = [
      "digraph attribution {",
      "  graph [rankdir=BT, newrank=true, ranksep=0.3, nodesep=0.18, fontname=\"Helvetica\", fontsize=13, "
        + "labelloc=t, label=\(quote(header))];",
      "  node [fontname=\"Helvetica\", fontsize=10, style=\"filled\", penwidth=0.6, margin=\"0.06,0.03\"];",
      "  edge [arrowsize=0.5];",
    ]
    var members: [Int: [Int]] = [:]
    for (v, node) in view.nodes.enumerated() {
      lines.append("  \(name(v)) [\(attributes(node, report: report))];")
      members[node.layer, default: []].append(v)
    }
    // The layer names down the left, chained bottom to top; they fix the ranks.
    lines.append("  node [shape=plaintext, style=\"\", fontsize=10, fontcolor=\"#777777\"];")
    for key in rankKeys { lines.append("  r\(key + 1) [label=\(quote(rankName(key)))];") }
    for key in rankKeys {
      let row = (members[key] ?? []).sorted {
        let (a, b) = (view.nodes[$0], view.nodes[$1])
        return (a.position, -a.influence) < (b.position, -b.influence)
      }
      let chain = ["r\(key + 1)"] + row.map(name)
      lines.append("  { rank=same; \(chain.joined(separator: "; ")); }")
      // Left to right in prompt order: flat invisible edges order a rank.
      if chain.count > 1 { lines.append("  \(chain.joined(separator: " -> ")) [style=invis];") }
    }
    // Columns: each position's nodes chained upwards from its token by heavy invisible edges, rank
    // to rank, which dot keeps straight; the layer names are one such column at the left.
    var column: [Int: [Int: [Int]]] = [:]  // position → rank → nodes
    for (v, node) in view.nodes.enumerated() {
      column[node.position, default: [:]][node.layer, default: []].append(v)
    }
    for ranks in column.values {
      let keys = ranks.keys.sorted()
      for (below, above) in zip(keys, keys.dropFirst()) {
        for v in ranks[above]! {
          lines.append("  \(name(ranks[below]![0])) -> \(name(v)) [style=invis, weight=100];")
        }
      }
    }
    lines.append(
      "  " + rankKeys.map { "r\($0 + 1)" }.joined(separator: " -> ") + " [style=invis, weight=100];")
    let largest = view.edges.map { abs($0.weight) }.max() ?? 1
    for e in view.edges {
      let width = 0.8 + 4.2 * Double(abs(e.weight) / max(largest, 1e-30))
      let colour = e.weight > 0 ? "#1f66c2" : "#d23b2f"
      // An edge up the layers is laid out like the column chains (dot routes it between the ranks);
      // one that a merged node sends level or down must not reorder the ranks.
      let upwards = view.nodes[e.source].layer < view.nodes[e.target].layer
      lines.append(
        "  \(name(e.source)) -> \(name(e.target)) [\(upwards ? "weight=0" : "constraint=false"), "
          + "penwidth=\(String(format: "%.2f", width)), "
          + "color=\"\(colour)\", tooltip=\(quote(String(format: "%.4g", e.weight)))];")
    }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }

  /// A view node's DOT attributes: its shape, colour and label.
  static func attributes(_ node: GraphView.Node, report: AttributionReport) -> String {
    let g = report.graph
    func feature(_ n: Int) -> (layer: Int, index: Int, activation: Float) {
      guard case .feature(let layer, _, let index, let activation) = g.nodes[n] else { return (0, 0, 0) }
      return (layer, index, activation)
    }
    func labelLine(_ label: FeatureLabel?) -> String { label.map { "\n" + shortened($0.text, to: 28) } ?? "" }
    switch node.kind {
    case .feature:
      let f = feature(node.members[0])
      let text = "L\(f.layer)/F\(f.index)" + labelLine(node.label)
      return "shape=box, style=\"rounded,filled\", fillcolor=\"#dbe8f7\", label=\(quote(text)), "
        + "tooltip=\(quote("activation \(String(format: "%.3g", f.activation))"))"
    case .supernode:
      let fs = node.members.map(feature)
      // The first six members (the most influential), three to a line; the tooltip lists them all.
      let ids = fs.map { "\($0.layer)/\($0.index)" }
      var rows: [String] = []
      for start in stride(from: 0, to: min(ids.count, 6), by: 3) {
        rows.append(ids[start..<min(start + 3, ids.count)].joined(separator: " "))
      }
      if ids.count > 6 { rows.append("+\(ids.count - 6) more") }
      let layers = fs.map(\.layer)
      let span = layers.min() == layers.max() ? "L\(layers[0])" : "L\(layers.min()!)–\(layers.max()!)"
      let text = "\(span) ×\(fs.count)" + labelLine(node.label) + "\n" + rows.joined(separator: "\n")
      return "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#c4d9f2\", label=\(quote(text)), "
        + "tooltip=\(quote(ids.joined(separator: " ")))"
    case .error:
      let layers = node.members.compactMap { n -> Int? in
        if case .error(let layer, _) = g.nodes[n] { return layer }
        return nil
      }
      let span = layers.min() == layers.max() ? "L\(layers[0])" : "L\(layers.min()!)–\(layers.max()!)"
      let text = layers.count > 1 ? "error ×\(layers.count)\n\(span)" : "error"
      return "shape=box, fillcolor=\"#e6e6e6\", fontsize=8, fontcolor=\"#555555\", label=\(quote(text))"
    case .embedding:
      let text = visible(report.tokenText(g.tokens[node.position]))
      return
        "shape=box, fillcolor=\"#e3f2d9\", label=\(quote(text)), tooltip=\(quote("position \(node.position)"))"
    case .logit:
      guard case .logit(let t, let probability) = g.nodes[node.members[0]] else { return "" }
      let text = "\(visible(report.tokenText(Int32(t))))\np=\(String(format: "%.3f", probability))"
      return "shape=box, fillcolor=\"#fbe6b8\", label=\(quote(text))"
    }
  }

  /// The prompt for a title: quoted, on one line, its middle elided past 60 characters.
  static func quotedPrompt(_ prompt: String) -> String {
    let flat = prompt.split(whereSeparator: \.isNewline).joined(separator: " ")
    guard flat.count > 60 else { return "“\(flat)”" }
    return "“\(flat.prefix(40))…\(flat.suffix(17))”"
  }

  /// `text` cut to `count` characters, with an ellipsis where it was cut.
  static func shortened(_ text: String, to count: Int) -> String {
    text.count <= count ? text : String(text.prefix(count - 1)) + "…"
  }

  /// The whole pruned graph of `report` (`clt-attrib --dot-all`) as a DOT document, drawing at most `maxEdges` of its edges (the
  /// largest by |weight|; 0 draws all).
  ///
  /// Pruning at the paper's thresholds can keep a hundred thousand edges on a long prompt, which
  /// Graphviz takes hours to lay out and nobody can read; the JSON output keeps them all. When edges
  /// are dropped, so are the feature, error and embedding nodes left without a drawn edge (logits
  /// always stay), and the title says how many edges are drawn.
  public static func write(_ report: AttributionReport, maxEdges: Int = 0) -> String {
    let g = report.graph
    let last = report.lastPosition
    let allEdges = report.keptEdges
    let edges = strongest(allEdges, count: maxEdges)
    var kept = report.keptNodes
    var label = title(report)
    if edges.count < allEdges.count {
      var touched = Set<Int>()
      for e in edges { touched.formUnion([e.source, e.target]) }
      kept = kept.filter { node in
        if case .logit = g.nodes[node] { return true }
        return touched.contains(node)
      }
      label += "; strongest \(edges.count) of \(allEdges.count) edges"
    }
    var lines = [
      "digraph attribution {",
      // size: large graphs are scaled to fit rather than overflowing Graphviz's bitmap limit.
      "  graph [rankdir=BT, ranksep=0.5, nodesep=0.15, size=\"80,80\", fontname=\"Helvetica\", labelloc=t, "
        + "label=\(quote(label))];",
      "  node [fontname=\"Helvetica\", fontsize=10, style=\"filled\", penwidth=0.8];",
      "  edge [arrowsize=0.5];",
    ]
    var ranks: [Int: [String]] = [:]  // 0 embeddings, l + 1 layer l, L + 1 logits
    for node in kept {
      let id = quote(g.nodes[node].id(nLayers: g.nLayers, lastPosition: last))
      let (rank, attributes) = style(g.nodes[node], report: report)
      ranks[rank, default: []].append(id)
      lines.append("  \(id) [\(attributes)];")
    }
    // An invisible chain of one anchor per rank keeps the layers in order even where no edge
    // joins two of them (e.g. error nodes that only feed logits).
    let top = g.nLayers + 1
    lines.append("  node [style=invis, label=\"\", width=0, height=0, fixedsize=true];")
    lines.append("  " + (0...top).map { "\"rank_\($0)\"" }.joined(separator: " -> ") + " [style=invis];")
    for rank in 0...top {
      let members = ["\"rank_\(rank)\""] + (ranks[rank] ?? [])
      lines.append("  { rank=same; \(members.joined(separator: "; ")); }")
    }
    let largest = edges.map { abs($0.weight) }.max() ?? 1
    for e in edges {
      let width = 0.4 + 4 * Double(abs(e.weight) / max(largest, 1e-30))
      let colour = e.weight > 0 ? "#1f66c2" : "#d23b2f"
      lines.append(
        "  \(quote(g.nodes[e.source].id(nLayers: g.nLayers, lastPosition: last))) -> \(quote(g.nodes[e.target].id(nLayers: g.nLayers, lastPosition: last))) "
          + "[penwidth=\(String(format: "%.2f", width)), color=\"\(colour)\", "
          + "tooltip=\(quote(String(format: "%.4g", e.weight)))];")
    }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }

  /// The `count` edges of largest |weight| in their original order, or all of them when `count` is 0
  /// or covers them.
  static func strongest(
    _ edges: [(source: Int, target: Int, weight: Float)], count: Int
  ) -> [(source: Int, target: Int, weight: Float)] {
    guard count > 0 && count < edges.count else { return edges }
    let order = edges.indices.sorted { abs(edges[$0].weight) > abs(edges[$1].weight) }
    return order.prefix(count).sorted().map { edges[$0] }
  }

  static func title(_ report: AttributionReport) -> String {
    let s = report.scores
    return "\(report.modelName): completeness \(String(format: "%.2f", s.completeness)), "
      + "replacement \(String(format: "%.2f", s.replacement))"
  }

  /// The node's rank and DOT attributes.
  static func style(_ node: AttributionNode, report: AttributionReport) -> (Int, String) {
    let tokens = report.graph.tokens
    func token(_ position: Int) -> String { visible(report.tokenText(tokens[position])) }
    switch node {
    case .feature(let layer, let position, let index, let activation):
      let label =
        "L\(layer) #\(index)\n\(token(position)) @\(position)\na=\(String(format: "%.3g", activation))"
      return (layer + 1, "shape=box, style=\"rounded,filled\", fillcolor=\"#dbe8f7\", label=\(quote(label))")
    case .error(let layer, let position):
      let label = "err L\(layer)\n\(token(position)) @\(position)"
      return (layer + 1, "shape=diamond, fillcolor=\"#d9d9d9\", fontsize=8, label=\(quote(label))")
    case .embedding(let position, _):
      return (0, "shape=box, fillcolor=\"#e3f2d9\", label=\(quote("\(token(position))\n@\(position)"))")
    case .logit(let t, let probability):
      let label = "\(visible(report.tokenText(Int32(t))))\np=\(String(format: "%.3f", probability))"
      return (report.graph.nLayers + 1, "shape=box, fillcolor=\"#fbe6b8\", label=\(quote(label))")
    }
  }

  /// A token as a label shows it: quoted, so that its spaces show, with control characters made
  /// visible.
  static func visible(_ text: String) -> String { "'" + FeatureLabel.visible(text) + "'" }

  /// A DOT double-quoted string: backslashes and quotes escaped, newlines as \n (a centred line break).
  static func quote(_ text: String) -> String {
    var out = "\""
    for ch in text {
      switch ch {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.append(ch)
      }
    }
    return out + "\""
  }
}
