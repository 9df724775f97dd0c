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
    public let gate, up: FloatBuffer  // (M, C)
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
    func block(_ l: Int) throws -> Block {
      let b = "blk.\(l)."
      let qkv = FloatBuffer(count: (q + 2 * kv) * c)
      for (offset, name, rows) in [(0, "attn_q", q), (q * c, "attn_k", kv), ((q + kv) * c, "attn_v", kv)] {
        let part = try file.floats(b + name + ".weight", expectedShape: [rows, c])
        part.withUnsafeBufferPointer { (qkv.pointer + offset).update(from: $0.baseAddress!, count: rows * c) }
      }
      return Block(
        attnNorm: try load(b + "attn_norm.weight", [c]), qkv: qkv,
        attnOutput: try load(b + "attn_output.weight", [c, q]),
        ffnNorm: try load(b + "ffn_norm.weight", [c]),
        gate: try load(b + "ffn_gate.weight", [m, c]), up: try load(b + "ffn_up.weight", [m, c]),
        down: try load(b + "ffn_down.weight", [c, m]))
    }
    var results = [Result<Block, Error>?](repeating: nil, count: config.nLayers)
    results.withUnsafeMutableBufferPointer { slots in
      let slots = UncheckedSendable(slots)
      DispatchQueue.concurrentPerform(iterations: config.nLayers) { l in
        slots.value[l] = Result { try block(l) }
      }
    }
    let blocks = try results.map { try $0!.get() }
    self.init(
      tokenEmbedding: try load("token_embd.weight", [config.vocabSize, c]), blocks: blocks,
      outputNorm: try load("output_norm.weight", [c]),
      output: file.tensors["output.weight"] != nil ? try load("output.weight", [config.vocabSize, c]) : nil)
  }
}

/// Lets concurrentPerform's iterations write disjoint slots of one buffer.
private struct UncheckedSendable<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
