import Foundation
import Testing

/// `make -C pipelines` end to end on a tiny random GPT-2: every stage runs, the report holds the
/// measured figures, and a second make finds everything up to date.
@Suite(.serialized) struct PipelineTests {
  /// What the pipeline needs besides the tools: make, Graphviz, jq and headless Chromium (all
  /// installed by scripts/install-deps.sh, so CI has them).
  static let missingPrograms: [String] = ["make", "dot", "jq", "chromium"].filter { name in
    !((ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") + ["/usr/bin"])
      .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
  }

  @Test(
    "An experiment runs from dump to REPORT.md, records its commands and inputs, and a rerun rebuilds nothing",
    .enabled(
      if: missingPrograms.isEmpty,
      "needs \(missingPrograms.joined(separator: ", ")) (scripts/install-deps.sh)"))
  func smokeExperiment() throws {
    let (dir, model, rankFile) = try ToolHarness.makeWorkspace("pipeline")
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = dir.appendingPathComponent("corpus")
    try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
    let text = (0..<12).map { "Document \($0): the quick brown fox jumps over the lazy dog, then sleeps." }
      .joined(separator: "\n<|endoftext|>\n")
    try text.write(to: corpus.appendingPathComponent("train.txt"), atomically: true, encoding: .utf8)
    try text.write(to: corpus.appendingPathComponent("heldout.txt"), atomically: true, encoding: .utf8)
    let experiments = dir.appendingPathComponent("experiments")
    try FileManager.default.createDirectory(at: experiments, withIntermediateDirectories: true)
    try """
    MODEL_PATH := \(model.path)
    MODEL_NAME := tiny
    MODEL_OPTIONS := --tokenizer \(rankFile.path)
    CONTEXT := 16
    TRAIN_TOKENS := 400
    HELDOUT_TOKENS := 96
    EVAL_TOKENS := 96
    GENERATE_TOKENS := 6
    PICTURE_LAYER := 1
    VARIANTS := clt
    FIT_clt := --features 16 --activation batchtopk --k 2 --batch 32 --steps 12 --seed 0

    """.write(to: experiments.appendingPathComponent("smoke.mk"), atomically: true, encoding: .utf8)
    let results = dir.appendingPathComponent("results")
    let arguments = [
      "-C", ToolHarness.packageRoot.appendingPathComponent("pipelines").path, "EXP=smoke",
      "EXP_DIR=\(experiments.path)", "RESULTS=\(results.path)", "BIN=\(ToolHarness.binDirectory.path)",
      "CORPUS=\(corpus.path)", "THREADS=1",
    ]
    let make = try ToolHarness.runProgram("/usr/bin/env", ["make"] + arguments)
    #expect(make.status == 0, "make failed:\n\(make.stderr.suffix(3000))")
    let out = results.appendingPathComponent("smoke")
    for file in [
      "clt/clt.h5", "clt/eval.json", "clt/encode.jsonl", "clt/generation.json", "clt/graphs/graph-1.json",
      "clt/graphs/graph-1.svg", "clt/graphs/graph-1.png", "clt/clt.index.json", "clt/graphs/graph-3.html",
      "clt/pictures/curves.svg", "clt/pictures/pca.svg",
      "clt/dashboard-encode.jsonl", "clt/pictures/dashboards.html",
      "provenance.json", "REPORT.md", "REPORT.html",
    ] {
      #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file)")
    }
    let report = try String(contentsOf: out.appendingPathComponent("REPORT.md"), encoding: .utf8)
    #expect(report.contains("| clt | batchtopk (k 2) | 16 |"), "\(report.prefix(1500))")
    #expect(report.contains("![curves](clt/pictures/curves.svg)"))
    #expect(report.contains("[dashboards.html](clt/pictures/dashboards.html)"))
    let dashboards = try String(
      contentsOf: out.appendingPathComponent("clt/pictures/dashboards.html"), encoding: .utf8)
    #expect(
      dashboards.contains("<section class=\"feature\"")
        && dashboards.contains("table class=\"logits promoted\""))
    #expect(dashboards.contains("graph-1.json @"), "the dashboards are of the graphs' features")
    #expect(dashboards.contains("<span class=\"label\">"), "features are labelled from the index")
    // The graphs' features are labelled from the index the pipeline built (quoted firing tokens).
    let dot = try String(contentsOf: out.appendingPathComponent("clt/graphs/graph-1.dot"), encoding: .utf8)
    #expect(dot.contains("\\n\\\""), "\(dot.prefix(2000))")
    let commands = try String(contentsOf: out.appendingPathComponent("commands.sh"), encoding: .utf8)
    #expect(
      commands.contains("clt-fit -o") && commands.contains("clt-attrib") && commands.contains("gpt2-acts")
        && commands.contains("clt-encode") && commands.contains("--index"))
    let provenance =
      try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("provenance.json")))
      as? [String: Any]
    let modelHash =
      ((provenance?["inputs"] as? [String: Any])?["model"] as? [String: Any])?["sha256"] as? String
    #expect(modelHash?.count == 64, "the model folder's hash: \(modelHash ?? "none")")
    // Nothing is stale: a second make runs no tool, so commands.sh gains no line.
    let again = try ToolHarness.runProgram("/usr/bin/env", ["make"] + arguments)
    #expect(again.status == 0, "\(again.stderr.suffix(2000))")
    let after = try String(contentsOf: out.appendingPathComponent("commands.sh"), encoding: .utf8)
    #expect(after == commands, "a second make ran: \(after.dropFirst(commands.count))")
  }
}
