import Foundation
import Kernels
import ModelFormats

/// GPT-2's parameters as Float buffers, in Hugging Face's layout: the `Conv1D` weights are
/// input-major (inDim, outDim), which is what `linearForward` takes.
public final class GPT2Weights {
  /// One transformer block.
  public struct Block {
    public let ln1Weight, ln1Bias: FloatBuffer  // (C)
    public let attnWeight, attnBias: FloatBuffer  // (C, 3C), (3C)
    public let attnProjWeight, attnProjBias: FloatBuffer  // (C, C), (C)
    public let ln2Weight, ln2Bias: FloatBuffer  // (C)
    public let fcWeight, fcBias: FloatBuffer  // (C, M), (M)
    public let fcProjWeight, fcProjBias: FloatBuffer  // (M, C), (C)
  }

  public let tokenEmbedding: FloatBuffer  // wte (V, C), also the tied unembedding
  public let positionEmbedding: FloatBuffer  // wpe (P, C)
  public let blocks: [Block]
  public let lnFWeight, lnFBias: FloatBuffer  // (C)

  public init(
    tokenEmbedding: FloatBuffer, positionEmbedding: FloatBuffer, blocks: [Block], lnFWeight: FloatBuffer,
    lnFBias: FloatBuffer
  ) {
    self.tokenEmbedding = tokenEmbedding
    self.positionEmbedding = positionEmbedding
    self.blocks = blocks
    self.lnFWeight = lnFWeight
    self.lnFBias = lnFBias
  }

  /// Loads every tensor `config` implies from a safetensors file, checking each shape. Names may
  /// carry the `transformer.` prefix (saved from GPT2LMHeadModel) or not (the hub's gpt2 files).
  public convenience init(safetensors file: SafetensorsFile, config: GPT2Config) throws {
    let prefix = file.tensors["transformer.wte.weight"] != nil ? "transformer." : ""
    func load(_ name: String, _ shape: [Int]) throws -> FloatBuffer {
      FloatBuffer(try file.floats(prefix + name, expectedShape: shape))
    }
    let c = config.nEmbd
    let m = config.mlpWidth
    let blocks = try (0..<config.nLayer).map { l -> Block in
      let h = "h.\(l)."
      return Block(
        ln1Weight: try load(h + "ln_1.weight", [c]), ln1Bias: try load(h + "ln_1.bias", [c]),
        attnWeight: try load(h + "attn.c_attn.weight", [c, 3 * c]),
        attnBias: try load(h + "attn.c_attn.bias", [3 * c]),
        attnProjWeight: try load(h + "attn.c_proj.weight", [c, c]),
        attnProjBias: try load(h + "attn.c_proj.bias", [c]),
        ln2Weight: try load(h + "ln_2.weight", [c]), ln2Bias: try load(h + "ln_2.bias", [c]),
        fcWeight: try load(h + "mlp.c_fc.weight", [c, m]), fcBias: try load(h + "mlp.c_fc.bias", [m]),
        fcProjWeight: try load(h + "mlp.c_proj.weight", [m, c]),
        fcProjBias: try load(h + "mlp.c_proj.bias", [c]))
    }
    self.init(
      tokenEmbedding: try load("wte.weight", [config.vocabSize, c]),
      positionEmbedding: try load("wpe.weight", [config.nPositions, c]),
      blocks: blocks, lnFWeight: try load("ln_f.weight", [c]), lnFBias: try load("ln_f.bias", [c]))
  }
}
