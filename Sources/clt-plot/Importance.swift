import ArgumentParser
import CLTFormat
import Foundation
import Plots
import ToolSupport

/// `clt-plot importance`: features ranked by activation × decoder norm.
struct Importance: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Features ranked by importance (activation × decoder norm) as bars.",
    discussion: """
      From clt-encode JSON lines and --clt (summed over the tokens), or from a graph \
      (clt-attrib --format json, the input ending in .json or given with --graph): each feature node, \
      by activation × decoder norm with --clt, by its influence on the logits without. The input \
      must have been made with --clt: one of another model or shape is refused.
      """)

  @OptionGroup var output: OutputOptions

  @Option(name: .long, help: ArgumentHelp("The transcoder (clt.h5) for decoder norms.", valueName: "path"))
  var clt: String?

  @Flag(name: .long, help: "The input is a graph (clt-attrib --format json); implied by a .json name.")
  var graph = false

  @Option(name: .long, parsing: .unconditional, help: "Bars to draw.")
  var top: Int = 30

  @Argument(help: "clt-encode output (JSON lines) or a graph JSON, or - for stdin.")
  var input: String = "-"

  var isGraph: Bool { graph || input.hasSuffix(".json") }

  func validate() throws {
    try require(top, atLeast: 1, "--top")
    if !isGraph && clt == nil {
      throw ValidationError(
        "clt-encode input needs --clt clt.h5 for the decoder norms (or give a graph .json)")
    }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot importance") {
      let file = try clt.map(loadTranscoder)
      let chart =
        isGraph
        ? try FeatureImportance.fromGraph(
          try AttributionGraphFile.read(input), file: file, top: top, source: input)
        : try FeatureImportance.fromEncoded(path: input, file: file!, top: top)
      try output.emit(chart.svg())
    }
  }
}
