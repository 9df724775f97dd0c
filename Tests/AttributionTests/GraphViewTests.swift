import FeatureIndex
import Foundation
import LanguageModels
import Testing

@testable import Attribution

/// The legible view of a graph (`GraphView`) and its DOT: the node budget, supernodes, merged
/// errors, summed edges and the layout's ranks and columns.
@Suite struct GraphViewTests {
  /// A pruned report of the tiny GPT-2 on an 8-token prompt, keeping nearly everything.
  func report() throws -> AttributionReport {
    let model = try TinyModels.gpt2()
    let (clt, normalizer) = TinyModels.transcoder(for: model)
    let local = try LocalReplacementModel(
      model: model.attributionModel,
      tokens: TinyModels.prompt(8, vocabulary: model.description.vocabularySize),
      transcoder: clt, normalizer: normalizer)
    var options = AttributionOptions()
    options.nodeThreshold = 0.99
    options.edgeThreshold = 0.99
    let graph = try local.attributionGraph(options: options)
    return AttributionReport(
      graph: graph, options: options, prompt: "eight tokens", modelName: "tiny", modelSHA256: "",
      transcoderName: "clt.h5", transcoderFeatures: clt.features, tokenText: { "t\($0)" })
  }

  /// Labels that put features of equal index parity in one group, so that supernodes form.
  func parity(_ layer: Int, _ feature: Int) -> FeatureLabel {
    FeatureLabel(text: "→ \(feature % 2 == 0 ? "even" : "odd")", group: feature % 2 == 0 ? "even" : "odd")
  }

  @Test("the view takes kept nodes by influence until the budget is drawn, merged by position and label")
  func budgetAndMerging() throws {
    let report = try report()
    let g = report.graph
    let view = GraphView(report: report, maxNodes: 12, label: parity)
    let inner = view.nodes.filter { $0.kind != .embedding && $0.kind != .logit }
    #expect(inner.count == 12, "the tiny graph keeps more than 12 nodes' worth")
    // The members are a prefix of the kept nodes ranked by influence: nothing stronger is left out.
    let shown = Set(inner.flatMap(\.members))
    #expect(view.shownCount == shown.count && view.shownCount > 12, "supernodes and errors merge members")
    let weakestShown = shown.map { report.influence[$0] }.min() ?? 0
    for n in 0..<(g.featureCount + g.errorCount) where report.pruning.keptNodes[n] && !shown.contains(n) {
      #expect(report.influence[n] <= weakestShown)
    }
    for node in inner {
      let positions = Set(node.members.map { g.nodes[$0].position })
      #expect(positions == [node.position], "a node's members share its position")
      // A node sits at its first (most influential) member's layer.
      let first = node.members[0]
      #expect(node.members.allSatisfy { report.influence[$0] <= report.influence[first] })
      #expect(node.layer == g.nodes[first].layer)
      switch node.kind {
      case .supernode, .feature:
        let groups = Set(
          node.members.map { n -> String in
            guard case .feature(let layer, _, let index, _) = g.nodes[n] else { return "not a feature" }
            return parity(layer, index).group
          })
        #expect(groups.count == 1 && (node.kind == .supernode) == (node.members.count > 1))
        #expect(node.members.allSatisfy { abs(g.nodes[$0].layer - node.layer) <= 4 })
      case .error:
        #expect(node.members.allSatisfy { if case .error = g.nodes[$0] { true } else { false } })
      default: Issue.record("only features, supernodes and errors are inner nodes")
      }
    }
    // One error node per position.
    let errorPositions = inner.filter { $0.kind == .error }.map(\.position)
    #expect(Set(errorPositions).count == errorPositions.count)
    // With one group for all and layers within the span (the tiny model has 2), features merge
    // exactly by position.
    let one = GraphView(report: report, maxNodes: 12) { _, _ in FeatureLabel(text: "x", group: "x") }
    let oneInner = one.nodes.filter { $0.kind != .embedding && $0.kind != .logit }
    let featureNodes = oneInner.filter { $0.kind == .feature || $0.kind == .supernode }
    #expect(Set(featureNodes.map(\.position)).count == featureNodes.count)
    // Every position's token at the bottom, in order.
    #expect(view.nodes.filter { $0.kind == .embedding }.map(\.position) == Array(0..<g.tokens.count))
  }

