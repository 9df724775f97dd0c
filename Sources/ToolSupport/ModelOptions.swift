import ArgumentParser
import Foundation
import LanguageModels
import ModelFormats
import Tokenizers

/// The options every tool that runs a model shares: which model and which tokenizer (threads are in
/// `CommonOptions`).
public struct ModelOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "GPT-2 checkpoint folder (config.json + model.safetensors), or a Llama-family .gguf file.",
      valueName: "path"))
  public var model: String = "models/gpt2"

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Tokenizer: a .tiktoken rank file, a folder with vocab.json and merges.txt, or a .gguf "
        + "(default: the model's own (a .gguf model's metadata), else $CLTKIT_ASSETS/gpt2.tiktoken, "
        + "else assets/gpt2.tiktoken).",
      valueName: "path"))
  public var tokenizer: String?

  public init() {}

  /// Loads the model named by --model: a `.gguf` file as a `LlamaModel`, a folder as GPT-2;
  /// `hashWeights` as in `GPT2Model(directory:hashWeights:)`.
  public func loadModel(hashWeights: Bool = true) throws -> any LanguageModel {
    let url = URL(fileURLWithPath: model)
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
  public func loadTokenizer() throws -> any Tokenizer {
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
      guard let loaded = try load(tokenizer) else { throw ToolError.tokenizerNotFound(searched: [tokenizer]) }
      return loaded
    }
    var searched: [String] = []
    var candidates = [model]
    if let assets = ProcessInfo.processInfo.environment["CLTKIT_ASSETS"] {
      candidates.append(assets + "/gpt2.tiktoken")
    }
    candidates.append("assets/gpt2.tiktoken")
    for candidate in candidates {
      searched.append(candidate)
      if let loaded = try load(candidate) { return loaded }
    }
    throw ToolError.tokenizerNotFound(searched: searched)
  }
}
