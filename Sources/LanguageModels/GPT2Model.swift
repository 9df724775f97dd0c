import Foundation
import Kernels
import ModelFormats

/// GPT-2 exactly as `transformers.GPT2LMHeadModel` computes it: learned positions, pre-LayerNorm
/// blocks, causal multi-head attention, tanh-GELU MLP, final LayerNorm, LM head tied to `wte`.
public final class GPT2Model: LanguageModel {
  public let config: GPT2Config
  public let weights: GPT2Weights
  public let description: ModelDescription
  private var workspace = Workspace(rows: 0, length: 0, config: GPT2Config())
  private var attention: PackedAttention {
    PackedAttention(heads: config.nHead, kvHeads: config.nHead, headDim: config.headDim)
  }

  public init(config: GPT2Config, weights: GPT2Weights, name: String = "gpt2", sha256: String = "") {
    self.config = config
    self.weights = weights
    description = ModelDescription(
      architecture: "gpt2", name: name, sha256: sha256, nLayers: config.nLayer, dModel: config.nEmbd,
      vocabularySize: config.vocabSize, contextLength: config.nPositions,
      inputTap: "ln_2 output (MLP input)", outputTap: "MLP output (c_proj, before the residual add)")
  }

  /// Loads a Hugging Face GPT-2 checkpoint folder: `config.json` and `model.safetensors`.
  /// `hashWeights` records the weights' sha256 in `description` (what derived files are matched
  /// by); a tool that writes nothing derived can skip the ~1 s it costs for GPT-2 small.
  public convenience init(directory: URL, hashWeights: Bool = true) throws {
    let config = try GPT2Config.load(from: directory.appendingPathComponent("config.json"))
    let weightsURL = directory.appendingPathComponent("model.safetensors")
    guard FileManager.default.fileExists(atPath: weightsURL.path) else {
      throw LanguageModelError.missingFile(
        path: weightsURL.path,
        hint:
          "the folder needs model.safetensors (convert a pytorch_model.bin with transformers' save_pretrained)"
      )
    }
    let file = try SafetensorsFile(url: weightsURL)
    let weights = try GPT2Weights(safetensors: file, config: config)
    self.init(
      config: config, weights: weights, name: directory.lastPathComponent,
      sha256: hashWeights ? try SHA256.hex(fileAt: weightsURL) : "")
  }

  // MARK: - Forward passes

  public func forward(
    tokens: [Int32], batch: Int, length: Int, taps: MLPTaps?, computeLogits: Bool,
    replacement: (any MLPReplacement)?
  ) throws -> [Float] {
    try checkWindows(tokens: tokens, batch: batch, length: length)
    let rows = batch * length
    let ws = workspace(rows: rows, length: length)
    embed(tokens: tokens, firstPosition: 0, length: length, into: ws.x.pointer)
    for l in 0..<config.nLayer {
      blockForward(
        layer: l, rows: rows, ws: ws, taps: taps, replacement: replacement,
        positions: RowPositions(firstPosition: 0, period: length)
      ) { qkv, out in
        attention.attendWindows(
          qkv: qkv, out: out, batch: batch, length: length, scale: attentionScale(layer: l),
          scores: ws.scores.pointer)
      }
    }
    guard computeLogits else { return [] }
    return unembed(ws.x.pointer, rows: rows, ws: ws)
  }

  public func makeCache(capacity: Int) -> KVCache {
    KVCache(nLayers: config.nLayer, capacity: min(capacity, config.nPositions), kvWidth: config.nEmbd)
  }

  public func decode(tokens: [Int32], cache: KVCache, replacement: (any MLPReplacement)?) throws -> [Float] {
    let past = cache.count
    let n = tokens.count
    guard n > 0 else { return [] }
    try checkDecode(tokens: tokens, cache: cache)
    let c = config.nEmbd
    let ws = workspace(rows: n, length: past + n)
    embed(tokens: tokens, firstPosition: past, length: n, into: ws.x.pointer)
    for l in 0..<config.nLayer {
      blockForward(
        layer: l, rows: n, ws: ws, taps: nil, replacement: replacement,
        positions: RowPositions(firstPosition: past, period: n)
      ) { qkv, out in
        attention.attendCached(
          qkv: qkv, out: out, rows: n, cache: cache, layer: l, scale: attentionScale(layer: l),
          scores: ws.scores.pointer)
      }
    }
    cache.count = past + n
    return unembed(ws.x.pointer + (n - 1) * c, rows: 1, ws: ws)
  }

  // MARK: - Pieces

