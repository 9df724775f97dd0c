import CLTFormat
import Foundation
import Testing

/// The brief's two command lines, typed literally in an empty folder with nothing but a CLTKit
/// home: the defaults (model, tokenizer, one pass, feature count, clt.h5) must make them work.
@Suite(.serialized) struct BriefLinesTests {
  /// A temporary CLTKit home holding a tiny GPT-2 as `models/gpt2` and the rank file as
  /// `assets/gpt2.tiktoken`, as `make gpt2-download` and `make assets` lay them out; and an empty
  /// working folder beside it.
  static func makeHome(_ name: String) throws -> (root: URL, home: URL, work: URL) {
    let root = try ToolHarness.temporaryDirectory(name)
    let home = root.appendingPathComponent("home")
    let gpt2 = home.appendingPathComponent("models/gpt2")
    let assets = home.appendingPathComponent("assets")
    for folder in [gpt2, assets, root.appendingPathComponent("work")] {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    try ToolHarness.makeCheckpoint(in: gpt2, positions: 128)
    try FileManager.default.copyItem(
      at: try ToolHarness.rankFile, to: assets.appendingPathComponent("gpt2.tiktoken"))
    return (root, home, root.appendingPathComponent("work"))
  }

  /// Runs `command` with bash in `folder`, the tools first on PATH, CLTKIT_HOME set and the
  /// variables that would pick another model or tokenizer unset.
  static func bash(_ command: String, in folder: URL, home: URL) throws -> ToolHarness.Result {
    let path =
      ToolHarness.binDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")
    return try ToolHarness.runProgram(
      "/usr/bin/env",
      [
        "-u", "CLTKIT_ASSETS", "-u", "CLTKIT_MODEL", "PATH=\(path)", "CLTKIT_HOME=\(home.path)", "bash", "-c",
        "cd '\(folder.path)' || exit 99; set -o pipefail; \(command)",
      ])
  }

  /// About 1,400 tokens of varied English: more than one batch of the default 1,024 rows.
  static let corpus = (0..<40).map {
    "Paragraph \($0): the committee met on Tuesday to discuss the budget, the weather and \($0 * 7) "
      + "other matters, then adjourned until the following week."
  }.joined(separator: "\n")

  @Test(
    "`gpt2-acts corpus.txt | clt-fit -o clt.h5` then `clt-attrib prompt.txt | dot -Tpng > graph.png` work as typed"
  )
  func briefLines() throws {
    let (root, home, work) = try Self.makeHome("brief")
    defer { try? FileManager.default.removeItem(at: root) }
    try Self.corpus.write(to: work.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
    let fit = try Self.bash("gpt2-acts corpus.txt | clt-fit -o clt.h5", in: work, home: home)
    #expect(fit.status == 0, "\(fit.stderr)")
    #expect(
      fit.stderr.contains("model \(home.path)/models/gpt2 (the default model"),
      "says which model: \(fit.stderr)")
    #expect(fit.stderr.contains("one pass over"), "plans one pass: \(fit.stderr)")
    #expect(fit.stderr.contains("--features 4096"), "a tiny model gets the largest default: \(fit.stderr)")
    #expect(!fit.stderr.contains("pass 2"), "one pass, not several: \(fit.stderr)")
    let left = try FileManager.default.contentsOfDirectory(atPath: work.path).sorted()
    #expect(left == ["clt.h5", "corpus.txt"], "the pipeline leaves no shards behind: \(left)")
    // The recipe the line trains by default: the demo's BatchTopK, k 32 at learning rate 2e-3.
    let trained = try CLTFile.summary(url: work.appendingPathComponent("clt.h5")).metadata.configuration
    #expect(
      trained.activation == .batchTopK && trained.k == 32 && trained.learningRate == 2e-3,
      "\(trained.activation) k \(trained.k) lr \(trained.learningRate)")

    try "The committee met on".write(
      to: work.appendingPathComponent("prompt.txt"), atomically: true, encoding: .utf8)
    let graph = try Self.bash("clt-attrib prompt.txt | dot -Tpng > graph.png", in: work, home: home)
    #expect(graph.status == 0, "\(graph.stderr)")
    #expect(graph.stderr.contains("the model clt.h5 was trained on"), "\(graph.stderr)")
    let png = try Data(contentsOf: work.appendingPathComponent("graph.png"))
    #expect(png.count > 1000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "a PNG: \(png.count) bytes")
  }

  @Test("With no model fetched, the first error names the missing model and the command that fetches one")
  func noModel() throws {
    let (root, home, work) = try Self.makeHome("nomodel")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.removeItem(at: home.appendingPathComponent("models/gpt2"))
    try "text".write(to: work.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
    let r = try Self.bash("gpt2-acts corpus.txt", in: work, home: home)
    #expect(r.status == 1, "\(r.stderr)")
    #expect(
      r.stderr.hasPrefix("gpt2-acts: error: no model:") && r.stderr.contains("make models"), "\(r.stderr)")
    #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
    let attrib = try Self.bash("echo hi | clt-attrib -", in: work, home: home)
    #expect(
      attrib.status == 1 && attrib.stderr.contains("clt.h5: no such transcoder; train one with"),
      "\(attrib.stderr)")
  }
}
