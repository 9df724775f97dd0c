import ActivationShards
import CLTFormat
import ExperimentReport
import Foundation
import Testing
import Transcoder

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// The report reads what the pipeline wrote and shows every measured figure, in Markdown and in
/// HTML that escapes the prompts' text.
@Suite struct ExperimentReportTests {
  let dir: URL

  init() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("cltkit-report-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  /// results/demo/clt/ with a 3-layer clt.h5 (with a held-out evaluation) and the pipeline's
  /// JSON outputs.
  func makeResults() throws -> URL {
    let experiment = dir.appendingPathComponent("demo")
    let variant = experiment.appendingPathComponent("clt")
    try FileManager.default.createDirectory(
      at: variant.appendingPathComponent("graphs"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(
      at: variant.appendingPathComponent("pictures"), withIntermediateDirectories: true)
    let shards = ShardMetadata(
      architecture: "llama", model: "tiny.gguf", modelSHA256: String(repeating: "b", count: 64), nLayers: 3,
      dModel: 4, context: 8, dtype: .f32, inputTap: "x", outputTap: "y", createdBy: "test")
    var configuration = TrainingConfiguration(features: 5, batch: 16, steps: 10, shuffleRows: 16, seed: 1)
    configuration.activation = .batchTopK
    configuration.k = 2
    var file = CLTFile(
      transcoder: CrossLayerTranscoder(nLayers: 3, dModel: 4, features: 5, seed: 1),
      normalizer: ActivationNormalizer(inputScales: [1, 1, 1], outputScales: [1, 1, 1]),
      frequencies: Array(repeating: Array(repeating: 0.1, count: 5), count: 3),
      metadata: CLTFileMetadata(
        shards: shards, features: 5, configuration: configuration, tokensSeen: 160, steps: 10,
        createdBy: "clt-fit test"))
    file.evaluation = CLTEvaluation(
      tokens: 64, nmse: [0.1, 0.2, 0.3], explainedVariance: [0.9, 0.8, 0.7], l0: [2, 2, 2],
      deadFraction: [0, 0.2, 0.4])
    try file.write(to: variant.appendingPathComponent("clt.h5"))
    func put(_ text: String, _ path: String) throws {
      try Data(text.utf8).write(to: experiment.appendingPathComponent(path))
    }
    try put(
      #"{"predictions": 100, "ce_original": 3.0, "ce_replacement": 3.5, "ce_ablated": 8.0, "fraction_ce_recovered": 0.9, "kl": 0.25, "top1_agreement": 0.625, "nmse": [0.11, null, 0.33], "l0": [2.0, 2.0, 2.0]}"#,
      "clt/eval.json")
    try put(
      #"{"kl": 0.5, "top1_agreement": 0.75, "original": {"text": " Paris."}, "replacement": {"text": " Lyon."}, "steps": []}"#,
      "clt/generation.json")
    try put(
      #"{"metadata": {"prompt": "a <b> & \"c\"", "completeness_score": 0.8, "replacement_score": 0.5, "pruned_completeness_score": 0.75, "pruned_replacement_score": 0.45}, "nodes": [{}, {}, {}], "links": [{}]}"#,
      "clt/graphs/graph-1.json")
    try put(
      #"{"metadata": {"prompt": "two", "completeness_score": 0.6, "replacement_score": 0.3}, "nodes": [], "links": []}"#,
      "clt/graphs/graph-2.json")
    try put("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "clt/pictures/heatmap.svg")
    try put("<html></html>", "clt/graphs/graph-1.html")
    try put("<html></html>", "clt/pictures/dashboards.html")
    try put("{\"step\": 10, \"mean_nmse\": 0.25, \"mean_l0\": 2.0}\n", "clt/metrics.jsonl")
    try put("12.5\t/x/results/acts/done\n100.0\tclt/clt.h5\n", "timings.tsv")
    try put(#"{"commit": "abc123", "inputs": {"model": {"sha256": "bbbb"}}}"#, "provenance.json")
    return experiment
  }

  @Test("Every measured figure reaches the report: summary, per layer, replacement, graphs, timings")
  func figures() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let results = try ExperimentResults(folder: try makeResults())
    let markdown = ExperimentReport.document(for: results).markdown
    // Summary: held-out mean NMSE (0.2), L0 2, dead 20%, CE recovered 90%, KL, top-1 62.5%, the
    // graphs' mean completeness (0.7) and replacement (0.4).
    let summary = markdown.split(separator: "\n").first { $0.hasPrefix("| clt |") }
    #expect(summary != nil)
    for cell in ["batchtopk (k 2)", "0.2000", "2.0", "20.0%", "90.0%", "0.250", "62.5%", "0.700", "0.400"] {
      #expect(summary?.contains(cell) == true, "summary lacks \(cell): \(summary ?? "")")
    }
    // One per-layer row per layer; a null NMSE in eval.json shows as a dash.
    let layerRows = markdown.split(separator: "\n").filter {
      $0.hasPrefix("| 0 |") || $0.hasPrefix("| 1 |") || $0.hasPrefix("| 2 |")
    }
    #expect(layerRows.count == 3 + 2, "3 layer rows and the rows of graphs 1 and 2: \(layerRows)")
    #expect(layerRows.contains { $0.hasPrefix("| 1 | 0.2000") && $0.contains("| — |") })
    #expect(markdown.contains(" Paris.") && markdown.contains(" Lyon."))
    #expect(markdown.contains("![heatmap](clt/pictures/heatmap.svg)"))
    #expect(markdown.contains("- [graph-1.html](clt/graphs/graph-1.html)"))
    #expect(!markdown.contains("graph-2.html"), "a graph without a page gets no link")
    #expect(markdown.contains("- [dashboards.html](clt/pictures/dashboards.html)"), "the feature dashboards")
    #expect(markdown.contains("| total | 112.5 (1m52s) |"))
    #expect(markdown.contains("| inputs.model.sha256 | bbbb |"))
    #expect(
      markdown.contains("| acts/done | 12.5 |") == false, "stage paths outside the folder stay absolute")
  }

  @Test("The HTML page escapes prompt text and references only the pictures beside it")
  func html() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let html = ExperimentReport.document(for: try ExperimentResults(folder: try makeResults())).html
    #expect(html.contains("a &lt;b&gt; &amp; &quot;c&quot;"))
    #expect(!html.contains("<b>"))
    #expect(html.contains("<img src=\"clt/pictures/heatmap.svg\""))
    #expect(!html.contains("src=\"http"))
    // Well-formed enough for an XML parser once the doctype is dropped.
    let body = html.replacingOccurrences(of: "<!DOCTYPE html>", with: "")
      .replacingOccurrences(of: "<meta charset=\"utf-8\">", with: "<meta charset=\"utf-8\"/>")
      .replacingOccurrences(of: #"(<img [^>]*[^/])>"#, with: "$1/>", options: .regularExpression)
    let parser = XMLParser(data: Data(body.utf8))
    #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
  }

  @Test("A folder without results is refused, naming it and the command that makes them")
  func empty() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: ReportError.noResults(path: dir.path)) { try ExperimentResults(folder: dir) }
    #expect(ReportError.noResults(path: dir.path).errorDescription!.contains("make -C pipelines"))
  }
}
