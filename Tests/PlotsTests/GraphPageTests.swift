import Foundation
import OutputFiles
import Plots
import Testing

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

  @Test(
    "headless Chromium renders one element per node, and the page reports no script errors",
    .enabled(
      if: PlotOutput.chromium != nil, "needs chromium (apt-get install chromium; scripts/install-deps.sh)"))
  func rendersInChromium() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = try AttributionGraphFile.read(input)
    let page = dir.appendingPathComponent("graph.html").path
    try PlotOutput.write(try GraphPage(graph: graph, source: input).html(), to: page)
    let profile = dir.appendingPathComponent("profile")
    let dom = try PlotOutput.run(
      "/usr/bin/nice",
      ["-n", "19", PlotOutput.chromium!] + PlotOutput.headlessArguments(profile: profile) + [
        "--dump-dom", URL(fileURLWithPath: page).absoluteString,
      ], name: "chromium")
    let status = try #require(
      dom.range(of: "<div id=\"status\"[^>]*>", options: .regularExpression).map { String(dom[$0]) },
      "the page has its status element")
    func attribute(_ name: String) -> Int? {
      guard let r = status.range(of: "\(name)=\"(-?[0-9]+)\"", options: .regularExpression) else {
        return nil
      }
      return Int(status[r].split(separator: "\"")[1])
    }
    #expect(attribute("data-nodes") == graph.nodes.count, "\(status)")
    #expect(attribute("data-edges") == graph.links.count, "\(status)")
    #expect(attribute("data-errors") == 0, "\(status)")
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
