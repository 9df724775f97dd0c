import Foundation
import ModelFormats

/// Llama's hyper-parameters, read from a GGUF file's `llama.*` metadata (the keys llama.cpp's
/// converter writes), so that any Llama-architecture GGUF (SmolLM2, TinyLlama, Llama 2/3) loads.
public struct LlamaConfig: Sendable, Equatable {
  public var nLayers: Int
  public var contextLength: Int
  public var dModel: Int
  /// SwiGLU hidden width (gate and up projections).
  public var mlpWidth: Int
  public var nHeads: Int
  /// Key/value heads; fewer than nHeads means grouped-query attention.
  public var nKVHeads: Int
  public var headDim: Int
  /// How many leading elements of each head RoPE rotates (the whole head for Llama).
  public var ropeDim: Int
  public var ropeBase: Double
  public var rmsNormEpsilon: Float
  public var vocabSize: Int

  public init(
    nLayers: Int, contextLength: Int, dModel: Int, mlpWidth: Int, nHeads: Int, nKVHeads: Int,
    headDim: Int? = nil, ropeDim: Int? = nil, ropeBase: Double = 10000, rmsNormEpsilon: Float = 1e-5,
    vocabSize: Int
  ) {
    self.nLayers = nLayers
    self.contextLength = contextLength
    self.dModel = dModel
    self.mlpWidth = mlpWidth
    self.nHeads = nHeads
    self.nKVHeads = nKVHeads
    let head = headDim ?? dModel / max(nHeads, 1)
    self.headDim = head
    self.ropeDim = ropeDim ?? head
    self.ropeBase = ropeBase
    self.rmsNormEpsilon = rmsNormEpsilon
    self.vocabSize = vocabSize
  }

  /// Width of the concatenated query heads.
  public var qDim: Int { nHeads * headDim }
  /// Width of the keys (and of the values): what a KV cache holds per position.
  public var kvDim: Int { nKVHeads * headDim }

  // MARK: - Reading GGUF metadata

  /// Reads and checks the config of a GGUF file, refusing any architecture but "llama".
  public init(gguf file: GGUFFile) throws {
    let path = file.file.path
    let architecture = file.metadata["general.architecture"]?.stringValue
    guard architecture == "llama" else {
      throw LanguageModelError.unsupportedModel(
        path: path,
        detail: "general.architecture is \(architecture.map { "'\($0)'" } ?? "missing"); only 'llama' "
          + "GGUF files are supported (SmolLM2, TinyLlama, Llama 2/3 and other Llama-architecture models)")
    }
    func value(_ key: String) throws -> GGUFValue {
      guard let value = file.metadata[key] else {
        throw LanguageModelError.invalidConfig(
          path: path,
          detail: "GGUF metadata key '\(key)' is missing; the file was not written by a llama.cpp-style "
            + "converter, or is truncated")
      }
      return value
    }
    func int(_ key: String) throws -> Int {
      guard let v = try value(key).intValue else {
        throw LanguageModelError.invalidConfig(
          path: path, detail: "GGUF metadata key '\(key)' is not an integer")
      }
      return v
    }
    func double(_ key: String) throws -> Double {
      guard let v = try value(key).doubleValue else {
        throw LanguageModelError.invalidConfig(
          path: path, detail: "GGUF metadata key '\(key)' is not a number")
      }
      return v
    }
    if let scaling = file.metadata["llama.rope.scaling.type"]?.stringValue, scaling != "none" {
      throw LanguageModelError.unsupportedModel(
        path: path, detail: "RoPE scaling '\(scaling)' (llama.rope.scaling.type) is not implemented")
    }
    let dModel = try int("llama.embedding_length")
    let nHeads = try int("llama.attention.head_count")
    // Vocabulary: the explicit key, else the tokenizer's token list, else the embedding's rows.
    let vocabSize =
      try file.metadata["llama.vocab_size"].map { _ in try int("llama.vocab_size") }
      ?? file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
      ?? file.tensors["token_embd.weight"]?.shape.first
    guard let vocabSize else {
      throw LanguageModelError.invalidConfig(
        path: path,
        detail: "no vocabulary size: GGUF metadata key 'llama.vocab_size' and 'tokenizer.ggml.tokens' are "
          + "both missing, and so is token_embd.weight")
    }
    let headDim =
      file.metadata["llama.attention.key_length"] != nil
      ? try int("llama.attention.key_length") : dModel / max(nHeads, 1)
    self.init(
      nLayers: try int("llama.block_count"), contextLength: try int("llama.context_length"),
      dModel: dModel, mlpWidth: try int("llama.feed_forward_length"), nHeads: nHeads,
      nKVHeads: file.metadata["llama.attention.head_count_kv"] != nil
        ? try int("llama.attention.head_count_kv") : nHeads,
      headDim: headDim,
      ropeDim: file.metadata["llama.rope.dimension_count"] != nil
        ? try int("llama.rope.dimension_count") : headDim,
      ropeBase: file.metadata["llama.rope.freq_base"] != nil ? try double("llama.rope.freq_base") : 10000,
      rmsNormEpsilon: Float(try double("llama.attention.layer_norm_rms_epsilon")), vocabSize: vocabSize)
    try validate(path: path)
  }

  /// Checks the dimensions make sense for this implementation.
  public func validate(path: String) throws {
    guard nLayers > 0, contextLength > 0, dModel > 0, mlpWidth > 0, nHeads > 0, nKVHeads > 0, headDim > 0,
      vocabSize > 0
    else {
      throw LanguageModelError.invalidConfig(path: path, detail: "every dimension must be positive")
    }
    guard nHeads % nKVHeads == 0 else {
      throw LanguageModelError.invalidConfig(
        path: path, detail: "head_count \(nHeads) is not a multiple of head_count_kv \(nKVHeads)")
    }
    guard ropeDim > 0, ropeDim <= headDim, ropeDim % 2 == 0 else {
      throw LanguageModelError.invalidConfig(
        path: path,
        detail: "rope.dimension_count \(ropeDim) must be even and at most the head size \(headDim)")
    }
    guard ropeBase > 0, rmsNormEpsilon >= 0 else {
      throw LanguageModelError.invalidConfig(
        path: path, detail: "rope.freq_base must be positive and layer_norm_rms_epsilon non-negative")
    }
  }
}
