import Foundation
import Kernels
import ModelFormats

/// GPT-2 exactly as `transformers.GPT2LMHeadModel` computes it: learned positions, pre-LayerNorm
/// blocks, causal multi-head attention, tanh-GELU MLP, final LayerNorm, LM head tied to `wte`.
public final class GPT2Model: LanguageModel, TransformerFamily {
  public let config: GPT2Config
  public let weights: GPT2Weights
  public let description: ModelDescription
  let blockShape: BlockShape
  var workspace: BlockWorkspace

  public init(config: GPT2Config, weights: GPT2Weights, name: String = "gpt2", sha256: String = "") {
    self.config = config
    self.weights = weights
    description = ModelDescription(
      architecture: "gpt2", name: name, sha256: sha256, nLayers: config.nLayer, dModel: config.nEmbd,
      vocabularySize: config.vocabSize, contextLength: config.nPositions,
      inputTap: "ln_2 output (MLP input)", outputTap: "MLP output (c_proj, before the residual add)")
    blockShape = BlockShape(
      nLayers: config.nLayer, dModel: config.nEmbd, heads: config.nHead, kvHeads: config.nHead,
      headDim: config.headDim, mlpScratchWidth: config.mlpWidth)
    workspace = BlockWorkspace(shape: blockShape)
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
      sha256: hashWeights ? try FileHash.sha256Hex(fileAt: weightsURL) : "")
  }

  // MARK: - The pieces of the block

  /// x = wte[token] + wpe[position]. x (rows, C).
  func embed(tokens: [Int32], positions: RowPositions, into x: UnsafeMutablePointer<Float>) {
    let c = config.nEmbd
    let wte = weights.tokenEmbedding.pointer
    let wpe = weights.positionEmbedding.pointer
    for (i, token) in tokens.enumerated() {
      let row = x + i * c
      let t = wte + Int(token) * c
      let p = wpe + positions.position(ofRow: i) * c
      for j in 0..<c { row[j] = t[j] + p[j] }
    }
  }

  /// ln_1, ln_2 or ln_f.
  func norm(_ site: NormSite) -> NormParameters {
    let eps = config.layerNormEpsilon
    switch site {
    case .attention(let l):
      return NormParameters(
        weight: weights.blocks[l].ln1Weight, bias: weights.blocks[l].ln1Bias, epsilon: eps)
    case .mlp(let l):
      return NormParameters(
        weight: weights.blocks[l].ln2Weight, bias: weights.blocks[l].ln2Bias, epsilon: eps)
    case .final:
      return NormParameters(weight: weights.lnFWeight, bias: weights.lnFBias, epsilon: eps)
    }
  }

  /// c_attn. inp (rows, C), out (rows, 3C).
  func qkvForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
    positions: RowPositions
  ) {
    let w = weights.blocks[layer]
    let c = config.nEmbd
    linearForward(
      out: out, inp: inp, weight: w.attnWeight.pointer, bias: w.attnBias.pointer, rows: rows, inDim: c,
      outDim: 3 * c)
  }

  /// 1/√headDim (when scale_attn_weights), divided by layer + 1 (when scale_attn_by_inverse_layer_idx).
  func attentionScale(layer: Int) -> Float {
    var scale: Float = config.scaleAttnWeights ? 1 / Float(config.headDim).squareRoot() : 1
    if config.scaleAttnByInverseLayerIdx { scale /= Float(layer + 1) }
    return scale
  }

  /// attn.c_proj. inp (rows, C), out (rows, C).
  func attentionOutputForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int
  ) {
    let w = weights.blocks[layer]
    let c = config.nEmbd
    linearForward(
      out: out, inp: inp, weight: w.attnProjWeight.pointer, bias: w.attnProjBias.pointer, rows: rows,
      inDim: c,
      outDim: c)
  }

  /// c_proj(gelu_tanh(c_fc(x))). inp (rows, C), out (rows, C), hidden (rows, M).
  func mlpForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
    scratch hidden: UnsafeMutablePointer<Float>
  ) {
    let w = weights.blocks[layer]
    let c = config.nEmbd
    let m = config.mlpWidth
    linearForward(
      out: hidden, inp: inp, weight: w.fcWeight.pointer, bias: nil, rows: rows, inDim: c, outDim: m)
    biasGeluTanhForward(hidden, bias: w.fcBias.pointer, rows: rows, dim: m)
    linearForward(
      out: out, inp: hidden, weight: w.fcProjWeight.pointer, bias: w.fcProjBias.pointer, rows: rows, inDim: m,
      outDim: c)
  }

  /// logits = ln_f(x) · wteᵀ. inp (rows, C), out (rows, V).
  func unembedForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int) {
    linearTransposedForward(
      out: out, inp: inp, weight: weights.tokenEmbedding.pointer, bias: nil, rows: rows, inDim: config.nEmbd,
      outDim: config.vocabSize)
  }

  /// LayerNorms, c_attn's value columns, attn.c_proj, ln_f and the unembedding tied to wte.
  public var linearSkeleton: LinearSkeleton {
    let c = config.nEmbd
    let layers = weights.blocks.indices.map { l -> LinearSkeleton.Layer in
      let w = weights.blocks[l]
      return LinearSkeleton.Layer(
        attentionNorm: norm(.attention(layer: l)),
        values: MatrixBlock(
          w.attnWeight, offset: 2 * c, inDim: c, outDim: c, leadingDimension: 3 * c, inputMajor: true,
          bias: w.attnBias, biasOffset: 2 * c),
        output: MatrixBlock(w.attnProjWeight, inDim: c, outDim: c, inputMajor: true, bias: w.attnProjBias),
        mlpNorm: norm(.mlp(layer: l)))
    }
    return LinearSkeleton(
      layers: layers, heads: config.nHead, kvHeads: config.nHead, headDim: config.headDim,
      finalNorm: norm(.final),
      unembedding: MatrixBlock(weights.tokenEmbedding, inDim: c, outDim: config.vocabSize, inputMajor: false),
      positionEmbedding: weights.positionEmbedding)
  }
}
