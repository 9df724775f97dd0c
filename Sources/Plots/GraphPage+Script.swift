// The attribution-graph page's stylesheet and scripts, as `GraphPage.html()` inlines them. Raw
// strings, so the JavaScript reads as it runs.
extension GraphPage {
  /// Runs first, in `<head>`: collects every script error into `window.graphErrors` and
  /// `data-errors`, so that a page broken half way still says so in its status element.
  static let errorScript = #"""
    window.graphErrors = [];
    window.onerror = function (message, file, line) { window.graphErrors.push(String(message) + " (line " + line + ")"); report(); };
    (function () { var original = console.error; console.error = function () { window.graphErrors.push(Array.prototype.join.call(arguments, " ")); report(); if (original) original.apply(console, arguments); }; })();
    function report() {
      var s = document.getElementById("status");
      if (!s) return;
      s.setAttribute("data-errors", String(window.graphErrors.length));
      s.setAttribute("data-nodes", String(document.querySelectorAll("#graph .node").length));
      s.textContent = s.getAttribute("data-nodes") + " nodes drawn, " + (s.getAttribute("data-drawn") || 0) + " edges drawn, " + window.graphErrors.length + " errors";
    }
    """#

  static let css = #"""
    html, body { height: 100%; }
    body { font: 13px/1.4 "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0; color: #222;
      display: flex; flex-direction: column; }
    header { padding: 6px 16px; border-bottom: 1px solid #ddd; }
    header p { margin: 2px 0; }
    h1 { font-size: 17px; margin: 2px 0; white-space: pre-wrap; }
    #controls { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; margin: 4px 0 2px; }
    #controls .hint { color: #777; font-size: 11px; }
    #budget { width: 180px; vertical-align: middle; }
    main { display: flex; flex: 1; min-height: 0; }
    #viewport { flex: 1; position: relative; overflow: hidden; cursor: grab; background: #fcfcfc; }
    #viewport.dragging { cursor: grabbing; }
    #edges { position: absolute; left: 0; top: 0; pointer-events: none; }
    #graph { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
    #panel { width: 320px; border-left: 1px solid #ddd; padding: 6px 12px; overflow: auto; }
    .node { position: absolute; width: 88px; margin-left: -44px; margin-top: -7px; text-align: center;
      cursor: pointer; }
    .mark { display: block; margin: 0 auto; width: 12px; height: 12px; box-sizing: border-box;
      border: 1px solid #333; }
    .text { display: block; font-size: 10px; line-height: 12px; margin-top: 2px; white-space: pre;
      overflow: hidden; text-overflow: ellipsis; color: #222;
      text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }
    .feature .mark { background: #5b8fd0; border-radius: 50%; }
    .supernode .mark { background: #7d62c4; border-radius: 4px; width: 26px; height: 14px; margin-top: -1px;
      color: #fff; font-size: 9px; line-height: 12px; }
    .supernode .text { font-weight: bold; }
    .error .mark { background: #aaa; transform: rotate(45deg); width: 10px; height: 10px; margin-top: 1px; }
    .embedding .mark { background: #5fb35f; }
    .logit .mark { background: #f0b030; }
    .member .mark { box-shadow: 0 0 0 2px #c9b8f0; }
    .node.selected .mark { outline: 3px solid #000; }
    .node.match .mark { box-shadow: 0 0 0 3px #ff3ea5; }
    .node.dim { opacity: 0.25; }
    .rowlabel, .collabel { position: absolute; font-size: 11px; color: #555; white-space: pre; }
    .rowband { position: absolute; left: 0; height: 1px; background: #eee; }
    .key { padding: 0 4px; border-radius: 3px; }
    .key.feature { background: #5b8fd0; color: #fff; } .key.error { background: #aaa; }
    .key.supernode { background: #7d62c4; color: #fff; }
    .key.embedding { background: #5fb35f; color: #fff; } .key.logit { background: #f0b030; }
    .pos { color: #2b5fab; } .neg { color: #c0303a; }
    table { border-collapse: collapse; } td { padding: 1px 6px 1px 0; vertical-align: top; }
    td.w { text-align: right; font-variant-numeric: tabular-nums; }
    tr.hidden td { color: #999; }
    tr.link { cursor: pointer; } tr.link:hover td { background: #eef; }
    #panel button { margin: 4px 0; }
    #status { padding: 3px 16px; color: #777; font-size: 11px; border-top: 1px solid #eee; }
    """#

  /// The page's behaviour. Everything the first view needs runs synchronously, so a headless
  /// browser's `--dump-dom` sees it finished; only the paint mark waits for the next frame.
  static let script = #"""
    (function () {
      var data = JSON.parse(document.getElementById("graph-data").textContent);
      var nodes = data.nodes, L = data.layers, tokens = data.tokens, N = nodes.length;
      var src = data.links.source, dst = data.links.target, wt = data.links.weight, M = src.length;
      var statusBox = document.getElementById("status");
      function status(name, value) { statusBox.setAttribute("data-" + name, String(value)); }
      status("edges", M);
      status("parse-ms", performance.now().toFixed(1));

      // Per-node edge lists (compressed rows): out[outStart[i] .. outStart[i+1]) are the indices
      // of node i's outgoing links, likewise incoming; built once, so a hover costs its degree.
      function rows(ends) {
        var start = new Int32Array(N + 1), list = new Int32Array(M), k;
        for (k = 0; k < M; k++) start[ends[k] + 1]++;
        for (k = 0; k < N; k++) start[k + 1] += start[k];
        var fill = start.slice(0, N);
        for (k = 0; k < M; k++) list[fill[ends[k]]++] = k;
        return { start: start, list: list };
      }
      var outRows = rows(src), inRows = rows(dst);

      // Feature and error nodes, most influential first: `influence` is cumulative, smallest first.
      var ranked = [];
      nodes.forEach(function (n, i) { if (n.kind == "feature" || n.kind == "error") ranked.push(i); });
      ranked.sort(function (a, b) { return (nodes[a].influence - nodes[b].influence) || (a - b); });
      var rank = new Int32Array(N).fill(N);
      ranked.forEach(function (i, r) { rank[i] = r; });
      var positions = tokens.length;
      nodes.forEach(function (n) { positions = Math.max(positions, n.pos + 1); });

      var hash = new URLSearchParams(location.hash.slice(1));
      var budget = hash.get("budget") == "all" ? ranked.length
        : Math.min(ranked.length, hash.has("budget") ? Math.max(0, parseInt(hash.get("budget"), 10) || 0) : data.budget);
      var grouping = hash.get("groups") != "off", allEdges = hash.get("edges") == "all";
      var expanded = {}, forced = {}, matches = [], matchSet = {};
      var shown = [], displayOf = new Int32Array(N), drawnCount = 0;
      var selected = -1, pinned = -1, hovered = -1;

      function tokenText(p) { return tokens[p] === undefined ? "" : tokens[p]; }
      function shortLabel(n) {
        var t = n.label;
        if (n.kind == "embedding") t = t.replace(/^Emb: /, "");
        else if (n.kind == "logit") t = t.replace(/^Output /, "").replace(/ \(p=([^)]*)\)$/, " $1");
        else if (n.kind == "error") t = t.replace(/^error /, "err ").replace(/ @\d+$/, "");
        return t.length > 15 ? t.slice(0, 14) + "\u2026" : t;
      }
      function layerName(layer) { return layer < 0 ? "E" : layer == L ? "logits" : String(layer); }

      // MARK: - What is shown: the budget, forced nodes, supernodes.
      function choose() {
        var take = {};
        for (var r = 0; r < budget; r++) take[ranked[r]] = true;
        Object.keys(forced).forEach(function (i) { take[i] = true; });
        displayOf.fill(-1);
        shown = [];
        var groups = {}, count = 0;
        nodes.forEach(function (n, i) {
          var isBody = n.kind == "feature" || n.kind == "error";
          if (isBody && !take[i]) return;
          if (isBody) count++;
          var key = n.kind == "feature" && n.group !== null ? n.pos + "\u001f" + n.group : null;
          if (key !== null && grouping && !expanded[key] && groups[key] !== undefined) {
            var s = shown[groups[key]];
            s.members.push(i); s.layer = Math.min(s.layer, n.layer); s.kind = "supernode";
            displayOf[i] = groups[key];
            return;
          }
          if (key !== null) groups[key] = shown.length;
          displayOf[i] = shown.length;
          shown.push({ kind: n.kind, members: [i], layer: n.layer, pos: n.pos, key: key,
                       expandedMember: key !== null && expanded[key] === true });
        });
        shown.forEach(function (s) {
          s.members.sort(function (a, b) { return rank[a] - rank[b]; });
          s.best = s.kind == "logit" ? -1 - nodes[s.members[0]].prob : rank[s.members[0]];
        });
        status("budget", budget);
        status("shown", count);
        status("supernodes", shown.filter(function (s) { return s.kind == "supernode"; }).length);
        var text = document.getElementById("budget-text");
        text.textContent = budget + " of " + ranked.length + (count > budget ? " (+" + (count - budget) + " found)" : "");
      }

      // MARK: - Layout: rows by layer, columns by position, a cell's nodes side by side.
      // Logits have a row of their own, so they spread across it rather than widen the last column.
      var SLOT = 90, LINE = 32, PER_ROW = 2, LEFT = 84, TOP = 16, COL_MIN = 64;
      var width = 0, height = 0, view = { k: 1, x: 0, y: 0 };
      var graphBox = document.getElementById("graph"), viewport = document.getElementById("viewport");
      var canvas = document.getElementById("edges"), elements = [];
      function layout() {
        var cells = {}, colWidth = [], lines = {}, logits = [];
        shown.forEach(function (s, d) {
          if (s.kind == "logit") { logits.push(d); return; }
          var k = s.layer + ":" + s.pos;
          (cells[k] = cells[k] || []).push(d);
        });
        for (var p = 0; p < positions; p++) colWidth.push(COL_MIN);
        Object.keys(cells).forEach(function (k) {
          var list = cells[k], s = shown[list[0]];
          list.sort(function (a, b) { return shown[a].best - shown[b].best; });
          colWidth[s.pos] = Math.max(colWidth[s.pos], Math.min(list.length, PER_ROW) * SLOT);
          lines[s.layer] = Math.max(lines[s.layer] || 0, Math.ceil(list.length / PER_ROW));
        });
        var colX = [LEFT];
        for (p = 0; p < positions; p++) colX.push(colX[p] + colWidth[p]);
        var logitsPerLine = Math.max(1, Math.floor((colX[positions] - LEFT) / SLOT));
        if (logits.length > 0) lines[L] = Math.ceil(logits.length / logitsPerLine);
        var rowTop = {}, y = TOP;
        for (var layer = L; layer >= -1; layer--) { rowTop[layer] = y; y += lines[layer] ? lines[layer] * LINE + 8 : 14; }
        width = colX[positions] + 16; height = y + 24;
        Object.keys(cells).forEach(function (k) {
          var list = cells[k];
          list.forEach(function (d, j) {
            var s = shown[d], inLine = Math.min(list.length - (j - j % PER_ROW), PER_ROW);
            s.x = colX[s.pos] + colWidth[s.pos] / 2 + ((j % PER_ROW) - (inLine - 1) / 2) * SLOT;
            s.y = rowTop[s.layer] + 8 + Math.floor(j / PER_ROW) * LINE;
          });
        });
        logits.sort(function (a, b) { return shown[a].best - shown[b].best; });
        logits.forEach(function (d, j) {
          var inLine = Math.min(logits.length - (j - j % logitsPerLine), logitsPerLine);
          shown[d].x = (LEFT + colX[positions]) / 2 + ((j % logitsPerLine) - (inLine - 1) / 2) * SLOT;
          shown[d].y = rowTop[L] + 8 + Math.floor(j / logitsPerLine) * LINE;
        });
        var fragment = document.createDocumentFragment();
        for (layer = -1; layer <= L; layer++) {
          var band = document.createElement("div");
          band.className = "rowband";
          band.style.top = (rowTop[layer] - 3) + "px"; band.style.width = width + "px";
          fragment.appendChild(band);
          if (!lines[layer] && layer >= 0 && layer < L) continue;
          var label = document.createElement("div");
          label.className = "rowlabel";
          label.textContent = layer < 0 ? "embeddings" : layer == L ? "logits" : "layer " + layer;
          label.style.left = "6px"; label.style.top = rowTop[layer] + "px";
          fragment.appendChild(label);
        }
        for (p = 0; p < positions; p++) {
          var col = document.createElement("div");
          col.className = "collabel";
          col.textContent = p + " \u201c" + tokenText(p) + "\u201d";
          col.style.left = (colX[p] + 4) + "px"; col.style.top = (y + 2) + "px";
          col.style.maxWidth = (colWidth[p] - 8) + "px"; col.style.overflow = "hidden";
          fragment.appendChild(col);
        }
        elements = shown.map(function (s, d) {
          var n = nodes[s.members[0]];
          var el = document.createElement("div");
          el.className = "node " + s.kind + (s.expandedMember ? " member" : "") + (matchSet[s.members[0]] ? " match" : "");
          el.style.left = s.x + "px"; el.style.top = s.y + "px";
          el.setAttribute("data-d", d);
          el.setAttribute("data-id", n.id);
          var mark = document.createElement("span");
          mark.className = "mark";
          var text = document.createElement("span");
          text.className = "text";
          if (s.kind == "supernode") {
            mark.textContent = String(s.members.length);
            text.textContent = "\u201c" + n.group + "\u201d \u00d7" + s.members.length;
            el.title = s.members.map(function (i) { return nodes[i].label + " (L" + nodes[i].layer + ")"; }).join("\n") + "\nclick to expand";
          } else {
            text.textContent = shortLabel(n);
            el.title = n.label + " @" + n.pos + (n.kind == "feature" || n.kind == "error" ? " (L" + n.layer + ")" : "");
          }
          el.appendChild(mark); el.appendChild(text);
          fragment.appendChild(el);
          return el;
        });
        graphBox.textContent = "";
        graphBox.appendChild(fragment);
        graphBox.style.width = width + "px"; graphBox.style.height = height + "px";
      }

      // MARK: - Zoom and pan: one transform for the node layer (CSS) and the edge canvas.
      function applyView() {
        graphBox.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.k + ")";
        draw();
      }
      // Wheel and drag events come faster than frames; with all edges drawn, one redraw per frame.
      var viewFrame = 0;
      function scheduleView() { if (!viewFrame) viewFrame = requestAnimationFrame(function () { viewFrame = 0; applyView(); }); }
      function fit() {
        var w = viewport.clientWidth, h = viewport.clientHeight;
        view.k = Math.max(0.75, Math.min(1.25, w / width, h / height));
        view.x = Math.max(0, (w - width * view.k) / 2); view.y = Math.max(0, (h - height * view.k) / 2);
        applyView();
      }
      function resizeCanvas() {
        var r = window.devicePixelRatio || 1;
        canvas.width = Math.max(1, viewport.clientWidth * r); canvas.height = Math.max(1, viewport.clientHeight * r);
        canvas.style.width = viewport.clientWidth + "px"; canvas.style.height = viewport.clientHeight + "px";
      }
      viewport.addEventListener("wheel", function (event) {
        event.preventDefault();
        var box = viewport.getBoundingClientRect(), mx = event.clientX - box.left, my = event.clientY - box.top;
        var k = Math.max(0.1, Math.min(8, view.k * Math.exp(-event.deltaY * 0.0015)));
        view.x = mx - (mx - view.x) * k / view.k; view.y = my - (my - view.y) * k / view.k; view.k = k;
        scheduleView();
      }, { passive: false });
      var drag = null;
      viewport.addEventListener("mousedown", function (event) {
        if (event.button != 0 || event.target.closest(".node")) return;
        drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false };
        viewport.classList.add("dragging");
      });
      window.addEventListener("mousemove", function (event) {
        if (!drag) return;
        var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        view.x = drag.vx + dx; view.y = drag.vy + dy;
        scheduleView();
      });
      window.addEventListener("mouseup", function () {
        if (!drag) return;
        viewport.classList.remove("dragging");
        var moved = drag.moved;
        drag = null;
        if (!moved) { pinned = -1; select(-1); }
      });
      window.addEventListener("resize", function () { resizeCanvas(); draw(); });

      // MARK: - Edges: the focused node's on demand; all edges between shown nodes on request.
      // A shown node's edges with every other shown node, its members' links summed.
      function edgesOf(d) {
        var sums = new Map();
        shown[d].members.forEach(function (i) {
          var k, o;
          for (k = outRows.start[i]; k < outRows.start[i + 1]; k++) {
            o = displayOf[dst[outRows.list[k]]];
            if (o >= 0 && o != d) sums.set(2 * o + 1, (sums.get(2 * o + 1) || 0) + wt[outRows.list[k]]);
          }
          for (k = inRows.start[i]; k < inRows.start[i + 1]; k++) {
            o = displayOf[src[inRows.list[k]]];
            if (o >= 0 && o != d) sums.set(2 * o, (sums.get(2 * o) || 0) + wt[inRows.list[k]]);
          }
        });
        var list = [];
        sums.forEach(function (w, key) { var o = key >> 1; list.push(key & 1 ? [d, o, w] : [o, d, w]); });
        return list;
      }
      var everyEdge = null;
      function allShownEdges() {
        if (everyEdge) return everyEdge;
        var sums = new Map(), D = shown.length;
        for (var k = 0; k < M; k++) {
          var a = displayOf[src[k]], b = displayOf[dst[k]];
          if (a < 0 || b < 0 || a == b) continue;
          sums.set(a * D + b, (sums.get(a * D + b) || 0) + wt[k]);
        }
        everyEdge = [];
        sums.forEach(function (w, key) { everyEdge.push([Math.floor(key / D), key % D, w]); });
        return everyEdge;
      }
      // Draws `list` in a few batches (sign × strength), so even 10^5 lines are a few strokes.
      function stroke(ctx, list, alphaLow, alphaHigh, widthHigh) {
        var max = 0;
        list.forEach(function (e) { max = Math.max(max, Math.abs(e[2])); });
        if (max == 0) return;
        var levels = 6;
        for (var sign = 0; sign < 2; sign++) {
          for (var level = 0; level < levels; level++) {
            var r = (level + 1) / levels;
            ctx.strokeStyle = (sign == 0 ? "rgba(43,95,171," : "rgba(192,48,58,") + (alphaLow + (alphaHigh - alphaLow) * r) + ")";
            ctx.lineWidth = (0.6 + widthHigh * r * r) / view.k;
            ctx.beginPath();
            list.forEach(function (e) {
              if ((e[2] < 0) != (sign == 1)) return;
              if (Math.min(levels - 1, Math.floor(Math.abs(e[2]) / max * levels)) != level) return;
              var a = shown[e[0]], b = shown[e[1]];
              ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y);
            });
            ctx.stroke();
          }
        }
      }
      function draw() {
        var ctx = canvas.getContext("2d"), r = window.devicePixelRatio || 1;
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        ctx.setTransform(r * view.k, 0, 0, r * view.k, r * view.x, r * view.y);
        drawnCount = 0;
        if (allEdges) {
          var every = allShownEdges();
          stroke(ctx, every, selected >= 0 ? 0.04 : 0.08, selected >= 0 ? 0.15 : 0.7, 3);
          drawnCount = every.length;
        }
        if (selected >= 0) {
          var mine = edgesOf(selected);
          stroke(ctx, mine, 0.25, 0.9, 5);
          if (!allEdges) drawnCount = mine.length;
        }
        status("drawn", drawnCount);
        report();
      }

      // MARK: - Selection and the side panel.
      function fmt(x) { return x === null || x === undefined ? "\u2013" : (Math.abs(x) >= 1000 || (Math.abs(x) < 0.001 && x != 0) ? x.toExponential(2) : (+x.toFixed(4)).toString()); }
      function cell(tr, text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); }
      function heading(box, tag, text) { var h = document.createElement(tag); h.textContent = text; box.appendChild(h); }
      // The strongest links of a node's members, to any node, shown or not; a click reveals the other end.
      function linkTable(box, title, members, rowsOf, otherEnd) {
        var list = [];
        members.forEach(function (i) { for (var k = rowsOf.start[i]; k < rowsOf.start[i + 1]; k++) list.push(rowsOf.list[k]); });
        heading(box, "h3", title + " (" + list.length + ")");
        list.sort(function (a, b) { return Math.abs(wt[b]) - Math.abs(wt[a]); });
        var table = document.createElement("table");
        list.slice(0, 12).forEach(function (k) {
          var o = otherEnd[k], tr = document.createElement("tr");
          tr.className = "link" + (displayOf[o] < 0 ? " hidden" : "");
          tr.title = displayOf[o] < 0 ? "not shown; click to show it" : "click to pin it";
          cell(tr, fmt(wt[k]), "w " + (wt[k] >= 0 ? "pos" : "neg"));
          cell(tr, nodes[o].label + (nodes[o].kind == "error" ? "" : " @" + nodes[o].pos) + (nodes[o].kind == "feature" ? " L" + nodes[o].layer : ""));
          tr.addEventListener("click", function () { reveal([o]); });
          table.appendChild(tr);
        });
        box.appendChild(table);
      }
      function show(d) {
        var box = document.getElementById("details");
        box.textContent = "";
        if (d < 0) { box.textContent = "Hover a node to draw its edges; click to pin it."; return; }
        var s = shown[d], n = nodes[s.members[0]], table = document.createElement("table");
        var facts = s.kind == "supernode"
          ? [["supernode", "\u201c" + n.group + "\u201d, " + s.members.length + " features"],
             ["position", n.pos + " \u201c" + tokenText(n.pos) + "\u201d"], ["layers", s.members.map(function (i) { return nodes[i].layer; }).join(", ")]]
          : [["label", n.label], ["id", n.id], ["kind", n.kind], ["layer", layerName(n.layer)],
             ["position", n.pos + " \u201c" + tokenText(n.pos) + "\u201d"],
             ["feature", n.feature === null ? "\u2013" : n.feature], ["activation", fmt(n.act)],
             ["influence", n.kind == "logit" ? "\u2013" : fmt(n.influence) + " (rank " + (rank[s.members[0]] + 1) + ")"],
             ["probability", n.kind == "logit" ? fmt(n.prob) : "\u2013"]];
        facts.forEach(function (row) { var tr = document.createElement("tr"); cell(tr, row[0]); cell(tr, String(row[1])); table.appendChild(tr); });
        box.appendChild(table);
        if (s.key !== null && (s.kind == "supernode" || s.expandedMember)) {
          var button = document.createElement("button");
          button.type = "button";
          button.textContent = s.kind == "supernode" ? "expand into its features" : "collapse into \u201c" + n.group + "\u201d";
          button.addEventListener("click", function () { toggleGroup(s.key); });
          box.appendChild(button);
        }
        if (s.kind == "supernode") {
          heading(box, "h3", "Members");
          var members = document.createElement("table");
          s.members.forEach(function (i) {
            var tr = document.createElement("tr");
            cell(tr, "L" + nodes[i].layer); cell(tr, nodes[i].label); cell(tr, nodes[i].id);
            members.appendChild(tr);
          });
          box.appendChild(members);
        }
        linkTable(box, "Strongest incoming edges", s.members, inRows, src);
        linkTable(box, "Strongest outgoing edges", s.members, outRows, dst);
      }
      function select(d) {
        selected = d;
        var near = {};
        if (d >= 0) { near[d] = true; edgesOf(d).forEach(function (e) { near[e[0]] = true; near[e[1]] = true; }); }
        elements.forEach(function (el, k) {
          el.classList.toggle("selected", k == d);
          el.classList.toggle("dim", d >= 0 && !near[k]);
        });
        status("selected", d >= 0 ? nodes[shown[d].members[0]].id : "");
        show(d); draw();
      }
      function rebuild() {
        var keep = selected >= 0 ? shown[selected].members[0] : -1;
        var keepPinned = pinned >= 0 ? shown[pinned].members[0] : -1;
        choose(); everyEdge = null; layout();
        pinned = keepPinned >= 0 ? displayOf[keepPinned] : -1;
        select(pinned >= 0 ? pinned : keep >= 0 ? displayOf[keep] : -1);
      }
      function toggleGroup(key) {
        if (expanded[key]) delete expanded[key]; else expanded[key] = true;
        rebuild();
      }
      // Shows these nodes whatever the budget (their supernodes expanded) and pins the first.
      function reveal(list) {
        list.forEach(function (i) {
          forced[i] = true;
          var n = nodes[i];
          if (n.kind == "feature" && n.group !== null) expanded[n.pos + "\u001f" + n.group] = true;
        });
        rebuild();
        if (list.length > 0 && displayOf[list[0]] >= 0) { pinned = displayOf[list[0]]; select(pinned); }
      }
      function hover(d, event) {
        hovered = d;
        if (pinned >= 0) return;
        select(d);
        if (event) {
          var now = performance.now();
          status("hover-ms", now.toFixed(1));
          status("hover-latency-ms", (now - event.timeStamp).toFixed(1));
        }
      }
      graphBox.addEventListener("mouseover", function (event) {
        var el = event.target.closest(".node");
        if (el && +el.getAttribute("data-d") != hovered) hover(+el.getAttribute("data-d"), event);
      });
      graphBox.addEventListener("mouseout", function (event) {
        var el = event.target.closest(".node");
        if (el && !(event.relatedTarget && el.contains(event.relatedTarget))) hover(-1, null);
      });
      graphBox.addEventListener("click", function (event) {
        var el = event.target.closest(".node");
        if (!el) return;
        var d = +el.getAttribute("data-d");
        if (shown[d].kind == "supernode") { toggleGroup(shown[d].key); return; }
        pinned = pinned == d ? -1 : d;
        select(pinned < 0 ? d : pinned);
      });

      // MARK: - Search: a feature id (12_301, L12/F301, 12_301_5) or text in a label or id.
      function search(query) {
        query = query.trim();
        matches = []; matchSet = {};
        if (query !== "") {
          var id = query.match(/^L?(\d+)\s*[_\/#: ]\s*F?#?(\d+)(?:[_@ ]+(\d+))?$/i), lower = query.toLowerCase();
          nodes.forEach(function (n, i) {
            var hit = id ? n.kind == "feature" && n.layer == +id[1] && n.feature == +id[2] && (id[3] === undefined || n.pos == +id[3])
                         : n.id.toLowerCase() == lower || n.label.toLowerCase().indexOf(lower) >= 0;
            if (hit) matches.push(i);
          });
          matches.sort(function (a, b) { return rank[a] - rank[b]; });
        }
        matches.slice(0, 50).forEach(function (i) { matchSet[i] = true; });
        status("matches", matches.length);
        document.getElementById("search-text").textContent = query === "" ? "" : matches.length + " found" + (matches.length > 50 ? ", 50 shown" : "");
        forced = {};
        reveal(matches.slice(0, 50));
      }

      // MARK: - Controls and the first view.
      var slider = document.getElementById("budget");
      slider.max = String(ranked.length); slider.value = String(budget);
      var sliderFrame = 0;
      slider.addEventListener("input", function () {
        budget = +slider.value;
        if (!sliderFrame) sliderFrame = requestAnimationFrame(function () { sliderFrame = 0; rebuild(); fit(); });
      });
      var box = document.getElementById("search"), typing = 0;
      box.addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(function () { search(box.value); fit(); }, 200); });
      box.addEventListener("keydown", function (event) {
        if (event.key != "Enter" || matches.length == 0) return;
        var at = (matches.indexOf(pinned >= 0 ? shown[pinned].members[0] : -1) + 1) % Math.min(matches.length, 50);
        pinned = displayOf[matches[at]]; select(pinned);
      });
      var allBox = document.getElementById("all-edges"), groupBox = document.getElementById("grouping");
      allBox.checked = allEdges; groupBox.checked = grouping;
      allBox.addEventListener("change", function () { allEdges = allBox.checked; draw(); });
      groupBox.addEventListener("change", function () { grouping = groupBox.checked; expanded = {}; rebuild(); });
      document.getElementById("fit").addEventListener("click", fit);
      var factsTable = document.getElementById("facts");
      data.facts.forEach(function (f) { var tr = document.createElement("tr"); cell(tr, f[0].replace(/_/g, " ")); cell(tr, f[1]); factsTable.appendChild(tr); });

      resizeCanvas();
      choose(); layout();
      status("matches", 0);
      if (hash.has("search")) { box.value = hash.get("search"); search(box.value); } else select(-1);
      var want = hash.get("pin") || hash.get("hover");
      if (want) {
        var at = nodes.findIndex(function (n) { return n.id == want; });
        if (at >= 0 && displayOf[at] < 0) reveal([at]);
        if (at >= 0) { if (hash.has("pin")) pinned = displayOf[at]; select(displayOf[at]); }
      }
      fit();
      status("ready-ms", performance.now().toFixed(1));
      requestAnimationFrame(function () { setTimeout(function () { status("paint-ms", performance.now().toFixed(1)); }, 0); });
    })();
    """#
}
