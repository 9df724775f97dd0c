import Foundation
import Testing

/// Every tool that reads a clt.h5 together with another file made from a model (clt-encode lines,
/// a graph, shards, a checkpoint) refuses a pair from two models with exit status 1 and one line
/// naming both files, and still takes the matching pair.
@Suite struct MismatchedFilesTests {
  let fixture: TrainedCLT.Fixture
  let dir: URL
  /// Another checkpoint (another sha256, the same shape) and a CLT of it with the fixture CLT's
  /// shape: only what the files record of their model can tell the two CLTs apart.
  let otherModel: URL
  let otherCLT: URL

  init() throws {
    fixture = try TrainedCLT.get()
    dir = try ToolHarness.temporaryDirectory("mismatch")
    otherModel = try TrainedCLT.otherModel(in: dir)
    otherCLT = dir.appendingPathComponent("other-clt.h5")
    try CLTAttribToolTests.writeTranscoder(to: otherCLT, model: otherModel, features: 16)
  }

  /// Exit status 1 and one error line that names every file in `files`.
  static func expectRefused(
    _ r: ToolHarness.Result, naming files: [String], _ why: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let lines = r.stderr.split(separator: "\n")
    #expect(r.status == 1, "\(why): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(
      lines.count == 1 && r.stderr.contains(": error: "), "\(why): \(r.stderr)",
      sourceLocation: sourceLocation)
    for file in files {
      #expect(r.stderr.contains(file), "\(why) names \(file): \(r.stderr)", sourceLocation: sourceLocation)
    }
  }

  /// clt-encode's output for the fixture's corpus with `clt` on `model`, saved as `name`.
  func encode(_ name: String, model: URL, clt: URL) throws -> URL {
    let r = try ToolHarness.run(
      "clt-encode",
      [
        "--model", model.path, "--tokenizer", fixture.rankFile.path, "--clt", clt.path, "--context", "16",
        "--quiet", fixture.corpus.path,
      ])
    #expect(r.status == 0, "\(r.stderr)")
    let url = dir.appendingPathComponent(name)
    try r.stdout.write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  /// clt-encode's output with the fixture's CLT, and its lines parsed.
  func fixtureLines() throws -> (url: URL, objects: [[String: Any]]) {
    let url = try encode("encode.jsonl", model: fixture.model, clt: fixture.clt)
    return (url, try TrainedCLT.jsonLines(try String(contentsOf: url, encoding: .utf8)))
  }

  /// clt-attrib's graph JSON of a short prompt with `clt` on `model`, saved as `name`.
  func attribute(_ name: String, model: URL, clt: URL) throws -> URL {
    let r = try ToolHarness.run(
      "clt-attrib",
      [
        "--model", model.path, "--tokenizer", fixture.rankFile.path, "--clt", clt.path, "--format", "json",
        "--quiet", "-",
      ],
      stdin: "the quick brown fox")
    #expect(r.status == 0, "\(r.stderr)")
    let url = dir.appendingPathComponent(name)
    try r.stdout.write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  @Test(
    "clt-encode names its CLT on the first line; importance and dashboard refuse the lines with another model's CLT"
  )
  func encodedLines() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let (lines, parsed) = try fixtureLines()
    let clt = parsed[0]["clt"] as? [String: Any]
    #expect((clt?["model_sha256"] as? String)?.count == 64, "the first line names the CLT's model")
    #expect(clt?["n_layers"] as? Int == 2 && clt?["features"] as? Int == 16)
    #expect(parsed.dropFirst().allSatisfy { $0["clt"] == nil }, "only the first line carries it")

    let plot = { (arguments: [String]) in try ToolHarness.run("clt-plot", arguments) }
    let svg = dir.appendingPathComponent("importance.svg").path
    var r = try plot(["importance", "--clt", otherCLT.path, "-o", svg, lines.path])
    Self.expectRefused(r, naming: [lines.path, otherCLT.path, "give the CLT"], "importance")
    #expect(r.stderr.contains("(sha256 "), "the two models are named by their sha256: \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: svg), "nothing is written")
    r = try plot(["dashboard", "--clt", otherCLT.path, "--no-logits", lines.path])
    Self.expectRefused(r, naming: [lines.path, otherCLT.path], "dashboard --no-logits ranking the input")
    r = try plot(["dashboard", "--clt", otherCLT.path, "--no-logits", "--feature", "0:1", lines.path])
    Self.expectRefused(r, naming: [lines.path, otherCLT.path], "dashboard --no-logits --feature")
    r = try plot(
      [
        "dashboard", "--model", otherModel.path, "--tokenizer", fixture.rankFile.path, "--clt", otherCLT.path,
        lines.path,
      ])
    Self.expectRefused(r, naming: [lines.path, otherCLT.path], "dashboard with the other CLT's own model")
    r = try plot(
      [
        "dashboard", "--model", otherModel.path, "--tokenizer", fixture.rankFile.path, "--clt",
        fixture.clt.path, lines.path,
      ])
    Self.expectRefused(
      r, naming: [fixture.clt.path, "model_sha256", "--model"], "dashboard with another --model")

    // The same model's CLT of another width is refused by its shape.
    let narrow = dir.appendingPathComponent("narrow.h5")
    try CLTAttribToolTests.writeTranscoder(to: narrow, model: fixture.model, features: 8)
    r = try plot(["importance", "--clt", narrow.path, lines.path])
    Self.expectRefused(
      r, naming: [lines.path, narrow.path, "16 features", "8 features"], "importance, 8 features")

    // The matching CLT, and lines of the other CLT with it.
    r = try plot(["importance", "--clt", fixture.clt.path, lines.path])
    #expect(r.status == 0 && r.stdout.contains("<svg"), "\(r.stderr)")
    r = try plot(["dashboard", "--clt", fixture.clt.path, "--no-logits", "--feature", "0:1", lines.path])
    #expect(r.status == 0 && r.stdout.contains("id=\"L0-F1\""), "\(r.stderr)")
    let otherLines = try encode("other.jsonl", model: otherModel, clt: otherCLT)
    r = try plot(["importance", "--clt", otherCLT.path, otherLines.path])
    #expect(r.status == 0, "\(r.stderr)")
  }

  @Test(
    "lines without a clt field (older clt-encode) are checked by range: the first line outside the CLT is named"
  )
  func olderLines() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    var objects = try fixtureLines().objects
    objects[0]["clt"] = nil
    func save(_ name: String) throws -> URL {
      let url = dir.appendingPathComponent(name)
      let text = try objects.map {
        String(decoding: try JSONSerialization.data(withJSONObject: $0, options: .sortedKeys), as: UTF8.self)
      }.joined(separator: "\n")
      try (text + "\n").write(to: url, atomically: true, encoding: .utf8)
      return url
    }
    let older = try save("older.jsonl")
    var r = try ToolHarness.run("clt-plot", ["importance", "--clt", fixture.clt.path, older.path])
    #expect(r.status == 0, "an older output within the CLT is read: \(r.stderr)")
    objects[2]["features"] = [["layer": 0, "feature": 40, "activation": 1.0]]
    let outside = try save("outside.jsonl")
    r = try ToolHarness.run("clt-plot", ["importance", "--clt", fixture.clt.path, outside.path])
    Self.expectRefused(r, naming: ["\(outside.path):3:", "L0/F40", fixture.clt.path], "importance")
    r = try ToolHarness.run(
      "clt-plot", ["dashboard", "--clt", fixture.clt.path, "--no-logits", "--feature", "0:1", outside.path])
    Self.expectRefused(r, naming: ["\(outside.path):3:", fixture.clt.path], "dashboard")
  }

  @Test(
    "a graph records its model's sha256 and CLT's features; importance and dashboard refuse another model's CLT"
  )
  func graphs() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = try attribute("graph.json", model: fixture.model, clt: fixture.clt)
    var root = try JSONSerialization.jsonObject(with: Data(contentsOf: graph)) as! [String: Any]
    var metadata = root["metadata"] as! [String: Any]
    #expect((metadata["model_sha256"] as? String)?.count == 64)
    #expect(metadata["transcoder_features"] as? Int == 16 && metadata["n_layers"] as? Int == 2)

    var r = try ToolHarness.run("clt-plot", ["importance", "--clt", otherCLT.path, graph.path])
    Self.expectRefused(
      r, naming: [graph.path, otherCLT.path, "give the CLT the graph was made with"], "importance")
    r = try ToolHarness.run("clt-plot", ["importance", "--clt", fixture.clt.path, graph.path])
    #expect(r.status == 0, "\(r.stderr)")
    // The other CLT's own lines with the fixture's graph: the graph is what is refused.
    let otherLines = try encode("other.jsonl", model: otherModel, clt: otherCLT)
    r = try ToolHarness.run(
      "clt-plot",
      ["dashboard", "--clt", otherCLT.path, "--no-logits", "--graph", graph.path, otherLines.path])
    Self.expectRefused(r, naming: [graph.path, otherCLT.path], "dashboard --graph")

    // An older graph without the identity: its nodes are checked against the CLT's shape.
    for key in ["model_sha256", "transcoder_features", "n_layers"] { metadata[key] = nil }
    root["metadata"] = metadata
    let older = dir.appendingPathComponent("older.json")
    try JSONSerialization.data(withJSONObject: root).write(to: older)
    r = try ToolHarness.run("clt-plot", ["importance", "--clt", fixture.clt.path, older.path])
    #expect(r.status == 0, "\(r.stderr)")
    var nodes = root["nodes"] as! [[String: Any]]
    let i = try #require(nodes.firstIndex { $0["feature_type"] as? String == "cross layer transcoder" })
    nodes[i]["feature_index"] = 40
    root["nodes"] = nodes
    try JSONSerialization.data(withJSONObject: root).write(to: older)
    r = try ToolHarness.run("clt-plot", ["importance", "--clt", fixture.clt.path, older.path])
    Self.expectRefused(r, naming: [older.path, "F40", fixture.clt.path], "importance of an older graph")
  }

  @Test("clt-attrib and clt-report refuse a CLT of another model with the same shape")
  func attributionAndReport() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run(
      "clt-attrib",
      [
        "--model", fixture.model.path, "--tokenizer", fixture.rankFile.path, "--clt", otherCLT.path,
        "--quiet", "-",
      ],
      stdin: "the quick brown fox")
    Self.expectRefused(r, naming: [otherCLT.path, "sha256"], "clt-attrib")

    // A results folder whose graph was made with another model's CLT than the variant's clt.h5.
    let results = dir.appendingPathComponent("results")
    let graphs = results.appendingPathComponent("clt/graphs")
    try FileManager.default.createDirectory(at: graphs, withIntermediateDirectories: true)
    let clt = results.appendingPathComponent("clt/clt.h5")
    try FileManager.default.copyItem(at: fixture.clt, to: clt)
    let graph = graphs.appendingPathComponent("graph-1.json")
    try FileManager.default.copyItem(
      at: try attribute("other.json", model: otherModel, clt: otherCLT), to: graph)
    let report = try ToolHarness.run("clt-report", [results.path])
    Self.expectRefused(report, naming: [graph.path, clt.path], "clt-report")
    try FileManager.default.removeItem(at: graph)
    try FileManager.default.copyItem(
      at: try attribute("own.json", model: fixture.model, clt: fixture.clt), to: graph)
    #expect(try ToolHarness.run("clt-report", [results.path]).status == 0)
  }

  @Test(
    "clt-fit refuses --eval shards of another model before training, and --resume with another model's shards"
  )
  func training() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let otherShards = dir.appendingPathComponent("other-shards")
    let acts = try ToolHarness.run(
      "gpt2-acts",
      [
        "--model", otherModel.path, "--tokenizer", fixture.rankFile.path, "--quiet", "--out-dir",
        otherShards.path,
        "--context", "16", fixture.corpus.path,
      ])
    #expect(acts.status == 0, "\(acts.stderr)")
    let shards = fixture.dir.appendingPathComponent("shards")
    let out = dir.appendingPathComponent("clt.h5")
    let fit = { (arguments: [String]) in
      try ToolHarness.run(
        "clt-fit", ["-o", out.path, "--features", "16", "--batch", "16", "--quiet"] + arguments)
    }
    var r = try fit(["--steps", "100000", "--eval", otherShards.path, shards.path])
    Self.expectRefused(r, naming: [otherShards.path, shards.path, "(--eval)", "sha256"], "--eval")
    #expect(!FileManager.default.fileExists(atPath: out.path))

    r = try fit(["--steps", "3", "--checkpoint-every", "1", shards.path])
    #expect(r.status == 0, "\(r.stderr)")
    let checkpoint = out.path + ".ckpt"
    r = try fit(["--steps", "6", "--resume", checkpoint, otherShards.path])
    Self.expectRefused(r, naming: [checkpoint, otherShards.path, "sha256"], "--resume")
    r = try fit(["--steps", "6", "--resume", checkpoint, "--eval", shards.path, shards.path])
    #expect(r.status == 0, "the matching checkpoint and held-out shards: \(r.stderr)")
  }
}
