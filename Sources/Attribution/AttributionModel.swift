import Foundation
import Kernels
import LanguageModels

/// A pre-norm decoder-only transformer described by the pieces attribution needs, the same for
/// both families: norms that can be frozen, one packed q|k|v projection, the value and output
/// projections as blocks of the model's own matrices, and the MLP as an opaque function (the
/// local replacement model swaps it for the transcoder, so attribution never differentiates it).
///
/// `GPT2Model.attributionModel` and `LlamaModel.attributionModel` build one from the public
/// weights without copying them; `record(tokens:)` runs the original forward pass once and keeps
/// what the local replacement model freezes.
public struct AttributionModel {
  /// One transformer block.
  public struct Layer {
    let attentionNorm: FrozenNorm
    /// x_norm ↦ q|k|v (C → qDim + 2·kvDim), with rotary positions applied afterwards when the
    /// family has them.
    let qkv: DenseMap
    /// x_norm ↦ v (C → kvDim): the value block of `qkv`.
    let values: DenseMap
    /// Concatenated heads ↦ residual (qDim → C).
    let output: DenseMap
    let mlpNorm: FrozenNorm
    /// The original MLP: input (rows, C) ↦ output (rows, C).
    let mlp: (_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ rows: Int) -> Void
    /// Multiplies q·k before the softmax.
    let attentionScale: Float
  }

  /// The model's sizes and names.
  public let description: ModelDescription
  let layers: [Layer]
  let heads: Int
  let kvHeads: Int
  let headDim: Int
  let finalNorm: FrozenNorm
  /// The unembedding (V, C), output-major.
  let unembedding: DenseMap
  /// x0 for a prompt: token (and, for GPT-2, position) embeddings. tokens (n) → out (n, C).
  let embed: (_ tokens: [Int32], _ out: UnsafeMutablePointer<Float>) -> Void
  /// Applies rotary positions to the query and key heads of packed q|k|v rows, if the family has them.
  let rotate: ((_ qkv: UnsafeMutablePointer<Float>, _ rows: Int) -> Void)?

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

  // MARK: - The recording forward pass

  /// Runs the original model on one prompt and records what the local replacement model freezes:
  /// every attention pattern, every norm's 1/σ, each MLP's input and output, and the last
  /// position's logits.
  public func record(tokens: [Int32]) throws -> ForwardRecord {
    try check(tokens: tokens)
    let n = tokens.count
    let c = dModel
    let width = qDim + 2 * kvDim
    let record = ForwardRecord(tokens: tokens, nLayers: nLayers, dModel: c, heads: heads)
    embed(tokens, record.embeddings.pointer)
    let x = FloatBuffer(count: n * c)
    x.pointer.update(from: record.embeddings.pointer, count: n * c)
    let normed = FloatBuffer(count: n * c)
    let qkvRows = FloatBuffer(count: n * width)
    let attended = FloatBuffer(count: n * qDim)
    let projected = FloatBuffer(count: n * c)
    let scores = FloatBuffer(count: n * n)
    let probabilities = FloatBuffer(count: heads * n * n)
    for (l, layer) in layers.enumerated() {
      layer.attentionNorm.forward(
        out: normed.pointer, inp: x.pointer, rows: n, rstd: record.attentionRstd[l].pointer)
      layer.qkv.forward(out: qkvRows.pointer, inp: normed.pointer, rows: n)
      rotate?(qkvRows.pointer, n)
      causalAttentionForward(
        out: attended.pointer, ldo: qDim, q: qkvRows.pointer, ldq: width, k: qkvRows.pointer + qDim,
        v: qkvRows.pointer + qDim + kvDim, ldkv: width, newTokens: n, pastTokens: 0, heads: heads,
        kvHeads: kvHeads, headDim: headDim, scale: layer.attentionScale, scores: scores.pointer,
        probabilities: probabilities.pointer)
      record.pack(layer: l, patterns: probabilities.pointer)
      layer.output.forward(out: projected.pointer, inp: attended.pointer, rows: n)
      residualAdd(out: x.pointer, inp: projected.pointer, count: n * c)
      layer.mlpNorm.forward(
        out: record.mlpIn[l].pointer, inp: x.pointer, rows: n, rstd: record.mlpRstd[l].pointer)
      layer.mlp(record.mlpOut[l].pointer, record.mlpIn[l].pointer, n)
      residualAdd(out: x.pointer, inp: record.mlpOut[l].pointer, count: n * c)
    }
    finalNorm.forward(out: normed.pointer, inp: x.pointer, rows: n, rstd: record.finalRstd.pointer)
    record.lastLogits = [Float](repeating: 0, count: vocabularySize)
    record.lastLogits.withUnsafeMutableBufferPointer {
      unembedding.forward(out: $0.baseAddress!, inp: normed.pointer + (n - 1) * c, rows: 1)
    }
    return record
  }
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
  /// Per layer: 1/σ of the attention norm and the MLP norm (n each); and of the final norm (n).
  public let attentionRstd: [FloatBuffer]
  public let mlpRstd: [FloatBuffer]
  public let finalRstd: FloatBuffer
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
    patterns = (0..<nLayers).map { _ in FloatBuffer(count: heads * n * (n + 1) / 2) }
    attentionRstd = (0..<nLayers).map { _ in FloatBuffer(count: n) }
    mlpRstd = (0..<nLayers).map { _ in FloatBuffer(count: n) }
    finalRstd = FloatBuffer(count: n)
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

/// A model that attribution can linearise: both families conform, so tools take any of them.
public protocol AttributableModel: LanguageModel {
  var attributionModel: AttributionModel { get }
}

extension GPT2Model: AttributableModel {}
extension LlamaModel: AttributableModel {}
