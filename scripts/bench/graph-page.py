#!/usr/bin/env python3
"""Times the attribution-graph page (clt-plot graph-html) on a large synthetic graph.

Makes a graph JSON in clt-attrib's layout (default: 2000 nodes, 150,000 edges, 12 layers, 16
positions, labels in the `"tok" " tok" → tok` form so that supernodes form), writes the page with
clt-plot, and opens it RUNS times in headless Chromium, driven over the DevTools protocol on a pipe
(no packages needed). Per run it reads the page's own marks from its status element, in ms since
navigation started:

  ready    the script has laid out and drawn the first view (the page is usable from here)
  paint    the first frame after that has been painted
  hover    a real mouse move over the most influential node, sent as soon as the page loaded,
           has been handled (its edges drawn and the side panel filled)

and prints the median of each. Usage:

  scripts/bench/graph-page.py [--nodes 2000] [--edges 150000] [--runs 3] [--clt-plot PATH]
      [--graph JSON] [--hash VIEW] [--keep DIR] [--screenshot PNG]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

WORDS = ["paris", "france", "capital", "city", " the", " of", "river", "king", "queen", "dallas",
         "texas", "austin", "state", "rabbit", "carrot", "poem", "rhyme", "habit", " and", "year"]


def synthetic_graph(n_nodes, n_edges, layers=12, positions=16, logits=10, seed=0):
    """A graph JSON (as a dict) shaped like clt-attrib's: features and errors per layer and
    position, embeddings, logits at the last position, edges upwards and never backwards in
    position, heavy-tailed weights, cumulative influence."""
    rng = random.Random(seed)
    nodes = []
    for p in range(positions):
        nodes.append({"node_id": f"E_{100 + p}_{p}", "feature_type": "embedding", "layer": "E",
                      "feature": p, "ctx_idx": p, "clerp": f"Emb: {WORDS[p % len(WORDS)]}"})
    for layer in range(layers):
        for p in range(positions):
            nodes.append({"node_id": f"{layer}_-1_{p}", "feature_type": "mlp reconstruction error",
                          "layer": str(layer), "feature": -1, "ctx_idx": p,
                          "clerp": f"error L{layer} @{p}"})
    features = n_nodes - len(nodes) - logits
    for k in range(features):
        layer, p, index = rng.randrange(layers), rng.randrange(positions), rng.randrange(100_000)
        word = WORDS[rng.randrange(len(WORDS))]
        label = (f'"{word}" "{WORDS[rng.randrange(len(WORDS))]}" → {WORDS[rng.randrange(len(WORDS))].strip()}'
                 if rng.random() < 0.8 else f"→ {word.strip()} · {WORDS[rng.randrange(len(WORDS))].strip()}")
        nodes.append({"node_id": f"{layer}_{index}_{p}", "feature_type": "cross layer transcoder",
                      "layer": str(layer), "feature": index, "feature_index": index, "ctx_idx": p,
                      "activation": rng.uniform(0.1, 10), "clerp": label})
    seen = set()
    nodes = [n for n in nodes if not (n["node_id"] in seen or seen.add(n["node_id"]))]
    for t in range(logits):
        nodes.append({"node_id": f"{layers + 1}_{200 + t}_{positions - 1}", "feature_type": "logit",
                      "layer": str(layers + 1), "feature": 200 + t, "ctx_idx": positions - 1,
                      "token_prob": 0.5 / (t + 1), "is_target_logit": t == 0,
                      "clerp": f'Output "{WORDS[t]}" (p={0.5 / (t + 1):.3f})'})
    # Cumulative influence over feature and error nodes, most influential smallest.
    body = [n for n in nodes if n["feature_type"] in ("cross layer transcoder", "mlp reconstruction error")]
    raw = sorted(((rng.paretovariate(1.2), i) for i, _ in enumerate(body)), reverse=True)
    total, running = sum(v for v, _ in raw), 0.0
    for v, i in raw:
        running += v
        body[i]["influence"] = running / total
    for n in nodes:
        n.setdefault("influence", None if n["feature_type"] == "logit" else 0.0)
        n.setdefault("activation", None)
        n.setdefault("token_prob", 0)
        n.setdefault("is_target_logit", False)

    def level(n):
        return -1 if n["layer"] == "E" else int(n["layer"])
    sources = [i for i, n in enumerate(nodes) if n["feature_type"] != "logit"]
    targets = [i for i, n in enumerate(nodes) if n["feature_type"] in ("cross layer transcoder", "logit")]
    links, pairs = [], set()
    while len(links) < n_edges:
        s, t = rng.choice(sources), rng.choice(targets)
        a, b = nodes[s], nodes[t]
        if level(a) >= level(b) or a["ctx_idx"] > b["ctx_idx"] or (s, t) in pairs:
            continue
        pairs.add((s, t))
        w = rng.gauss(0, 1) * rng.paretovariate(1.5) * 0.01
        links.append({"source": a["node_id"], "target": b["node_id"], "weight": w})
    metadata = {"schema_version": 1, "prompt": "".join(WORDS[:positions]),
                "prompt_tokens": WORDS[:positions], "n_layers": layers, "scan": "synthetic"}
    return {"metadata": metadata, "qParams": {"pinnedIds": [], "supernodes": [], "linkType": "both"},
            "nodes": nodes, "links": links}


class DevTools:
    """Chromium driven over --remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4."""

    def __init__(self, chromium, profile, width=1600, height=1000):
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()
        # Out of the way of 3 and 4, which the child needs.
        to_child, from_child = os.dup2(to_child, 40), os.dup2(from_child, 41)

        def fds():
            os.dup2(40, 3)
            os.dup2(41, 4)
        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", f"--window-size={width},{height}",
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._id, self.events = b"", 0, []
        target = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]

    def _read(self):
        while b"\0" not in self._buffer:
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def page(self, method, params=None):
        return self.call(method, params, self.session)

    def evaluate(self, expression):
        return self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")

    def wait_for(self, expression, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.02)
        raise RuntimeError(f"timed out waiting for {expression}")

    def close(self):
        self.process.kill()
        self.process.wait()


def measure(tools, url, screenshot=None):
    """One load of the page: its ready, paint and hover marks (ms since navigation start)."""
    tools.page("Page.navigate", {"url": "about:blank"})
    tools.page("Page.navigate", {"url": url})
    tools.wait_for("document.readyState == 'complete' && document.getElementById('status')"
                   " && document.getElementById('status').hasAttribute('data-ready-ms')")
    point = tools.evaluate(
        "(function () { var v = document.getElementById('viewport').getBoundingClientRect();"
        " for (var el of document.querySelectorAll('#graph .node.feature, #graph .node.supernode')) {"
        " var r = el.querySelector('.mark').getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;"
        " if (x > v.left && x < v.right && y > v.top && y < v.bottom) return [x, y]; } })()")
    tools.page("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": point[0], "y": point[1]})
    if point is None:
        raise RuntimeError("no feature node is on screen to hover")
    marks = tools.wait_for(
        "(function () { var s = document.getElementById('status'); if (!s.hasAttribute('data-hover-ms') ||"
        " !s.hasAttribute('data-paint-ms')) return null; var o = {}; for (var a of s.attributes) o[a.name] = a.value;"
        " return o; })()")
    if screenshot:
        import base64
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(tools.page("Page.captureScreenshot", {"format": "png"})["data"]))
    return marks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--edges", type=int, default=150_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clt-plot", default=".build/debug/clt-plot")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--graph", help="time this graph JSON (clt-attrib --format json) instead of a synthetic one")
    parser.add_argument("--hash", default="", help="the view to open, e.g. budget=all&edges=all&groups=off")
    parser.add_argument("--keep", help="write graph.json and graph.html into this folder and keep them")
    parser.add_argument("--screenshot", help="also save a screenshot of the page, the node hovered (PNG)")
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="graph-page-bench-")
    os.makedirs(folder, exist_ok=True)
    graph, page = os.path.join(folder, "graph.json"), os.path.join(folder, "graph.html")
    if args.graph:
        shutil.copyfile(args.graph, graph)
    else:
        with open(graph, "w") as f:
            json.dump(synthetic_graph(args.nodes, args.edges), f)
    command = [args.clt_plot, "graph-html", "-o", page, graph]
    started = time.time()
    subprocess.run(command, check=True)
    print(f"clt-plot graph-html: {time.time() - started:.2f} s; page {os.path.getsize(page) / 1e6:.1f} MB")

    tools = DevTools(args.chromium, os.path.join(folder, "profile"))
    try:
        url = "file://" + os.path.abspath(page) + ("#" + args.hash if args.hash else "")
        runs = [measure(tools, url, args.screenshot if k == args.runs - 1 else None) for k in range(args.runs)]
    finally:
        tools.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    for run in runs:
        if run.get("data-errors") != "0":
            sys.exit(f"the page reported script errors: {run}")
    print(f"{runs[0]['data-expected-nodes']} nodes, {runs[0]['data-edges']} edges; "
          f"{runs[0]['data-nodes']} node elements, {runs[-1]['data-drawn']} edges drawn on hover")
    for name in ["parse-ms", "ready-ms", "paint-ms", "hover-ms", "hover-latency-ms"]:
        values = [float(r[f"data-{name}"]) for r in runs]
        print(f"{name:18} median {statistics.median(values):8.1f}   runs {', '.join(f'{v:.1f}' for v in values)}")


if __name__ == "__main__":
    main()
