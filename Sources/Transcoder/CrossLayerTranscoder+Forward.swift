import CKernels
import Foundation
import Kernels

/// The training forward pass: dense encoder (sgemm), sparse selection, sparse decoder.
extension CrossLayerTranscoder {
  /// The forward pass for N tokens. `inputs[l]` is x[l] (N, d), the MLP input of layer l, scaled.
  ///
  /// - Parameters:
  ///   - activations: reused when given (it must be for N tokens and this shape), so that a
  ///     training loop allocates nothing large per step.
  ///   - dead: per layer, the features the pre-activation term applies to (see `loss`).
  ///   - bandwidth: ε; JumpReLU near misses within ε/2 below θ are kept for the threshold's
  ///     pseudo-gradient. 0 at inference.
  ///   - referenceThresholds: for rank-selected activations, per layer the threshold θref that the
  ///     pre-activation term pulls dead features towards, and a hint for BatchTopK's search (the
  ///     running estimate of the selected minimum).
  /// - Complexity: the encoder's sgemm, O(N·L·F·d); everything after it O(nnz·L·d) for nnz active
  ///   (token, feature) pairs.
  @discardableResult
  public func forward(
    inputs: [FloatBuffer], tokens n: Int, into activations: CLTActivations? = nil, dead: [[Int32]]? = nil,
    bandwidth: Float = 0, referenceThresholds: [Float]? = nil
  ) -> CLTActivations {
    forwardPass(
      inputs: inputs, tokens: n, into: activations, dead: dead, bandwidth: bandwidth,
      referenceThresholds: referenceThresholds, batchThreshold: { _, _, _, _ in nil },
      tokenThresholds: { _, _ in nil })
  }

  /// The forward pass with BatchTopK's threshold chosen by `batchThreshold` (h, N, hint, scratch)
  /// and TopK's k-th value of each token by `tokenThresholds` (h, N) when they return values, else
  /// over this batch and these features alone (see `CrossLayerTranscoder+SharedBatch`).
  func forwardPass(
    inputs: [FloatBuffer], tokens n: Int, into activations: CLTActivations?, dead: [[Int32]]?,
    bandwidth: Float, referenceThresholds: [Float]?,
    batchThreshold search: (UnsafePointer<Float>, Int, Float?, SelectionScratch) throws -> Float?,
    tokenThresholds: (UnsafePointer<Float>, Int) throws -> [Float]?
  ) rethrows -> CLTActivations {
    precondition(inputs.count == nLayers, "one input per layer")
    precondition(inputs.allSatisfy { $0.count >= n * dModel }, "each input is (N, d)")
    let act = activations ?? CLTActivations(tokens: n, nLayers: nLayers, dModel: dModel, features: features)
    precondition(
      act.tokens == n && act.features == features && act.nLayers == nLayers, "activations of another shape")
    for l in 0..<nLayers {
      let h = act.preActivationScratch.pointer
      linearTransposedForward(
        out: h, inp: inputs[l].pointer, weight: encoderWeights[l].pointer, bias: encoderBiases[l].pointer,
        rows: n, inDim: dModel, outDim: features)
      let scratch = act.selectionScratch
      let shared = activation == .batchTopK ? try search(h, n, referenceThresholds?[l], scratch) : nil
      var selection = layerSelection(
        layer: l, preActivations: h, rows: n, bandwidth: bandwidth, reference: referenceThresholds?[l],
        batchThreshold: shared, scratch: scratch)
      if activation == .topK { selection.tokenThresholds = try tokenThresholds(h, n) }
      scanLayer(
        preActivations: h, rows: n, selection: selection, dead: dead?[l] ?? [], keepNearMisses: true,
        into: scratch)
      let scan = scratch.merged
      act.thresholds[l] = selection.referenceThresholds
      act.selectedMinimum[l] = selection.selectedMinimum(scan: scan, rows: n)
      act.dead[l] = dead?[l] ?? []
      act.deadPreActivationSum[l] = scan.deadSum
      act.deadBelowCounts[l] = scan.deadBelow
      act.deadAbove[l] = scan.deadAbove
      store(scan, layer: l, into: act)
      selectAuxiliary(layer: l, preActivations: h, rows: n, into: act)
    }
    decodeAll(act)
    for l in 0..<nLayers {
      addSkip(layer: l, input: inputs[l].pointer, rows: n, into: act.reconstructions[l].pointer)
    }
    decodeAuxiliary(act)
    return act
  }

  // MARK: - Selection

