import ArgumentParser
import CLTFormat
import Foundation
import Plots
import ToolSupport

/// `clt-plot decoder-norms`: per feature, its decoder norm into each target layer.
struct DecoderNorms: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decoder-norms",
    abstract: "Decoder-norm profiles across target layers of chosen features of a clt.h5.",
    discussion: "Give features with --feature LAYER:FEATURE (repeat), or --layer L for its --top strongest.")

  @OptionGroup var output: OutputOptions

  @Option(
    name: .long,
    help: ArgumentHelp("A feature to draw, e.g. 3:117; repeat for several.", valueName: "layer:feature"))
  var feature: [String] = []

  @Option(
    name: .long, parsing: .unconditional,
    help: "Draw the --top features of this layer with the largest decoder norm.")
  var layer: Int?

  @Option(name: .long, parsing: .unconditional, help: "How many features --layer draws.")
  var top: Int = 8

  @Argument(help: "The transcoder (clt.h5).")
  var clt: String

  func validate() throws {
    guard !feature.isEmpty || layer != nil else {
      throw ValidationError("give --feature LAYER:FEATURE or --layer L")
    }
    for f in feature where FeatureKey(parsing: f) == nil {
      throw ValidationError("--feature \(f): write LAYER:FEATURE, e.g. 3:117")
    }
    try require(layer, atLeast: 0, "--layer")
    try require(top, atLeast: 1, "--top")
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot decoder-norms") {
      let file = try loadTranscoder(clt)
      var keys = feature.compactMap(FeatureKey.init(parsing:))
      if let layer {
        let strongest = try DecoderNormProfile.topFeatures(file: file, layer: layer, count: top, source: clt)
        keys += strongest.filter { !keys.contains($0) }
      }
      try output.emit(try DecoderNormProfile(file: file, features: keys, source: clt).svg())
    }
  }
}
