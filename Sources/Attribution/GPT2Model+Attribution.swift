import Kernels
import LanguageModels

extension GPT2Model {
  /// GPT-2 as attribution sees it: LayerNorms, c_attn's value columns, c_proj, the GELU MLP as
  /// an opaque function, and the LM head tied to wte. Shares the model's weight buffers.
  public var attributionModel: AttributionModel {
    let c = config.nEmbd
    let m = config.mlpWidth
    let eps = config.layerNormEpsilon
    let layers = weights.blocks.enumerated().map { l, w -> AttributionModel.Layer in
      var scale: Float = config.scaleAttnWeights ? 1 / Float(config.headDim).squareRoot() : 1
      if config.scaleAttnByInverseLayerIdx { scale /= Float(l + 1) }
      return AttributionModel.Layer(
        attentionNorm: .layerNorm(weight: w.ln1Weight, bias: w.ln1Bias, epsilon: eps),
        qkv: DenseMap(w.attnWeight, inDim: c, outDim: 3 * c, inputMajor: true, bias: w.attnBias),
        values: DenseMap(
          w.attnWeight, offset: 2 * c, inDim: c, outDim: c, leadingDimension: 3 * c, inputMajor: true,
          bias: w.attnBias, biasOffset: 2 * c),
        output: DenseMap(w.attnProjWeight, inDim: c, outDim: c, inputMajor: true, bias: w.attnProjBias),
        mlpNorm: .layerNorm(weight: w.ln2Weight, bias: w.ln2Bias, epsilon: eps),
        mlp: { out, inp, rows in
          let hidden = FloatBuffer(count: rows * m)
          linearForward(
            out: hidden.pointer, inp: inp, weight: w.fcWeight.pointer, bias: nil, rows: rows, inDim: c,
            outDim: m)
          biasGeluTanhForward(hidden.pointer, bias: w.fcBias.pointer, rows: rows, dim: m)
          linearForward(
            out: out, inp: hidden.pointer, weight: w.fcProjWeight.pointer, bias: w.fcProjBias.pointer,
            rows: rows,
            inDim: m, outDim: c)
        },
        attentionScale: scale)
    }
    let wte = weights.tokenEmbedding
    let wpe = weights.positionEmbedding
    return AttributionModel(
      description: description, layers: layers, heads: config.nHead, kvHeads: config.nHead,
      headDim: config.headDim,
      finalNorm: .layerNorm(weight: weights.lnFWeight, bias: weights.lnFBias, epsilon: eps),
      unembedding: DenseMap(wte, inDim: c, outDim: config.vocabSize, inputMajor: false),
      embed: { tokens, out in
        for (p, token) in tokens.enumerated() {
          let t = wte.pointer + Int(token) * c
          let q = wpe.pointer + p * c
          for j in 0..<c { out[p * c + j] = t[j] + q[j] }
        }
      },
      rotate: nil)
  }
}
