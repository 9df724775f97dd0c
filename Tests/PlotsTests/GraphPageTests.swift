import Foundation
import OutputFiles
import Plots
import Testing

extension Trait where Self == ConditionTrait {
  /// Runs a test only where headless Chromium is installed.
  static var needsChromium: Self {
    .enabled(
      if: PlotOutput.chromium != nil, "needs chromium (apt-get install chromium; scripts/install-deps.sh)")
  }
}

/// The attribution-graph page: self-contained, counts matching the JSON, and working in a browser.
@Suite struct GraphPageTests {
  let dir: URL
  let input: String

  init() throws {
    dir = try PlotFixtures.directory("graph")
    input = try PlotFixtures.write(PlotFixtures.graphJSON, "graph.json", in: dir)
  }

  @Test("the graph JSON is read with each node's kind, layer and position, and links by index")
  func reading() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = try AttributionGraphFile.read(input)
    #expect(graph.nodes.count == 6 && graph.links.count == 5 && graph.layers == 2)
    #expect(graph.nodes.map(\.kind) == [.embedding, .embedding, .feature, .feature, .error, .logit])
    #expect(graph.nodes.map(\.layer) == [-1, -1, 0, 1, 1, 2])
    #expect(
      graph.nodes.map(\.featureIndex) == [nil, nil, 5, 7, nil, nil], "a feature's index from its node id")
    let indexed = try PlotFixtures.write(
      PlotFixtures.graphJSON.replacingOccurrences(
        of: "\"feature\": 7,", with: "\"feature\": 35, \"feature_index\": 7,"
      )
      .replacingOccurrences(of: "\"1_7_1\"", with: "\"x\""), "indexed.json", in: dir)
    #expect(
      try AttributionGraphFile.read(indexed).nodes[3].featureIndex == 7,
      "feature_index wins over the Cantor pairing in feature")
    #expect(graph.links[1].weight == -0.5 && graph.links[1].source == 2 && graph.links[1].target == 3)
    let broken = try PlotFixtures.write(
      PlotFixtures.graphJSON.replacingOccurrences(of: "\"target\": \"0_5_1\"", with: "\"target\": \"9_9_9\""),
      "b.json",
      in: dir)
    #expect(throws: PlotError.self) { try AttributionGraphFile.read(broken) }
    do { _ = try AttributionGraphFile.read(broken) } catch {
      #expect(error.localizedDescription.contains("9_9_9"), "\(error.localizedDescription)")
    }
  }

  @Test("the page is self-contained: no http(s) references, the node count embedded, no stray </script>")
  func selfContained() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let html = try GraphPage(graph: try AttributionGraphFile.read(input), source: input).html()
    #expect(!html.contains("http://") && !html.contains("https://"))
    #expect(html.contains("data-expected-nodes=\"6\""))
    #expect(!html.contains("<script src") && !html.contains("<link"))
    #expect(html.components(separatedBy: "</script>").count - 1 == 3, "only the page's three scripts close")
    #expect(html.contains("&lt;there&gt;"), "the prompt is escaped in the heading")
  }

  /// The page's status attributes after headless Chromium loaded it with `hash` in its URL.
  static func status(page: String, hash: String = "", in dir: URL) throws -> [String: String] {
    let url = URL(fileURLWithPath: page).absoluteString + (hash.isEmpty ? "" : "#" + hash)
    let dom = try PlotOutput.run(
      "/usr/bin/nice",
      ["-n", "19", PlotOutput.chromium!]
        + PlotOutput.headlessArguments(profile: dir.appendingPathComponent("profile")) + ["--dump-dom", url],
      name: "chromium")
    guard let tag = dom.range(of: "<div id=\"status\"[^>]*>", options: .regularExpression) else { return [:] }
    var attributes: [String: String] = [:]
    let pattern = try NSRegularExpression(pattern: "data-([a-z-]+)=\"([^\"]*)\"")
    let text = String(dom[tag])
    for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
      attributes[String(text[Range(match.range(at: 1), in: text)!])] = String(
        text[Range(match.range(at: 2), in: text)!])
    }
    return attributes
  }

  @Test(
    "headless Chromium shows the small graph whole with no edges until a node is hovered, and no script errors",
    .needsChromium)
  func rendersInChromium() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = try AttributionGraphFile.read(input)
    let page = dir.appendingPathComponent("graph.html").path
    try PlotOutput.write(try GraphPage(graph: graph, source: input).html(), to: page)
    let first = try Self.status(page: page, in: dir)
    #expect(first["nodes"] == "\(graph.nodes.count)", "every node fits the budget: \(first)")
    #expect(first["edges"] == "\(graph.links.count)", "\(first)")
    #expect(first["errors"] == "0", "\(first)")
    #expect(
      first["budget"] == "3" && first["shown"] == "3", "the budget is capped at the feature and error nodes")
    #expect(first["drawn"] == "0", "no edge is drawn while no node is hovered or pinned: \(first)")
    #expect(first["ready-ms"].flatMap(Double.init) != nil, "the page marks when it is ready: \(first)")

    let hovered = try Self.status(page: page, hash: "hover=1_7_1", in: dir)
    #expect(
      hovered["selected"] == "1_7_1" && hovered["drawn"] == "2", "a hovered node's own edges: \(hovered)")
    let all = try Self.status(page: page, hash: "edges=all", in: dir)
    #expect(all["drawn"] == "5" && all["errors"] == "0", "all edges on request: \(all)")
  }

  @Test(
    "the node budget keeps the most influential nodes; search reveals and pins a feature by id or label",
    .needsChromium)
  func budgetAndSearch() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let page = dir.appendingPathComponent("graph.html").path
    try PlotOutput.write(
      try GraphPage(graph: try AttributionGraphFile.read(input), source: input).html(), to: page)
    let one = try Self.status(page: page, hash: "budget=1&hover=err_1_1", in: dir)
    #expect(
      one["shown"] == "1" && one["nodes"] == "4" && one["selected"] == "err_1_1",
      "one node, the smallest cumulative influence (the error), beside 2 embeddings and 1 logit: \(one)")
    let byID = try Self.status(page: page, hash: "budget=0&search=L0/F5", in: dir)
    #expect(byID["matches"] == "1" && byID["selected"] == "0_5_1" && byID["shown"] == "1", "\(byID)")
    let byUnderscore = try Self.status(page: page, hash: "search=1_7", in: dir)
    #expect(byUnderscore["matches"] == "1" && byUnderscore["selected"] == "1_7_1", "\(byUnderscore)")
    let byLabel = try Self.status(page: page, hash: "search=error%20L1", in: dir)
    #expect(byLabel["matches"] == "1" && byLabel["selected"] == "err_1_1", "\(byLabel)")
    let none = try Self.status(page: page, hash: "search=nothing-like-it", in: dir)
    #expect(none["matches"] == "0" && none["selected"] == "" && none["errors"] == "0", "\(none)")
  }

  @Test(
    "features at one position with one label group are one supernode, which expands on request",
    .needsChromium)
  func supernodes() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let labelled = try PlotFixtures.write(
      PlotFixtures.graphJSON.replacingOccurrences(
        of: "\"L0 #5\"", with: "\"\\\"Paris\\\" \\\" France\\\" → Paris\", \"label_group\": \"paris\""
      )
      .replacingOccurrences(
        of: "\"L1 #7\"", with: "\"\\\" paris\\\" → capital\", \"label_group\": \"paris\""),
      "labelled.json", in: dir)
    let graph = try AttributionGraphFile.read(labelled)
    #expect(graph.nodes[2].label == "\"Paris\" \" France\" → Paris")
    let page = dir.appendingPathComponent("graph.html").path
    try PlotOutput.write(try GraphPage(graph: graph, source: labelled).html(), to: page)
    let grouped = try Self.status(page: page, in: dir)
    #expect(
      grouped["supernodes"] == "1" && grouped["nodes"] == "5", "0_5_1 and 1_7_1 are one node: \(grouped)")
    let hovered = try Self.status(page: page, hash: "hover=0_5_1", in: dir)
    #expect(
      hovered["drawn"] == "2",
      "the supernode's edges: from the embedding and to the logit, not the one inside it: \(hovered)")
    let flat = try Self.status(page: page, hash: "groups=off", in: dir)
    #expect(flat["supernodes"] == "0" && flat["nodes"] == "6", "\(flat)")
    let found = try Self.status(page: page, hash: "search=1_7", in: dir)
    #expect(
      found["supernodes"] == "0" && found["selected"] == "1_7_1",
      "a found member is shown by itself: \(found)")
  }

  /// A graph JSON shaped like clt-attrib's: `positions` embeddings, an error node per layer and
  /// position, logits at the last position, features filling up to `nodes`, and `edges` links
  /// running upwards, with labels that form supernodes. Deterministic, so a failure repeats.
  static func syntheticGraph(nodes count: Int, edges: Int, layers: Int = 12, positions: Int = 16) -> String {
    var random = SeededGenerator(seed: 42)
    func next(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
    let words = ["paris", "france", "capital", "city", "river", "king", "queen", "texas", "rabbit", "poem"]
    var nodes: [(id: String, layer: Int, pos: Int, json: String)] = []
    for p in 0..<positions {
      nodes.append(
        (
          "E_\(p)_\(p)", -1, p,
          "\"feature_type\": \"embedding\", \"layer\": \"E\", \"feature\": \(p), \"clerp\": \"Emb: \(words[p % 10])\""
        ))
    }
    for l in 0..<layers {
      for p in 0..<positions {
        nodes.append(
          (
            "\(l)_-1_\(p)", l, p,
            "\"feature_type\": \"mlp reconstruction error\", \"layer\": \"\(l)\", \"feature\": -1, \"clerp\": \"error L\(l) @\(p)\""
          ))
      }
    }
    let logits = 10
    var index = 0
    while nodes.count < count - logits {
      let l = next(layers)
      let p = next(positions)
      let word = words[next(10)]
      index += 1
      nodes.append(
        (
          "\(l)_\(index)_\(p)", l, p,
          "\"feature_type\": \"cross layer transcoder\", \"layer\": \"\(l)\", \"feature\": \(index), "
            + "\"activation\": 1.5, \"clerp\": \"\\\"\(word)\\\" → \(words[next(10)])\", \"label_group\": \"\(word)\""
        ))
    }
    for t in 0..<logits {
      nodes.append(
        (
          "\(layers + 1)_\(t)_\(positions - 1)", layers, positions - 1,
          "\"feature_type\": \"logit\", \"layer\": \"\(layers + 1)\", \"feature\": \(t), \"token_prob\": 0.1, "
            + "\"clerp\": \"Output \\\"\(words[t])\\\" (p=0.100)\""
        ))
    }
    let body = nodes.indices.filter { nodes[$0].layer >= 0 && nodes[$0].layer < layers }
    var influence = [Int: Double]()
    for (rank, i) in body.shuffled(using: &random).enumerated() {
      influence[i] = Double(rank + 1) / Double(body.count)
    }
    var links: [String] = []
    var seen = Set<Int>()
    while links.count < edges {
      let s = next(nodes.count)
      let t = next(nodes.count)
      let (a, b) = (nodes[s], nodes[t])
      guard a.layer < b.layer, a.pos <= b.pos, b.id.contains("_-1_") == false,
        !a.id.hasPrefix("\(layers + 1)_"),
        b.layer >= 0, seen.insert(s * nodes.count + t).inserted
      else { continue }
      links.append(
        "{\"source\": \"\(a.id)\", \"target\": \"\(b.id)\", \"weight\": \(Double(next(2001) - 1000) / 997)}")
    }
    let nodeLines = nodes.enumerated().map { i, n in
      "{\"node_id\": \"\(n.id)\", \"ctx_idx\": \(n.pos), \"influence\": \(influence[i] ?? 0), \(n.json)}"
    }
    return """
      {"metadata": {"prompt_tokens": [\((0..<positions).map { "\"\(words[$0 % 10])\"" }.joined(separator: ", "))],
        "n_layers": \(layers)},
       "nodes": [\(nodeLines.joined(separator: ",\n"))],
       "links": [\(links.joined(separator: ",\n"))]}
      """
  }

  /// A linear congruential generator: the same graph on every run.
  struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state
    }
  }

  @Test(
    "a graph of 2000 nodes and 150000 edges loads without freezing: the budget applied, no edges until a hover",
    .needsChromium)
  func largeGraph() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try PlotFixtures.write(Self.syntheticGraph(nodes: 2000, edges: 150_000), "large.json", in: dir)
    let graph = try AttributionGraphFile.read(path)
    #expect(graph.nodes.count == 2000 && graph.links.count == 150_000)
    let page = dir.appendingPathComponent("large.html").path
    try PlotOutput.write(try GraphPage(graph: graph, source: path).html(), to: page)
    let first = try Self.status(page: page, in: dir)
    #expect(first["errors"] == "0" && first["budget"] == "40" && first["shown"] == "40", "\(first)")
    #expect(first["drawn"] == "0", "\(first)")
    let elements = try #require(first["nodes"].flatMap(Int.init))
    #expect(
      (16 + 10 + 1...16 + 10 + 40).contains(elements),
      "embeddings, logits and at most 40 feature or error nodes (fewer where supernodes merge them): \(first)"
    )
    // Generous: under a loaded test machine the page takes about a second; a quadratic step would take minutes.
    #expect(try #require(first["ready-ms"].flatMap(Double.init)) < 30_000, "\(first)")
    let everything = try Self.status(page: page, hash: "budget=all&edges=all&groups=off", in: dir)
    #expect(everything["errors"] == "0" && everything["shown"] == "\(2000 - 26)", "\(everything)")
    #expect(everything["drawn"] == "150000", "every edge, on request: \(everything)")
  }

  @Test("outputs are written atomically: the file appears whole and no temporary is left behind")
  func atomicWrite() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("out.svg").path
    try PlotOutput.write("<svg/>", to: path)
    try PlotOutput.write("<svg viewBox=\"0 0 1 1\"/>", to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "<svg viewBox=\"0 0 1 1\"/>")
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["graph.json", "out.svg"])
    let missing = OutputError.missingFolder(path: "/nonexistent-folder/x.svg", folder: "/nonexistent-folder")
    #expect(throws: missing) {
      try PlotOutput.write("x", to: "/nonexistent-folder/x.svg")
    }
  }
}
