import Kernels

/// A norm's parameters: a LayerNorm (GPT-2, with a bias and mean subtraction) or an RMSNorm
/// (Llama, neither). The model's forward pass and attribution's frozen norm read the same ones.
public struct NormParameters {
  /// γ (dim).
  public let weight: FloatBuffer
  /// β (dim) for a LayerNorm; nil for an RMSNorm.
  public let bias: FloatBuffer?
  public let epsilon: Float

  public init(weight: FloatBuffer, bias: FloatBuffer?, epsilon: Float) {
    self.weight = weight
    self.bias = bias
    self.epsilon = epsilon
  }

  public var dim: Int { weight.count }

  /// Whether the norm subtracts the mean before scaling (LayerNorm).
  public var centres: Bool { bias != nil }

  /// The norm. inp, out (rows, dim); rstd (rows) receives each row's 1/σ when given.
  public func forward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int, rstd: UnsafeMutablePointer<Float>?
  ) {
    if let bias {
      layerNormForward(
        out: out, inp: inp, weight: weight.pointer, bias: bias.pointer, rows: rows, dim: dim, eps: epsilon,
        rstd: rstd)
    } else {
      rmsNormForward(
        out: out, inp: inp, weight: weight.pointer, rows: rows, dim: dim, eps: epsilon, rstd: rstd)
    }
  }
}

/// A block of a weight matrix held in a model's own buffer, in either layout, as a map between row
/// vectors y = x · M + b: GPT-2's c_attn value columns, Llama's stacked attn_q/k/v value rows, an
/// output projection, the unembedding.
public struct MatrixBlock {
  public let buffer: FloatBuffer
  /// Floats into `buffer` where the block starts.
  public let offset: Int
  public let inDim: Int
  public let outDim: Int
  /// Distance between consecutive stored rows of the full matrix the block belongs to.
  public let leadingDimension: Int
  /// true: stored (inDim, outDim) as GPT-2's Conv1D; false: stored (outDim, inDim) as nn.Linear and GGUF.
  public let inputMajor: Bool
  public let bias: FloatBuffer?
  /// Floats into `bias` where the block's bias starts.
  public let biasOffset: Int

  public init(
    _ buffer: FloatBuffer, offset: Int = 0, inDim: Int, outDim: Int, leadingDimension: Int? = nil,
    inputMajor: Bool, bias: FloatBuffer? = nil, biasOffset: Int = 0
  ) {
    self.buffer = buffer
    self.offset = offset
    self.inDim = inDim
    self.outDim = outDim
    self.leadingDimension = leadingDimension ?? (inputMajor ? outDim : inDim)
    self.inputMajor = inputMajor
    self.bias = bias
    self.biasOffset = biasOffset
  }
}

/// The parameters of a pre-norm decoder-only transformer that stay once its norms' denominators,
/// its attention patterns and its MLPs are frozen (the local replacement model's linear skeleton,
/// Ameisen et al. 2025, §2.2): what attribution differentiates through. Both families describe
/// themselves this way, sharing their weight buffers.
public struct LinearSkeleton {
  public struct Layer {
    public let attentionNorm: NormParameters
    /// x_norm ↦ v (C → kvDim): the value block of the packed q|k|v projection.
    public let values: MatrixBlock
    /// Concatenated heads ↦ residual (qDim → C).
    public let output: MatrixBlock
    public let mlpNorm: NormParameters

    public init(
      attentionNorm: NormParameters, values: MatrixBlock, output: MatrixBlock, mlpNorm: NormParameters
    ) {
      self.attentionNorm = attentionNorm
      self.values = values
      self.output = output
      self.mlpNorm = mlpNorm
    }
  }

  public let layers: [Layer]
  public let heads: Int
  public let kvHeads: Int
  public let headDim: Int
  public let finalNorm: NormParameters
  /// The unembedding (C → V).
  public let unembedding: MatrixBlock
  /// The learned position embedding (context, C) added to the token embedding at the input, if the
  /// family has one (GPT-2's wpe; Llama's positions enter through RoPE instead). Attribution holds
  /// it constant, as circuit-tracer does, so that an embedding node is the token alone.
  public var positionEmbedding: FloatBuffer? = nil
}
