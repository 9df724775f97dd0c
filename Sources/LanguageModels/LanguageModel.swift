import Kernels

/// What every tool needs to know about a model, whatever its family.
public struct ModelDescription: Sendable, Equatable {
  /// Family name as written into shards and transcoders: "gpt2" or "llama".
  public var architecture: String
  /// A human-readable name (the checkpoint folder or file name).
  public var name: String
  /// sha256 of the weights file, so that derived files can be matched to their model.
  public var sha256: String
  public var nLayers: Int
  public var dModel: Int
  public var vocabularySize: Int
  /// Longest sequence the model's positions cover.
  public var contextLength: Int
  /// Where the MLP input tap and the MLP output tap sit, in words (recorded in shards).
  public var inputTap: String
  public var outputTap: String

  /// A description made by hand: for files derived from a model without loading it (tests, converters).
  public init(
    architecture: String, name: String, sha256: String, nLayers: Int, dModel: Int, vocabularySize: Int,
    contextLength: Int, inputTap: String, outputTap: String
  ) {
    self.architecture = architecture
    self.name = name
    self.sha256 = sha256
    self.nLayers = nLayers
    self.dModel = dModel
    self.vocabularySize = vocabularySize
    self.contextLength = contextLength
    self.inputTap = inputTap
    self.outputTap = outputTap
  }
}

/// Per-layer MLP inputs and outputs captured during a forward pass: the activations a
/// cross-layer transcoder reads (input) and reconstructs (output).
/// Both are layer-major: (nLayers, rows, dModel), rows = batch · length.
public final class MLPTaps {
  public let nLayers: Int
  public let rows: Int
  public let dModel: Int
  public let mlpIn: FloatBuffer
  public let mlpOut: FloatBuffer

  public init(nLayers: Int, rows: Int, dModel: Int) {
    self.nLayers = nLayers
    self.rows = rows
    self.dModel = dModel
    mlpIn = FloatBuffer(count: nLayers * rows * dModel)
    mlpOut = FloatBuffer(count: nLayers * rows * dModel)
  }

  /// Start of layer `layer`'s (rows, dModel) block in a layer-major buffer.
  public func pointer(_ buffer: FloatBuffer, layer: Int) -> UnsafeMutablePointer<Float> {
    buffer.pointer + layer * rows * dModel
  }
}

/// A decoder-only language model with MLP taps and KV-cached decoding. Both families
/// (GPT-2 and Llama) implement this, so every tool works on either.
public protocol LanguageModel: AnyObject {
  var description: ModelDescription { get }

  /// The final norm and unembedding, for direct logit effects (see `LogitReadout`).
  var logitReadout: LogitReadout { get }

  /// Runs `batch` independent windows of `length` tokens (row-major `tokens`, batch · length) from
  /// position 0. Fills `taps` when given; returns logits (batch · length, vocabularySize) when
  /// `computeLogits`, else an empty array (the activation dump never needs the unembedding).
  /// `replacement`, when given, sees every layer's MLP input and output and may overwrite the
  /// output (see `MLPReplacement`); `taps` then record the output it left. `observer`, when given,
  /// watches the pass (see `ForwardObserver`).
  func forward(
    tokens: [Int32], batch: Int, length: Int, taps: MLPTaps?, computeLogits: Bool,
    replacement: (any MLPReplacement)?, observer: (any ForwardObserver)?
  ) throws -> [Float]

  /// A cache able to hold `capacity` positions of one sequence.
  func makeCache(capacity: Int) -> KVCache

  /// Appends `tokens` to the sequence held in `cache` and returns the logits of the last of them
  /// (vocabularySize). Prefill and single-token steps are the same call. `replacement` as in
  /// `forward`; the keys and values cached are those of the model it makes. `observer` as in
  /// `forward` (attribution records its prompt with one prefill call).
  func decode(
    tokens: [Int32], cache: KVCache, replacement: (any MLPReplacement)?, observer: (any ForwardObserver)?
  ) throws -> [Float]

  /// The parameters attribution differentiates through once norms, attention patterns and MLPs
  /// are frozen; they share the model's weight buffers.
  var linearSkeleton: LinearSkeleton { get }
}

extension LanguageModel {
  /// The model itself, its MLPs untouched.
  public func forward(tokens: [Int32], batch: Int, length: Int, taps: MLPTaps?, computeLogits: Bool) throws
    -> [Float]
  {
    try forward(
      tokens: tokens, batch: batch, length: length, taps: taps, computeLogits: computeLogits,
      replacement: nil,
      observer: nil)
  }

  /// A pass with `replacement` and no observer.
  public func forward(
    tokens: [Int32], batch: Int, length: Int, taps: MLPTaps?, computeLogits: Bool,
    replacement: (any MLPReplacement)?
  ) throws -> [Float] {
    try forward(
      tokens: tokens, batch: batch, length: length, taps: taps, computeLogits: computeLogits,
      replacement: replacement, observer: nil)
  }

  /// The model itself, its MLPs untouched.
  public func decode(tokens: [Int32], cache: KVCache) throws -> [Float] {
    try decode(tokens: tokens, cache: cache, replacement: nil, observer: nil)
  }

  /// A cached step with `replacement` and no observer.
  public func decode(tokens: [Int32], cache: KVCache, replacement: (any MLPReplacement)?) throws -> [Float] {
    try decode(tokens: tokens, cache: cache, replacement: replacement, observer: nil)
  }
}

// MARK: - Argument checks both families share

extension LanguageModel {
  /// Checks a window call: `tokens` holds batch · length ids, the windows fit the context, and
  /// every id is in the vocabulary (an id from another tokenizer would read past the embedding).
  func checkWindows(tokens: [Int32], batch: Int, length: Int) throws {
    precondition(tokens.count == batch * length, "tokens must hold batch · length ids")
    let context = description.contextLength
    guard length <= context else {
      throw LanguageModelError.sequenceTooLong(tokens: length, context: context)
    }
    try checkVocabulary(tokens)
  }

  /// Checks a cached call: the new tokens fit the cache and are in the vocabulary.
  func checkDecode(tokens: [Int32], cache: KVCache) throws {
    guard cache.count + tokens.count <= cache.capacity else {
      throw LanguageModelError.sequenceTooLong(tokens: cache.count + tokens.count, context: cache.capacity)
    }
    try checkVocabulary(tokens)
  }

  private func checkVocabulary(_ tokens: [Int32]) throws {
    let size = description.vocabularySize
    if let bad = tokens.first(where: { $0 < 0 || Int($0) >= size }) {
      throw LanguageModelError.tokenOutOfRange(token: bad, vocabularySize: size)
    }
  }
}
