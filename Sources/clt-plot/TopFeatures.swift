import ArgumentParser
import CLTFormat
import Foundation
import Plots
import ToolSupport

/// `clt-plot top-features`: each token's strongest features as bars.
struct TopFeatures: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Top features of each token as horizontal bars (clt-encode JSON lines).",
    discussion: "One panel per token of the document (or only --pos), its --top strongest features.")

  @OptionGroup var output: OutputOptions

  @Option(name: .long, parsing: .unconditional, help: "The document (its \"doc\" number); default the first.")
  var doc: Int?

  @Option(name: .long, parsing: .unconditional, help: "Only the token at this position of the document.")
  var pos: Int?

  @Option(name: .long, parsing: .unconditional, help: "Bars per token.")
  var top: Int = 8

  @Option(
    name: .long, parsing: .unconditional, help: "Panels: the document's first tokens, at most this many.")
  var maxTokens: Int = 64

  @Argument(help: "clt-encode output (JSON lines), or - for stdin.")
  var input: String = "-"

  func validate() throws {
    try require(doc, atLeast: 0, "--doc")
    try require(pos, atLeast: 0, "--pos")
    try require(top, atLeast: 1, "--top")
    try require(maxTokens, atLeast: 1, "--max-tokens")
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot top-features") {
      var tokens = try TokenFeatures.readDocument(input, doc: doc)
      if let pos {
        tokens = tokens.filter { $0.pos == pos }
        guard !tokens.isEmpty else {
          throw PlotError.notInInput(file: input, detail: "document \(doc ?? 0) has no position \(pos)")
        }
      }
      let chart = TopFeaturesChart(tokens: Array(tokens.prefix(maxTokens)), top: top, source: input)
      try output.emit(chart.svg())
    }
  }
}
