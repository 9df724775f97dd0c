import ArgumentParser
import Foundation
import Plots
import ToolSupport
import TranscoderTraining

extension LayerCorrelation.Measure: ExpressibleByArgument {}
extension DecoderPCA.Rows: ExpressibleByArgument {}

/// Reads a clt.h5, naming it in the error when it cannot.
func loadTranscoder(_ path: String) throws -> CLTFile {
  guard FileManager.default.fileExists(atPath: path) else {
    throw PlotError.unreadable(file: path, reason: "no such file; give the clt.h5 clt-fit wrote")
  }
  return try CLTFile.load(url: URL(fileURLWithPath: path))
}

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

  @Option(name: .long, help: "Draw the --top features of this layer with the largest decoder norm.")
  var layer: Int?

  @Option(name: .long, help: "How many features --layer draws.")
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
    guard top >= 1 else { throw ValidationError("--top must be at least 1") }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot decoder-norms") {
      let file = try loadTranscoder(clt)
      var keys = feature.compactMap(FeatureKey.init(parsing:))
      if let layer {
        keys += try DecoderNormProfile.topFeatures(file: file, layer: layer, count: top, source: clt)
      }
      try output.emit(try DecoderNormProfile(file: file, features: keys, source: clt).svg())
    }
  }
}

/// `clt-plot pca`: a layer's decoder directions projected on two principal components.
struct PCA: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "2-D PCA of one layer's decoder directions from a clt.h5, coloured by firing frequency.")

  @OptionGroup var output: OutputOptions

  @Option(name: .long, help: "The layer whose features to project.")
  var layer: Int = 0

  @Option(
    name: .long,
    help: "same: each feature's decoder row into its own layer; concatenated: into every later layer too.")
  var rows: DecoderPCA.Rows = .same

  @Argument(help: "The transcoder (clt.h5).")
  var clt: String

  func run() throws {
    try runReportingErrors(tool: "clt-plot pca") {
      try output.emit(
        try DecoderPCA(file: try loadTranscoder(clt), layer: layer, rows: rows, source: clt).svg())
    }
  }
}

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

  @Option(name: .long, help: "Number of layers; default one more than the highest in the input.")
  var layers: Int?

  @Argument(help: "clt-encode output (JSON lines), or - for stdin.")
  var input: String = "-"

  func validate() throws {
    if let layers, layers < 1 { throw ValidationError("--layers must be at least 1") }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot correlations") {
      let tokens = try EncodedToken.read(input)
      try output.emit(LayerCorrelation(tokens: tokens, measure: measure, layers: layers, source: input).svg())
    }
  }
}

/// `clt-plot importance`: features ranked by activation × decoder norm.
struct Importance: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Features ranked by importance (activation × decoder norm) as bars.",
    discussion: """
      From clt-encode JSON lines and --clt (summed over the tokens), or from a graph \
      (clt-attrib --format json, the input ending in .json or given with --graph): each feature node, \
      by activation × decoder norm with --clt, by its influence on the logits without.
      """)

  @OptionGroup var output: OutputOptions

  @Option(name: .long, help: ArgumentHelp("The transcoder (clt.h5) for decoder norms.", valueName: "path"))
  var clt: String?

  @Flag(name: .long, help: "The input is a graph (clt-attrib --format json); implied by a .json name.")
  var graph = false

  @Option(name: .long, help: "Bars to draw.")
  var top: Int = 30

  @Argument(help: "clt-encode output (JSON lines) or a graph JSON, or - for stdin.")
  var input: String = "-"

  var isGraph: Bool { graph || input.hasSuffix(".json") }

  func validate() throws {
    guard top >= 1 else { throw ValidationError("--top must be at least 1") }
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
        : try FeatureImportance.fromEncoded(
          try EncodedToken.read(input), file: file!, top: top, source: input)
      try output.emit(chart.svg())
    }
  }
}
