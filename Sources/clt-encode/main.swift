import ActivationShards
import ArgumentParser
import CLTFormat
import Foundation
import LanguageModels
import ModelLoading
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
  }

  func run() throws {
    try runReportingErrors(tool: "clt-encode") {
      common.applyThreads()
      try TrainedModel.requireTranscoder(at: clt)
      let summary = try CLTFile.summary(url: URL(fileURLWithPath: clt)).metadata
      let trained = TrainedModel(name: summary.model, sha256: summary.modelSHA256, file: clt)
      let tokenizer = try modelOptions.loadTokenizer(trainedOn: trained)
      let model = try modelOptions.loadModel(trainedOn: trained, tool: "clt-encode")
      let file = try CLTFile.load(url: URL(fileURLWithPath: clt), for: model.description)
      let encoder = try FeatureEncoder(
        model: model, file: file, context: context, bos: tokenizer.endOfTextID, batch: batch,
        layers: layers.flatMap(FeatureEncoder.parseLayers), top: top, minActivation: minActivation)
      let meter = ProgressLine(label: "clt-encode", unit: "tokens", quiet: common.quiet)
      var tokens = 0
      var doc = 0
      // The first line names the transcoder, for the tools that read the lines with a clt.h5.
      var identity: TranscoderIdentity? = TranscoderIdentity(file.metadata)
      /// Thrown to stop reading once --max-tokens are encoded.
      struct BudgetSpent: Error {}
      do {
        try CorpusReader(inputs: inputs).forEachDocument { text in
          var ids = tokenizer.encode(text)
          if let maxTokens { ids = Array(ids.prefix(maxTokens - tokens)) }
          let features = try encoder.encode(document: ids)
          var lines = ""
          for (pos, (id, active)) in zip(ids, features).enumerated() {
            let token = String(decoding: tokenizer.tokenBytes(id), as: UTF8.self)
            lines +=
              TokenFeatures(
                doc: doc, pos: pos, tokenID: Int(id), token: token, features: active, transcoder: identity
              ).jsonLine
            lines += "\n"
            identity = nil
          }
          try StandardOutput.write(lines)
          doc += 1
          tokens += ids.count
          meter.update(done: tokens)
          if let maxTokens, tokens >= maxTokens { throw BudgetSpent() }
        }
      } catch is BudgetSpent {}
      meter.finish(done: tokens)
      if tokens == 0 { throw ToolError.emptyInput("the input") }
      if common.timing {
        TimingLine(label: common.timingLabel(default: "encode"), tokens: tokens, seconds: meter.elapsed)
          .print()
      }
    }
  }
}

CLTEncode.main()
