/// The incoming edges computed so far while a graph is built, one row per target: the error and
/// embedding columns dense, the feature columns sparse — the non-zero ones, or, past
/// `featureBudget` of them, the largest by |weight|. Dense rows would cost
/// (targets × every active feature) floats, which for long prompts is more memory than the machine
/// has; cutting the smallest edges changes only the estimate of which features to visit next and
/// the smallest edges from features (the error and embedding edges and the row constants stay exact).
struct EdgeRowStore {
  /// Columns: `featureCount` features, then `tailWidth` errors and embeddings.
  let featureCount: Int
  let tailWidth: Int
  let featureBudget: Int
  /// The embedding columns, the last of the tail; the error columns before them.
  let embeddingWidth: Int
  private(set) var indices: [[Int32]] = []
  private(set) var values: [[Float]] = []
  /// Each row's tail up to its last non-zero error column, then its embedding columns: the errors
  /// are layer-major, and a target sees no error of its own layer or above, so the rest are zeros.
  private(set) var tails: [[Float]] = []
  private(set) var constants: [Float] = []
  /// Σ|w| of each row's kept entries (the normaliser of influence).
  private(set) var absoluteSums: [Float] = []
  /// Rows whose feature entries were cut to the budget.
  private(set) var truncatedRows = 0

  init(featureCount: Int, tailWidth: Int, embeddingWidth: Int, featureBudget: Int) {
    precondition(embeddingWidth <= tailWidth, "the embeddings are part of the tail")
    self.featureCount = featureCount
    self.tailWidth = tailWidth
    self.embeddingWidth = embeddingWidth
    self.featureBudget = max(1, featureBudget)
  }

  var count: Int { constants.count }
  var columns: Int { featureCount + tailWidth }

  /// Appends every row of `rows` (count × columns, dense).
  mutating func append(_ rows: EdgeRows, count: Int) {
    let s = columns
    for b in 0..<count {
      let row = rows.weights.pointer + b * s
      var kept: [Int] = []
      for f in 0..<featureCount where row[f] != 0 { kept.append(f) }
      if kept.count > featureBudget {
        let magnitudes = kept.map { abs(row[$0]) }
        kept = Influence.largest(magnitudes, count: featureBudget).map { kept[$0] }.sorted()
        truncatedRows += 1
      }
      indices.append(kept.map { Int32($0) })
      values.append(kept.map { row[$0] })
      let errorWidth = tailWidth - embeddingWidth
      let errors = row + featureCount
      var used = errorWidth
      while used > 0 && errors[used - 1] == 0 { used -= 1 }
      tails.append(
        Array(UnsafeBufferPointer(start: errors, count: used))
          + UnsafeBufferPointer(start: errors + errorWidth, count: embeddingWidth))
      var sum: Double = 0
      for f in kept { sum += Double(abs(row[f])) }
      for j in featureCount..<s { sum += Double(abs(row[j])) }
      absoluteSums.append(Float(sum))
      constants.append(rows.constants[b])
    }
  }

  /// Each feature's influence on the logits through the rows so far (see `Influence.propagate`).
  /// Errors and embeddings have no incoming edges, so influence never flows on from them: their
  /// columns count in each row's normaliser but are not accumulated. Returns (featureCount).
  func featureInfluence(rowSource: [Int?], seed: [Float]) -> [Float] {
    Influence.propagate(
      rows: count, columns: featureCount, rowSums: absoluteSums, rowSource: rowSource, seed: seed
    ) { r, scale, contribution in
      for (k, f) in indices[r].enumerated() { contribution[Int(f)] += scale * abs(values[r][k]) }
    }
  }

  /// Row `r` written densely into `out` over the graph's columns: feature f at `column[f]` when
  /// that is not -1, then the tail from `tailStart`.
  func write(row r: Int, column: [Int], tailStart: Int, into out: UnsafeMutablePointer<Float>) {
    for (k, f) in indices[r].enumerated() where column[Int(f)] >= 0 { out[column[Int(f)]] = values[r][k] }
    let tail = tails[r]
    let used = tail.count - embeddingWidth
    for j in 0..<used { out[tailStart + j] = tail[j] }
    for j in used..<(tailWidth - embeddingWidth) { out[tailStart + j] = 0 }
    for j in 0..<embeddingWidth { out[tailStart + tailWidth - embeddingWidth + j] = tail[used + j] }
  }
}
