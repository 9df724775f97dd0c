import Kernels
import Transcoder

extension CrossLayerTranscoder {
  /// ŷ[target] = b_dec[target] + Σ_{source ≤ target} a[source] · W_dec[source→target], as
  /// `reconstruct(target:from:into:)` computes it and with the same sums in the same order, but
  /// source by source over a chunk of rows instead of token by token: each W_dec[source→target]
  /// (F · d floats, a few MB) is then read once per chunk while it is in cache, rather than once per
  /// token. On hundreds of rows (an --eval window batch, a prompt's prefill) that is what the time
  /// goes to, since the L(L+1)/2 decoders together are far larger than any cache.
  /// `activations[source]` for every source ≤ target; out (rows, d).
  func reconstructSourceMajor(
    target: Int, from activations: [SparseActivations], into out: UnsafeMutablePointer<Float>
  ) {
    precondition(activations.count > target, "the reconstruction of layer \(target) needs a[0...\(target)]")
    let rows = activations[0].rows
    let bias = decoderBiases[target].pointer
    let d = dModel
    ParallelLoop.forEachChunk(count: rows, grain: 8) { range in
      for t in range { (out + t * d).update(from: bias, count: d) }
      for source in 0...target {
        let decoder = self.decoder(from: source, to: target).pointer
        let a = activations[source]
        for t in range {
          let (indices, values) = a.row(t)
          sparseRowsAccumulate(
            out: out + t * d, indices: indices, values: values, decoder: decoder, dModel: d)
        }
      }
    }
  }
}
