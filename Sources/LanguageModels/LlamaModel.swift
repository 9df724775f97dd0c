import Foundation
import Kernels
import ModelFormats

/// A Llama-architecture model as `transformers.LlamaForCausalLM` computes it, run from a GGUF
/// file: pre-RMSNorm blocks, rotary positions, causal grouped-query attention, SwiGLU MLP
/// (down(silu(gate(x)) · up(x))), final RMSNorm, LM head (tied to the embedding when the file has
/// no output.weight, as SmolLM2's does).
///
/// RoPE follows the GGUF convention, not Hugging Face's: llama.cpp's converter permutes the
/// attn_q/attn_k rows of each head so that the elements HF's `rotate_half` pairs (i, i + headDim/2)
/// become adjacent (2i, 2i+1), and ggml's "normal" RoPE mode rotates adjacent pairs. Running the
/// permuted weights with adjacent-pair RoPE gives exactly HF's attention scores.
public final class LlamaModel: LanguageModel {
  public let config: LlamaConfig
  public let weights: LlamaWeights
  public let description: ModelDescription
  /// cos/sin of every rotary angle up to the context length, (contextLength, ropeDim/2, 2).
  private let rope: FloatBuffer
  private var workspace: Workspace

  public init(config: LlamaConfig, weights: LlamaWeights, name: String = "llama", sha256: String = "") {
    self.config = config
    self.weights = weights
    description = ModelDescription(
      architecture: "llama", name: name, sha256: sha256, nLayers: config.nLayers, dModel: config.dModel,
      vocabularySize: config.vocabSize, contextLength: config.contextLength,
      inputTap: "ffn_norm output (MLP input)",
      outputTap: "ffn_down output (MLP output, before the residual add)")
    rope = FloatBuffer(
      ropeTable(base: config.ropeBase, ropeDim: config.ropeDim, positions: config.contextLength))
    workspace = Workspace(rows: 0, length: 0, config: config)
  }

