import Collectives
import Kernels

/// The forward pass of a data-parallel step: each process of `group` holds an equal slice of the
/// global batch. Everything in the forward pass is per token except BatchTopK, whose threshold is
/// the (k·N)-th largest pre-activation of the whole global batch; it is found here exactly, as
/// one process would find it on the concatenated batch, from counts summed over the processes.
extension CrossLayerTranscoder {
  /// `forward(inputs:tokens:into:dead:bandwidth:referenceThresholds:)` on this process's `n`
  /// tokens of a global batch of n · group.size, BatchTopK selecting across the whole of it.
  /// - Throws: the group's error when a collective fails (another process has died).
  @discardableResult
  public func forward(
    inputs: [FloatBuffer], tokens n: Int, into activations: CLTActivations? = nil, dead: [[Int32]]? = nil,
    bandwidth: Float = 0, referenceThresholds: [Float]? = nil, sharingBatchWith group: Communicator
  ) throws -> CLTActivations {
    try forwardPass(
      inputs: inputs, tokens: n, into: activations, dead: dead, bandwidth: bandwidth,
      referenceThresholds: referenceThresholds
    ) { h, count, select, hint in
      group.isDistributed
        ? try self.sharedBatchThreshold(
          h, count: count, select: select * group.size, hint: hint, group: group)
        : nil
    }
  }

  /// The `select`-th largest positive value over every process's h[0 ..< count] (0 when fewer
  /// are positive, as `batchThreshold`).
  ///
  /// Each process keeps its values above half the hint (all positive values if there are too few
  /// of those over the group), then the group bisects on the bit pattern of the threshold, which
  /// orders positive floats like their values: at each of at most 31 rounds every process counts
  /// its values at or above the midpoint and the counts are summed. The candidates outside the
  /// remaining interval are dropped as it narrows, so a process does O(candidates) work in all,
  /// and each round sends one integer: what crosses the network is independent of N and F.
  func sharedBatchThreshold(
    _ h: UnsafePointer<Float>, count: Int, select: Int, hint: Float?, group: Communicator
  ) throws -> Float {
    guard select > 0 else { return .infinity }
    var bound = max(0, (hint ?? 0) / 2)
    while true {
      let candidates = values(h, count: count, above: bound, expected: 2 * select / group.size)
      let total = try group.sum(Double(candidates.count))
      if Int(total) >= select {
        return try bisect(candidates.map { Int64($0.bitPattern) }, select: Int64(select), group: group)
      }
      if bound == 0 { return 0 }
      bound = 0
    }
  }

  /// The largest bit pattern b with at least `select` values ≥ b over the group; every process
  /// passes its candidates' bit patterns and the group holds at least `select` of them.
  private func bisect(_ candidates: [Int64], select: Int64, group: Communicator) throws -> Float {
    // [lo, hi): the group's smallest candidate has select or more at or above it, hi none.
    var extremes: [Int64] = [candidates.min() ?? Int64.max, -(candidates.max() ?? -1)]
    try extremes.withUnsafeMutableBufferPointer { try group.minimum($0.baseAddress!, count: 2) }
    var (lo, hi) = (extremes[0], -extremes[1] + 1)
    var inside = candidates
    var above: Int64 = 0
    while hi - lo > 1 {
      let mid = lo + (hi - lo) / 2
      let upper = inside.filter { $0 >= mid }
      var counted = [above + Int64(upper.count)]
      try group.sum(&counted)
      if counted[0] >= select {
        lo = mid
        inside = upper
      } else {
        hi = mid
        above += Int64(upper.count)
        inside.removeAll { $0 >= mid }
      }
    }
    return Float(bitPattern: UInt32(lo))
  }
}
