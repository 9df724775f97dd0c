import ArgumentParser
import CLTFormat
import FeatureIndex
import Foundation
import LanguageModels
import ModelLoading
import Plots
import ReplacementModel
import ToolSupport

/// `clt-plot dashboard`: feature dashboards (top-activating contexts and logit effects) as one
/// static HTML page.
struct Dashboard: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Feature dashboards: top-activating contexts and logit effects, as one static HTML page.",
    discussion: """
      Reads clt-encode output (JSON lines) of a corpus as a stream and keeps, for each chosen \
      feature, its --contexts strongest activations with --window tokens either side in the same \
      document, shaded by activation. With --model (the model clt.h5 was trained on, checked) each \
      feature also lists the --logits tokens its decoders promote and suppress most: \
      W_U · (γ ⊙ c(Σ_l' W_dec[l→l'] / s_out[l'])), γ the final norm's weight, c its centring \
      (LayerNorm), the norm's denominator ignored as Neuronpedia and circuit-tracer do; \
      --no-logits leaves the model out. Features: --feature L:F (repeat, or comma-separated), the \
      --top-features most influential feature nodes of --graph files (clt-attrib --format json), \
      or else the --top-features most important of the input (Σ activation × decoder norm, which \
      reads the input twice, so it must be a file). The input and the --graph files must have been \
      made with --clt: ones of another model or shape are refused. The page has an index, then one section per \
      feature (id L{layer}-F{feature}); format: docs/FORMATS.md.
      """)

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .long, help: ArgumentHelp("The transcoder (clt.h5).", valueName: "path"))
  var clt: String

  @Flag(name: .long, help: "No logit effects: the model is not loaded.")
  var noLogits = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Features to show, e.g. 3:117 or 3:117,0:5; repeat for more.", valueName: "layer:feature"))
  var feature: [String] = []

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Show the feature nodes of this graph (clt-attrib --format json); repeat for more.", valueName: "json"))
  var graph: [String] = []

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "How many features --graph (or, without --feature and --graph, the input) picks (default 12).",
      valueName: "count"))
  var topFeatures: Int?

  @Option(name: .long, parsing: .unconditional, help: "Contexts per feature.")
  var contexts: Int = 10

  @Option(name: .long, parsing: .unconditional, help: "Tokens shown on each side of the activating one.")
  var window: Int = 8

  @Option(name: .long, parsing: .unconditional, help: "Promoted and suppressed tokens listed per feature.")
  var logits: Int = 10

  @OptionGroup var output: PageOutputOptions

  @OptionGroup var common: CommonOptions

  @Argument(help: "clt-encode output (JSON lines) of a corpus, or - for stdin.")
  var input: String = "-"

  var features: [FeatureKey] {
    feature.flatMap { $0.split(separator: ",") }.compactMap { FeatureKey(parsing: String($0)) }
  }

  /// The input's own most important features are chosen when no feature is named.
  var ranksInput: Bool { feature.isEmpty && graph.isEmpty }

  func validate() throws {
    for list in feature {
      for f in list.split(separator: ",", omittingEmptySubsequences: false)
      where FeatureKey(parsing: String(f)) == nil {
        throw ValidationError("--feature \(f): write LAYER:FEATURE, e.g. 3:117")
      }
    }
    try require(topFeatures, atLeast: 1, "--top-features")
    try require(contexts, atLeast: 1, "--contexts")
    try require(window, atLeast: 0, "--window")
    try require(logits, atLeast: 1, "--logits")
    if ranksInput && input == "-" {
      throw ValidationError(
        "ranking the input's features reads it twice: give it as a file, or choose features with --feature or --graph"
      )
    }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot dashboard") {
      common.applyThreads()
      let model = noLogits ? nil : try modelOptions.loadModel()
      let tokenizer = noLogits ? nil : try modelOptions.loadTokenizer()
      let file =
        try model.map { try CLTFile.load(url: URL(fileURLWithPath: clt), for: $0.description) }
        ?? loadTranscoder(clt)
      let loaded = Date()
      let (keys, notes) = try chooseFeatures(file: file)
      let top = try TopActivations.read(
        input, features: keys, count: contexts, window: window, madeWith: file)
      var dashboards = keys.map { key in
        FeatureDashboard(
          key: key, contexts: top.contexts(of: key), firingTokens: top.firingTokens[key] ?? 0,
          trainingFrequency: Double(file.frequencies[key.layer][key.feature]), notes: notes[key] ?? [])
      }
      var logitNote: String?
      if let model, let tokenizer {
        let effects = try FeatureLogitEffects.compute(
          file: file, readout: model.logitReadout, features: keys.map { ($0.layer, $0.feature) }, top: logits)
        func entries(_ list: [FeatureLogitEffects.Effect]) -> [FeatureDashboard.LogitEffect] {
          list.map {
            FeatureDashboard.LogitEffect(
              token: String(decoding: tokenizer.tokenBytes(Int32($0.tokenID)), as: UTF8.self),
              value: Double($0.value))
          }
        }
        for i in dashboards.indices {
          dashboards[i].promoted = entries(effects[i].promoted)
          dashboards[i].suppressed = entries(effects[i].suppressed)
        }
        logitNote =
          "direct effect on \(model.description.name)'s logits per unit of activation, "
          + "W_U · (γ ⊙ Σ W_dec / s_out) through the final norm with its denominator ignored."
      }
      // Labels as clt-attrib draws them: the feature index beside the clt.h5 when it is this CLT's.
      if let index = try FeatureIndex.read(path: FeatureIndex.path(forTranscoder: clt)),
        index.mismatch(with: file.transcoder, metadata: file.metadata) == nil
      {
        for i in dashboards.indices {
          dashboards[i].label = index.layers[keys[i].layer][keys[i].feature].label.text
        }
      } else {
        for i in dashboards.indices where !dashboards[i].promoted.isEmpty {
          dashboards[i].label = FeatureLabel(firing: [], promoting: dashboards[i].promoted.map(\.token)).text
        }
      }
      let page = FeatureDashboardPage(
        dashboards: dashboards, source: input, tokensSeen: top.tokensSeen, window: window,
        logitNote: logitNote)
      try output.emit(
        page.html(), summary: "\(keys.count) features, \(top.tokensSeen) tokens read", quiet: common.quiet)
      if common.timing {
        TimingLine(
          label: common.timingLabel(default: "dashboard"), tokens: top.tokensSeen,
          seconds: Date().timeIntervalSince(loaded)
        ).print()
      }
    }
  }

  /// The features to show, in order, with notes on where they came from; each checked against the
  /// transcoder.
  func chooseFeatures(file: CLTFile) throws -> ([FeatureKey], [FeatureKey: [String]]) {
    var keys: [FeatureKey] = []
    var notes: [FeatureKey: [String]] = [:]
    for key in features where !keys.contains(key) { keys.append(key) }
    if !graph.isEmpty {
      let graphs = try graph.map { path in
        let read = try AttributionGraphFile.read(path)
        try file.checkMadeWith(read, path: path)
        return (SVGDocument.fileName(path), read)
      }
      for (key, lines) in FeatureDashboard.graphFeatures(graphs, top: topFeatures ?? 12) {
        if !keys.contains(key) { keys.append(key) }
        notes[key, default: []] += lines
      }
    }
    if ranksInput {
      keys = try FeatureImportance.topFeatures(path: input, file: file, top: topFeatures ?? 12)
    }
    let t = file.transcoder
    for key in keys where key.layer >= t.nLayers || key.feature >= t.features {
      throw PlotError.notInInput(
        file: clt,
        detail: "no feature \(key.label) (layers 0…\(t.nLayers - 1), features 0…\(t.features - 1))")
    }
    guard !keys.isEmpty else {
      throw PlotError.emptyInput(file: graph.first ?? input, what: "features to show")
    }
    return (keys, notes)
  }
}