  /// Loads a Llama-architecture GGUF file, dequantising every tensor to float32 once.
  /// `hashWeights` records the file's sha256 in `description` (what derived files are matched by).
  public convenience init(gguf url: URL, hashWeights: Bool = true) throws {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw LanguageModelError.missingFile(
        path: url.path, hint: "pass a Llama-family .gguf file (`make models` fetches SmolLM2-135M)")
    }
    let file = try GGUFFile(url: url)
    let config = try LlamaConfig(gguf: file)
    let weights = try LlamaWeights(gguf: file, config: config)
    self.init(
      config: config, weights: weights, name: url.lastPathComponent,
      sha256: hashWeights ? try SHA256.hex(fileAt: url) : "")
  }

  // MARK: - Forward passes

  public func forward(
    tokens: [Int32], batch: Int, length: Int, taps: MLPTaps?, computeLogits: Bool,
    replacement: (any MLPReplacement)?
  ) throws -> [Float] {
    try checkWindows(tokens: tokens, batch: batch, length: length)
    let rows = batch * length
    let ws = workspace(rows: rows, length: length)
    embed(tokens: tokens, into: ws.x.pointer)
    for l in 0..<config.nLayers {
      blockForward(
        layer: l, rows: rows, positions: RowPositions(firstPosition: 0, period: length), ws: ws, taps: taps,
        replacement: replacement
      ) { qkv, out in
        attention.attendWindows(
          qkv: qkv, out: out, batch: batch, length: length, scale: attentionScale, scores: ws.scores.pointer)
      }
    }
    guard computeLogits else { return [] }
    return unembed(ws.x.pointer, rows: rows, ws: ws)
  }

  public func makeCache(capacity: Int) -> KVCache {
    KVCache(nLayers: config.nLayers, capacity: min(capacity, config.contextLength), kvWidth: config.kvDim)
  }

  public func decode(tokens: [Int32], cache: KVCache, replacement: (any MLPReplacement)?) throws -> [Float] {
    let past = cache.count
    let n = tokens.count
    guard n > 0 else { return [] }
    try checkDecode(tokens: tokens, cache: cache)
    let ws = workspace(rows: n, length: past + n)
    embed(tokens: tokens, into: ws.x.pointer)
    for l in 0..<config.nLayers {
      blockForward(
        layer: l, rows: n, positions: RowPositions(firstPosition: past, period: n), ws: ws, taps: nil,
        replacement: replacement
      ) { qkv, out in
        attention.attendCached(
          qkv: qkv, out: out, rows: n, cache: cache, layer: l, scale: attentionScale,
          scores: ws.scores.pointer)
      }
    }
    cache.count = past + n
    return unembed(ws.x.pointer + (n - 1) * config.dModel, rows: 1, ws: ws)
  }

  // MARK: - Pieces

  /// x = token_embd[token]: Llama has no learned positions (RoPE adds them inside attention).
  /// x (rows, C).
  private func embed(tokens: [Int32], into x: UnsafeMutablePointer<Float>) {
    let c = config.dModel
    let table = weights.tokenEmbedding.pointer
    for (i, token) in tokens.enumerated() {
      (x + i * c).update(from: table + Int(token) * c, count: c)
    }
  }

  /// One pre-RMSNorm block on the residual stream ws.x (rows, C), rows at `positions`; `attend`
  /// maps the rotated q|k|v projections (rows, qDim + 2·kvDim) to the per-head attention output
  /// (rows, qDim); `replacement` may overwrite the MLP output before it joins the residual stream.
  private func blockForward(
    layer l: Int, rows: Int, positions: RowPositions, ws: Workspace, taps: MLPTaps?,
    replacement: (any MLPReplacement)?,
    attend: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
  ) {
    let c = config.dModel
    let m = config.mlpWidth
    let (q, kv) = (config.qDim, config.kvDim)
    let w = weights.blocks[l]
    let eps = config.rmsNormEpsilon
    let x = ws.x.pointer
    rmsNormForward(out: ws.normed.pointer, inp: x, weight: w.attnNorm.pointer, rows: rows, dim: c, eps: eps)
    linearTransposedForward(
      out: ws.qkv.pointer, inp: ws.normed.pointer, weight: w.qkv.pointer, bias: nil, rows: rows, inDim: c,
      outDim: q + 2 * kv)
    // Query and key heads sit side by side at the start of each row: rotate them in one pass.
    ropeForward(
      ws.qkv.pointer, ld: q + 2 * kv, rows: rows, heads: config.nHeads + config.nKVHeads,
      headDim: config.headDim, ropeDim: config.ropeDim, firstPosition: positions.firstPosition,
      period: positions.period,
      table: rope.pointer)
    attend(ws.qkv.pointer, ws.attention.pointer)
    linearTransposedForward(
      out: ws.projected.pointer, inp: ws.attention.pointer, weight: w.attnOutput.pointer, bias: nil,
      rows: rows, inDim: q, outDim: c)
    residualAdd(out: x, inp: ws.projected.pointer, count: rows * c)

    let mlpIn = taps.map { $0.pointer($0.mlpIn, layer: l) } ?? ws.normed.pointer
    let mlpOut = taps.map { $0.pointer($0.mlpOut, layer: l) } ?? ws.projected.pointer
    rmsNormForward(out: mlpIn, inp: x, weight: w.ffnNorm.pointer, rows: rows, dim: c, eps: eps)
    if replacement?.needsMLPOutput(positions: positions) ?? true {
      linearTransposedForward(
        out: ws.gateUp.pointer, inp: mlpIn, weight: w.gateUp.pointer, bias: nil, rows: rows, inDim: c,
        outDim: 2 * m)
      swigluForward(out: ws.hidden.pointer, gateUp: ws.gateUp.pointer, rows: rows, dim: m)
      linearTransposedForward(
        out: mlpOut, inp: ws.hidden.pointer, weight: w.down.pointer, bias: nil, rows: rows, inDim: m,
        outDim: c)
    }
    replacement?.replace(layer: l, input: mlpIn, output: mlpOut, rows: rows, positions: positions)
    residualAdd(out: x, inp: mlpOut, count: rows * c)
  }

  /// Final RMSNorm, then logits = norm(x) · Wᵀ with W the LM head or the tied embedding.
  /// x (rows, C) -> (rows, V).
  private func unembed(_ x: UnsafeMutablePointer<Float>, rows: Int, ws: Workspace) -> [Float] {
    let c = config.dModel
    rmsNormForward(
      out: ws.normed.pointer, inp: x, weight: weights.outputNorm.pointer, rows: rows, dim: c,
      eps: config.rmsNormEpsilon)
    let v = config.vocabSize
    return [Float](unsafeUninitializedCapacity: rows * v) { out, count in
      linearTransposedForward(
        out: out.baseAddress!, inp: ws.normed.pointer, weight: weights.unembedding.pointer, bias: nil,
        rows: rows, inDim: c, outDim: v)
      count = rows * v
    }
  }

  private var attentionScale: Float { 1 / Float(config.headDim).squareRoot() }
  private var attention: PackedAttention {
    PackedAttention(heads: config.nHeads, kvHeads: config.nKVHeads, headDim: config.headDim)
  }

  // MARK: - Scratch

  /// Activations of one forward call, reused while the call sizes fit.
  private final class Workspace {
    let rows: Int
    let length: Int
    let x, normed, qkv, attention, projected, gateUp, hidden, scores: FloatBuffer
    init(rows: Int, length: Int, config: LlamaConfig) {
      self.rows = rows
      self.length = length
      let c = config.dModel
      x = FloatBuffer(count: rows * c)
      normed = FloatBuffer(count: rows * c)
      qkv = FloatBuffer(count: rows * (config.qDim + 2 * config.kvDim))
      attention = FloatBuffer(count: rows * config.qDim)
      projected = FloatBuffer(count: rows * c)
      gateUp = FloatBuffer(count: rows * 2 * config.mlpWidth)
      hidden = FloatBuffer(count: rows * config.mlpWidth)
      scores = FloatBuffer(count: rows * length)
    }
  }

  private func workspace(rows: Int, length: Int) -> Workspace {
    if workspace.rows < rows || workspace.length < length || workspace.rows * workspace.length < rows * length
    {
      workspace = Workspace(
        rows: max(rows, workspace.rows), length: max(length, workspace.length), config: config)
    }
    return workspace
  }
}
