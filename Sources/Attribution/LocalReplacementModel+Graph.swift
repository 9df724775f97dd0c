import Dispatch
import Foundation
import Kernels

extension LocalReplacementModel {
  /// The chosen logits: --target tokens, or the most likely ones up to `logitProbability` of the
  /// mass and at most `maxLogits`; each with the model's probability.
  public func logitTokens(options: AttributionOptions) throws -> [(token: Int, probability: Float)] {
    let logits = record.lastLogits
    let peak = logits.max() ?? 0
    var sum: Double = 0
    for z in logits { sum += Foundation.exp(Double(z - peak)) }
    func probability(_ t: Int) -> Float { Float(Foundation.exp(Double(logits[t] - peak)) / sum) }
    if let targets = options.targets {
      guard !targets.isEmpty else { throw AttributionError.unknownTarget("needs at least one token") }
      for t in targets where t < 0 || t >= logits.count {
        throw AttributionError.unknownTarget("token id \(t) is outside the vocabulary of \(logits.count)")
      }
      var seen = Set<Int>()
      return targets.filter { seen.insert($0).inserted }.map { ($0, probability($0)) }
    }
    var chosen: [(Int, Float)] = []
    var mass: Double = 0
    for t in Influence.largest(logits, count: max(1, options.maxLogits)) {
      chosen.append((t, probability(t)))
      mass += Double(probability(t))
      if mass >= options.logitProbability { break }
    }
    return chosen
  }

  /// Builds the attribution graph (Ameisen et al. 2025, §2.3–2.4; circuit-tracer's order of work):
  /// 1. the logits' incoming edges, over every active feature, error and embedding;
  /// 2. repeatedly, the influence on the logits of every active feature is estimated through the
  ///    rows computed so far, and the next `batchSize` most influential unvisited features get their
  ///    incoming edges computed, until `maxFeatureNodes` have been (or all of them);
  /// 3. the visited features become the graph's feature nodes; edges from features that were not
  ///    visited are left out (they are outside the graph, like circuit-tracer's).
  /// - Complexity: one backward pass per `batchSize` targets; memory (maxFeatureNodes + logits) ×
  ///   (active features + errors + embeddings) floats for the rows.
  public func attributionGraph(options: AttributionOptions, progress: ((Int, Int) -> Void)? = nil) throws
    -> AttributionGraph
  {
    let logits = try logitTokens(options: options)
    let total = logits.reduce(0) { $0 + Double($1.probability) }
    let weights = logits.map { total > 0 ? Float(Double($0.probability) / total) : 1 / Float(logits.count) }
    var store = EdgeRowStore(
      featureCount: featureCount, tailWidth: sourceCount - featureCount, embeddingWidth: positions,
      featureBudget: options.rowFeatureBudget)
    func append(_ targets: [AttributionTarget]) {
      let cap = max(1, min(options.batchSize, 16_000_000 / max(1, positions * model.dModel)))
      var start = 0
      while start < targets.count {
        let batch = Array(targets[start..<min(start + cap, targets.count)])
        store.append(edgeRows(targets: batch), count: batch.count)
        start += cap
      }
    }
    append(logits.map { logitTarget($0.token) })
    var visited: [Int] = []
    var isVisited = [Bool](repeating: false, count: featureCount)
    let budget = min(max(0, options.maxFeatureNodes), featureCount)
    while visited.count < budget {
      let influence = store.featureInfluence(
        rowSource: [Int?](repeating: nil, count: logits.count) + visited.map { $0 },
        seed: weights + [Float](repeating: 0, count: visited.count))
      // In order of position, so that each backward pass spans few positions: a pass costs the
      // square of its last target's position in every attention layer.
      let next = Influence.largest(
        influence, count: min(options.batchSize, budget - visited.count),
        include: { !isVisited[$0] }
      ).sorted { feature($0).position < feature($1).position }
      for f in next { isVisited[f] = true }
      visited += next
      append(next.map(featureTarget))
      progress?(visited.count, budget)
    }
    return assemble(store: store, logits: logits, weights: weights, visited: visited)
  }

  /// Keeps the visited features' columns (in source order) with every error and embedding, and
  /// orders the rows as the graph's targets: features, then logits.
  private func assemble(
    store: EdgeRowStore, logits: [(token: Int, probability: Float)], weights: [Float], visited: [Int]
  ) -> AttributionGraph {
    let selected = visited.sorted()
    var column = [Int](repeating: -1, count: featureCount)
    for (k, f) in selected.enumerated() { column[f] = k }
    let columns = selected.count + store.tailWidth
    let rows = selected.count + logits.count
    var adjacency = [Float](repeating: 0, count: rows * columns)
    var rowConstants = [Float](repeating: 0, count: rows)
    adjacency.withUnsafeMutableBufferPointer { a in
      func copy(storeRow: Int, to row: Int) {
        store.write(
          row: storeRow, column: column, tailStart: selected.count, into: a.baseAddress! + row * columns)
        rowConstants[row] = store.constants[storeRow]
      }
      for k in 0..<logits.count { copy(storeRow: k, to: selected.count + k) }
      for (k, f) in visited.enumerated() { copy(storeRow: logits.count + k, to: column[f]) }
    }
    let features = selected.map { f -> AttributionNode in
      let info = feature(f)
      return .feature(
        layer: info.layer, position: info.position, index: info.index, activation: info.activation)
    }
    let errorNodes = (0..<nLayers).flatMap { l in
      (0..<positions).map { AttributionNode.error(layer: l, position: $0) }
    }
    let embeddings = record.tokens.enumerated().map { AttributionNode.embedding(position: $0, token: $1) }
    return AttributionGraph(
      tokens: record.tokens, nLayers: nLayers,
      nodes: features + errorNodes + embeddings
        + logits.map { .logit(token: $0.token, probability: $0.probability) },
      featureCount: selected.count, errorCount: errorNodes.count, embeddingCount: positions,
      logitCount: logits.count, adjacency: adjacency, logitWeights: weights, constants: rowConstants,
      activeFeatureCount: featureCount, truncatedRows: store.truncatedRows)
  }
}
