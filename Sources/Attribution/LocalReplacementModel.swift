import CBLAS
import CLTFormat
import Foundation
import Kernels
import LanguageModels
import Transcoder

/// The local replacement model of one prompt (Ameisen et al. 2025, §2.2): the original model with
/// every MLP replaced by the cross-layer transcoder's reconstruction plus a constant error term
/// (the MLP output minus that reconstruction), and every attention pattern and norm denominator
/// frozen at the original forward pass's values. It is linear (affine) in the embeddings, the
/// feature activations and the errors, and with the errors it reproduces the original logits.
///
/// Sources are numbered once for the whole prompt: every active feature (layer, then position,
/// then feature index, as the transcoder's compressed rows list them), then the error of each
/// layer and position (layer-major), then the embedding of each position.
public final class LocalReplacementModel {
  /// The model, its recorded forward pass on the prompt, and the transcoder with its scales.
  public let model: AttributionModel
  public let record: ForwardRecord
  public let transcoder: CrossLayerTranscoder
  public let normalizer: ActivationNormalizer
  /// The transcoder's decoders in half precision: what every reconstruction here reads.
  public let decoders: HalfDecoders
  /// a[l] for every position: the features that fire and their activations.
  public let activations: [SparseActivations]
  /// Per layer, the MLP output minus the transcoder's reconstruction (in model units), (n, C).
  public let errors: [FloatBuffer]
  /// Index of layer l's first active feature among all active features; featureOffsets[L] = total.
  public let featureOffsets: [Int]
  /// Whether position 0 is a beginning-of-sequence token whose MLP outputs are held constant:
  /// no feature nodes there, and its error terms count with the targets' constants, not as error
  /// nodes. The transcoder never saw that position (`gpt2-acts` leaves it out of the shards: the
  /// attention sink's activations are outliers), so its "errors" would be the whole MLP output
  /// and would take a large share of every graph's influence. circuit-tracer does the same with
  /// its default `zero_bos`.
  public let constantFirstPosition: Bool
  /// What an embedding node stands for, and each position's vector for it (n, C); `heldEmbeddings`
  /// is the rest of the input, held constant (n, C), or nil where there is none.
  public let embeddingNodes: EmbeddingNodes
  let embeddingVectors: FloatBuffer
  let heldEmbeddings: FloatBuffer?
  /// What each layer's frozen attention adds for a zero input (biases through the frozen
  /// pattern, whose rows sum to 1): (C), the same at every position.
  let attentionConstants: [[Float]]
  /// The mean unembedding row (C): logits are attributed relative to the mean logit.
  let meanUnembedding: [Float]
  /// Per layer, the transcoder's skip connection in model units, W_skip[l] · s_in[l] / s_out[l]
  /// (C, C), input-major; empty without one. It is a path, not a node: the gradient at MLP l's
  /// output flows through it (and the frozen MLP norm) into the residual stream, as it does
  /// through circuit-tracer's skip transcoders, so no node's edges change meaning.
  let skipWeights: [FloatBuffer]
  /// Per layer, what the skip adds for a zero residual: the MLP norm's bias (LayerNorm) · W (C).
  let skipConstants: [[Float]]

  /// Records the forward pass of `tokens` and binds the transcoder to it. `decoders` are the
  /// transcoder's in half precision (`HalfDecoders.loadTranscoder`); nil rounds the transcoder's own.
  /// - Throws: `AttributionError` for a bad prompt or a transcoder that does not fit the model.
  /// `constantFirstPosition`: tokens[0] is a beginning-of-sequence token (see the property).
  public convenience init(
    model: AttributionModel, tokens: [Int32], transcoder: CrossLayerTranscoder,
    normalizer: ActivationNormalizer, decoders: HalfDecoders? = nil, constantFirstPosition: Bool = false,
    embeddingNodes: EmbeddingNodes = .token
  ) throws {
    try Self.checkFit(model: model, transcoder: transcoder, normalizer: normalizer, decoders: decoders)
    try self.init(
      model: model, record: model.record(tokens: tokens), transcoder: transcoder, normalizer: normalizer,
      decoders: decoders, constantFirstPosition: constantFirstPosition, embeddingNodes: embeddingNodes)
  }

