import HeapModule

/// Indirect influence through an attribution graph, as the paper prunes by it (Ameisen et al.
/// 2025, §2.4 and appendix on pruning): with Â the adjacency's absolute values, each target row
/// normalised to sum to one, the influence of the logits on every node is w·(Â + Â² + Â³ + …),
/// w the logit weights. The graph is a DAG (features only read earlier layers), so the series
/// ends after at most L + 1 terms.
enum Influence {
  /// Σ_j |A(r, j)| for every row r. adjacency (rows, columns) row-major.
  static func rowAbsoluteSums(_ adjacency: [Float], rows: Int, columns: Int) -> [Float] {
    (0..<rows).map { r in
      var sum: Double = 0
      for j in 0..<columns { sum += Double(abs(adjacency[r * columns + j])) }
      return Float(sum)
    }
  }

  /// Σ_{k ≥ 1} seed · Âᵏ over the columns, Â = |A| with rows normalised to sum to one (rows summing
  /// to zero stay zero), for a rectangular A whose row r stands for the source column
  /// `rowSource[r]` (nil for a logit, which no edge reaches). adjacency (rows, columns); seed
  /// (rows): the logit weights on logit rows, zero elsewhere. Returns (columns). Â is never
  /// materialised: each step scales the rows it reads. Only the first `recurrent` columns can be
  /// rows (features); the rest (errors, embeddings) are read once at the end, from the total
  /// influence that reached each row, since nothing flows on from them.
  static func propagate(
    adjacency: [Float], rows: Int, columns: Int, recurrent: Int, rowSource: [Int?], seed: [Float]
  ) -> [Float] {
    let sums = rowAbsoluteSums(adjacency, rows: rows, columns: columns)
    var arrived = seed
    var total = adjacency.withUnsafeBufferPointer { a in
      propagate(rows: rows, columns: recurrent, rowSums: sums, rowSource: rowSource, seed: seed) {
        r, scale, contribution in
        let row = a.baseAddress! + r * columns
        for j in 0..<recurrent { contribution[j] += scale * abs(row[j]) }
      }
    }
    for r in 0..<rows { if let s = rowSource[r] { arrived[r] += total[s] } }
    total += [Float](repeating: 0, count: columns - recurrent)
    adjacency.withUnsafeBufferPointer { a in
      for r in 0..<rows where arrived[r] != 0 && sums[r] > 0 {
        let scale = arrived[r] / sums[r]
        let row = a.baseAddress! + r * columns
        for j in recurrent..<columns { total[j] += scale * abs(row[j]) }
      }
    }
    return total
  }

  /// The same series for an adjacency held in any layout: `accumulate(r, scale, c)` adds
  /// scale · |A(r, ·)| into c (columns); rowSums (rows) are Σ_j |A(r, j)|.
  static func propagate(
    rows: Int, columns: Int, rowSums: [Float], rowSource: [Int?], seed: [Float],
    accumulate: (Int, Float, UnsafeMutablePointer<Float>) -> Void
  ) -> [Float] {
    var total = [Float](repeating: 0, count: columns)
    guard rows > 0, columns > 0 else { return total }
    var current = seed
    var contribution = [Float](repeating: 0, count: columns)
    for _ in 0...(rows + 1) {
      contribution.withUnsafeMutableBufferPointer { c in
        c.update(repeating: 0)
        for r in 0..<rows where current[r] != 0 && rowSums[r] > 0 {
          accumulate(r, current[r] / rowSums[r], c.baseAddress!)
        }
      }
      var any = false
      for j in 0..<columns { total[j] += contribution[j] }
      for r in 0..<rows {
        current[r] = rowSource[r].map { contribution[$0] } ?? 0
        if current[r] != 0 { any = true }
      }
      if !any { break }
    }
    return total
  }

  /// The smallest score t such that the scores ≥ t hold at least `fraction` of the total
  /// (circuit-tracer's cumulative threshold). Found by quickselect on partial sums, in expected
  /// linear time and without sorting. Returns +∞ when no score is positive.
  static func cumulativeThreshold(_ scores: [Float], fraction: Double) -> Float {
    var a = scores.filter { $0 > 0 }
    let total = a.reduce(0.0) { $0 + Double($1) }
    guard total > 0 else { return .infinity }
    let goal = min(fraction, 1) * total
    var above: Double = 0  // sum of the scores known to be larger than everything in a[lo..<hi]
    var lo = 0
    var hi = a.count
    var generator = SystemRandomNumberGenerator()
    while lo < hi {
      let pivot = a[Int.random(in: lo..<hi, using: &generator)]
      // Three-way partition of a[lo..<hi]: larger than the pivot, equal, smaller.
      var larger = lo
      var i = lo
      var smaller = hi
      var largerSum: Double = 0
      var equalSum: Double = 0
      while i < smaller {
        if a[i] > pivot {
          largerSum += Double(a[i])
          a.swapAt(i, larger)
          larger += 1
          i += 1
        } else if a[i] < pivot {
          smaller -= 1
          a.swapAt(i, smaller)
        } else {
          equalSum += Double(a[i])
          i += 1
        }
      }
      if above + largerSum >= goal && larger > lo {
        hi = larger
      } else if above + largerSum + equalSum >= goal {
        return pivot
      } else {
        above += largerSum + equalSum
        lo = smaller
      }
    }
    return a[..<max(lo, 1)].min() ?? .infinity
  }

  /// Indices of the `count` largest values among those `include` accepts, largest first, with a
  /// bounded min-heap (swift-collections' `Heap`): O(n log count), no full sort. Ties go to the
  /// smaller index.
  static func largest(_ values: [Float], count: Int, include: (Int) -> Bool = { _ in true }) -> [Int] {
    guard count > 0 else { return [] }
    var heap = Heap<Ranked>()
    for (i, v) in values.enumerated() where include(i) {
      let item = Ranked(value: v, index: i)
      if heap.count < count {
        heap.insert(item)
      } else if let weakest = heap.min, weakest < item {
        heap.replaceMin(with: item)
      }
    }
    return heap.unordered.sorted(by: >).map(\.index)
  }

  /// A value and its index, ordered by value, then the larger index first (so that of equal
  /// values the smaller index ranks higher).
  struct Ranked: Comparable {
    let value: Float
    let index: Int

    static func < (a: Ranked, b: Ranked) -> Bool {
      a.value < b.value || (a.value == b.value && a.index > b.index)
    }
  }
}
