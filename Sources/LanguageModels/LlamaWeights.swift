import Dispatch
import Foundation
import Kernels
import ModelFormats

/// Llama's parameters as Float buffers, dequantised once at load from GGUF. Matrices stay
/// output-major (outDim, inDim) as GGUF and `nn.Linear` store them, which is what
/// `linearTransposedForward` takes. The attn_q and attn_k rows keep llama.cpp's per-head
/// permutation (RoPE pairs adjacent), which `ropeForward` expects.
public final class LlamaWeights {
  /// One transformer block.
  public struct Block {
    public let attnNorm: FloatBuffer  // (C)
    /// attn_q, attn_k and attn_v stacked: (qDim + 2·kvDim, C), so one product yields q|k|v per row.
    public let qkv: FloatBuffer
    public let attnOutput: FloatBuffer  // (C, qDim)
    public let ffnNorm: FloatBuffer  // (C)
    /// ffn_gate and ffn_up stacked: (2M, C), so one product yields gate|up per row.
    public let gateUp: FloatBuffer
    public let down: FloatBuffer  // (C, M)
  }

  public let tokenEmbedding: FloatBuffer  // token_embd (V, C)
  public let blocks: [Block]
  public let outputNorm: FloatBuffer  // (C)
  /// output.weight (V, C) when the file has its own LM head; nil when tied to the embedding.
  public let output: FloatBuffer?

  /// The unembedding matrix (V, C): the LM head, or the tied token embedding.
  public var unembedding: FloatBuffer { output ?? tokenEmbedding }

  public init(tokenEmbedding: FloatBuffer, blocks: [Block], outputNorm: FloatBuffer, output: FloatBuffer?) {
    self.tokenEmbedding = tokenEmbedding
    self.blocks = blocks
    self.outputNorm = outputNorm
    self.output = output
  }

  /// Dequantises every tensor `config` implies, checking each shape (GGUF shapes read outermost
  /// first here, e.g. blk.N.ffn_gate.weight is [M, C]). Blocks load concurrently: dequantising
  /// Q4_1 is the slow part of opening a file.
  public convenience init(gguf file: GGUFFile, config: LlamaConfig) throws {
    func load(_ name: String, _ shape: [Int]) throws -> FloatBuffer {
      FloatBuffer(try file.floats(name, expectedShape: shape))
    }
    let c = config.dModel
    let m = config.mlpWidth
    let (q, kv) = (config.qDim, config.kvDim)
    /// Tensors of the same input width stacked row-wise into one matrix, so that they take one product.
    func stacked(_ parts: [(name: String, rows: Int)]) throws -> FloatBuffer {
      let buffer = FloatBuffer(count: parts.reduce(0) { $0 + $1.rows } * c)
      var offset = 0
      for (name, rows) in parts {
        let part = try file.floats(name, expectedShape: [rows, c])
        part.withUnsafeBufferPointer {
          (buffer.pointer + offset).update(from: $0.baseAddress!, count: rows * c)
        }
        offset += rows * c
      }
      return buffer
    }
    func block(_ l: Int) throws -> Block {
      let b = "blk.\(l)."
      return Block(
        attnNorm: try load(b + "attn_norm.weight", [c]),
        qkv: try stacked([(b + "attn_q.weight", q), (b + "attn_k.weight", kv), (b + "attn_v.weight", kv)]),
        attnOutput: try load(b + "attn_output.weight", [c, q]),
        ffnNorm: try load(b + "ffn_norm.weight", [c]),
        gateUp: try stacked([(b + "ffn_gate.weight", m), (b + "ffn_up.weight", m)]),
        down: try load(b + "ffn_down.weight", [c, m]))
    }
    var results = [Result<Block, Error>?](repeating: nil, count: config.nLayers)
    results.withUnsafeMutableBufferPointer { slots in
      // Each iteration reads the mapped file and writes only its own slot.
      let (slots, block) = (UncheckedSendable(slots), UncheckedSendable(block))
      DispatchQueue.concurrentPerform(iterations: config.nLayers) { l in
        slots.value[l] = Result { try block.value(l) }
      }
    }
    let blocks = try results.map { try $0!.get() }
    self.init(
      tokenEmbedding: try load("token_embd.weight", [config.vocabSize, c]), blocks: blocks,
      outputNorm: try load("output_norm.weight", [c]),
      output: file.tensors["output.weight"] != nil ? try load("output.weight", [config.vocabSize, c]) : nil)
  }
}