  init(
    model: AttributionModel, record: ForwardRecord, transcoder: CrossLayerTranscoder,
    normalizer: ActivationNormalizer, decoders: HalfDecoders? = nil, constantFirstPosition: Bool = false,
    embeddingNodes: EmbeddingNodes = .token
  ) throws {
    try Self.checkFit(model: model, transcoder: transcoder, normalizer: normalizer, decoders: decoders)
    self.model = model
    self.record = record
    self.transcoder = transcoder
    self.normalizer = normalizer
    let decoders = decoders ?? HalfDecoders(transcoder)
    self.decoders = decoders
    let n = record.count
    let c = model.dModel
    let scaled = FloatBuffer(count: n * c)
    let activations = (0..<model.nLayers).map { l in
      let s = normalizer.inputScales[l]
      for k in 0..<n * c { scaled[k] = record.mlpIn[l][k] * s }
      let encoded = transcoder.encode(layer: l, input: scaled.pointer, rows: n)
      return constantFirstPosition ? Self.withoutFirstRow(encoded) : encoded
    }
    self.constantFirstPosition = constantFirstPosition
    let skips = Self.skipWeights(transcoder, normalizer: normalizer)
    skipWeights = skips
    skipConstants = skips.indices.map { l in
      let b = model.layers[l].mlpNorm.constant
      guard b.contains(where: { $0 != 0 }) else { return [Float](repeating: 0, count: c) }
      return [Float](unsafeUninitializedCapacity: c) { out, count in
        linearForward(
          out: out.baseAddress!, inp: b, weight: skips[l].pointer, bias: nil, rows: 1, inDim: c, outDim: c)
        count = c
      }
    }
    let skipped = FloatBuffer(count: skips.isEmpty ? 0 : n * c)
    errors = (0..<model.nLayers).map { l in
      let error = FloatBuffer(count: n * c)
      decoders.reconstruct(
        target: l, from: activations, bias: transcoder.decoderBiases[l].pointer, into: error.pointer)
      let s = normalizer.outputScales[l]
      for k in 0..<n * c { error[k] = record.mlpOut[l][k] - error[k] / s }
      if !skips.isEmpty {
        linearForward(
          out: skipped.pointer, inp: record.mlpIn[l].pointer, weight: skips[l].pointer, bias: nil, rows: n,
          inDim: c, outDim: c)
        for k in 0..<n * c { error[k] -= skipped[k] }
      }
      return error
    }
    self.activations = activations
    record.releaseMLPTaps()
    self.embeddingNodes = embeddingNodes
    if embeddingNodes == .token, let wpe = model.positionEmbedding {
      let held = FloatBuffer(count: n * c)
      held.pointer.update(from: wpe.pointer, count: n * c)
      let vectors = FloatBuffer(count: n * c)
      for k in 0..<n * c { vectors[k] = record.embeddings[k] - held[k] }
      (embeddingVectors, heldEmbeddings) = (vectors, held)
    } else {
      (embeddingVectors, heldEmbeddings) = (record.embeddings, nil)
    }
    var offsets = [0]
    for a in activations { offsets.append(offsets.last! + a.indices.count) }
    featureOffsets = offsets
    attentionConstants = model.layers.map { layer in Self.attentionConstant(layer, model: model) }
    var mean = [Double](repeating: 0, count: c)
    let u = model.unembedding
    for t in 0..<model.vocabularySize {
      let row = u.column(t)
      for j in 0..<c { mean[j] += Double(row[j]) }
    }
    meanUnembedding = mean.map { Float($0 / Double(model.vocabularySize)) }
  }

  /// W_skip[l] · s_in[l] / s_out[l] for every layer, or none without a skip connection.
  static func skipWeights(_ transcoder: CrossLayerTranscoder, normalizer: ActivationNormalizer)
    -> [FloatBuffer]
  {
    transcoder.skipWeights.enumerated().map { l, w in
      let scale = normalizer.inputScales[l] / normalizer.outputScales[l]
      let scaled = FloatBuffer(count: w.count)
      for k in 0..<w.count { scaled[k] = w[k] * scale }
      return scaled
    }
  }

  /// `a` with row 0's features removed (the row kept, empty).
  static func withoutFirstRow(_ a: SparseActivations) -> SparseActivations {
    let cut = a.offsets[1]
    return SparseActivations(
      offsets: [0] + a.offsets.dropFirst().map { $0 - cut }, indices: Array(a.indices[cut...]),
      values: Array(a.values[cut...]))
  }

