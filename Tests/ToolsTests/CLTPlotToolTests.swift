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
    r = try ToolHarness.run("clt-plot", ["curves", dir.appendingPathComponent("missing.jsonl").path])
    #expect(r.status != 0 && r.stderr.contains("missing.jsonl: cannot read"), "\(r.stderr)")
  }

  @Test("--help lists the subcommands and --version prints the version")
  func help() throws {
    let r = try ToolHarness.run("clt-plot", ["--help"])
    #expect(r.status == 0 && r.stdout.contains("USAGE: clt-plot"))
    for sub in [
      "heatmap", "top-features", "curves", "decoder-norms", "correlations", "pca", "importance", "graph-html",
    ] {
      #expect(r.stdout.contains(sub), "--help lacks \(sub)")
    }
    #expect(try ToolHarness.run("clt-plot", ["--version"]).stdout == "0.1.0\n")
  }
}
