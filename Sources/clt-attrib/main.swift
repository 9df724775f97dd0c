import ArgumentParser
import Attribution
import CKernels
import CLTFormat
import FeatureIndex
import Foundation
import LanguageModels
import ModelLoading
import ReplacementModel
import Tokenizers
import ToolSupport

/// Attribution graphs of a prompt through a cross-layer transcoder, as Graphviz DOT or JSON.
struct CLTAttrib: ParsableCommand {
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case dot, json
  }

  static let configuration = CommandConfiguration(
    commandName: "clt-attrib",
    abstract: "Attribution graph of a prompt through a cross-layer transcoder (Ameisen et al. 2025).",
    discussion: """
      Reads the prompt from PROMPT_FILE (or stdin for -), runs the model once, builds the local \
      replacement model (the CLT plus its error in place of every MLP, attention patterns and norm \
      denominators frozen), computes the direct effects between embeddings, features, errors and \
      the top logits, prunes the graph by influence and writes it to stdout: Graphviz DOT by \
      default (clt-attrib prompt.txt | dot -Tpng > graph.png), or JSON with --format json \
      (docs/FORMATS.md). Completeness and replacement scores go to stderr; the --timing line adds \
      the loading seconds and the peak memory.

      The prompt is preceded by <|endoftext|>, as every window gpt2-acts cuts for training is; \
      that position's MLP outputs, which the transcoder never learnt (the attention sink), are \
      held constant (no feature or error nodes there), as circuit-tracer does for a BOS token. \
      --no-bos attributes the prompt as it is, with the first token's errors as error nodes.
      """,
    version: "0.1.0")

  @OptionGroup var modelOptions: ModelOptions

  @Option(
    name: .long, help: ArgumentHelp("The transcoder (clt.h5 from clt-fit) for this model.", valueName: "path")
  )
  var clt: String = "clt.h5"

  @Option(
    name: .long,
    help: ArgumentHelp(
      "A token whose logit to explain (its text, which must be one token); repeat for several. "
        + "Default: the top tokens covering 95% of the probability, at most 10.", valueName: "token"))
  var target: [String] = []

  @Option(
    name: .long, parsing: .unconditional,
    help: "Features whose incoming edges are computed, chosen by estimated influence.")
  var maxFeatureNodes: Int = AttributionOptions().maxFeatureNodes

  @Option(
    name: .long, parsing: .unconditional,
    help: "Keep the nodes holding this fraction of the influence on the logits.")
  var nodeThreshold: Double = AttributionOptions().nodeThreshold

  @Option(
    name: .long, parsing: .unconditional,
    help: "Keep the edges holding this fraction of the remaining influence.")
  var edgeThreshold: Double = AttributionOptions().edgeThreshold

  @Option(
    name: .long, parsing: .unconditional,
    help: "Feature edges kept per target while building (the largest); bounds memory on long prompts.")
  var rowFeatureBudget: Int = AttributionOptions().rowFeatureBudget

  @Option(name: .long, parsing: .unconditional, help: "Targets per backward pass.")
  var batchSize: Int = AttributionOptions().batchSize

  @Flag(
    name: .long,
    help: "Do not put <|endoftext|> before the prompt (position 0 then has feature and error nodes).")
  var noBos = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "What an embedding node stands for: token (W_E[t], circuit-tracer's) or token+position.",
      discussion: "With token, GPT-2's position embedding W_pos[p] is held constant like a bias; with "
        + "token+position it is part of the node. Models without a position embedding (Llama) give "
        + "the same graph either way."))
  var embeddingNodes: EmbeddingNodes = .token

  @Option(name: .long, help: "Output format: dot or json.")
  var format: Format = .dot

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "DOT output: the feature and error nodes drawn, the most influential on the logits.",
      discussion: "Features at one position with the same label, within 4 layers, are drawn as one "
        + "supernode; each node shows its strongest inputs (docs/FORMATS.md). "
        + "--dot-all draws the whole pruned graph instead."))
  var dotMaxNodes: Int = 40

  @Flag(name: .long, help: "DOT output: draw the whole pruned graph (at most --dot-max-edges edges).")
  var dotAll = false

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "DOT output with --dot-all: draw only this many edges, the largest by |weight| (0: all).",
      discussion: "Nodes left without a drawn edge are left out too, logits excepted. Graphviz needs hours "
        + "for the 100,000 edges a pruned graph of a long prompt can keep; --format json keeps them all."))
  var dotMaxEdges: Int = 1000

  @OptionGroup var common: CommonOptions

  @Argument(help: "File holding the prompt, or - for stdin.")
  var promptFile: String = "-"

  func validate() throws {
    try requireFinite(nodeThreshold, "--node-threshold", above: 0, atMost: 1)
    try requireFinite(edgeThreshold, "--edge-threshold", above: 0, atMost: 1)
    try require(maxFeatureNodes, atLeast: 0, "--max-feature-nodes")
    try require(dotMaxEdges, atLeast: 0, "--dot-max-edges")
    try require(dotMaxNodes, atLeast: 1, "--dot-max-nodes")
    try require(batchSize, atLeast: 1, "--batch-size")
    try require(rowFeatureBudget, atLeast: 1, "--row-feature-budget")
  }

  func run() throws {
    try runReportingErrors(tool: "clt-attrib") {
      common.applyThreads()
      // Every buffer of a megabyte or more straight from the kernel and back on free, so that the
      // passes' buffers do not stay resident in the allocator's heaps between passes.
      return_large_buffers_to_system(1 << 20)
      let start = Date()
      let prompt = try PromptFile.read(promptFile)
      try TrainedModel.requireTranscoder(at: clt)
      let summary = try CLTFile.summary(url: URL(fileURLWithPath: clt)).metadata
      let trained = TrainedModel(name: summary.model, sha256: summary.modelSHA256, file: clt)
      let tokenizer = try modelOptions.loadTokenizer(trainedOn: trained)
      let text = tokenizer.encode(prompt)
      guard !text.isEmpty else { throw AttributionError.emptyPrompt }
      let tokens = noBos ? text : [tokenizer.endOfTextID] + text
      let model = try modelOptions.loadModel(trainedOn: trained, tool: common.quiet ? nil : "clt-attrib")
      let (file, decoders) = try HalfDecoders.loadTranscoder(url: URL(fileURLWithPath: clt))
      try checkTranscoder(file.metadata, fits: model.description)
      var options = AttributionOptions()
      options.maxFeatureNodes = maxFeatureNodes
      options.nodeThreshold = nodeThreshold
      options.edgeThreshold = edgeThreshold
      options.batchSize = batchSize
      options.rowFeatureBudget = rowFeatureBudget
      options.embeddingNodes = embeddingNodes
      if !target.isEmpty { options.targets = try target.map { try targetID($0, tokenizer: tokenizer) } }
      let loaded = Date()
      let progress = ProgressLine(label: "clt-attrib", unit: "features attributed", quiet: common.quiet)
      // The local replacement model (its recorded forward pass above all) is released once the
      // graph is built, before pruning makes its copies of the adjacency.
      let graph = try {
        let local = try LocalReplacementModel(
          model: model.attributionModel, tokens: tokens, transcoder: file.transcoder,
          normalizer: file.normalizer, decoders: decoders, constantFirstPosition: !noBos,
          embeddingNodes: options.embeddingNodes)
        return try local.attributionGraph(options: options) { done, total in
          progress.update(done: done, fraction: Double(done) / Double(max(total, 1)))
        }
      }()
      if graph.featureCount > 0 { progress.finish(done: graph.featureCount) }
      let report = AttributionReport(
        graph: graph, options: options, prompt: prompt, modelName: model.description.name,
        modelSHA256: model.description.sha256, transcoderName: URL(fileURLWithPath: clt).lastPathComponent,
        transcoderFeatures: file.metadata.features,
        tokenText: { String(decoding: tokenizer.tokenBytes($0), as: UTF8.self) })
      let built = Date()
      // Labels for the features the output shows: the view's, or every kept one in the JSON.
      let shown: [(layer: Int, feature: Int)]
      switch format {
      case .dot where dotAll: shown = []
      case .dot: shown = GraphView.labelCandidates(report, maxNodes: dotMaxNodes)
      case .json: shown = report.keptFeatures
      }
      let labels = try FeatureLabels(
        for: shown, index: featureIndex(for: file), decoders: decoders,
        outputScales: file.normalizer.outputScales, readout: model.logitReadout, tokenText: report.tokenText)
      switch format {
      case .dot where dotAll: try StandardOutput.write(DOTWriter.write(report, maxEdges: dotMaxEdges))
      case .dot:
        let view = GraphView(report: report, maxNodes: dotMaxNodes) { labels[$0, $1] }
        try StandardOutput.write(DOTWriter.write(report, view: view))
      case .json:
        try GraphJSONWriter.write(report, labels: labels) { try StandardOutput.write($0) }
        try StandardOutput.write("\n")
      }
      if !common.quiet {
        StandardError.line(
          "clt-attrib: \(tokens.count) tokens, \(report.summary); loading "
            + "\(String(format: "%.2f", loaded.timeIntervalSince(start))) s, attribution "
            + "\(String(format: "%.2f", Date().timeIntervalSince(loaded))) s")
      }
      if common.timing {
        var line = TimingLine(
          label: common.timingLabel(default: "attrib"), tokens: tokens.count,
          seconds: built.timeIntervalSince(loaded))
        line.add("load_seconds", loaded.timeIntervalSince(start))
        line.add("max_rss_mb", PeakMemory.megabytes)
        line.print()
      }
    }
  }

  /// The feature index beside the clt.h5 (`clt-encode --index`), when there is one for this CLT;
  /// one that is not (a retrained clt.h5) is left aside with a warning.
  func featureIndex(for file: CLTFile) throws -> FeatureIndex? {
    let path = FeatureIndex.path(forTranscoder: clt)
    guard let index = try FeatureIndex.read(path: path) else { return nil }
    if let reason = index.mismatch(with: file.transcoder, metadata: file.metadata) {
      StandardError.line(
        "clt-attrib: \(path) is left aside: \(reason); labels come from logit effects "
          + "(rebuild it: clt-encode --clt \(clt) --index TEXT)")
      return nil
    }
    return index
  }

  /// A --target's text as one token id.
  func targetID(_ text: String, tokenizer: any Tokenizer) throws -> Int {
    let ids = tokenizer.encode(text)
    guard ids.count == 1 else {
      throw AttributionError.unknownTarget(
        "'\(text)' is not a token of the vocabulary (it encodes to \(ids.count) tokens); "
          + "give one token's text, with its leading space if it has one")
    }
    return Int(ids[0])
  }

  /// The transcoder must come from this model's activations: same family and, when both are
  /// known, the same weights file.
  func checkTranscoder(_ metadata: CLTFileMetadata, fits info: ModelDescription) throws {
    guard metadata.architecture == info.architecture else {
      throw AttributionError.transcoderMismatch(
        "\(clt) was trained on a '\(metadata.architecture)' model, --model is '\(info.architecture)'")
    }
    if !metadata.modelSHA256.isEmpty && !info.sha256.isEmpty && metadata.modelSHA256 != info.sha256 {
      throw AttributionError.transcoderMismatch(
        "\(clt) was trained on \(metadata.model) (sha256 \(metadata.modelSHA256.prefix(12))…), "
          + "not on \(info.name) (sha256 \(info.sha256.prefix(12))…)")
    }
  }
}

extension EmbeddingNodes: ExpressibleByArgument {}

CLTAttrib.main()
