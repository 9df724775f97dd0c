import ActivationShards
import ArgumentParser
import CLTFormat
import FeatureIndex
import Foundation
import LanguageModels
import ModelLoading
import OutputFiles
import ReplacementModel
import Tokenizers
import ToolSupport

/// Prints the cross-layer transcoder's features on every token of a text, one JSON object a line.
struct CLTEncode: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-encode",
    abstract: "Print the CLT features active on each token of a text, as JSON lines.",
    discussion: """
      INPUT is plain text (documents separated by a line that is exactly <|endoftext|>), .jsonl (one \
      {"text": ...} per line), or - for stdin (the default). Each document is cut into windows of \
      --context tokens that start with <|endoftext|>, as gpt2-acts cuts its stream, and run through \
      the model; each layer's MLP input goes through the transcoder's encoder. For every token one \
      line is printed as soon as its document is done:
        {"doc": 0, "pos": 3, "token_id": 3290, "token": " dog", "features": [{"layer": 2, "feature": 117, "activation": 4.25}, ...]}
      features sorted by activation, strongest first; the first line ends with "clt": {"model": ..., \
      "model_sha256": ..., "n_layers": ..., "features": ...}, naming the transcoder, so that clt-plot \
      can refuse the lines with another clt.h5. The clt.h5 must come from the model (its sha256, \
      taps, layer count and width are checked); without --model, the model it names is found in \
      $CLTKIT_HOME/models. Progress goes to stderr. Format: docs/FORMATS.md.
      """,
    version: "0.1.0")

  @OptionGroup var modelOptions: ModelOptions

  @Option(
    name: .long,
    help: ArgumentHelp(
      "The transcoder (clt.h5 from clt-fit); without --model, the model it was trained on is loaded.",
      valueName: "path"))
  var clt: String = "clt.h5"

  @Option(name: .long, parsing: .unconditional, help: "Print at most N features per token, the strongest.")
  var top: Int?

  @Option(name: .long, help: ArgumentHelp("Only these layers, e.g. 0,3,5-7.", valueName: "list"))
  var layers: String?

  @Option(name: .long, parsing: .unconditional, help: "Only features at least this active.")
  var minActivation: Float = 0

  @Option(
    name: .long, parsing: .unconditional,
    help: "Tokens per window, <|endoftext|> included (at most the model's context).")
  var context: Int = 128

  @Option(name: .long, parsing: .unconditional, help: "Windows per forward pass.")
  var batch: Int = 8

  @Option(
    name: .long, parsing: .unconditional,
    help: "Encode at most this many tokens: the document that reaches it is cut short, the rest not read.")
  var maxTokens: Int?

  @Flag(
    name: .long,
    help: ArgumentHelp(
      "Build the feature index beside the clt.h5 (clt.h5 → clt.index.json) instead of printing lines.",
      discussion: "For every feature: the tokens and contexts it fires on most in the text, how often "
        + "it fires, and the tokens it promotes and suppresses. clt-attrib and clt-plot dashboard label features with it "
        + "(docs/FORMATS.md). Held-out text of 20,000 tokens or more gives most features examples."
    ))
  var index = false

  @OptionGroup var common: CommonOptions

  @Argument(help: "Text or .jsonl files, or - for stdin.")
  var inputs: [String] = ["-"]

  func validate() throws {
    try require(top, atLeast: 1, "--top")
    if let layers, FeatureEncoder.parseLayers(layers) == nil {
      throw ValidationError("--layers \(layers): write layer numbers and ranges, e.g. 0,3,5-7")
    }
    try requireFinite(minActivation, "--min-activation")
    try require(context, atLeast: 2, "--context", because: "BOS and one token")
    try require(batch, atLeast: 1, "--batch")
    try require(maxTokens, atLeast: 1, "--max-tokens")
    if index && (top != nil || layers != nil || minActivation != 0) {
      throw ValidationError(
        "--index summarises every feature of every layer: leave out --top, --layers and --min-activation")
    }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-encode") {
      common.applyThreads()
      try TrainedModel.requireTranscoder(at: clt)
      let summary = try CLTFile.summary(url: URL(fileURLWithPath: clt)).metadata
      let trained = TrainedModel(name: summary.model, sha256: summary.modelSHA256, file: clt)
      let tokenizer = try modelOptions.loadTokenizer(trainedOn: trained)
      let model = try modelOptions.loadModel(trainedOn: trained, tool: "clt-encode")
      // The index's file is checked before any work, and written only when all of it is done.
      let indexTarget = index ? try OutputTarget(path: FeatureIndex.path(forTranscoder: clt)) : nil
      let file = try CLTFile.load(url: URL(fileURLWithPath: clt), for: model.description)
      let encoder = try FeatureEncoder(
        model: model, file: file, context: context, bos: tokenizer.endOfTextID, batch: batch,
        layers: layers.flatMap(FeatureEncoder.parseLayers), top: top, minActivation: minActivation)
      let meter = ProgressLine(label: "clt-encode", unit: "tokens", quiet: common.quiet)
      var tokens = 0
      var doc = 0
      // The first line names the transcoder, for the tools that read the lines with a clt.h5.
      var identity: TranscoderIdentity? = TranscoderIdentity(file.metadata)
      let builder = FeatureIndexBuilder(nLayers: file.metadata.nLayers, features: file.metadata.features)
      func tokenText(_ id: Int32) -> String { String(decoding: tokenizer.tokenBytes(id), as: UTF8.self) }
      /// One JSON line per token of a document.
      func printLines(ids: [Int32], features: [[FeatureActivation]]) throws {
        var lines = ""
        for (pos, (id, active)) in zip(ids, features).enumerated() {
          lines +=
            TokenFeatures(
              doc: doc, pos: pos, tokenID: Int(id), token: tokenText(id), features: active,
              transcoder: identity
            ).jsonLine
          lines += "\n"
          identity = nil
        }
        try StandardOutput.write(lines)
      }
      /// Thrown to stop reading once --max-tokens are encoded.
      struct BudgetSpent: Error {}
      do {
        try CorpusReader(inputs: inputs).forEachDocument { text in
          var ids = tokenizer.encode(text)
          if let maxTokens { ids = Array(ids.prefix(maxTokens - tokens)) }
          let features = try encoder.encode(document: ids)
          if index {
            builder.add(tokens: ids.map(tokenText), active: features)
          } else {
            try printLines(ids: ids, features: features)
          }
          doc += 1
          tokens += ids.count
          meter.update(done: tokens)
          if let maxTokens, tokens >= maxTokens { throw BudgetSpent() }
        }
      } catch is BudgetSpent {}
      meter.finish(done: tokens)
      if tokens == 0 { throw ToolError.emptyInput("the input") }
      if let indexTarget {
        let summary = try builder.index(
          transcoder: file.transcoder, metadata: file.metadata, outputScales: file.normalizer.outputScales,
          readout: model.logitReadout, corpus: inputs, tokenText: tokenText)
        let data = try summary.encoded()
        try indexTarget.write(data)
        let fired = summary.layers.joined().count(where: { $0.frequency > 0 })
        if !common.quiet {
          StandardError.line(
            "clt-encode: \(indexTarget.path): \(fired) of \(summary.layers.joined().count) features fired "
              + "on \(tokens) tokens (\(data.count / 1_000_000) MB)")
        }
      }
      if common.timing {
        TimingLine(label: common.timingLabel(default: "encode"), tokens: tokens, seconds: meter.elapsed)
          .print()
      }

    }
  }
}

CLTEncode.main()
