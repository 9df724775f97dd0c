import Kernels

/// The sizes the block skeleton needs from a family.
struct BlockShape {
  let nLayers: Int
  let dModel: Int
  let heads: Int
  let kvHeads: Int
  let headDim: Int
  /// Floats of MLP scratch per row (GPT-2: the hidden layer; Llama: gate|up and the hidden layer).
  let mlpScratchWidth: Int

  var attention: PackedAttention { PackedAttention(heads: heads, kvHeads: kvHeads, headDim: headDim) }
}

/// What a model family supplies to the one pre-norm block (`blockForward`) and to the window and
/// cached passes built on it: its embedding, norms, projections, MLP and unembedding. Everything
/// else (the residual stream, attention, MLP taps, `MLPReplacement`, `ForwardObserver`) is
/// written once, here, for both families.
protocol TransformerFamily: LanguageModel {
  var blockShape: BlockShape { get }
  /// The scratch of the last call, reused while the call sizes fit.
  var workspace: BlockWorkspace { get set }

  /// x = the embedding of each token at its position. x (rows, C).
  func embed(tokens: [Int32], positions: RowPositions, into x: UnsafeMutablePointer<Float>)
  /// The norm at `site`.
  func norm(_ site: NormSite) -> NormParameters
  /// The packed q|k|v projection, positions applied. inp (rows, C), out (rows, qDim + 2·kvDim).
  func qkvForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
    positions: RowPositions)
  /// Multiplies q·k before the softmax.
  func attentionScale(layer: Int) -> Float
  /// Concatenated heads ↦ residual. inp (rows, qDim), out (rows, C).
  func attentionOutputForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int)
  /// The MLP. inp (rows, C), out (rows, C), scratch (rows, mlpScratchWidth).
  func mlpForward(
    layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int,
    scratch: UnsafeMutablePointer<Float>)
  /// logits = normed · W_Uᵀ. inp (rows, C), out (rows, V).
  func unembedForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int)
}

// MARK: - The block

extension TransformerFamily {
  /// Runs `batch` windows of `length` tokens from position 0 (see `LanguageModel.forward`): both
  /// families' `forward`, written once.
  public func forward(
    tokens: [Int32], batch: Int, length: Int, taps: MLPTaps?, computeLogits: Bool,
    replacement: (any MLPReplacement)?, observer: (any ForwardObserver)?
  ) throws -> [Float] {
    try checkWindows(tokens: tokens, batch: batch, length: length)
    let rows = batch * length
    let shape = blockShape
    let ws = workspace(rows: rows, length: length, probabilities: observer?.observesAttention ?? false)
    let positions = RowPositions(firstPosition: 0, period: length)
    embed(tokens: tokens, positions: positions, into: ws.x.pointer)
    observer?.embedded(ws.x.pointer, rows: rows)
    let perWindow = shape.heads * length * length
    for l in 0..<shape.nLayers {
      blockForward(
        layer: l, rows: rows, positions: positions, ws: ws, taps: taps, replacement: replacement,
        observer: observer
      ) { qkv, out, probabilities in
        shape.attention.attendWindows(
          qkv: qkv, out: out, batch: batch, length: length, scale: attentionScale(layer: l),
          scores: ws.scores.pointer, probabilities: probabilities)
        if let probabilities, let observer {
          for b in 0..<batch {
            observer.attended(
              layer: l, window: b, probabilities: probabilities + b * perWindow, queries: length, keys: length
            )
          }
        }
      }
    }
    guard computeLogits else { return [] }
    return unembed(ws.x.pointer, rows: rows, ws: ws, observer: observer)
  }

  /// A cache of every layer's keys and values for up to `capacity` positions, never more than the
  /// model's context (see `LanguageModel.makeCache`).
  public func makeCache(capacity: Int) -> KVCache {
    KVCache(
      nLayers: blockShape.nLayers, capacity: min(capacity, description.contextLength),
      kvWidth: blockShape.kvHeads * blockShape.headDim)
  }

  /// Appends `tokens` to the sequence in `cache` (see `LanguageModel.decode`): both families'
  /// `decode`, written once.
  public func decode(
    tokens: [Int32], cache: KVCache, replacement: (any MLPReplacement)?, observer: (any ForwardObserver)?
  ) throws -> [Float] {
    let past = cache.count
    let n = tokens.count
    guard n > 0 else { return [] }
    try checkDecode(tokens: tokens, cache: cache)
    let shape = blockShape
    let ws = workspace(rows: n, length: past + n, probabilities: observer?.observesAttention ?? false)
    let positions = RowPositions(firstPosition: past, period: n)
    embed(tokens: tokens, positions: positions, into: ws.x.pointer)
    observer?.embedded(ws.x.pointer, rows: n)
    for l in 0..<shape.nLayers {
      blockForward(
        layer: l, rows: n, positions: positions, ws: ws, taps: nil, replacement: replacement,
        observer: observer
      ) { qkv, out, probabilities in
        shape.attention.attendCached(
          qkv: qkv, out: out, rows: n, cache: cache, layer: l, scale: attentionScale(layer: l),
          scores: ws.scores.pointer, probabilities: probabilities)
        if let probabilities {
          observer?.attended(layer: l, window: 0, probabilities: probabilities, queries: n, keys: past + n)
        }
      }
    }
    cache.count = past + n
    return unembed(ws.x.pointer + (n - 1) * shape.dModel, rows: 1, ws: ws, observer: observer)
  }

