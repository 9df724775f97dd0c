import Kernels
import LanguageModels

extension LlamaModel {
  /// A Llama-family model as attribution sees it: RMSNorms, the value rows of the stacked
  /// attn_q/k/v, attn_output, the SwiGLU MLP as an opaque function, rotary positions on q and k,
  /// and the LM head (or the tied embedding). Shares the model's weight buffers.
  public var attributionModel: AttributionModel {
    let config = config
    let c = config.dModel
    let m = config.mlpWidth
    let (q, kv) = (config.qDim, config.kvDim)
    let eps = config.rmsNormEpsilon
    let layers = weights.blocks.map { w -> AttributionModel.Layer in
      AttributionModel.Layer(
        attentionNorm: .rmsNorm(weight: w.attnNorm, epsilon: eps),
        qkv: DenseMap(w.qkv, inDim: c, outDim: q + 2 * kv, inputMajor: false),
        values: DenseMap(w.qkv, offset: (q + kv) * c, inDim: c, outDim: kv, inputMajor: false),
        output: DenseMap(w.attnOutput, inDim: q, outDim: c, inputMajor: false),
        mlpNorm: .rmsNorm(weight: w.ffnNorm, epsilon: eps),
        mlp: { out, inp, rows in
          let gateUp = FloatBuffer(count: rows * 2 * m)
          let hidden = FloatBuffer(count: rows * m)
          linearTransposedForward(
            out: gateUp.pointer, inp: inp, weight: w.gateUp.pointer, bias: nil, rows: rows, inDim: c,
            outDim: 2 * m)
          swigluForward(out: hidden.pointer, gateUp: gateUp.pointer, rows: rows, dim: m)
          linearTransposedForward(
            out: out, inp: hidden.pointer, weight: w.down.pointer, bias: nil, rows: rows, inDim: m, outDim: c)
        },
        attentionScale: 1 / Float(config.headDim).squareRoot())
    }
    let table = FloatBuffer(
      ropeTable(base: config.ropeBase, ropeDim: config.ropeDim, positions: config.contextLength))
    let embedding = weights.tokenEmbedding
    return AttributionModel(
      description: description, layers: layers, heads: config.nHeads, kvHeads: config.nKVHeads,
      headDim: config.headDim, finalNorm: .rmsNorm(weight: weights.outputNorm, epsilon: eps),
      unembedding: DenseMap(weights.unembedding, inDim: c, outDim: config.vocabSize, inputMajor: false),
      embed: { tokens, out in
        for (p, token) in tokens.enumerated() {
          (out + p * c).update(from: embedding.pointer + Int(token) * c, count: c)
        }
      },
      rotate: { qkv, rows in
        ropeForward(
          qkv, ld: q + 2 * kv, rows: rows, heads: config.nHeads + config.nKVHeads, headDim: config.headDim,
          ropeDim: config.ropeDim, firstPosition: 0, period: rows, table: table.pointer)
      })
  }
}