  /// x = wte[token] + wpe[position]. x (length · batch, C); positions restart at each window.
  private func embed(tokens: [Int32], firstPosition: Int, length: Int, into x: UnsafeMutablePointer<Float>) {
    let c = config.nEmbd
    let wte = weights.tokenEmbedding.pointer
    let wpe = weights.positionEmbedding.pointer
    for (i, token) in tokens.enumerated() {
      let row = x + i * c
      let t = wte + Int(token) * c
      let p = wpe + (firstPosition + i % length) * c
      for j in 0..<c { row[j] = t[j] + p[j] }
    }
  }

  /// One pre-LayerNorm block on the residual stream ws.x (rows, C); `attend` maps the packed
  /// q|k|v projections (rows, 3C) to the per-head attention output (rows, C); `replacement` may
  /// overwrite the MLP output before it joins the residual stream.
  private func blockForward(
    layer l: Int, rows: Int, ws: Workspace, taps: MLPTaps?, replacement: (any MLPReplacement)?,
    positions: RowPositions,
    attend: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
  ) {
    let c = config.nEmbd
    let m = config.mlpWidth
    let w = weights.blocks[l]
    let eps = config.layerNormEpsilon
    let x = ws.x.pointer
    layerNormForward(
      out: ws.normed.pointer, inp: x, weight: w.ln1Weight.pointer, bias: w.ln1Bias.pointer, rows: rows,
      dim: c, eps: eps)
    linearForward(
      out: ws.qkv.pointer, inp: ws.normed.pointer, weight: w.attnWeight.pointer, bias: w.attnBias.pointer,
      rows: rows, inDim: c, outDim: 3 * c)
    attend(ws.qkv.pointer, ws.attention.pointer)
    linearForward(
      out: ws.projected.pointer, inp: ws.attention.pointer, weight: w.attnProjWeight.pointer,
      bias: w.attnProjBias.pointer, rows: rows, inDim: c, outDim: c)
    residualAdd(out: x, inp: ws.projected.pointer, count: rows * c)

    let mlpIn = taps.map { $0.pointer($0.mlpIn, layer: l) } ?? ws.normed.pointer
    let mlpOut = taps.map { $0.pointer($0.mlpOut, layer: l) } ?? ws.projected.pointer
    layerNormForward(
      out: mlpIn, inp: x, weight: w.ln2Weight.pointer, bias: w.ln2Bias.pointer, rows: rows, dim: c, eps: eps)
    if replacement?.needsMLPOutput(positions: positions) ?? true {
      linearForward(
        out: ws.hidden.pointer, inp: mlpIn, weight: w.fcWeight.pointer, bias: nil, rows: rows, inDim: c,
        outDim: m)
      biasGeluTanhForward(ws.hidden.pointer, bias: w.fcBias.pointer, rows: rows, dim: m)
      linearForward(
        out: mlpOut, inp: ws.hidden.pointer, weight: w.fcProjWeight.pointer, bias: w.fcProjBias.pointer,
        rows: rows, inDim: m, outDim: c)
    }
    replacement?.replace(layer: l, input: mlpIn, output: mlpOut, rows: rows, positions: positions)
    residualAdd(out: x, inp: mlpOut, count: rows * c)
  }

  /// Final LayerNorm, then logits = ln_f(x) · wteᵀ. x (rows, C) -> (rows, V).
  private func unembed(_ x: UnsafeMutablePointer<Float>, rows: Int, ws: Workspace) -> [Float] {
    let c = config.nEmbd
    layerNormForward(
      out: ws.normed.pointer, inp: x, weight: weights.lnFWeight.pointer, bias: weights.lnFBias.pointer,
      rows: rows, dim: c, eps: config.layerNormEpsilon)
    let v = config.vocabSize
    return [Float](unsafeUninitializedCapacity: rows * v) { out, count in
      linearTransposedForward(
        out: out.baseAddress!, inp: ws.normed.pointer, weight: weights.tokenEmbedding.pointer, bias: nil,
        rows: rows, inDim: c, outDim: v)
      count = rows * v
    }
  }

  private func attentionScale(layer: Int) -> Float {
    var scale: Float = config.scaleAttnWeights ? 1 / Float(config.headDim).squareRoot() : 1
    if config.scaleAttnByInverseLayerIdx { scale /= Float(layer + 1) }
    return scale
  }

  // MARK: - Scratch

  /// Activations of one forward call, reused while the call sizes fit.
  private final class Workspace {
    let rows: Int
    let length: Int
    let x, normed, qkv, attention, projected, hidden, scores: FloatBuffer
    init(rows: Int, length: Int, config: GPT2Config) {
      self.rows = rows
      self.length = length
      let c = config.nEmbd
      x = FloatBuffer(count: rows * c)
      normed = FloatBuffer(count: rows * c)
      qkv = FloatBuffer(count: rows * 3 * c)
      attention = FloatBuffer(count: rows * c)
      projected = FloatBuffer(count: rows * c)
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
