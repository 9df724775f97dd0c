import ArgumentParser
import Foundation
import LanguageModels
import ModelFormats
import Tokenizers
import ToolSupport

/// The options every tool that runs a model shares: which model and which tokenizer (threads are in
/// `CommonOptions`).
public struct ModelOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "GPT-2 checkpoint folder (config.json + model.safetensors), or a Llama-family .gguf file "
        + "(default: the model a given CLT was trained on, else $CLTKIT_MODEL, else gpt2 or "
        + "SmolLM2-135M-Instruct.Q4_1.gguf from $CLTKIT_HOME/models, ~/.cache/cltkit/models by default).",
      valueName: "path"))
  public var model: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Tokenizer: a .tiktoken rank file, a folder with vocab.json and merges.txt, or a .gguf "
        + "(default: the model's own (a .gguf model's metadata, a folder's vocab.json + merges.txt), "
        + "else gpt2.tiktoken in $CLTKIT_ASSETS or $CLTKIT_HOME/assets).",
      valueName: "path"))
  public var tokenizer: String?

  public init() {}

  /// Which model to load: --model; else, for a tool given a CLT, the model it was trained on
  /// (found by name among $CLTKIT_HOME's models); else $CLTKIT_MODEL; else the first of
  /// `CLTKitHome.defaultModels` that has been fetched.
  /// - Throws: `ModelLoadingError.noModel` or `.trainedModelMissing`, naming the command that fetches one.
  public func chooseModel(trainedOn trained: TrainedModel? = nil) throws -> ModelChoice {
    if let model { return ModelChoice(path: model, reason: nil) }
    let home = CLTKitHome.fromEnvironment()
    if let trained {
      let named = ProcessInfo.processInfo.environment["CLTKIT_MODEL"].flatMap { path in
        URL(fileURLWithPath: path).lastPathComponent == trained.name ? path : nil
      }
      guard let path = named ?? home.model(named: trained.name)?.path else {
        throw ModelLoadingError.trainedModelMissing(trained, home: home.models.path)
      }
      return ModelChoice(path: path, reason: "the model \(trained.file) was trained on")
    }
    if let path = ProcessInfo.processInfo.environment["CLTKIT_MODEL"], !path.isEmpty {
      return ModelChoice(path: path, reason: "from $CLTKIT_MODEL")
    }
    guard let url = home.defaultModel() else { throw ModelLoadingError.noModel(home: home.models.path) }
    return ModelChoice(path: url.path, reason: "the default model in \(home.models.path)")
  }

  /// The model's path, chosen once per process (`chooseModel`), announced on stderr when the user
  /// did not name it, so that a default never goes unnoticed.
  private func resolvedModel(trainedOn trained: TrainedModel?, announceAs tool: String?) throws -> String {
    let choice = try chooseModel(trainedOn: trained)
    if let reason = choice.reason, let tool {
      StandardError.line("\(tool): model \(choice.path) (\(reason))")
    }
    return choice.path
  }

  /// Loads the model named by --model (or chosen by `chooseModel`): a `.gguf` file as a
  /// `LlamaModel`, a folder as GPT-2; `hashWeights` as in `GPT2Model(directory:hashWeights:)`.
  /// `tool` names the tool in the line saying which model was chosen by default.
  public func loadModel(hashWeights: Bool = true, trainedOn trained: TrainedModel? = nil, tool: String? = nil)
    throws -> any LanguageModel
  {
    let url = URL(fileURLWithPath: try resolvedModel(trainedOn: trained, announceAs: tool))
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
      throw LanguageModelError.missingFile(
        path: url.path,
        hint: "pass --model with a GPT-2 checkpoint folder (config.json + model.safetensors) or a .gguf file")
    }
    if isDirectory.boolValue { return try GPT2Model(directory: url, hashWeights: hashWeights) }
    guard url.pathExtension.lowercased() == "gguf" else {
      throw LanguageModelError.unsupportedModel(
        path: url.path,
        detail:
          "expected a GPT-2 checkpoint folder (config.json + model.safetensors) or a Llama-family .gguf file")
    }
    return try LlamaModel(gguf: url, hashWeights: hashWeights)
  }

  /// Finds and loads the tokenizer: --tokenizer, then the model's own (a folder's vocab.json +
  /// merges.txt, or a .gguf file's tokenizer metadata), then gpt2.tiktoken in $CLTKIT_ASSETS or ./assets.
  /// A missing model is named before a missing tokenizer: it is the cause, and a tokenizer found
  /// without the model would only fail later.
  public func loadTokenizer(trainedOn trained: TrainedModel? = nil) throws -> any Tokenizer {
    let fm = FileManager.default
    func load(_ path: String) throws -> (any Tokenizer)? {
      var isDirectory: ObjCBool = false
      guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
      let url = URL(fileURLWithPath: path)
      if isDirectory.boolValue {
        let vocab = url.appendingPathComponent("vocab.json")
        let merges = url.appendingPathComponent("merges.txt")
        guard fm.fileExists(atPath: vocab.path), fm.fileExists(atPath: merges.path) else { return nil }
        return try BPETokenizer.gpt2(vocabJSON: vocab, merges: merges)
      }
      if url.pathExtension.lowercased() == "gguf" { return try BPETokenizer.fromGGUF(GGUFFile(url: url)) }
      return try BPETokenizer.gpt2(rankFile: url)
    }
    if let tokenizer {
      guard let loaded = try load(tokenizer) else {
        throw ModelLoadingError.tokenizerNotFound(searched: [tokenizer])
      }
      return loaded
    }
    let model = try chooseModel(trainedOn: trained).path
    guard fm.fileExists(atPath: model) else {
      throw LanguageModelError.missingFile(
        path: model,
        hint: "pass --model with a GPT-2 checkpoint folder (config.json + model.safetensors) or a .gguf file")
    }
    var searched: [String] = []
    var candidates = [model]
    if let assets = ProcessInfo.processInfo.environment["CLTKIT_ASSETS"] {
      candidates.append(assets + "/gpt2.tiktoken")
    }
    candidates.append(CLTKitHome.fromEnvironment().assets.appendingPathComponent("gpt2.tiktoken").path)
    for candidate in candidates {
      searched.append(candidate)
      if let loaded = try load(candidate) { return loaded }
    }
    throw ModelLoadingError.tokenizerNotFound(searched: searched)
  }
}