  /// One pre-norm block on the residual stream ws.x (rows, C), rows at `positions`:
  /// x += attn_out(attend(qkv(norm_attn(x)))); x += mlp(norm_mlp(x)).
  /// `attend` maps the packed q|k|v rows (rows, qDim + 2·kvDim) to the per-head attention output
  /// (rows, qDim), writing the probabilities where given; `replacement` may overwrite the MLP
  /// output before it joins the residual stream; `taps` and `observer` see what the block computes.
  func blockForward(
    layer l: Int, rows: Int, positions: RowPositions, ws: BlockWorkspace, taps: MLPTaps?,
    replacement: (any MLPReplacement)?, observer: (any ForwardObserver)?,
    attend: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?) -> Void
  ) {
    let c = blockShape.dModel
    let x = ws.x.pointer
    let rstd = observer == nil ? nil : ws.rstd.pointer
    norm(.attention(layer: l)).forward(out: ws.normed.pointer, inp: x, rows: rows, rstd: rstd)
    if let rstd { observer?.normalized(.attention(layer: l), rstd: rstd, rows: rows) }
    qkvForward(layer: l, out: ws.qkv.pointer, inp: ws.normed.pointer, rows: rows, positions: positions)
    let probabilities = observer?.observesAttention ?? false ? ws.probabilities?.pointer : nil
    attend(ws.qkv.pointer, ws.attention.pointer, probabilities)
    attentionOutputForward(layer: l, out: ws.projected.pointer, inp: ws.attention.pointer, rows: rows)
    residualAdd(out: x, inp: ws.projected.pointer, count: rows * c)

    let mlpIn = taps.map { $0.pointer($0.mlpIn, layer: l) } ?? ws.normed.pointer
    let mlpOut = taps.map { $0.pointer($0.mlpOut, layer: l) } ?? ws.projected.pointer
    norm(.mlp(layer: l)).forward(out: mlpIn, inp: x, rows: rows, rstd: rstd)
    if let rstd { observer?.normalized(.mlp(layer: l), rstd: rstd, rows: rows) }
    if replacement?.needsMLPOutput(positions: positions) ?? true {
      mlpForward(layer: l, out: mlpOut, inp: mlpIn, rows: rows, scratch: ws.mlpScratch.pointer)
    }
    replacement?.replace(layer: l, input: mlpIn, output: mlpOut, rows: rows, positions: positions)
    observer?.mlpComputed(layer: l, input: mlpIn, output: mlpOut, rows: rows)
    residualAdd(out: x, inp: mlpOut, count: rows * c)
  }

  /// The final norm, then the unembedding. x (rows, C) -> (rows, V).
  func unembed(
    _ x: UnsafeMutablePointer<Float>, rows: Int, ws: BlockWorkspace, observer: (any ForwardObserver)?
  ) -> [Float] {
    let rstd = observer == nil ? nil : ws.rstd.pointer
    norm(.final).forward(out: ws.normed.pointer, inp: x, rows: rows, rstd: rstd)
    if let rstd { observer?.normalized(.final, rstd: rstd, rows: rows) }
    let v = description.vocabularySize
    return [Float](unsafeUninitializedCapacity: rows * v) { out, count in
      unembedForward(out: out.baseAddress!, inp: ws.normed.pointer, rows: rows)
      count = rows * v
    }
  }

  /// The workspace, grown when this call needs more; with attention probabilities when observed.
  func workspace(rows: Int, length: Int, probabilities: Bool) -> BlockWorkspace {
    let old = workspace
    if old.rows < rows || old.length < length || old.rows * old.length < rows * length
      || (probabilities && old.probabilities == nil)
    {
      workspace = BlockWorkspace(
        rows: max(rows, old.rows), length: max(length, old.length), shape: blockShape,
        probabilities: probabilities)
    }
    return workspace
  }
}

// MARK: - Scratch

/// Activations of one forward call, reused while the call sizes fit.
final class BlockWorkspace {
  let rows: Int
  let length: Int
  let x, normed, qkv, attention, projected, mlpScratch, scores, rstd: FloatBuffer
  /// Attention probabilities (rows, heads · length), only while a `ForwardObserver` watches them.
  let probabilities: FloatBuffer?

  init(rows: Int, length: Int, shape: BlockShape, probabilities: Bool) {
    self.rows = rows
    self.length = length
    let c = shape.dModel
    let attention = shape.attention
    x = FloatBuffer(count: rows * c)
    normed = FloatBuffer(count: rows * c)
    qkv = FloatBuffer(count: rows * attention.width)
    self.attention = FloatBuffer(count: rows * attention.qDim)
    projected = FloatBuffer(count: rows * c)
    mlpScratch = FloatBuffer(count: rows * shape.mlpScratchWidth)
    scores = FloatBuffer(count: rows * length)
    rstd = FloatBuffer(count: rows)
    self.probabilities = probabilities ? FloatBuffer(count: rows * shape.heads * length) : nil
  }

  /// An empty workspace, grown by the first call.
  convenience init(shape: BlockShape) {
    self.init(rows: 0, length: 0, shape: shape, probabilities: false)
  }
}
