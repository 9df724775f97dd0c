import ArgumentParser
import Foundation
import Plots
import ToolSupport

extension LayerCorrelation.Measure: ExpressibleByArgument {}

/// `clt-plot correlations`: the layer × layer correlation matrix of clt-encode output.
struct Correlations: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Cross-layer correlations of feature activations (clt-encode JSON lines).",
    discussion: """
      Entry (a, b): Pearson correlation over all tokens of the input between layer a's and layer b's \
      per-token activation mass (sum of its active features' activations; --measure count: their number).
      """)

  @OptionGroup var output: OutputOptions

  @Option(name: .long, help: "mass (sum of activations) or count (active features) per layer and token.")
  var measure: LayerCorrelation.Measure = .mass

  @Option(
    name: .long, parsing: .unconditional,
    help: "Number of layers; default one more than the highest in the input.")
  var layers: Int?

  @Argument(help: "clt-encode output (JSON lines), or - for stdin.")
  var input: String = "-"

  func validate() throws {
    try require(layers, atLeast: 1, "--layers")
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot correlations") {
      try output.emit(try LayerCorrelation(path: input, measure: measure, layers: layers).svg())
    }
  }
}