  @Test("a drawn edge is the sum of its members' direct effects, and none is below the visible floor")
  func edgesAreSums() throws {
    let report = try report()
    let g = report.graph
    let view = GraphView(report: report, maxNodes: 10, inputsPerNode: 2, minimumFraction: 0.05, label: parity)
    #expect(!view.edges.isEmpty)
    let largest = view.edges.map { abs($0.weight) }.max()!
    for e in view.edges {
      var sum: Float = 0
      for t in view.nodes[e.target].members {
        let row = t < g.featureCount ? t : t - g.sourceCount + g.featureCount
        for s in view.nodes[e.source].members { sum += g.weight(row: row, source: s) }
      }
      #expect(abs(sum - e.weight) <= 1e-6 * max(1, abs(sum)))
      #expect(abs(e.weight) >= 0.05 * largest)
      #expect(e.source != e.target)
    }
    // The strongest input of each node that has inputs above the floor is drawn.
    for (v, node) in view.nodes.enumerated() where node.kind == .logit {
      #expect(view.edges.contains { $0.target == v }, "every logit shows an input")
    }
  }

  @Test("the DOT lays layers out as ranks and positions as columns, and Graphviz reads it")
  func dotLayout() throws {
    let report = try report()
    let view = GraphView(report: report, maxNodes: 10, label: parity)
    let dot = DOTWriter.write(report, view: view)
    #expect(dot.contains("rankdir=BT") && dot.contains("r0 [label=\"tokens\"]"))
    #expect(dot.contains("[label=\"logits\"]"))
    // Every view node is declared once, and the labels say layer, index and label.
    for v in view.nodes.indices { #expect(dot.components(separatedBy: "  n\(v) [").count == 2) }
    if let f = view.nodes.first(where: { $0.kind == .feature }),
      case .feature(let layer, _, let index, _) = report.graph.nodes[f.members[0]]
    {
      #expect(dot.contains("L\(layer)/F\(index)\\n\(f.label!.text)"))
    }
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dot") else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/dot")
    process.arguments = ["-Tplain"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(Data(dot.utf8))
    try input.fileHandleForWriting.close()
    let plain = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    // In the layout the tokens sit left to right in prompt order, below every layer's nodes.
    var y: [String: Double] = [:]
    var x: [String: Double] = [:]
    for line in plain.split(separator: "\n") where line.hasPrefix("node ") {
      let f = line.split(separator: " ")
      x[String(f[1])] = Double(f[2])
      y[String(f[1])] = Double(f[3])
    }
    let tokens = view.nodes.indices.filter { view.nodes[$0].kind == .embedding }.map { "n\($0)" }
    let xs = tokens.compactMap { x[$0] }
    #expect(xs.count == tokens.count, "every token is laid out: \(plain.prefix(300))")
    #expect(xs == xs.sorted() && Set(xs).count == xs.count)
    // -Tplain's y grows upwards, as rankdir=BT draws the layers.
    let tokenRows = Set(tokens.compactMap { y[$0] })
    #expect(tokenRows.count == 1)
    for (v, node) in view.nodes.enumerated() where node.kind != .embedding {
      #expect((y["n\(v)"] ?? 0) > (tokenRows.first ?? 0), "node \(v) above the tokens")
    }
    let logits = view.nodes.indices.filter { view.nodes[$0].kind == .logit }.compactMap { y["n\($0)"] }
    let inner = view.nodes.indices.filter { ![.logit, .embedding].contains(view.nodes[$0].kind) }
    let features = inner.compactMap { y["n\($0)"] }
    #expect(!logits.isEmpty && features.count == inner.count)
    #expect((logits.min() ?? 0) > (features.max() ?? 0), "logits above every other node")
  }
}

extension AttributionNode {
  /// The node's position (logits: -1; the tests compare views' members, which hold no logit).
  /// The node's layer (embeddings and logits: -1).
  fileprivate var layer: Int {
    switch self {
    case .feature(let l, _, _, _), .error(let l, _): return l
    case .embedding, .logit: return -1
    }
  }

  fileprivate var position: Int {
    switch self {
    case .feature(_, let p, _, _), .error(_, let p), .embedding(let p, _): return p
    case .logit: return -1
    }
  }
}
