import CKernels
import Collectives
import Kernels

/// How the processes of a group divide a training step between them.
public enum BatchSharing {
  /// Data parallel: each process holds every feature and an equal share of the batch's tokens.
  case tokens(Communicator)
  /// Feature sharding: each process holds every token of the batch and an equal, contiguous share
  /// of each layer's features, `total` per layer over the group.
  case features(Communicator, total: Int)
}

/// The forward pass of a step divided between processes. Everything in it is per token and per
/// feature except the selection of rank-selected activations and the decoder's sum over features:
/// BatchTopK's threshold is the (k·N)-th largest pre-activation of the whole batch and TopK's the
/// k-th largest of each token over every feature. Both are found here exactly as one process
/// finds them on the whole batch and every feature, and with features sharded the partial
/// reconstructions are summed (MPI_Allreduce of N·L·d floats), so every process ends the pass with
/// the full ŷ and computes the loss and b_dec's gradient itself.
extension CrossLayerTranscoder {
  /// `forward(inputs:tokens:into:dead:bandwidth:referenceThresholds:)` on this process's share of
  /// a step (its `n` tokens, its features).
  /// - Throws: the group's error when a collective fails (another process has died).
  @discardableResult
  public func forward(
    inputs: [FloatBuffer], tokens n: Int, into activations: CLTActivations? = nil, dead: [[Int32]]? = nil,
    bandwidth: Float = 0, referenceThresholds: [Float]? = nil, sharing: BatchSharing
  ) throws -> CLTActivations {
    switch sharing {
    case .tokens(let group):
      return try forwardPass(
        inputs: inputs, tokens: n, into: activations, dead: dead, bandwidth: bandwidth,
        referenceThresholds: referenceThresholds,
        batchThreshold: { h, n, hint, scratch in
          group.isDistributed
            ? try self.sharedBatchThreshold(
              h, count: n * self.features, select: min(self.k, self.features) * n * group.size, hint: hint,
              group: group, scratch: scratch)
            : nil
        }, tokenThresholds: { _, _ in nil })
    case .features(let group, let total):
      let k = min(self.k, total)
      let act = try forwardPass(
        inputs: inputs, tokens: n, into: activations, dead: dead, bandwidth: bandwidth,
        referenceThresholds: referenceThresholds,
        batchThreshold: { h, n, hint, scratch in
          try self.sharedBatchThreshold(
            h, count: n * self.features, select: k * n, hint: hint, group: group, scratch: scratch)
        }, tokenThresholds: { h, n in try self.sharedTokenThresholds(h, rows: n, k: k, group: group) })
      // Each process's ŷ holds b_dec once and its own features' contributions.
      let extra = Float(group.size - 1)
      for l in 0..<nLayers {
        let out = act.reconstructions[l].pointer
        try group.sum(out, count: n * dModel)
        let bias = decoderBiases[l].pointer
        for t in 0..<n { row_axpy(out + t * dModel, bias, -extra, dModel) }
      }
      return act
    }
  }

  /// Per token, the k-th largest of h over the features of every process: each process sends the
  /// k largest of its own features per token (N·k floats) and each then takes the k-th largest
  /// of the group's size·k. h (N, F_local).
  func sharedTokenThresholds(_ h: UnsafePointer<Float>, rows n: Int, k: Int, group: Communicator) throws
    -> [Float]
  {
    let f = features
    let local = FloatBuffer(count: n * k)
    let top = local.pointer
    ParallelLoop.forEachChunk(count: n, grain: 16) { rows in
      var scratch = [Float](repeating: 0, count: f)
      for t in rows {
        let row = h + t * f
        let out = top + t * k
        guard f > k else {
          for q in 0..<k { out[q] = q < f ? row[q] : -.infinity }
          continue
        }
        let kth = scratch.withUnsafeMutableBufferPointer { kth_largest(row, f, k, $0.baseAddress!) }
        var q = 0
        for i in 0..<f where row[i] > kth && q < k {
          out[q] = row[i]
          q += 1
        }
        while q < k {
          out[q] = kth
          q += 1
        }
      }
    }
    let all = FloatBuffer(count: n * k * group.size)
    try group.gather(top, count: n * k, into: all.pointer)
    var thresholds = [Float](repeating: 0, count: n)
    let width = k * group.size
    var candidates = [Float](repeating: 0, count: width)
    var scratch = [Float](repeating: 0, count: width)
    for t in 0..<n {
      for r in 0..<group.size {
        for q in 0..<k { candidates[r * k + q] = all[(r * n + t) * k + q] }
      }
      thresholds[t] = scratch.withUnsafeMutableBufferPointer {
        kth_largest(candidates, width, k, $0.baseAddress!)
      }
    }
    return thresholds
  }

