import ArgumentParser
import CLTFormat
import Foundation
import Plots
import ToolSupport

/// `clt-plot heatmap`: a token × feature heatmap of one document of clt-encode's output.
struct Heatmap: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Token × feature heatmap of one text's activations (clt-encode JSON lines).",
    discussion: """
      Rows are the document's tokens, columns the features with the largest summed activation on \
      it (L{layer}/F{feature}, ordered by layer), colour the activation; white is silent.
      """)

  @OptionGroup var output: OutputOptions

  @Option(
    name: .long, parsing: .unconditional,
    help: "The document to draw (its \"doc\" number); default the first.")
  var doc: Int?

  @Option(name: .long, parsing: .unconditional, help: "Columns: the most active features, at most this many.")
  var features: Int = 32

  @Option(name: .long, parsing: .unconditional, help: "Rows: the document's first tokens, at most this many.")
  var maxTokens: Int = 128

  @Argument(help: "clt-encode output (JSON lines), or - for stdin.")
  var input: String = "-"

  func validate() throws {
    try require(doc, atLeast: 0, "--doc")
    try require(features, atLeast: 1, "--features")
    try require(maxTokens, atLeast: 1, "--max-tokens")
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot heatmap") {
      let tokens = try TokenFeatures.readDocument(input, doc: doc)
      let heatmap = ActivationHeatmap(
        tokens: Array(tokens.prefix(maxTokens)), maxFeatures: features, source: input)
      try output.emit(heatmap.svg())
    }
  }
}