  /// How one layer decides which features fire: by a threshold per feature (JumpReLU, and
  /// BatchTopK once its batch threshold is known) or by rank within each token (TopK).
  struct LayerSelection {
    /// a feature fires where h > fire[i]; candidates are kept where h > keep[i] (≤ fire[i]).
    var fire: [Float]
    var keep: [Float]
    /// TopK: k per token instead of the thresholds.
    var perTokenK: Int?
    /// TopK: each token's k-th largest h, when found elsewhere (over features held by other
    /// processes too) rather than in this row.
    var tokenThresholds: [Float]? = nil
    /// θ per feature (JumpReLU), or the reference threshold θref repeated (rank-selected).
    var referenceThresholds: [Float]
    var batchThreshold: Float?

    func selectedMinimum(scan: LayerScan, rows: Int) -> Float {
      if let batchThreshold { return batchThreshold }
      if perTokenK != nil { return Float(scan.kthSum / Double(max(rows, 1))) }
      return 0
    }
  }

  func layerSelection(
    layer l: Int, preActivations h: UnsafePointer<Float>, rows n: Int, bandwidth: Float, reference: Float?,
    batchThreshold shared: Float? = nil, scratch: SelectionScratch = SelectionScratch()
  ) -> LayerSelection {
    switch activation {
    case .jumpReLU:
      let theta = logThresholds[l].array.map { Foundation.exp($0) }
      return LayerSelection(
        fire: theta, keep: theta.map { $0 - bandwidth / 2 }, perTokenK: nil, referenceThresholds: theta,
        batchThreshold: nil)
    case .topK:
      let r = reference ?? 0
      return LayerSelection(
        fire: [], keep: [], perTokenK: min(k, features),
        referenceThresholds: [Float](repeating: r, count: features), batchThreshold: nil)
    case .batchTopK:
      let tau =
        shared
        ?? batchThreshold(
          preActivations: h, count: n * features, select: min(k, features) * n, hint: reference,
          scratch: scratch)
      let bound = max(tau.nextDown, 0)
      let fire = [Float](repeating: bound, count: features)
      return LayerSelection(
        fire: fire, keep: fire, perTokenK: nil,
        referenceThresholds: [Float](repeating: reference ?? tau, count: features), batchThreshold: tau)
    }
  }

  /// The `select`-th largest positive pre-activation of the batch (0 when fewer are positive), found
  /// among the values above half the hint first, so that the selection runs on a few candidates
  /// per token rather than on all N·F values.
  func batchThreshold(
    preActivations h: UnsafePointer<Float>, count: Int, select: Int, hint: Float?,
    scratch: SelectionScratch = SelectionScratch()
  ) -> Float {
    guard select > 0 else { return .infinity }
    var bound = max(0, (hint ?? 0) / 2)
    while true {
      values(h, count: count, above: bound, expected: 2 * select, into: scratch)
      let candidates = scratch.candidates
      if candidates.count >= select {
        return scratch.withKth(count: candidates.count) {
          kth_largest(candidates, candidates.count, select, $0)
        }
      }
      if bound == 0 { return 0 }
      bound = 0
    }
  }

  /// scratch.candidates ← the values of h[0 ..< count] above `bound`, in order.
  func values(
    _ h: UnsafePointer<Float>, count: Int, above bound: Float, expected: Int, into scratch: SelectionScratch
  ) {
    var candidates = scratch.takeCandidates()
    candidates.reserveCapacity(expected)
    let chunk = SelectionScratch.chunk
    let index = scratch.chunkIndex
    var start = 0
    while start < count {
      let m = min(chunk, count - start)
      let c = select_above_scalar(h + start, bound, m, index)
      for q in 0..<c { candidates.append(h[start + Int(index[q])]) }
      start += m
    }
    scratch.candidates = candidates
  }

  // MARK: - Scan

  /// One layer's selected features, token by token, and the dead features' pre-activation sums.
  struct LayerScan {
    var rowCounts: [Int] = []
    var features: [Int32] = []
    var values: [Float] = []
    var pre: [Float] = []
    var deadSum: Double = 0
    var deadBelow: [Int32] = []
    var deadAbove: [(slot: Int32, token: Int32)] = []
    var kthSum: Double = 0

    /// Empties the scan for `deadCount` dead features, keeping its arrays' storage.
    mutating func reset(deadCount: Int) {
      rowCounts.removeAll(keepingCapacity: true)
      features.removeAll(keepingCapacity: true)
      values.removeAll(keepingCapacity: true)
      pre.removeAll(keepingCapacity: true)
      deadSum = 0
      deadBelow.refill(count: deadCount, with: 0)
      deadAbove.removeAll(keepingCapacity: true)
      kthSum = 0
    }
  }

