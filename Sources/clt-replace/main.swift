import ActivationShards
import ArgumentParser
import CLTFormat
import Foundation
import LanguageModels
import ModelLoading
import ReplacementModel
import Tokenizers
import ToolSupport

/// Generates text with a model or with its CLT replacement model, compares the two, steers
/// features, and measures how faithful the replacement is.
struct CLTReplace: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-replace",
    abstract: "Generate text with a model or its CLT replacement model; compare, steer, and evaluate it.",
    discussion: """
      Reads the prompt from PROMPT_FILE, or stdin when it is - or absent, and writes the continuation \
      to stdout as it is generated (with --json, one JSON object at the end instead). Generation uses \
      a KV cache, is greedy at --temperature 0 (the default), and stops at <|endoftext|>.

      With --clt, every MLP's output is replaced by the transcoder's reconstruction (the replacement \
      model; attention is recomputed as usual), except at position 0, the attention sink the \
      transcoder was not trained on. --keep-error adds each layer's reconstruction error back, which \
      gives the original model exactly.

      --steer LAYER:FEATURE=VALUE sets a feature's activation to VALUE at every position (switching \
      it on where it was silent); --steer LAYER:FEATURE*FACTOR multiplies it where it fired. Either \
      may end in @POS to act at one position (0-based over prompt and continuation, 1 or more). \
      Steering keeps the reconstruction error, so only the steered features change the output.

      --compare generates with the original model and the replacement from the same prompt and \
      prints both; with --json also each step's top-1 agreement and KL(original || replacement), \
      both measured along the original's continuation.

      --eval FILE generates nothing: over the text in FILE (.txt or .jsonl, windows of --context as \
      gpt2-acts cuts them) it reports the cross-entropy of the original model, the replacement and \
      the model with every MLP zero-ablated, the fraction of CE recovered, KL, top-1 agreement, and \
      per layer the NMSE and L0 of the transcoder on the original activations. Formats of --json: \
      docs/FORMATS.md.
      """,
    version: "0.1.0")

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .long, parsing: .unconditional, help: "Most tokens to generate.")
  var maxNewTokens: Int = 50

  @Option(name: .long, parsing: .unconditional, help: "Sampling temperature; 0 is greedy.")
  var temperature: Float = 0

  @Option(name: .long, parsing: .unconditional, help: "Sample only from the K most likely tokens.")
  var topK: Int?

  @Option(name: .long, parsing: .unconditional, help: "Seed for sampling.")
  var seed: UInt64 = 0

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Run the CLT replacement model of this clt.h5 (default with --keep-error, --compare, --eval or "
        + "--steer: ./clt.h5); without --model, the model it was trained on is loaded.",
      valueName: "path"))
  var clt: String?

  /// The transcoder to run: --clt, or ./clt.h5 when an option that needs one is given.
  var transcoder: String? {
    clt ?? (keepError || compare || eval != nil || !steer.isEmpty ? "clt.h5" : nil)
  }

  @Flag(name: .long, help: "Add each layer's reconstruction error back (gives the original model).")
  var keepError = false

  @Flag(name: .long, help: "Generate with the original and the replacement model and print both.")
  var compare = false

  @Option(
    name: .long,
    help: ArgumentHelp("Measure the replacement model on this text instead of generating.", valueName: "file")
  )
  var eval: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Steer a feature: LAYER:FEATURE=VALUE or LAYER:FEATURE*FACTOR, optionally @POS (repeatable).",
      valueName: "spec"))
  var steer: [String] = []

  @Option(
    name: .long, parsing: .unconditional, help: "With --eval: tokens per window, <|endoftext|> included.")
  var context: Int = 128

  @Option(name: .long, parsing: .unconditional, help: "With --eval: windows per forward pass.")
  var batch: Int = 4

  @Option(
    name: .long, parsing: .unconditional,
    help: "With --eval: stop after the window that reaches this many tokens.")
  var maxTokens: Int?

  @Flag(name: .long, help: "Print JSON instead of text (see docs/FORMATS.md).")
  var json = false

  @Flag(name: .long, help: "Do not stop at <|endoftext|> (for benchmarks).")
  var ignoreEos = false

  @OptionGroup var common: CommonOptions

  @Argument(help: "File holding the prompt, or - for stdin.")
  var promptFile: String = "-"

  func validate() throws {
    try require(maxNewTokens, atLeast: 0, "--max-new-tokens")
    try requireFinite(temperature, "--temperature", atLeast: 0)
    try require(topK, atLeast: 1, "--top-k")
    if compare && eval != nil { throw ValidationError("--compare generates and --eval does not; pick one") }
    for spec in steer {
      do { _ = try FeatureSteering(parsing: spec) } catch {
        throw ValidationError(error.localizedDescription)
      }
    }
    try require(context, atLeast: 2, "--context", because: "BOS and one token")
    try require(batch, atLeast: 1, "--batch")
    try require(maxTokens, atLeast: 1, "--max-tokens")
  }

  func run() throws {
    try runReportingErrors(tool: "clt-replace") {
      common.applyThreads()
      // The prompt first: a mistyped path should not wait for the model and the transcoder.
      let evaluating = eval != nil
      let prompt = evaluating ? "" : try readPrompt()
      let trained = try transcoder.map { path in
        try TrainedModel.requireTranscoder(at: path)
        let summary = try CLTFile.summary(url: URL(fileURLWithPath: path)).metadata
        return TrainedModel(name: summary.model, sha256: summary.modelSHA256, file: path)
      }
      let tokenizer = try modelOptions.loadTokenizer(trainedOn: trained)
      let model = try modelOptions.loadModel(
        hashWeights: transcoder != nil, trainedOn: trained, tool: "clt-replace")
      let replacement = try transcoder.map { path in
        let file = try CLTFile.load(url: URL(fileURLWithPath: path), for: model.description)
        return try CLTReplacement(
          file: file, keepsError: keepError || !steer.isEmpty, steerings: try steer.map(FeatureSteering.init))
      }
      if let eval, let replacement {
        try evaluate(model: model, tokenizer: tokenizer, replacement: replacement, file: eval)
      } else {
        try generate(prompt: prompt, model: model, tokenizer: tokenizer, replacement: replacement)
      }
    }
  }

  // MARK: - Generation

  func generate(
    prompt: String, model: any LanguageModel, tokenizer: any Tokenizer, replacement: CLTReplacement?
  ) throws {
    let promptIDs = tokenizer.encode(prompt)
    guard !promptIDs.isEmpty else { throw ToolError.emptyInput("the prompt") }
    guard promptIDs.count < model.description.contextLength else {
      throw LanguageModelError.sequenceTooLong(
        tokens: promptIDs.count + 1, context: model.description.contextLength)
    }
    let sampling: Sampling =
      temperature == 0 ? .greedy : .sample(temperature: temperature, topK: topK, seed: seed)
    let stopAt = ignoreEos ? [] : Set(tokenizer.stopIDs)
    func run(_ hook: CLTReplacement?, stream: Bool) throws -> (ids: [Int32], seconds: Double) {
      var text = UTF8Stream()
      let start = Date()
      var writeError: Error?  // the callback cannot throw: the first failed write is kept
      let ids = try Generator(model: model, replacement: hook).generate(
        prompt: promptIDs, maxNewTokens: maxNewTokens, sampling: sampling, stopAt: stopAt
      ) { id in
        guard stream, writeError == nil else { return }
        do { try StandardOutput.write(text.append(tokenizer.tokenBytes(id))) } catch { writeError = error }
      }
      if let writeError { throw writeError }
      if stream { try StandardOutput.line(text.flush()) }
      return (ids, Date().timeIntervalSince(start))
    }

    if compare, let replacement {
      let original = try run(nil, stream: false)
      let replaced = try run(replacement, stream: false)
      let steps = try GenerationComparison(
        model: model, replacement: replacement, prompt: promptIDs, continuation: original.ids)
      if json {
        try printJSON([
          "prompt_ids": promptIDs.map(Int.init),
          "original": ["new_ids": original.ids.map(Int.init), "text": tokenizer.decode(original.ids)],
          "replacement": ["new_ids": replaced.ids.map(Int.init), "text": tokenizer.decode(replaced.ids)],
          "steps": zip(steps.agreements, steps.kl).map { ["top1_agree": $0, "kl": $1] },
          "top1_agreement": jsonNumber(steps.meanAgreement), "kl": jsonNumber(steps.meanKL),
        ])
      } else {
        try StandardOutput.line("--- original ---\n" + tokenizer.decode(original.ids))
        try StandardOutput.line("--- replacement ---\n" + tokenizer.decode(replaced.ids))
      }
      return
    }

    let result = try run(replacement, stream: !json)
    if json {
      try printJSON([
        "prompt_ids": promptIDs.map(Int.init), "new_ids": result.ids.map(Int.init),
        "text": tokenizer.decode(result.ids),
      ])
    }
    if common.timing {
      TimingLine(
        label: common.timingLabel(default: "generate"), tokens: result.ids.count, seconds: result.seconds
      ).print()
    }
  }

  /// A number JSONSerialization can write: NaN (no steps to average) becomes null.
  func jsonNumber(_ value: Double) -> Any { value.isFinite ? value : NSNull() }

  func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(
      withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    try StandardOutput.line(String(decoding: data, as: UTF8.self))
  }

  func readPrompt() throws -> String { try PromptFile.read(promptFile) }

  // MARK: - Evaluation

  func evaluate(model: any LanguageModel, tokenizer: any Tokenizer, replacement: CLTReplacement, file: String)
    throws
  {
    let length = min(context, model.description.contextLength)
    let evaluation = try FaithfulnessEvaluation(model: model, replacement: replacement)
    let meter = ProgressLine(label: "clt-replace --eval", unit: "tokens", quiet: common.quiet)
    var windows = TokenWindows(context: length, bos: tokenizer.endOfTextID)
    var pending: [[Int32]] = []
    var tokens = 0
    var queued = 0  // tokens evaluated or waiting in `pending`: the budget counts whole windows
    func budgetLeft() -> Bool { maxTokens.map { queued < $0 } ?? true }
    func queue(_ window: [Int32]) {
      pending.append(window)
      queued += window.count
    }
    func flush() throws {
      if !pending.isEmpty { try evaluation.add(windows: pending) }
      tokens += pending.reduce(0) { $0 + $1.count }
      pending.removeAll()
      meter.update(done: tokens)
    }
    try CorpusReader(inputs: [file]).forEachDocument { text in
      guard budgetLeft() else { return }
      windows.add(document: tokenizer.encode(text))
      while budgetLeft(), let window = windows.nextFullWindow() {
        queue(window)
        if pending.count == batch { try flush() }
      }
    }
    try flush()
    if budgetLeft(), let last = windows.finalWindow(), last.count >= 2 {
      queue(last)
      try flush()
    }
    meter.finish(done: tokens)
    guard tokens > 0 else { throw ToolError.emptyInput("\(file)") }
    let report = evaluation.report
    try StandardOutput.line(json ? report.json : report.table)
  }
}

CLTReplace.main()
