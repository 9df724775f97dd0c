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
    let theta = FloatBuffer(logThresholds[layer].array.map { Foundation.exp($0) })
    let sparse = jumpReLUSparse(preActivations: h.pointer, thresholds: theta.pointer, rows: rows, features: features)
    return SparseActivations(offsets: sparse.offsets, indices: sparse.indices, values: sparse.values)
  }

  /// ŷ[target] = b_dec[target] + Σ_{source ≤ target} a[source] · W_dec[source→target].
  /// `activations[source]` for every source ≤ target (later entries are ignored); out (rows, d).
  public func reconstruct(
    target: Int, from activations: [SparseActivations], into out: UnsafeMutablePointer<Float>
  ) {
    precondition(activations.count > target, "the reconstruction of layer \(target) needs a[0...\(target)]")
    let rows = activations[0].rows
    let bias = decoderBiases[target].pointer
    let d = dModel
    ParallelLoop.forEachChunk(count: rows, grain: 8) { range in
      for t in range {
        let row = out + t * d
        row.update(from: bias, count: d)
        for source in 0...target {
          let (indices, values) = activations[source].row(t)
          sparseRowsAccumulate(
            out: row, indices: indices, values: values, decoder: self.decoder(from: source, to: target).pointer,
            dModel: d)
        }
      }
    }
  }
}