  /// Walks h (rows, F) once, in parallel over blocks of tokens, keeping each token's selected
  /// features (and, with `keepNearMisses`, those kept but not fired, with a = 0), into
  /// `scratch.merged`.
  func scanLayer(
    preActivations h: UnsafePointer<Float>, rows n: Int, selection: LayerSelection, dead: [Int32],
    keepNearMisses: Bool, into scratch: SelectionScratch
  ) {
    let f = features
    let blocks = max(1, min(BLASThreads.current, n / 32))
    let blockSize = (n + blocks - 1) / blocks
    var results = scratch.takeBlocks(blocks)
    results.withUnsafeMutableBufferPointer { out in
      let out = out.baseAddress!
      ParallelLoop.forEachIndex(count: blocks) { b in
        let range = (b * blockSize)..<min(n, (b + 1) * blockSize)
        self.scanRows(
          range, preActivations: h, selection: selection, dead: dead, keepNearMisses: keepNearMisses,
          features: f, into: &out[b])
      }
    }
    var merged = scratch.merged
    scratch.merged = LayerScan()
    merged.reset(deadCount: dead.count)
    for block in results {
      merged.rowCounts += block.rowCounts
      merged.features += block.features
      merged.values += block.values
      merged.pre += block.pre
      merged.deadSum += block.deadSum
      for s in 0..<merged.deadBelow.count { merged.deadBelow[s] += block.deadBelow[s] }
      merged.deadAbove += block.deadAbove
      merged.kthSum += block.kthSum
    }
    scratch.merged = merged
    scratch.blocks = results
  }

  private func scanRows(
    _ range: Range<Int>, preActivations h: UnsafePointer<Float>, selection: LayerSelection, dead: [Int32],
    keepNearMisses: Bool, features f: Int, into scan: inout LayerScan
  ) {
    scan.reset(deadCount: dead.count)
    scan.rowCounts.reserveCapacity(range.count)
    var index = [Int32](repeating: 0, count: f)
    var scratch = [Float](repeating: 0, count: f)
    let theta = selection.referenceThresholds
    for t in range {
      let row = h + t * f
      var fire = selection.fire
      let c: Int
      if let k = selection.perTokenK {
        let kth =
          selection.tokenThresholds?[t]
          ?? scratch.withUnsafeMutableBufferPointer { kth_largest(row, f, k, $0.baseAddress!) }
        scan.kthSum += Double(max(kth, 0))
        let bound = max(kth.nextDown, 0)
        c = index.withUnsafeMutableBufferPointer { select_above_scalar(row, bound, f, $0.baseAddress!) }
        fire = []
      } else {
        let keep = keepNearMisses ? selection.keep : selection.fire
        c = index.withUnsafeMutableBufferPointer { idx in
          keep.withUnsafeBufferPointer { select_above(row, $0.baseAddress!, f, idx.baseAddress!) }
        }
      }
      var kept = 0
      for q in 0..<c {
        let i = Int(index[q])
        let value = row[i]
        let fires = fire.isEmpty || value > fire[i]
        guard fires || keepNearMisses else { continue }
        scan.features.append(Int32(i))
        scan.values.append(fires ? value : 0)
        scan.pre.append(value)
        kept += 1
      }
      scan.rowCounts.append(kept)
      for (slot, i) in dead.enumerated() {
        let value = row[Int(i)]
        let reference = theta[Int(i)]
        if value <= reference {
          scan.deadSum += Double(reference - value)
          scan.deadBelow[slot] += 1
        } else {
          scan.deadAbove.append((Int32(slot), Int32(t)))
        }
      }
    }
  }

  // MARK: - Layout

