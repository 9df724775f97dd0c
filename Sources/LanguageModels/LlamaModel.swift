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
public final class LlamaModel: LanguageModel, TransformerFamily {
  public let config: LlamaConfig
  public let weights: LlamaWeights
  public let description: ModelDescription
  /// cos/sin of every rotary angle up to the context length, (contextLength, ropeDim/2, 2).
  private let rope: FloatBuffer
  let blockShape: BlockShape
  var workspace: BlockWorkspace

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
    blockShape = BlockShape(
      nLayers: config.nLayers, dModel: config.dModel, heads: config.nHeads, kvHeads: config.nKVHeads,
      headDim: config.headDim, mlpScratchWidth: 3 * config.mlpWidth)
    workspace = BlockWorkspace(shape: blockShape)
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
      sha256: hashWeights ? try FileHash.sha256Hex(fileAt: url) : "")
  }

  // MARK: - The pieces of the block

  /// x = token_embd[token]: Llama has no learned positions (RoPE adds them inside attention).
  /// x (rows, C).
  func embed(tokens: [Int32], positions: RowPositions, into x: UnsafeMutablePointer<Float>) {
    let c = config.dModel
    let table = weights.tokenEmbedding.pointer
    for (i, token) in tokens.enumerated() {
      (x + i * c).update(from: table + Int(token) * c, count: c)
    }
  }

  /// attn_norm, ffn_norm or output_norm.
  func norm(_ site: NormSite) -> NormParameters {
    let weight: FloatBuffer
    switch site {
    case .attention(let l): weight = weights.blocks[l].attnNorm
    case .mlp(let l): weight = weights.blocks[l].ffnNorm
    case .final: weight = weights.outputNorm
    }
    return NormParameters(weight: weight, bias: nil, epsilon: config.rmsNormEpsilon)
  }

  /// The stacked attn_q/k/v, then RoPE on the query and key heads, which sit side by side at the
  /// start of each row: one pass rotates them all. inp (rows, C), out (rows, qDim + 2·kvDim).
  func qkvForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
    positions: RowPositions
  ) {
    let width = config.qDim + 2 * config.kvDim
    linearTransposedForward(
      out: out, inp: inp, weight: weights.blocks[layer].qkv.pointer, bias: nil, rows: rows,
      inDim: config.dModel,
      outDim: width)
    ropeForward(
      out, ld: width, rows: rows, heads: config.nHeads + config.nKVHeads, headDim: config.headDim,
      ropeDim: config.ropeDim, firstPosition: positions.firstPosition, period: positions.period,
      table: rope.pointer)
  }

  /// 1/√headDim.
  func attentionScale(layer: Int) -> Float { 1 / Float(config.headDim).squareRoot() }

  /// attn_output. inp (rows, qDim), out (rows, C).
  func attentionOutputForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int
  ) {
    linearTransposedForward(
      out: out, inp: inp, weight: weights.blocks[layer].attnOutput.pointer, bias: nil, rows: rows,
      inDim: config.qDim, outDim: config.dModel)
  }

  /// down(silu(gate(x)) · up(x)). inp (rows, C), out (rows, C), scratch (rows, 3M): gate|up
  /// (rows, 2M) then the hidden layer (rows, M).
  func mlpForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
    scratch: UnsafeMutablePointer<Float>
  ) {
    let w = weights.blocks[layer]
    let c = config.dModel
    let m = config.mlpWidth
    let hidden = scratch + rows * 2 * m
    linearTransposedForward(
      out: scratch, inp: inp, weight: w.gateUp.pointer, bias: nil, rows: rows, inDim: c, outDim: 2 * m)
    swigluForward(out: hidden, gateUp: scratch, rows: rows, dim: m)
    linearTransposedForward(
      out: out, inp: hidden, weight: w.down.pointer, bias: nil, rows: rows, inDim: m, outDim: c)
  }

  /// logits = norm(x) · Wᵀ with W the LM head or the tied embedding. inp (rows, C), out (rows, V).
  func unembedForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int) {
    linearTransposedForward(
      out: out, inp: inp, weight: weights.unembedding.pointer, bias: nil, rows: rows, inDim: config.dModel,
      outDim: config.vocabSize)
  }

  /// RMSNorms, the value rows of the stacked attn_q/k/v, attn_output, output_norm and the LM head
  /// (or the tied embedding).
  public var linearSkeleton: LinearSkeleton {
    let c = config.dModel
    let (q, kv) = (config.qDim, config.kvDim)
    let layers = weights.blocks.indices.map { l -> LinearSkeleton.Layer in
      let w = weights.blocks[l]
      return LinearSkeleton.Layer(
        attentionNorm: norm(.attention(layer: l)),
        values: MatrixBlock(w.qkv, offset: (q + kv) * c, inDim: c, outDim: kv, inputMajor: false),
        output: MatrixBlock(w.attnOutput, inDim: q, outDim: c, inputMajor: false),
        mlpNorm: norm(.mlp(layer: l)))
    }
    return LinearSkeleton(
      layers: layers, heads: config.nHeads, kvHeads: config.nKVHeads, headDim: config.headDim,
      finalNorm: norm(.final),
      unembedding: MatrixBlock(weights.unembedding, inDim: c, outDim: config.vocabSize, inputMajor: false))
  }
}