  /// The `select`-th largest positive value over every process's h[0 ..< count] (0 when fewer
  /// are positive, as `batchThreshold`).
  ///
  /// Each process keeps its values above half the hint (all positive values if there are too few
  /// of those over the group), then the group narrows down the threshold's bit pattern, which
  /// orders positive floats like their values: each round cuts the remaining interval into 64
  /// parts, every process counts its candidates at or above each cut, and one MPI_Allreduce of 64
  /// integers says which part holds the threshold. About 6 rounds find it among the 2³¹ patterns
  /// (a bisection took 31, and each round waits for the slowest process: on 2 oversubscribed
  /// cores that made the rounds a second a step). The candidates outside the remaining interval
  /// are dropped as it narrows, so a process does O(candidates) work in all, and what crosses the
  /// network is independent of N and F.
  func sharedBatchThreshold(
    _ h: UnsafePointer<Float>, count: Int, select: Int, hint: Float?, group: Communicator,
    scratch: SelectionScratch = SelectionScratch()
  ) throws -> Float {
    guard select > 0 else { return .infinity }
    var bound = max(0, (hint ?? 0) / 2)
    while true {
      values(h, count: count, above: bound, expected: 2 * select / group.size, into: scratch)
      let candidates = scratch.candidates
      let total = try group.sum(Double(candidates.count))
      if Int(total) >= select {
        return try narrow(candidates.map { Int64($0.bitPattern) }, select: Int64(select), group: group)
      }
      if bound == 0 { return 0 }
      bound = 0
    }
  }

  /// The largest bit pattern b with at least `select` values ≥ b over the group; every process
  /// passes its candidates' bit patterns and the group holds at least `select` of them.
  private func narrow(_ candidates: [Int64], select: Int64, group: Communicator) throws -> Float {
    // [lo, hi): the group's smallest candidate has select or more at or above it, hi none.
    var extremes: [Int64] = [candidates.min() ?? Int64.max, -(candidates.max() ?? -1)]
    try extremes.withUnsafeMutableBufferPointer { try group.minimum($0.baseAddress!, count: 2) }
    var (lo, hi) = (extremes[0], -extremes[1] + 1)
    var inside = candidates
    var above: Int64 = 0  // this process's candidates at or above hi
    while hi - lo > 1 {
      let (width, parts) = (hi - lo, min(64, hi - lo))
      let cuts = (0...parts).map { lo + width * $0 / parts }  // cuts[parts] == hi
      // atOrAbove[j]: candidates ≥ cuts[j], from the counts in [cuts[j], cuts[j + 1]).
      var atOrAbove = [Int64](repeating: 0, count: Int(parts))
      for b in inside {
        var j = Int((b - lo) * parts / width)
        while j + 1 < Int(parts) && b >= cuts[j + 1] { j += 1 }
        while b < cuts[j] { j -= 1 }
        atOrAbove[j] += 1
      }
      for j in stride(from: Int(parts) - 2, through: 0, by: -1) { atOrAbove[j] += atOrAbove[j + 1] }
      var total = atOrAbove.map { $0 + above }
      try group.sum(&total)
      let j = total.lastIndex { $0 >= select }!  // j = 0 always qualifies: cuts[0] == lo
      (lo, hi) = (cuts[j], cuts[j + 1])
      above += j + 1 < Int(parts) ? atOrAbove[j + 1] : 0
      inside.removeAll { $0 < lo || $0 >= hi }
    }
    return Float(bitPattern: UInt32(lo))
  }
}
