import Foundation

/// An interactive attribution-graph page: one self-contained HTML file (inline CSS and JS, no
/// network, nothing fetched) from `clt-attrib --format json`.
///
/// Layout: one row per layer, embeddings at the bottom and logits at the top (y), one column per
/// prompt position (x); nodes sharing a row and a column sit side by side. Embeddings are green
/// squares, features blue circles, errors grey diamonds, logits amber squares. Edges are drawn on
/// a canvas under the nodes: blue positive, red negative, width and opacity by |weight| relative to
/// the largest. Hovering a node highlights its edges and fills the side panel with its details and
/// its strongest incoming and outgoing edges; a click pins it.
///
/// The page reports on itself: after layout a script writes `<div id="status" data-nodes=N
/// data-edges=M data-errors=E>`, counting the node elements actually in the DOM and the errors
/// caught by `window.onerror` (and `console.error`), so a headless browser can check it.
public struct GraphPage {
  public var graph: AttributionGraphFile
  public var source: String

  public init(graph: AttributionGraphFile, source: String) {
    self.graph = graph
    self.source = source
  }

  /// The graph as the compact JSON the page's script reads.
  func data() throws -> String {
    let nodes: [[String: Any]] = graph.nodes.map { n in
      [
        "id": n.id, "kind": n.kind.rawValue, "layer": n.layer, "pos": n.position,
        "feature": (n.featureIndex ?? n.feature).map { $0 as Any } ?? NSNull(),
        "act": n.activation.map { $0 as Any } ?? NSNull(),
        "influence": n.influence, "prob": n.probability, "label": n.label,
      ]
    }
    let links: [[Any]] = graph.links.map { [$0.source, $0.target, $0.weight] }
    let object: [String: Any] = [
      "nodes": nodes, "links": links, "tokens": graph.promptTokens, "layers": graph.layers,
      "prompt": graph.prompt, "facts": graph.facts.map { [$0.0, $0.1] },
    ]
    let json = String(
      decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
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
      <script>
      window.graphErrors = [];
      window.onerror = function (message, file, line) { window.graphErrors.push(String(message) + " (line " + line + ")"); report(); };
      (function () { var original = console.error; console.error = function () { window.graphErrors.push(Array.prototype.join.call(arguments, " ")); report(); if (original) original.apply(console, arguments); }; })();
      function report() {
        var s = document.getElementById("status");
        if (!s) return;
        s.setAttribute("data-errors", String(window.graphErrors.length));
        s.setAttribute("data-nodes", String(document.querySelectorAll("#graph .node").length));
        s.textContent = s.getAttribute("data-nodes") + " nodes drawn, " + window.graphErrors.length + " errors";
      }
      </script>
      <style>\(Self.css)</style>
      </head>
      <body>
      <header><h1>\(SVGDocument.escape(title))</h1>
      <p>\(SVGDocument.escape(source)): <span id="counts" data-expected-nodes="\(graph.nodes.count)" data-expected-edges="\(graph.links.count)">\(counts)</span>.
      Rows: layers (embeddings at the bottom, logits at the top); columns: prompt positions.
      <span class="key feature">feature</span> <span class="key error">error</span> <span class="key embedding">embedding</span> <span class="key logit">logit</span>;
      edges <span class="pos">blue: positive</span>, <span class="neg">red: negative</span>, width by |weight|. Hover a node for its details, click to pin.</p></header>
      <main>
      <div id="scroll"><div id="graph"><canvas id="edges"></canvas></div></div>
      <aside id="panel"><h2>Details</h2><div id="details">Hover or click a node.</div><h3>Graph</h3><table id="facts"></table></aside>
      </main>
      <div id="status" data-nodes="-1" data-edges="-1" data-errors="0" data-expected-nodes="\(graph.nodes.count)">loading</div>
      <script type="application/json" id="graph-data">\(try data())</script>
      <script>\(Self.script)</script>
      </body>
      </html>

      """
  }

  static let css = """
    body { font: 13px/1.4 "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0; color: #222; }
    header { padding: 8px 16px; border-bottom: 1px solid #ddd; }
    h1 { font-size: 17px; margin: 4px 0; white-space: pre-wrap; }
    main { display: flex; height: calc(100vh - 110px); }
    #scroll { flex: 1; overflow: auto; position: relative; }
    #graph { position: relative; }
    #edges { position: absolute; left: 0; top: 0; }
    #panel { width: 340px; border-left: 1px solid #ddd; padding: 8px 12px; overflow: auto; }
    .node { position: absolute; width: 14px; height: 14px; margin: -7px 0 0 -7px; box-sizing: border-box;
      border: 1px solid #333; cursor: pointer; }
    .node.feature { background: #5b8fd0; border-radius: 50%; }
    .node.error { background: #aaa; transform: rotate(45deg); width: 12px; height: 12px; margin: -6px 0 0 -6px; }
    .node.embedding { background: #5fb35f; }
    .node.logit { background: #f0b030; }
    .node.selected { outline: 3px solid #000; }
    .node.dim { opacity: 0.25; }
    .logitlabel { position: absolute; font-size: 10px; color: #7a5200; white-space: pre;
      transform: rotate(-60deg); transform-origin: left bottom; }
    .rowlabel, .collabel { position: absolute; font-size: 11px; color: #555; white-space: pre; }
    .key { padding: 0 4px; border-radius: 3px; }
    .key.feature { background: #5b8fd0; color: #fff; } .key.error { background: #aaa; }
    .key.embedding { background: #5fb35f; color: #fff; } .key.logit { background: #f0b030; }
    .pos { color: #2b5fab; } .neg { color: #c0303a; }
    table { border-collapse: collapse; } td { padding: 1px 6px 1px 0; vertical-align: top; }
    td.w { text-align: right; font-variant-numeric: tabular-nums; }
    #status { padding: 4px 16px; color: #777; font-size: 11px; }
    """

  static let script = """
    (function () {
      var data = JSON.parse(document.getElementById("graph-data").textContent);
      var nodes = data.nodes, links = data.links, L = data.layers;
      var left = 90, top = 80, slot = 17, perRow = 10, sub = 14;
      var positions = 0;
      nodes.forEach(function (n) { positions = Math.max(positions, n.pos + 1); });
      positions = Math.max(positions, data.tokens.length);
      // Nodes sharing a layer and a position form a group, wrapped into lines of perRow nodes.
      var groups = {};
      nodes.forEach(function (n, i) { var k = n.layer + ":" + n.pos; (groups[k] = groups[k] || []).push(i); });
      // Each column is as wide as its largest group needs; each row as tall as its deepest group.
      var colWidth = [], lines = {};
      for (var c = 0; c < positions; c++) colWidth.push(96);
      Object.keys(groups).forEach(function (k) {
        var n = nodes[groups[k][0]], count = groups[k].length;
        colWidth[n.pos] = Math.max(colWidth[n.pos], Math.min(count, perRow) * slot + 16);
        lines[n.layer] = Math.max(lines[n.layer] || 1, Math.ceil(count / perRow));
      });
      var colX = [left];
      for (var c = 0; c < positions; c++) colX.push(colX[c] + colWidth[c]);
      var rowTop = {}, y = top;
      for (var layer = L; layer >= -1; layer--) { rowTop[layer] = y; y += 28 + (lines[layer] || 1) * sub; }
      var bottom = y;
      function rowY(layer) { return rowTop[layer] + 14 + ((lines[layer] || 1) - 1) * sub / 2; }
      var xy = new Array(nodes.length);
      Object.keys(groups).forEach(function (k) {
        var members = groups[k];
        members.sort(function (a, b) { return Math.abs(nodes[b].influence) - Math.abs(nodes[a].influence); });
        members.forEach(function (i, j) {
          var n = nodes[i], inLine = Math.min(members.length, perRow);
          var cx = colX[n.pos] + colWidth[n.pos] / 2 + ((j % perRow) - (inLine - 1) / 2) * slot;
          var cy = rowTop[n.layer] + 14 + Math.floor(j / perRow) * sub;
          xy[i] = [cx, cy];
        });
      });
      var width = colX[positions] + 20, height = bottom + 40;
      var graph = document.getElementById("graph");
      graph.style.width = width + "px"; graph.style.height = height + "px";
      var canvas = document.getElementById("edges");
      canvas.width = width; canvas.height = height;
      for (var layer = -1; layer <= L; layer++) {
        var label = document.createElement("div");
        label.className = "rowlabel";
        label.textContent = layer < 0 ? "embeddings" : layer == L ? "logits" : "layer " + layer;
        label.style.left = "6px"; label.style.top = (rowY(layer) - 8) + "px";
        graph.appendChild(label);
      }
      for (var p = 0; p < positions; p++) {
        var col = document.createElement("div");
        col.className = "collabel";
        col.textContent = p + " \\u201c" + (data.tokens[p] === undefined ? "" : data.tokens[p]) + "\\u201d";
        col.style.left = (colX[p] + 4) + "px"; col.style.top = (bottom + 6) + "px";
        graph.appendChild(col);
      }
      var maxW = 0;
      links.forEach(function (e) { maxW = Math.max(maxW, Math.abs(e[2])); });
      var incoming = nodes.map(function () { return []; }), outgoing = nodes.map(function () { return []; });
      links.forEach(function (e, k) { outgoing[e[0]].push(k); incoming[e[1]].push(k); });
      var selected = -1, pinned = -1;
      function draw() {
        var ctx = canvas.getContext("2d");
        ctx.clearRect(0, 0, width, height);
        links.forEach(function (e) {
          var focus = selected < 0 || e[0] == selected || e[1] == selected;
          var r = maxW > 0 ? Math.abs(e[2]) / maxW : 0;
          ctx.strokeStyle = e[2] >= 0 ? "rgba(43,95,171," + (focus ? 0.15 + 0.75 * r : 0.04) + ")"
                                      : "rgba(192,48,58," + (focus ? 0.15 + 0.75 * r : 0.04) + ")";
          ctx.lineWidth = 0.5 + 4 * r;
          ctx.beginPath();
          ctx.moveTo(xy[e[0]][0], xy[e[0]][1]);
          ctx.lineTo(xy[e[1]][0], xy[e[1]][1]);
          ctx.stroke();
        });
      }
      function fmt(x) { return x === null || x === undefined ? "\\u2013" : (Math.abs(x) >= 1000 || (Math.abs(x) < 0.001 && x != 0) ? x.toExponential(2) : (+x.toFixed(4)).toString()); }
      function cell(tr, text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); }
      function edgeTable(title, list, end) {
        var box = document.createElement("div");
        var h = document.createElement("h3"); h.textContent = title + " (" + list.length + ")"; box.appendChild(h);
        var table = document.createElement("table");
        list.slice().sort(function (a, b) { return Math.abs(links[b][2]) - Math.abs(links[a][2]); }).slice(0, 10).forEach(function (k) {
          var tr = document.createElement("tr");
          cell(tr, fmt(links[k][2]), "w " + (links[k][2] >= 0 ? "pos" : "neg"));
          cell(tr, nodes[links[k][end]].label + " @" + nodes[links[k][end]].pos);
          table.appendChild(tr);
        });
        box.appendChild(table);
        return box;
      }
      function show(i) {
        var box = document.getElementById("details");
        box.textContent = "";
        if (i < 0) { box.textContent = "Hover or click a node."; return; }
        var n = nodes[i];
        var table = document.createElement("table");
        [["label", n.label], ["id", n.id], ["kind", n.kind], ["layer", n.layer < 0 ? "E" : n.layer == L ? "logits" : n.layer],
         ["position", n.pos + " \\u201c" + (data.tokens[n.pos] === undefined ? "" : data.tokens[n.pos]) + "\\u201d"],
         ["feature", n.feature === null ? "\\u2013" : n.feature], ["activation", fmt(n.act)], ["influence", fmt(n.influence)],
         ["probability", n.kind == "logit" ? fmt(n.prob) : "\\u2013"]].forEach(function (row) {
          var tr = document.createElement("tr"); cell(tr, row[0]); cell(tr, String(row[1])); table.appendChild(tr);
        });
        box.appendChild(table);
        box.appendChild(edgeTable("Strongest incoming edges", incoming[i], 0));
        box.appendChild(edgeTable("Strongest outgoing edges", outgoing[i], 1));
      }
      function select(i) {
        selected = i;
        var elements = graph.querySelectorAll(".node");
        var near = {};
        if (i >= 0) { near[i] = true; incoming[i].forEach(function (k) { near[links[k][0]] = true; }); outgoing[i].forEach(function (k) { near[links[k][1]] = true; }); }
        for (var k = 0; k < elements.length; k++) {
          elements[k].classList.toggle("selected", k == i);
          elements[k].classList.toggle("dim", i >= 0 && !near[k]);
        }
        show(i); draw();
      }
      nodes.forEach(function (n, i) {
        var el = document.createElement("div");
        el.className = "node " + n.kind;
        el.style.left = xy[i][0] + "px"; el.style.top = xy[i][1] + "px";
        el.title = n.label + " @" + n.pos;
        el.setAttribute("data-id", n.id);
        el.addEventListener("mouseenter", function () { if (pinned < 0) select(i); });
        el.addEventListener("mouseleave", function () { if (pinned < 0) select(-1); });
        el.addEventListener("click", function (event) { pinned = pinned == i ? -1 : i; select(pinned < 0 ? i : pinned); event.stopPropagation(); });
        graph.appendChild(el);
        if (n.kind == "logit") {
          // The predicted token's text above its node, slanted so neighbours do not overlap.
          var text = document.createElement("div");
          text.className = "logitlabel";
          text.textContent = n.label.replace(/^Output /, "").replace(/ \\(p=[^)]*\\)$/, "");
          text.style.left = (xy[i][0] - 2) + "px"; text.style.top = (xy[i][1] - 22) + "px";
          graph.appendChild(text);
        }
      });
      graph.addEventListener("click", function () { pinned = -1; select(-1); });
      var facts = document.getElementById("facts");
      data.facts.forEach(function (f) { var tr = document.createElement("tr"); cell(tr, f[0].replace(/_/g, " ")); cell(tr, f[1]); facts.appendChild(tr); });
      draw();
      var status = document.getElementById("status");
      status.setAttribute("data-edges", String(links.length));
      report();
    })();
    """
}
