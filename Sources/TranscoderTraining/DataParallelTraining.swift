import Collectives
import Kernels
import Transcoder

/// The reductions of a data-parallel step (see `CLTTrainer`): what each process measured on its
/// share of the global batch, summed over the processes.
extension CLTTrainer {
  /// Sums every gradient over the processes (MPI_Allreduce) and averages the loss terms; the
  /// caller divides the gradients by the number of processes inside Adam's pass.
  ///
  /// The backward pass leaves the decoder rows of features that did not fire unwritten (stale),
  /// marked 0 in `decoderRowsActive`; a feature may fire on one process and not on another, so
  /// those rows are zeroed first, then the masks are or-ed (max of 0/1) and the whole decoder
  /// gradient summed. A row fired on no process stays masked and Adam skips it, as it would in
  /// one process. What crosses the network each step is therefore the full gradient, about the
  /// size of the parameters (`docs/BENCHMARKS.md` has the figures).
  func sumGradients(_ loss: CLTLoss) throws -> CLTLoss {
    let (f, d) = (transcoder.features, transcoder.dModel)
    for (l, rows) in gradients.decoderWeights.enumerated() {
      let mask = gradients.decoderRowsActive[l]
      for buffer in rows {
        ParallelLoop.forEachChunk(count: f, grain: 1024) { range in
          for i in range where mask[i] == 0 { (buffer.pointer + i * d).update(repeating: 0, count: d) }
        }
      }
      try communicator.maximum(mask, count: f)
    }
    for buffer in gradients.buffers { try communicator.sum(buffer.pointer, count: buffer.count) }
    var terms = [loss.meanSquaredError, loss.sparsity, loss.preActivation]
    try communicator.sum(&terms)
    let ranks = Double(communicator.size)
    var mean = loss
    mean.meanSquaredError = terms[0] / ranks
    mean.sparsity = terms[1] / ranks
    mean.preActivation = terms[2] / ranks
    return mean
  }

  /// Per layer the sums the step's metrics are made of, over the global batch: [Σ‖y‖², Σy (d),
  /// Σ‖ŷ − y‖², Σ(ŷ − y) (d), active pairs], and each feature's firing count.
  func batchSums(_ act: CLTActivations) throws -> (layers: [[Double]], firing: [[Int64]]) {
    let (n, d) = (act.tokens, transcoder.dModel)
    var layers: [[Double]] = []
    var firing: [[Int64]] = []
    for l in 0..<transcoder.nLayers {
      let y = batchOutputs[l].pointer
      var sums = [Double](repeating: 0, count: d)
      var squares: Double = 0
      for t in 0..<n {
        for j in 0..<d {
          let v = Double(y[t * d + j])
          sums[j] += v
          squares += v * v
        }
      }
      var layer = [squares] + sums + [act.squaredErrors[l]] + act.residualSums[l]
      layer.append(Double(act.activeCount(layer: l)))
      layers.append(layer)
      firing.append(act.firingCounts[l].map(Int64.init))
    }
    if shardsFeatures {
      // Every process holds the whole ŷ and y; only the active pairs are counted in slices.
      var active = layers.map { Int64($0[2 * d + 2]) }
      try communicator.sum(&active)
      for l in layers.indices { layers[l][2 * d + 2] = Double(active[l]) }
      return (layers, firing)
    }
    guard communicator.isDistributed else { return (layers, firing) }
    var flat = layers.flatMap { $0 }
    try communicator.sum(&flat)
    var counts = firing.flatMap { $0 }
    try communicator.sum(&counts)
    let (width, f) = (2 * d + 3, transcoder.features)
    return (
      (0..<layers.count).map { Array(flat[($0 * width)..<(($0 + 1) * width)]) },
      (0..<firing.count).map { Array(counts[($0 * f)..<(($0 + 1) * f)]) }
    )
  }
}
