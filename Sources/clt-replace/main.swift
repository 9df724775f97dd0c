import ArgumentParser
import Foundation
import LanguageModels
import Tokenizers
import ToolSupport

/// Generates text with a language model; with a transcoder (a later issue), with its replacement model.
struct CLTReplace: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-replace",
    abstract: "Generate text with a model (the baseline the CLT replacement model is compared with).",
    discussion: """
      Reads the prompt from PROMPT_FILE, or stdin when it is - or absent, and writes the continuation \
      to stdout as it is generated (with --json, one JSON object at the end instead). Generation uses \
      a KV cache, is greedy at --temperature 0 (the default), and stops at <|endoftext|>.
      """,
    version: "0.1.0")

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .long, help: "Most tokens to generate.")
  var maxNewTokens: Int = 50

  @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
  var temperature: Float = 0

  @Option(name: .long, help: "Sample only from the K most likely tokens.")
  var topK: Int?

  @Option(name: .long, help: "Seed for sampling.")
  var seed: UInt64 = 0

  @Flag(name: .long, help: "Print {\"prompt_ids\", \"new_ids\", \"text\"} as JSON instead of streaming text.")
  var json = false

  @Flag(name: .long, help: "Do not stop at <|endoftext|> (for benchmarks).")
  var ignoreEos = false

  @Flag(name: .long, help: "Print a JSON line with generated tokens/s (model loading excluded) on stderr.")
  var timing = false

  @Option(name: .long, help: .hidden)
  var timingLabel = "generate"

  @Argument(help: "File holding the prompt, or - for stdin.")
  var promptFile: String = "-"

  func validate() throws {
    guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be 0 or more") }
    guard temperature >= 0 else { throw ValidationError("--temperature must be 0 or more") }
    if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-replace") {
      modelOptions.applyThreads()
      let prompt = try readPrompt()
      let tokenizer = try modelOptions.loadTokenizer()
      let model = try modelOptions.loadModel(hashWeights: false)
      let promptIDs = tokenizer.encode(prompt)
      guard !promptIDs.isEmpty else { throw ToolError.emptyInput("the prompt") }
      guard promptIDs.count < model.description.contextLength else {
        throw LanguageModelError.sequenceTooLong(
          tokens: promptIDs.count + 1, context: model.description.contextLength)
      }
      let sampling: Sampling =
        temperature == 0 ? .greedy : .sample(temperature: temperature, topK: topK, seed: seed)
      var stream = UTF8Stream()
      let start = Date()
      let newIDs = try Generator(model: model).generate(
        prompt: promptIDs, maxNewTokens: maxNewTokens, sampling: sampling,
        stopAt: ignoreEos ? [] : Set(tokenizer.stopIDs)
      ) { id in
        if !json { StandardOutput.write(stream.append(tokenizer.tokenBytes(id))) }
      }
      let seconds = Date().timeIntervalSince(start)
      if json {
        let object: [String: Any] = [
          "prompt_ids": promptIDs.map(Int.init), "new_ids": newIDs.map(Int.init),
          "text": tokenizer.decode(newIDs),
        ]
        let data = try JSONSerialization.data(
          withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        StandardOutput.line(String(decoding: data, as: UTF8.self))
      } else {
        StandardOutput.line(stream.flush())
      }
      if timing {
        StandardError.line(
          "{\"side\": \"swift\", \"bench\": \"\(timingLabel)\", \"tokens\": \(newIDs.count), \"seconds\": \(seconds), "
            + "\"tokens_per_second\": \(Double(newIDs.count) / seconds)}")
      }
    }
  }

  func readPrompt() throws -> String { try PromptFile.read(promptFile) }
}

CLTReplace.main()
