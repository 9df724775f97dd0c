import ArgumentParser
import CLTFormat
import Foundation
import Plots
import ToolSupport

extension DecoderPCA.Rows: ExpressibleByArgument {}

/// `clt-plot pca`: a layer's decoder directions projected on two principal components.
struct PCA: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "2-D PCA of one layer's decoder directions from a clt.h5, coloured by firing frequency.")

  @OptionGroup var output: OutputOptions

  @Option(name: .long, parsing: .unconditional, help: "The layer whose features to project.")
  var layer: Int = 0

  @Option(
    name: .long,
    help: "same: each feature's decoder row into its own layer; concatenated: into every later layer too.")
  var rows: DecoderPCA.Rows = .same

  @Argument(help: "The transcoder (clt.h5).")
  var clt: String

  func validate() throws {
    try require(layer, atLeast: 0, "--layer")
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot pca") {
      try output.emit(
        try DecoderPCA(file: try loadTranscoder(clt), layer: layer, rows: rows, source: clt).svg())
    }
  }
}
