import Foundation

/// An interactive attribution-graph page: one self-contained HTML file (inline CSS and JS, no
/// network, nothing fetched) from `clt-attrib --format json`, usable on graphs of a few thousand
/// nodes and a few hundred thousand edges.
///
/// What it shows (the script is in `GraphPage+Script.swift`, the rules in docs/FORMATS.md):
/// - **A node budget.** The `defaultBudget` most influential feature and error nodes (smallest
///   cumulative `influence`), plus every embedding and logit; a slider shows more or fewer.
/// - **Supernodes.** Shown features at one position with the same `label_group` (clt-attrib writes
///   the group of each feature's label, the rule its DOT view merges by) are one node; a click
///   expands it into its members.
/// - **Edges on demand.** Only the hovered or pinned node's edges are drawn, on a canvas, from
///   per-node edge lists built once; a checkbox draws every edge between shown nodes.
/// - **Labels.** Each node carries its `clerp`, shortened; the side panel shows it whole.
/// - **Search, zoom and pan.** A feature id (`12_301`, `L12/F301`) or label text pins and reveals
///   its matches; the wheel zooms and a drag pans.
///
/// Layout: one row per layer, embeddings at the bottom and logits at the top (y), one column per
/// prompt position (x). The page reports on itself in `<div id="status">` (counts, errors caught by
/// `window.onerror` and `console.error`, timings), so a headless browser can check it; the URL's
/// hash (`#budget=…&search=…&hover=…`) sets its state, so a test or a shared link can too.
public struct GraphPage {
  public var graph: AttributionGraphFile
  public var source: String

  /// The feature and error nodes shown at first: about what a person reads at once (Ameisen et
  /// al. 2025 show a few dozen), the same as `clt-attrib`'s DOT view.
  public static let defaultBudget = 40

  public init(graph: AttributionGraphFile, source: String) {
    self.graph = graph
    self.source = source
  }

  /// The graph as the compact JSON the page's script reads: nodes as objects, links as three
  /// columns (sources, targets, weights), which parse several times faster than one array per link.
  func data() throws -> String {
    let nodes: [[String: Any]] = graph.nodes.map { n in
      [
        "id": n.id, "kind": n.kind.rawValue, "layer": n.layer, "pos": n.position,
        "feature": (n.featureIndex ?? n.feature).map { $0 as Any } ?? NSNull(),
        "act": n.activation.map { $0 as Any } ?? NSNull(),
        "influence": n.influence, "prob": n.probability, "label": n.label,
        "group": (n.kind == .feature ? n.group : nil).map { $0 as Any } ?? NSNull(),
      ]
    }
    let object: [String: Any] = [
      "nodes": nodes, "tokens": graph.promptTokens, "layers": graph.layers,
      "prompt": graph.prompt, "facts": graph.facts.map { [$0.0, $0.1] },
      "budget": Self.defaultBudget,
    ]
    var json = String(
      decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    // Weights as single precision (what attribution computes in) keep the file short.
    func number(_ w: Double) -> String {
      let single = Float(w)
      return single.isFinite ? single.description : w.description
    }
    let links =
      "\"links\":{\"source\":[" + graph.links.map { String($0.source) }.joined(separator: ",")
      + "],\"target\":[" + graph.links.map { String($0.target) }.joined(separator: ",")
      + "],\"weight\":[" + graph.links.map { number($0.weight) }.joined(separator: ",") + "]},"
    json.insert(contentsOf: links, at: json.index(after: json.startIndex))
    // Inside <script>, "</" could end the element early; JSON allows "<\/" for it.
    return json.replacingOccurrences(of: "</", with: "<\\/")
  }

  /// The page.
  public func html() throws -> String {
    let title = "Attribution graph: \(graph.prompt)"
    let counts = "\(graph.nodes.count) nodes, \(graph.links.count) edges"
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <title>\(SVGDocument.escape(title))</title>
      <script>\(Self.errorScript)</script>
      <style>\(Self.css)</style>
      </head>
      <body>
      <header><h1>\(SVGDocument.escape(title))</h1>
      <p>\(SVGDocument.escape(source)): <span id="counts" data-expected-nodes="\(graph.nodes.count)" data-expected-edges="\(graph.links.count)">\(counts)</span>.
      Rows: layers (embeddings at the bottom, logits at the top); columns: prompt positions.
      <span class="key feature">feature</span> <span class="key supernode">supernode</span> <span class="key error">error</span> <span class="key embedding">embedding</span> <span class="key logit">logit</span>;
      edges <span class="pos">blue: positive</span>, <span class="neg">red: negative</span>, width by |weight|.</p>
      <form id="controls" onsubmit="return false">
      <label>nodes <input id="budget" type="range" min="0" max="1" value="1"> <span id="budget-text"></span></label>
      <label>search <input id="search" type="search" placeholder="12_301, L12/F301 or label text" size="28"></label> <span id="search-text"></span>
      <label><input id="all-edges" type="checkbox"> all edges</label>
      <label><input id="grouping" type="checkbox" checked> supernodes</label>
      <button id="fit" type="button">fit</button>
      <span class="hint">hover a node for its edges, click to pin; click a supernode to expand it; wheel zooms, drag pans</span>
      </form></header>
      <main>
      <div id="viewport"><canvas id="edges"></canvas><div id="graph"></div></div>
      <aside id="panel"><h2>Details</h2><div id="details">Hover or click a node.</div><h3>Graph</h3><table id="facts"></table></aside>
      </main>
      <div id="status" data-nodes="-1" data-edges="-1" data-errors="0" data-expected-nodes="\(graph.nodes.count)">loading</div>
      <script type="application/json" id="graph-data">\(try data())</script>
      <script>\(Self.script)</script>
      </body>
      </html>

      """
  }
}
