import Foundation
import Kernels
import LanguageModels

/// A pre-norm decoder-only transformer described by the pieces attribution needs, the same for
/// both families: norms that can be frozen, the value and output projections as blocks of the
/// model's own matrices, and the unembedding (the model's `linearSkeleton`). The MLPs stay opaque
/// (the local replacement model swaps them for the transcoder, so attribution never
/// differentiates them), and `record(tokens:)` does not run a forward pass of its own: it watches
/// the model's one forward pass (see `ForwardObserver`).
public struct AttributionModel {
  /// One transformer block.
  public struct Layer {
    let attentionNorm: FrozenNorm
    /// x_norm ↦ v (C → kvDim): the value block of the packed q|k|v projection.
    let values: DenseMap
    /// Concatenated heads ↦ residual (qDim → C).
    let output: DenseMap
    let mlpNorm: FrozenNorm
  }

  /// The model whose forward pass is recorded.
  public let model: any LanguageModel
  let layers: [Layer]
  let heads: Int
  let kvHeads: Int
  let headDim: Int
  let finalNorm: FrozenNorm
  /// The unembedding (V, C), output-major.
  let unembedding: DenseMap
  /// The position embedding (context, C), for a family that adds one to the token embedding.
  let positionEmbedding: FloatBuffer?

  /// `model` as attribution sees it, sharing its weight buffers.
  public init(model: any LanguageModel) {
    let skeleton = model.linearSkeleton
    self.model = model
    layers = skeleton.layers.map {
      Layer(
        attentionNorm: FrozenNorm($0.attentionNorm), values: DenseMap($0.values), output: DenseMap($0.output),
        mlpNorm: FrozenNorm($0.mlpNorm))
    }
    heads = skeleton.heads
    kvHeads = skeleton.kvHeads
    headDim = skeleton.headDim
    finalNorm = FrozenNorm(skeleton.finalNorm)
    unembedding = DenseMap(skeleton.unembedding)
    positionEmbedding = skeleton.positionEmbedding
  }

  /// The model's sizes and names.
  public var description: ModelDescription { model.description }
  var nLayers: Int { layers.count }
  var dModel: Int { description.dModel }
  var qDim: Int { heads * headDim }
  var kvDim: Int { kvHeads * headDim }
  var vocabularySize: Int { description.vocabularySize }

  /// Checks a prompt: not empty, within the context, every id in the vocabulary.
  func check(tokens: [Int32]) throws {
    guard !tokens.isEmpty else { throw AttributionError.emptyPrompt }
    guard tokens.count <= description.contextLength else {
      throw AttributionError.promptTooLong(tokens: tokens.count, context: description.contextLength)
    }
    if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
      throw AttributionError.tokenOutOfRange(token: Int(bad), vocabularySize: vocabularySize)
    }
  }

  // MARK: - Recording the forward pass

  /// Runs the original model on one prompt (one prefill of a KV cache, so that only the last
  /// position is unembedded) and records what the local replacement model freezes: every
  /// attention pattern, every norm's 1/σ, each MLP's input and output, and the last position's
  /// logits.
  public func record(tokens: [Int32]) throws -> ForwardRecord {
    try check(tokens: tokens)
    let record = ForwardRecord(tokens: tokens, nLayers: nLayers, dModel: dModel, heads: heads)
    record.lastLogits = try model.decode(
      tokens: tokens, cache: model.makeCache(capacity: tokens.count), replacement: nil, observer: record)
    return record
  }
}

extension LanguageModel {
  /// The model as attribution sees it (see `AttributionModel`).
  public var attributionModel: AttributionModel { AttributionModel(model: self) }
}