  /// Refuses a transcoder whose layer count, width or scales do not match the model.
  static func checkFit(
    model: AttributionModel, transcoder: CrossLayerTranscoder, normalizer: ActivationNormalizer,
    decoders: HalfDecoders? = nil
  ) throws {
    guard transcoder.nLayers == model.nLayers else {
      throw AttributionError.transcoderMismatch(
        "it has \(transcoder.nLayers) layers, the model \(model.nLayers)")
    }
    guard transcoder.dModel == model.dModel else {
      throw AttributionError.transcoderMismatch(
        "its d_model is \(transcoder.dModel), the model's \(model.dModel)")
    }
    if let decoders {
      guard decoders.nLayers == transcoder.nLayers, decoders.dModel == transcoder.dModel,
        decoders.features == transcoder.features
      else { throw AttributionError.transcoderMismatch("its half-precision decoders have other sizes") }
    }
    guard normalizer.inputScales.count == model.nLayers, normalizer.outputScales.count == model.nLayers else {
      throw AttributionError.transcoderMismatch(
        "its normalisation scales do not cover \(model.nLayers) layers")
    }
  }

  /// (b_norm · W_V + b_V) expanded to every query head, then · W_O + b_O: the attention output
  /// of a zero residual, since each frozen pattern row sums to one.
  static func attentionConstant(_ layer: AttributionModel.Layer, model: AttributionModel) -> [Float] {
    let normBias = layer.attentionNorm.constant
    var v = layer.values.constant
    normBias.withUnsafeBufferPointer { b in
      let projected = FloatBuffer(count: layer.values.outDim)
      layer.values.forward(out: projected.pointer, inp: b.baseAddress!, rows: 1)
      v = projected.array
    }
    let group = model.heads / model.kvHeads
    var heads = [Float](repeating: 0, count: model.qDim)
    for h in 0..<model.heads {
      for k in 0..<model.headDim { heads[h * model.headDim + k] = v[(h / group) * model.headDim + k] }
    }
    var out = [Float](repeating: 0, count: model.dModel)
    heads.withUnsafeBufferPointer { inp in
      out.withUnsafeMutableBufferPointer {
        layer.output.forward(out: $0.baseAddress!, inp: inp.baseAddress!, rows: 1)
      }
    }
    return out
  }

  // MARK: - Sizes and source numbering

  /// The prompt's length and the model's layer count.
  public var positions: Int { record.count }
  public var nLayers: Int { model.nLayers }
  /// Active features over all layers and positions.
  public var featureCount: Int { featureOffsets.last! }
  /// Columns of an edge row: features, then errors, then embeddings.
  public var sourceCount: Int { featureCount + nLayers * positions + positions }
  /// The source numbers of an error node and of an embedding node.
  public func errorSource(layer: Int, position: Int) -> Int { featureCount + layer * positions + position }
  public func embeddingSource(position: Int) -> Int { featureCount + nLayers * positions + position }

  /// The layer, position, feature index and activation of active feature `source`.
  public func feature(_ source: Int) -> (layer: Int, position: Int, index: Int, activation: Float) {
    var l = 0
    while featureOffsets[l + 1] <= source { l += 1 }
    let k = source - featureOffsets[l]
    let a = activations[l]
    var p = 0
    while a.offsets[p + 1] <= k { p += 1 }
    return (l, p, Int(a.indices[k]), a.values[k])
  }

  // MARK: - Targets

  /// Feature `source`'s pre-activation as a readout of the residual stream at its layer's MLP
  /// input: h = s_in · norm_frozen(x) · W_enc,i + b_enc,i = r · x + c.
  func featureTarget(_ source: Int) -> AttributionTarget {
    let f = feature(source)
    let s = normalizer.inputScales[f.layer]
    let d = model.dModel
    let row = transcoder.encoderWeights[f.layer].pointer + f.index * d
    let u = (0..<d).map { row[$0] * s }
    let (r, c) = model.layers[f.layer].mlpNorm.readout(u, rstd: record.mlpRstd[f.layer][f.position])
    return AttributionTarget(
      layer: f.layer, position: f.position, readout: r,
      constant: c + transcoder.encoderBiases[f.layer][f.index])
  }

  /// Token `token`'s logit at the last position minus the mean logit, as a readout of the final
  /// residual stream: (ū_t) · norm_frozen(x) with ū_t = W_U[t] − mean_v W_U[v].
  func logitTarget(_ token: Int) -> AttributionTarget {
    let row = model.unembedding.column(token)
    let u = (0..<model.dModel).map { row[$0] - meanUnembedding[$0] }
    let last = positions - 1
    let (r, c) = model.finalNorm.readout(u, rstd: record.finalRstd)
    return AttributionTarget(layer: nLayers, position: last, readout: r, constant: c)
  }
}

/// A node's input in the local replacement model as a linear readout of the residual stream:
/// value = readout · x[layer's MLP input (or the final residual when layer = L)][position] + constant.
struct AttributionTarget {
  let layer: Int
  let position: Int
  let readout: [Float]
  let constant: Float
}
