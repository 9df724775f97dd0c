import Foundation

/// Writes an attribution graph as Graphviz DOT: embeddings at the bottom, one rank per layer,
/// logits at the top; features as rounded boxes, errors as grey diamonds, embeddings and logits in
/// their own colours; edge width by |weight|, blue for positive and red for negative.
public enum DOTWriter {
  /// The pruned graph of `report` as a DOT document, drawing at most `maxEdges` of its edges (the
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

  /// A token as a label shows it: quoted, with spaces and control characters made visible.
  static func visible(_ text: String) -> String {
    var out = "'"
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\n": out += "⏎"
      case "\t": out += "⇥"
      case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "␀"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "'"
  }

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