/// What the original forward pass on one prompt leaves for attribution (n positions, C = dModel,
/// H heads): the frozen quantities of the local replacement model and the MLP activations the
/// transcoder reads and reconstructs.
public final class ForwardRecord {
  /// The prompt.
  public let tokens: [Int32]
  /// x0 (n, C).
  public let embeddings: FloatBuffer
  /// Per layer: attention probabilities, per head the lower triangle row by row (H, n(n+1)/2):
  /// row i (its i + 1 entries over key positions 0...i) starts at i(i+1)/2. Causal patterns are
  /// zero above the diagonal, and at 1024 positions the square ones were 1.1 GB for SmolLM2.
  public let patterns: [FloatBuffer]
  /// Per layer: 1/σ of the attention norm and the MLP norm (n each).
  public let attentionRstd: [FloatBuffer]
  public let mlpRstd: [FloatBuffer]
  /// 1/σ of the final norm at the last position (the only one unembedded).
  public internal(set) var finalRstd: Float = 0
  /// Per layer: the MLP input (the norm's output) and the MLP output, (n, C) each; empty once the
  /// local replacement model has its activations and errors from them (`releaseMLPTaps`).
  public private(set) var mlpIn: [FloatBuffer]
  public private(set) var mlpOut: [FloatBuffer]
  /// The original model's logits at the last position (V).
  public internal(set) var lastLogits: [Float] = []

  init(tokens: [Int32], nLayers: Int, dModel: Int, heads: Int) {
    let n = tokens.count
    self.tokens = tokens
    embeddings = FloatBuffer(count: n * dModel)
    self.heads = heads
    self.dModel = dModel
    patterns = (0..<nLayers).map { _ in FloatBuffer(count: heads * n * (n + 1) / 2) }
    attentionRstd = (0..<nLayers).map { _ in FloatBuffer(count: n) }
    mlpRstd = (0..<nLayers).map { _ in FloatBuffer(count: n) }
    mlpIn = (0..<nLayers).map { _ in FloatBuffer(count: n * dModel) }
    mlpOut = (0..<nLayers).map { _ in FloatBuffer(count: n * dModel) }
  }

  /// Number of positions.
  public var count: Int { tokens.count }

  /// Frees the MLP inputs and outputs (140 MB at 1024 SmolLM2 positions), which nothing reads once
  /// the transcoder's activations and errors are computed.
  func releaseMLPTaps() {
    mlpIn = []
    mlpOut = []
  }

  /// Attention heads per layer.
  public let heads: Int
  /// Width of the residual stream.
  public let dModel: Int

  /// Keeps layer l's patterns (H, n, n), square and zero above the diagonal, in packed form.
  func pack(layer l: Int, patterns square: UnsafePointer<Float>) {
    let n = count
    let packed = patterns[l].pointer
    for h in 0..<heads {
      for i in 0..<n {
        (packed + h * n * (n + 1) / 2 + i * (i + 1) / 2).update(from: square + (h * n + i) * n, count: i + 1)
      }
    }
  }

  /// Head h of layer l's pattern over the first `width` positions, square: out (width, width)
  /// row-major, zero above the diagonal.
  public func unpackPattern(layer l: Int, head h: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
    let n = count
    precondition(width <= n, "a pattern block within the prompt")
    let packed = patterns[l].pointer + h * n * (n + 1) / 2
    for i in 0..<width {
      let row = out + i * width
      row.update(from: packed + i * (i + 1) / 2, count: i + 1)
      (row + i + 1).update(repeating: 0, count: width - i - 1)
    }
  }
}

// MARK: - Recording as an observer of the forward pass

extension ForwardRecord: ForwardObserver {
  public func embedded(_ x: UnsafePointer<Float>, rows: Int) {
    embeddings.pointer.update(from: x, count: rows * dModel)
  }

  public func normalized(_ site: NormSite, rstd: UnsafePointer<Float>, rows: Int) {
    switch site {
    case .attention(let l): attentionRstd[l].pointer.update(from: rstd, count: rows)
    case .mlp(let l): mlpRstd[l].pointer.update(from: rstd, count: rows)
    case .final: finalRstd = rstd[rows - 1]
    }
  }

  public var observesAttention: Bool { true }

  public func attended(layer: Int, window: Int, probabilities: UnsafePointer<Float>, queries: Int, keys: Int)
  {
    precondition(window == 0 && queries == count && keys == count, "one window of the whole prompt")
    pack(layer: layer, patterns: probabilities)
  }

  public func mlpComputed(layer: Int, input: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int) {
    mlpIn[layer].pointer.update(from: input, count: rows * dModel)
    mlpOut[layer].pointer.update(from: output, count: rows * dModel)
  }
}
