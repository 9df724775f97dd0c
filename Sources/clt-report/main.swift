import ArgumentParser
import ExperimentReport
import Foundation
import ToolSupport

/// Writes an experiment's REPORT.md and REPORT.html from its results folder.
struct CLTReport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-report",
    abstract: "Write an experiment's report (Markdown and HTML) from its results folder.",
    discussion: """
      RESULTS is what `make -C pipelines EXP=NAME` fills: one folder per trained variant holding \
      clt.h5 and, where the pipeline made them, eval.json, generation.json, metrics.jsonl, \
      graphs/ and pictures/; timings.tsv and provenance.json beside them. The report tabulates \
      held-out NMSE, L0 and dead features per layer, CE recovered, KL, top-1 agreement, the graphs' \
      completeness and replacement scores, and shows the pictures. Both files are written \
      atomically.
      """,
    version: "0.1.0")

  @Argument(help: "The experiment's results folder (results/NAME).")
  var results: String

  @Option(name: .shortAndLong, help: "Markdown output (default: RESULTS/REPORT.md).")
  var output: String?

  @Option(name: .long, help: "HTML output (default: RESULTS/REPORT.html).")
  var html: String?

  func run() throws {
    try runReportingErrors(tool: "clt-report") {
      let folder = URL(fileURLWithPath: results)
      let document = ExperimentReport.document(for: try ExperimentResults(folder: folder))
      let markdownURL = URL(fileURLWithPath: output ?? folder.appendingPathComponent("REPORT.md").path)
      let htmlURL = URL(fileURLWithPath: html ?? folder.appendingPathComponent("REPORT.html").path)
      try AtomicFile.write(Data(document.markdown.utf8), to: markdownURL)
      try AtomicFile.write(Data(document.html.utf8), to: htmlURL)
      StandardError.line("clt-report: wrote \(markdownURL.path) and \(htmlURL.path)")
    }
  }
}

CLTReport.main()