  /// Fills the layer's CSR (active only) and CSC (active and near misses) from a scan, in the
  /// arrays the activations held from the last step (taken out so that refilling them does not
  /// copy).
  private func store(_ scan: LayerScan, layer l: Int, into act: CLTActivations) {
    let n = scan.rowCounts.count
    var active = act.active[l]
    act.active[l] = SparseActivations.empty
    active.offsets.refill(count: n + 1, with: 0)
    active.indices.removeAll(keepingCapacity: true)
    active.values.removeAll(keepingCapacity: true)
    active.indices.reserveCapacity(scan.features.count)
    active.values.reserveCapacity(scan.features.count)
    // counts[i + 1]: feature i's entries, then (summed) its first slot.
    var counts = Array.takeRefilled(&act.featureOffsets[l], count: features + 1, with: 0)
    var fired = Array.takeRefilled(&act.firingCounts[l], count: features, with: Int32(0))
    var e = 0
    for t in 0..<n {
      for _ in 0..<scan.rowCounts[t] {
        let i = Int(scan.features[e])
        counts[i + 1] += 1
        if scan.values[e] != 0 {
          active.indices.append(scan.features[e])
          active.values.append(scan.values[e])
          fired[i] += 1
        }
        e += 1
      }
      active.offsets[t + 1] = active.indices.count
    }
    for i in 0..<features { counts[i + 1] += counts[i] }
    let total = scan.features.count
    var tokens = Array.takeRefilled(&act.entryTokens[l], count: total, with: Int32(0))
    var values = Array.takeRefilled(&act.entryValues[l], count: total, with: Float(0))
    var pre = Array.takeRefilled(&act.entryPre[l], count: total, with: Float(0))
    // counts[i] serves as feature i's next free slot and ends as its end, feature i + 1's start.
    e = 0
    for t in 0..<n {
      for _ in 0..<scan.rowCounts[t] {
        let i = Int(scan.features[e])
        let slot = counts[i]
        counts[i] += 1
        tokens[slot] = Int32(t)
        values[slot] = scan.values[e]
        pre[slot] = scan.pre[e]
        e += 1
      }
    }
    for i in stride(from: features, to: 0, by: -1) { counts[i] = counts[i - 1] }
    counts[0] = 0
    act.featureOffsets[l] = counts
    act.entryTokens[l] = tokens
    act.entryValues[l] = values
    act.entryPre[l] = pre
    act.firingCounts[l] = fired
    act.activeCounts[l] = active.indices.count
    act.active[l] = active
  }

  // MARK: - Decoder

  /// ŷ[l'] = b_dec[l'] + Σ_{l ≤ l'} a[l] · W_dec[l→l'] for every target, token by token over
  /// blocks of columns (`decoder_rows_gather`): within a block, the decoder rows of one (source,
  /// target) pair (F × width) stay in L2 while every token's active features read theirs, and
  /// each token's block of ŷ is written once. Going feature by feature instead (each row added
  /// to its tokens' outputs, `decoder_row_scatter`) writes ŷ rows scattered over a 2-5 MB
  /// matrix, once per active feature: that was a third of a training step. The rows' squared
  /// norms (`decoderRowSquares`) are summed over the same blocks as they come into cache, unless
  /// the last backward pass left them (`decoderRowSquaresAreCurrent`).
  /// Targets run in parallel, largest (most source layers) first.
  /// `columnBlock` overrides the block width (tests).
  func decodeAll(_ act: CLTActivations, columnBlock: Int? = nil) {
    let (n, d) = (act.tokens, dModel)
    let width = columnBlock ?? Self.decoderColumnBlock(features: features, tokens: n, dModel: d)
    let squaresKnown = act.decoderRowSquaresAreCurrent == ObjectIdentifier(self)
    act.decoderRowSquaresAreCurrent = nil
    ParallelLoop.forEachIndex(count: nLayers) { q in
      let target = self.nLayers - 1 - q
      let out = act.reconstructions[target].pointer
      let bias = self.decoderBiases[target].pointer
      for t in 0..<n { (out + t * d).update(from: bias, count: d) }
      if !squaresKnown {
        for source in 0...target {
          act.decoderRowSquares[target][source].pointer.update(repeating: 0, count: self.features)
        }
      }
      for column in stride(from: 0, to: d, by: width) {
        let columns = min(width, d - column)
        for source in 0...target {
          let w = self.decoder(from: source, to: target).pointer + column
          if !squaresKnown {
            row_block_squares(w, self.features, columns, d, act.decoderRowSquares[target][source].pointer)
          }
          let rows = act.active[source]
          rows.offsets.withUnsafeBufferPointer { offsets in
            rows.indices.withUnsafeBufferPointer { features in
              rows.values.withUnsafeBufferPointer { values in
                decoder_rows_gather(
                  out + column, d, w, d, offsets.baseAddress!, features.baseAddress!, values.baseAddress!, n,
                  columns)
              }
            }
          }
        }
      }
    }
  }

  /// Columns a block of the decoder's forward (`decodeAll`) takes: a multiple of 32 (the
  /// kernel's register block) such that one pair's decoder rows and the targets' outputs for
  /// the block, F × width and N × width floats, fit together in 1 MB, half a core's L2 here.
  /// The vector width, in floats, of the decoder's sparse passes on this CPU (16 with AVX-512, 8
  /// with AVX2, 1 in plain C): their rounding, and much of their speed, depends on it, so
  /// `clt-fit --timing` reports it.
  public static var decoderVectorFloats: Int { Int(decoder_widest_vector()) }

  static func decoderColumnBlock(features: Int, tokens: Int, dModel: Int) -> Int {
    let floats = (1 << 20) / MemoryLayout<Float>.size
    let fitting = floats / max(features + tokens, 1) / 32 * 32
    return min(max(fitting, 32), dModel)
  }
}
