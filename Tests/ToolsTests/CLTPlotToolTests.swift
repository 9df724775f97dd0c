import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// `clt-plot` run as a user runs it, on clt-encode lines written by hand.
@Suite struct CLTPlotToolTests {
  static let lines = """
    {"doc": 0, "pos": 0, "token_id": 464, "token": "The", "features": [{"layer": 1, "feature": 5, "activation": 2.5}, {"layer": 0, "feature": 9, "activation": 0.5}]}
    {"doc": 0, "pos": 1, "token_id": 3797, "token": " cat", "features": [{"layer": 0, "feature": 9, "activation": 1.5}]}

    """

  @Test("heatmap writes a well-formed SVG to -o atomically and says so on stderr; stdout without -o")
  func heatmap() throws {
    let dir = try ToolHarness.temporaryDirectory("plot")
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("features.jsonl")
    try Self.lines.write(to: input, atomically: true, encoding: .utf8)
    let out = dir.appendingPathComponent("heatmap.svg")
    let r = try ToolHarness.run("clt-plot", ["heatmap", "-o", out.path, input.path])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("wrote \(out.path)"))
    let svg = try String(contentsOf: out, encoding: .utf8)
    #expect(svg.contains("<svg") && svg.contains("viewBox") && svg.contains("L1/F5"))
    #expect(XMLParser(data: Data(svg.utf8)).parse(), "well-formed XML")
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
        "features.jsonl", "heatmap.svg",
      ])
    let piped = try ToolHarness.run("clt-plot", ["top-features", "-"], stdin: Self.lines)
    #expect(piped.status == 0 && piped.stdout.hasPrefix("<?xml"), "\(piped.stderr)")
  }

  @Test("a bad line is refused with one error line naming the file and line number; --png needs -o")
  func badInput() throws {
    let dir = try ToolHarness.temporaryDirectory("plot-bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("bad.jsonl")
    try (Self.lines + "{oops\n").write(to: input, atomically: true, encoding: .utf8)
    var r = try ToolHarness.run(
      "clt-plot", ["heatmap", "-o", dir.appendingPathComponent("h.svg").path, input.path])
    #expect(r.status != 0 && r.stderr.contains("\(input.path):3: not valid JSON"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("h.svg").path))
    r = try ToolHarness.run("clt-plot", ["curves", "--png", input.path])
    #expect(r.status != 0 && r.stderr.contains("--png needs -o"), "\(r.stderr)")
    r = try ToolHarness.run("clt-plot", ["heatmap", "-"], stdin: "")
    #expect(r.status != 0 && r.stderr.contains("stdin: no clt-encode lines"), "\(r.stderr)")
    r = try ToolHarness.run("clt-plot", ["curves", dir.appendingPathComponent("missing.jsonl").path])
    #expect(r.status != 0 && r.stderr.contains("missing.jsonl: cannot read"), "\(r.stderr)")
  }

  @Test("--help lists the subcommands and --version prints the version")
  func help() throws {
    let r = try ToolHarness.run("clt-plot", ["--help"])
    #expect(r.status == 0 && r.stdout.contains("USAGE: clt-plot"))
    for sub in [
      "heatmap", "top-features", "curves", "decoder-norms", "correlations", "pca", "importance", "graph-html",
      "dashboard",
    ] {
      #expect(r.stdout.contains(sub), "--help lacks \(sub)")
    }
    #expect(try ToolHarness.run("clt-plot", ["--version"]).stdout == "0.1.0\n")
  }

  @Test(
    "clt-plot draws what gpt2-acts | clt-fit and clt-encode made: curves, pca, decoder-norms, heatmap, importance"
  )
  func trainedTranscoder() throws {
    let fixture = try TrainedCLT.get()
    let dir = try ToolHarness.temporaryDirectory("plot-trained")
    defer { try? FileManager.default.removeItem(at: dir) }
    let metrics = dir.appendingPathComponent("metrics.jsonl")
    let fit = try ToolHarness.run(
      "clt-fit",
      [
        "-o", dir.appendingPathComponent("clt.h5").path, "--features", "16", "--batch", "32", "--steps", "20",
        "--log", metrics.path, "--log-every", "5", "--quiet",
        fixture.dir.appendingPathComponent("shards").path,
      ])
    #expect(fit.status == 0, "\(fit.stderr)")
    let encoded = try ToolHarness.run(
      "clt-encode", fixture.modelArguments + ["--clt", fixture.clt.path, "--top", "6", "-"],
      stdin: "The quick brown fox jumps over the lazy dog.")
    #expect(encoded.status == 0, "\(encoded.stderr)")
    let features = dir.appendingPathComponent("features.jsonl")
    try encoded.stdout.write(to: features, atomically: true, encoding: .utf8)
    let runs: [(String, [String])] = [
      ("curves.svg", ["curves", metrics.path]),
      ("pca.svg", ["pca", "--layer", "1", "--rows", "concatenated", fixture.clt.path]),
      ("norms.svg", ["decoder-norms", "--layer", "0", "--top", "3", "--feature", "1:2", fixture.clt.path]),
      ("heatmap.svg", ["heatmap", "--features", "10", features.path]),
      ("correlations.svg", ["correlations", features.path]),
      ("importance.svg", ["importance", "--clt", fixture.clt.path, features.path]),
    ]
    for (name, arguments) in runs {
      let out = dir.appendingPathComponent(name)
      let r = try ToolHarness.run("clt-plot", [arguments[0], "-o", out.path] + arguments.dropFirst())
      #expect(r.status == 0, "\(arguments[0]): \(r.stderr)")
      let svg = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
      #expect(XMLParser(data: Data(svg.utf8)).parse(), "\(name) is well-formed XML")
      #expect(svg.contains("viewBox"), "\(name)")
    }
    let curves = try String(contentsOf: dir.appendingPathComponent("curves.svg"), encoding: .utf8)
    #expect(curves.components(separatedBy: "class=\"series\"").count - 1 == 3 + 2, "3 means and 2 layers")
    let pca = try String(contentsOf: dir.appendingPathComponent("pca.svg"), encoding: .utf8)
    #expect(pca.components(separatedBy: "class=\"point\"").count - 1 == 16, "one circle per feature")
  }

  @Test(
    "graph-html on clt-attrib's JSON: one node element per JSON node in headless Chromium, no script errors",
    .enabled(
      if: FileManager.default.fileExists(atPath: "/usr/bin/chromium"),
      "needs chromium (apt-get install chromium)")
  )
  func graphPage() throws {
    let (dir, model, rankFile) = try ToolHarness.makeWorkspace("plot-graph")
    defer { try? FileManager.default.removeItem(at: dir) }
    let clt = dir.appendingPathComponent("clt.h5")
    try CLTAttribToolTests.writeTranscoder(to: clt, model: model)
    let attrib = try ToolHarness.run(
      "clt-attrib",
      [
        "--model", model.path, "--tokenizer", rankFile.path, "--clt", clt.path, "--format", "json", "--quiet",
        "-",
      ],
      stdin: "Once upon a <time> & place")
    #expect(attrib.status == 0, "\(attrib.stderr)")
    let graph = dir.appendingPathComponent("graph.json")
    try attrib.stdout.write(to: graph, atomically: true, encoding: .utf8)
    let root = try JSONSerialization.jsonObject(with: Data(attrib.stdout.utf8)) as! [String: Any]
    let nodes = (root["nodes"] as! [Any]).count
    let page = dir.appendingPathComponent("graph.html")
    let r = try ToolHarness.run("clt-plot", ["graph-html", "-o", page.path, graph.path])
    #expect(r.status == 0, "\(r.stderr)")
    let html = try String(contentsOf: page, encoding: .utf8)
    #expect(!html.contains("http://") && !html.contains("https://"))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/nice")
    process.arguments = [
      "-n", "19", "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run", "--user-data-dir=\(dir.appendingPathComponent("profile").path)", "--dump-dom",
      // Past the default budget of 40 nodes and without supernodes, every node has an element.
      page.absoluteString + "#budget=all&groups=off",
    ]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(dom.contains("data-nodes=\"\(nodes)\""), "every node is drawn")
    #expect(dom.contains("data-errors=\"0\""), "no script errors")
  }

  /// How many times `needle` occurs in `text`.
  static func occurrences(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
  }

  @Test(
    "dashboard on clt-encode --max-tokens output of a corpus: sections, contexts, highlighted tokens and logit tables"
  )
  func dashboard() throws {
    let fixture = try TrainedCLT.get()
    let dir = try ToolHarness.temporaryDirectory("plot-dashboard")
    defer { try? FileManager.default.removeItem(at: dir) }
    let encoded = try ToolHarness.run(
      "clt-encode",
      fixture.modelArguments + [
        "--clt", fixture.clt.path, "--context", "16", "--max-tokens", "200", fixture.corpus.path,
      ])
    #expect(encoded.status == 0, "\(encoded.stderr)")
    let lines = try TrainedCLT.jsonLines(encoded.stdout)
    #expect(lines.count == 200, "--max-tokens 200 encodes 200 tokens")
    let features = dir.appendingPathComponent("encode.jsonl")
    try encoded.stdout.write(to: features, atomically: true, encoding: .utf8)
    let page = dir.appendingPathComponent("dashboards.html")
    var r = try ToolHarness.run(
      "clt-plot",
      ["dashboard"] + fixture.modelArguments + [
        "--clt", fixture.clt.path, "--top-features", "4", "--contexts", "3", "--window", "2", "--logits", "5",
        "-o",
        page.path, features.path,
      ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("wrote \(page.path) (4 features, 200 tokens read)"), "\(r.stderr)")
    let html = try String(contentsOf: page, encoding: .utf8)
    #expect(XMLParser(data: Data(html.utf8)).parse(), "well-formed")
    #expect(!html.contains("http://") && !html.contains("https://"))
    #expect(Self.occurrences("<section class=\"feature\"", in: html) == 4)
    let contexts = Self.occurrences("<div class=\"context\"", in: html)
    #expect(contexts >= 4 && contexts <= 12, "1 to 3 contexts for each of the 4 most important features")
    #expect(
      Self.occurrences("class=\"tok act centre\"", in: html) == contexts, "one activating token per context")
    #expect(Self.occurrences("<table class=\"logits promoted\">", in: html) == 4)
    #expect(Self.occurrences("<table class=\"logits suppressed\">", in: html) == 4)
    #expect(Self.occurrences("<td class=\"value\">", in: html) == 4 * 2 * 5, "5 tokens in each table")
    #expect(html.contains("direct effect on model"), "the logit note names the model")
    #expect(Self.occurrences("; in training ", in: html) == 4, "clt.h5's firing frequency of each feature")

    // Named features, no model: only those sections, no logit tables; the page on stdout.
    r = try ToolHarness.run(
      "clt-plot",
      ["dashboard", "--clt", fixture.clt.path, "--no-logits", "--feature", "0:1,1:2", features.path])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("id=\"L0-F1\"") && r.stdout.contains("id=\"L1-F2\""))
    #expect(Self.occurrences("<section class=\"feature\"", in: r.stdout) == 2)
    #expect(!r.stdout.contains("<table class=\"logits"))

    // Features outside the transcoder, and ranking features of stdin, are refused with one line.
    r = try ToolHarness.run(
      "clt-plot", ["dashboard", "--clt", fixture.clt.path, "--no-logits", "--feature", "0:99", features.path])
    #expect(r.status != 0 && r.stderr.contains("no feature L0/F99"), "\(r.stderr)")
    r = try ToolHarness.run(
      "clt-plot", ["dashboard", "--clt", fixture.clt.path, "--no-logits", "-"], stdin: "")
    #expect(r.status != 0 && r.stderr.contains("reads it twice"), "\(r.stderr)")
  }

  @Test("dashboard --graph shows the graph's feature nodes, each noting where it sits in the graph")
  func dashboardOfGraph() throws {
    let fixture = try TrainedCLT.get()
    let dir = try ToolHarness.temporaryDirectory("plot-dashboard-graph")
    defer { try? FileManager.default.removeItem(at: dir) }
    let attrib = try ToolHarness.run(
      "clt-attrib", fixture.modelArguments + ["--clt", fixture.clt.path, "--format", "json", "--quiet", "-"],
      stdin: "the quick brown fox")
    #expect(attrib.status == 0, "\(attrib.stderr)")
    let graph = dir.appendingPathComponent("graph.json")
    try attrib.stdout.write(to: graph, atomically: true, encoding: .utf8)
    let root = try JSONSerialization.jsonObject(with: Data(attrib.stdout.utf8)) as! [String: Any]
    let featureNodes = (root["nodes"] as! [[String: Any]]).filter {
      $0["feature_type"] as? String == "cross layer transcoder"
    }
    let distinct = Set(featureNodes.map { "L\($0["layer"]!)-F\($0["feature_index"]!)" })
    let encoded = try ToolHarness.run(
      "clt-encode",
      fixture.modelArguments + ["--clt", fixture.clt.path, "--context", "16", fixture.corpus.path])
    #expect(encoded.status == 0, "\(encoded.stderr)")
    let features = dir.appendingPathComponent("encode.jsonl")
    try encoded.stdout.write(to: features, atomically: true, encoding: .utf8)
    let r = try ToolHarness.run(
      "clt-plot",
      ["dashboard"] + fixture.modelArguments + [
        "--clt", fixture.clt.path, "--graph", graph.path, "--top-features", "3", features.path,
      ])
    #expect(r.status == 0, "\(r.stderr)")
    let sections = Self.occurrences("<section class=\"feature\"", in: r.stdout)
    #expect(sections == min(3, distinct.count) && sections > 0, "\(distinct.count) distinct feature nodes")
    #expect(
      Self.occurrences("<li>graph.json @", in: r.stdout) >= sections, "each section notes its graph nodes")
    #expect(
      distinct.filter { r.stdout.contains("id=\"\($0)\"") }.count == sections, "only the graph's features")
  }
}
