import CKernels
import Foundation
import Kernels

/// Layer-by-layer use of a trained transcoder, for tools that run it inside a model's forward pass
/// (the replacement model, attribution): layer l's features can be computed as soon as x[l] is
/// known, and they write to layer l and every later layer. Inputs and outputs here are in the
/// transcoder's normalised units: multiply x[l] by the input scale before `encode`, divide the
/// reconstruction by the output scale after `reconstruct` (see `ActivationNormalizer`).
extension CrossLayerTranscoder {
  /// a[l] for `rows` tokens: the features of layer `layer` that fire on x[l] and their activations.
  /// input (rows, d).
  public func encode(layer: Int, input: UnsafePointer<Float>, rows: Int) -> SparseActivations {
    precondition(layer >= 0 && layer < nLayers, "layer \(layer) is not one of the \(nLayers)")
    let h = FloatBuffer(count: rows * features)
    linearTransposedForward(
      out: h.pointer, inp: input, weight: encoderWeights[layer].pointer, bias: encoderBiases[layer].pointer,
      rows: rows, inDim: dModel, outDim: features)
    // A token cannot see a batch: BatchTopK runs as the JumpReLU its training estimated.
    let selection =
      activation == .topK
      ? layerSelection(layer: layer, preActivations: h.pointer, rows: rows, bandwidth: 0, reference: nil)
      : inferenceThresholds(layer: layer)
    let scratch = SelectionScratch()
    scanLayer(
      preActivations: h.pointer, rows: rows, selection: selection, dead: [], keepNearMisses: false,
      into: scratch)
    let scan = scratch.merged
    var offsets = [Int](repeating: 0, count: rows + 1)
    for t in 0..<rows { offsets[t + 1] = offsets[t] + scan.rowCounts[t] }
    return SparseActivations(offsets: offsets, indices: scan.features, values: scan.values)
  }

  /// a = h · 1[h > θ] with the stored thresholds.
  private func inferenceThresholds(layer l: Int) -> LayerSelection {
    let theta = logThresholds[l].array.map { Foundation.exp($0) }
    return LayerSelection(
      fire: theta, keep: theta, perTokenK: nil, referenceThresholds: theta, batchThreshold: nil)
  }

  /// ŷ[target] = b_dec[target] + Σ_{source ≤ target} a[source] · W_dec[source→target].
  /// `activations[source]` for every source ≤ target (later entries are ignored); out (rows, d).
  /// Source by source over a chunk of rows: each W_dec[source→target] (F · d floats, a few MB) is
  /// read once per chunk while it is in cache rather than once per token, which is what the time
  /// goes to on a prompt's prefill or an evaluation batch (the L(L+1)/2 decoders together are far
  /// larger than any cache).
  public func reconstruct(
    target: Int, from activations: [SparseActivations], into out: UnsafeMutablePointer<Float>
  ) {
    precondition(activations.count > target, "the reconstruction of layer \(target) needs a[0...\(target)]")
    let rows = activations[0].rows
    let bias = decoderBiases[target].pointer
    let d = dModel
    if rows == 1 {
      // A cached decode step: one row, so its columns are split between the threads instead; each
      // reads its share of every active decoder row (the sum per element runs in the same order).
      ParallelLoop.forEachChunk(count: d, grain: 64) { columns in
        let (start, width) = (columns.lowerBound, columns.count)
        (out + start).update(from: bias + start, count: width)
        for source in 0...target {
          let (indices, values) = activations[source].row(0)
          sparseRowsAccumulate(
            out: out + start, indices: indices, values: values,
            decoder: self.decoder(from: source, to: target).pointer + start, dModel: width, rowStride: d)
        }
      }
      return
    }
    ParallelLoop.forEachChunk(count: rows, grain: 8) { range in
      for t in range { (out + t * d).update(from: bias, count: d) }
      for source in 0...target {
        let decoder = self.decoder(from: source, to: target).pointer
        for t in range {
          let (indices, values) = activations[source].row(t)
          sparseRowsAccumulate(
            out: out + t * d, indices: indices, values: values, decoder: decoder, dModel: d)
        }
      }
    }
  }
}

extension CrossLayerTranscoder {
  /// out += input · W_skip[layer], the skip connection's term of ŷ[layer] (nothing without one).
  /// Callers add it to `reconstruct`'s output: the skip reads the layer's own input, which the
  /// features' sum does not. input (rows, d), out (rows, d), both in normalised units.
  public func addSkip(
    layer: Int, input: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>
  ) {
    guard hasSkip else { return }
    linearForwardAccumulating(
      out: out, inp: input, weight: skipWeights[layer].pointer, rows: rows, inDim: dModel, outDim: dModel)
  }
}

/// out += Σ_k values[k] · decoder[indices[k], :], the decoder rows of the active features only.
/// out (dModel), indices (k), values (k), decoder (features, rowStride), rowStride ≥ dModel
/// (default dModel; larger for a slice of the columns).
public func sparseRowsAccumulate(
  out: UnsafeMutablePointer<Float>, indices: ArraySlice<Int32>, values: ArraySlice<Float>,
  decoder: UnsafePointer<Float>, dModel: Int, rowStride: Int? = nil
) {
  precondition(indices.count == values.count, "one value per index")
  indices.withUnsafeBufferPointer { i in
    values.withUnsafeBufferPointer { v in
      sparse_rows_axpy(
        out, decoder, rowStride ?? dModel, i.baseAddress, v.baseAddress, indices.count, dModel)
    }
  }
}
