import CLTFormat
import Foundation
import Kernels
import LanguageModels
import Testing
import Transcoder

@testable import Attribution

/// Building, pruning and scoring attribution graphs on the tiny GPT-2 and Llama.
@Suite struct AttributionGraphTests {
  func local(
    llama: Bool = false, length: Int = 8, embeddingNodes: EmbeddingNodes = .token
  ) throws -> LocalReplacementModel {
    let model: any LanguageModel = llama ? try TinyModels.llama() : try TinyModels.gpt2()
    let attribution = llama ? (model as! LlamaModel).attributionModel : (model as! GPT2Model).attributionModel
    let (clt, normalizer) = TinyModels.transcoder(for: model)
    return try LocalReplacementModel(
      model: attribution, tokens: TinyModels.prompt(length, vocabulary: model.description.vocabularySize),
      transcoder: clt, normalizer: normalizer, embeddingNodes: embeddingNodes)
  }

  @Test(
    "with every feature a node, each target's row sum plus its constant is its pre-activation or logit",
    arguments: [false, true], EmbeddingNodes.allCases)
  func graphRowsAreLinear(llama: Bool, embeddingNodes: EmbeddingNodes) throws {
    let local = try local(llama: llama, embeddingNodes: embeddingNodes)
    var options = AttributionOptions()
    options.batchSize = 16
    let graph = try local.attributionGraph(options: options)
    #expect(
      graph.featureCount == local.featureCount, "the default budget covers every feature of a tiny model")
    let run = local.forward()
    let logits = local.record.lastLogits
    let mean = logits.reduce(0, +) / Float(logits.count)
    for r in 0..<graph.targetCount {
      var sum = Double(graph.constants[r])
      for j in 0..<graph.sourceCount { sum += Double(graph.weight(row: r, source: j)) }
      let expected: Float
      switch graph.nodes[graph.node(ofTarget: r)] {
      case .feature(_, _, _, let activation): expected = activation
      case .logit(let token, _): expected = logits[token] - mean
      default:
        Issue.record("targets are features and logits")
        continue
      }
      #expect(abs(Float(sum) - expected) < 2e-4 * max(1, abs(expected)), "row \(r): \(sum) vs \(expected)")
    }
    _ = run
  }

  @Test(
    "embedding nodes: on GPT-2, W_E[t] alone moves W_pos[p]'s share of each edge into the constant; on Llama both are one",
    arguments: [false, true])
  func embeddingConventions(llama: Bool) throws {
    var options = AttributionOptions()
    options.batchSize = 16
    let token = try local(llama: llama, embeddingNodes: .token).attributionGraph(options: options)
    let whole = try local(llama: llama, embeddingNodes: .tokenAndPosition).attributionGraph(options: options)
    #expect(token.nodes == whole.nodes)
    var largestChange: Float = 0
    for r in 0..<token.targetCount {
      var moved: Float = 0
      for s in token.embeddingNodes {
        let change = whole.weight(row: r, source: s) - token.weight(row: r, source: s)
        moved += change
        largestChange = max(largestChange, abs(change))
      }
      // Only embedding edges move (the rest to float noise: BLAS may sum in another order).
      let rowScale = (0..<token.sourceCount).map { abs(token.weight(row: r, source: $0)) }.max() ?? 0
      for s in 0..<token.featureCount + token.errorCount {
        #expect(abs(token.weight(row: r, source: s) - whole.weight(row: r, source: s)) <= 1e-5 * rowScale)
      }
      // What leaves the embedding edges arrives in the constant.
      let scale = max(1, abs(token.constants[r]))
      #expect(abs(token.constants[r] - (whole.constants[r] + moved)) < 1e-4 * scale)
    }
    if llama {
      #expect(largestChange == 0, "no position embedding: the same graph")
    } else {
      #expect(largestChange > 1e-3, "GPT-2's W_pos[p] is part of the embedding edges")
    }
  }

  @Test(
    "a one-token prompt, a repeated --target and a transcoder with no active feature still give consistent graphs"
  )
  func degenerateInputs() throws {
    let model = try TinyModels.gpt2()
    let (clt, normalizer) = TinyModels.transcoder(for: model)
    let one = try LocalReplacementModel(
      model: model.attributionModel, tokens: [5], transcoder: clt, normalizer: normalizer)
    var options = AttributionOptions()
    options.targets = [3, 7, 3]
    let graph = try one.attributionGraph(options: options)
    #expect(graph.logitCount == 2, "a repeated target is one logit node")
    #expect(graph.embeddingCount == 1 && graph.errorCount == model.config.nLayer)
    let ids = graph.nodes.map { $0.id(nLayers: graph.nLayers, lastPosition: 0) }
    #expect(Set(ids).count == ids.count)

    let silent = CrossLayerTranscoder(
      nLayers: model.config.nLayer, dModel: model.config.nEmbd, features: 8, seed: 1, initialThreshold: 1e6)
    let none = try LocalReplacementModel(
      model: model.attributionModel, tokens: [1, 2, 3, 4], transcoder: silent, normalizer: normalizer)
    let bare = try none.attributionGraph(options: AttributionOptions())
    #expect(none.featureCount == 0 && bare.featureCount == 0)
    let scores = bare.scores
    #expect(scores.replacement >= 0 && scores.replacement <= 1)
    // With no features the errors carry the whole MLP output: every logit's edges plus its
    // constant still give its value.
    let logits = none.record.lastLogits
    let mean = logits.reduce(0, +) / Float(logits.count)
    for k in 0..<bare.logitCount {
      guard case .logit(let token, _) = bare.nodes[bare.sourceCount + k] else { continue }
      var sum = Double(bare.constants[k])
      for j in 0..<bare.sourceCount { sum += Double(bare.weight(row: k, source: j)) }
      #expect(abs(Float(sum) - (logits[token] - mean)) < 1e-3)
    }
    let pruned = bare.pruned(nodeThreshold: 0.8, edgeThreshold: 0.98)
    #expect(bare.logitNodes.allSatisfy { pruned.keptNodes[$0] })
  }

  @Test("with two threads sharing out each backward pass's positions the graph is the same")
  func threadedMatchesSerial() throws {
    let local = try local()
    var options = AttributionOptions()
    options.batchSize = 16
    let serial = try local.attributionGraph(options: options)
    BLASThreads.set(2)
    defer { BLASThreads.set(1) }
    let threaded = try local.attributionGraph(options: options)
    #expect(threaded.nodes == serial.nodes)
    #expect(maxRelativeError(threaded.adjacency, serial.adjacency) < 1e-5)
    #expect(maxRelativeError(threaded.constants, serial.constants) < 1e-5)
  }

  @Test("the default logits are the fewest top tokens reaching 95% probability, at most 10")
  func defaultLogits() throws {
    let local = try local()
    let chosen = try local.logitTokens(options: AttributionOptions())
    #expect(!chosen.isEmpty && chosen.count <= 10)
    let probabilities = chosen.map(\.probability)
    #expect(probabilities == probabilities.sorted(by: >), "most likely first")
    let mass = probabilities.reduce(0, +)
    #expect(mass >= 0.95 || chosen.count == 10)
    #expect(chosen.count == 1 || probabilities.dropLast().reduce(0, +) < 0.95, "no more tokens than needed")
  }

  @Test("--max-feature-nodes caps the feature nodes, chosen by estimated influence")
  func maxFeatureNodes() throws {
    let local = try local()
    var options = AttributionOptions()
    options.maxFeatureNodes = 7
    options.batchSize = 3
    let graph = try local.attributionGraph(options: options)
    #expect(graph.featureCount == 7 && graph.activeFeatureCount == local.featureCount)
    #expect(graph.nodes.count == 7 + graph.errorCount + graph.embeddingCount + graph.logitCount)
    // The first pick is the feature with the most direct influence on the logits.
    var full = options
    full.maxFeatureNodes = 1
    let one = try local.attributionGraph(options: full)
    let ids = Set(graph.nodes.prefix(7).map { $0.id(nLayers: graph.nLayers, lastPosition: 0) })
    #expect(ids.contains(one.nodes[0].id(nLayers: graph.nLayers, lastPosition: 0)))
  }

  @Test(
    "a row feature budget keeps each row's largest feature edges and every error and embedding edge exactly")
  func rowFeatureBudget() throws {
    let local = try local()
    let exact = try local.attributionGraph(options: AttributionOptions())
    var options = AttributionOptions()
    options.rowFeatureBudget = 5
    let cut = try local.attributionGraph(options: options)
    #expect(exact.truncatedRows == 0 && cut.truncatedRows > 0)
    #expect(cut.featureCount == exact.featureCount && cut.sourceCount == exact.sourceCount)
    // The same features are visited when all are (in another order, so other batches: products
    // may differ in the last bits); rows are in the same order.
    for r in 0..<cut.targetCount {
      var kept = 0
      for j in 0..<cut.sourceCount {
        let w = cut.weight(row: r, source: j)
        let reference = exact.weight(row: r, source: j)
        if j >= cut.featureCount {
          #expect(
            abs(w - reference) <= 1e-5 * max(1, abs(reference)), "error and embedding edges are never cut")
        } else if w != 0 {
          #expect(abs(w - reference) <= 1e-5 * max(1, abs(reference)))
          kept += 1
        }
      }
      #expect(kept <= 5)
      #expect(abs(cut.constants[r] - exact.constants[r]) <= 1e-5 * max(1, abs(exact.constants[r])))
    }
  }

  @Test("node pruning keeps the fewest nodes holding the node threshold of influence; edges likewise")
  func pruningKeepsFraction() throws {
    let graph = try local(length: 10).attributionGraph(options: AttributionOptions())
    let influence = graph.nodeInfluence
    let prunable = graph.featureCount + graph.errorCount
    let total = influence[0..<prunable].reduce(0.0) { $0 + Double($1) }
    for threshold in [0.5, 0.8, 0.95] {
      let mask = graph.nodeMask(influence: influence, threshold: threshold)
      let kept = (0..<prunable).filter { mask[$0] }
      let keptSum = kept.reduce(0.0) { $0 + Double(influence[$1]) }
      #expect(keptSum >= threshold * total * (1 - 1e-6), "kept \(keptSum / total) < \(threshold)")
      let weakest = kept.map { influence[$0] }.min()!
      let withoutWeakest = kept.filter { influence[$0] > weakest }.reduce(0.0) { $0 + Double(influence[$1]) }
      #expect(withoutWeakest < threshold * total, "a smaller set would have done")
      #expect(graph.embeddingNodes.allSatisfy { mask[$0] } && graph.logitNodes.allSatisfy { mask[$0] })
    }
    // A random transcoder leaves most influence to the error nodes, so a high threshold is needed
    // for features to survive at all.
    let result = graph.pruned(nodeThreshold: 0.97, edgeThreshold: 0.98)
    #expect(graph.logitNodes.allSatisfy { result.keptNodes[$0] }, "logits are never pruned")
    let keptFeatures = (0..<graph.featureCount).filter { result.keptNodes[$0] }.count
    #expect(keptFeatures > 0 && keptFeatures < graph.featureCount, "pruning removes some features, not all")
    // Every surviving edge joins surviving nodes; every surviving error node has an outgoing edge.
    for r in 0..<graph.targetCount {
      for j in 0..<graph.sourceCount where result.graph.weight(row: r, source: j) != 0 {
        #expect(result.keptNodes[graph.node(ofTarget: r)] && result.keptNodes[j])
      }
    }
    for e in graph.errorNodes where result.keptNodes[e] {
      #expect((0..<graph.targetCount).contains { result.graph.weight(row: $0, source: e) != 0 })
    }
    #expect(result.prunedErrorInfluence >= 0 && result.prunedErrorInfluence <= 1)
  }

  @Test("the edge threshold keeps the fewest edges holding that fraction of the edge scores")
  func edgeThresholdFraction() throws {
    let graph = try local().attributionGraph(options: AttributionOptions())
    var scores = graph.adjacency
    graph.scoreEdges(&scores)
    let total = scores.reduce(0.0) { $0 + Double($1) }
    let cut = Influence.cumulativeThreshold(scores, fraction: 0.98)
    let kept = scores.filter { $0 >= cut && $0 > 0 }.reduce(0.0) { $0 + Double($1) }
    let strictlyAbove = scores.filter { $0 > cut }.reduce(0.0) { $0 + Double($1) }
    #expect(kept >= 0.98 * total * (1 - 1e-6) && strictlyAbove < 0.98 * total)
  }

  @Test("completeness and replacement scores lie in [0, 1] and are 1 when the errors carry nothing")
  func scores() throws {
    var graph = try local().attributionGraph(options: AttributionOptions())
    let s = graph.scores
    #expect(s.completeness > 0 && s.completeness < 1 && s.replacement > 0 && s.replacement < 1, "\(s)")
    for r in 0..<graph.targetCount {
      for e in graph.errorNodes { graph.adjacency[r * graph.sourceCount + e] = 0 }
    }
    let perfect = graph.scores
    #expect(abs(perfect.completeness - 1) < 1e-9 && abs(perfect.replacement - 1) < 1e-9, "\(perfect)")
  }

  @Test("influence equals the series w·(Â + Â² + …) computed with the full square matrix")
  func influenceMatchesSeries() {
    // Nodes: 4 features (0–3), 3 errors/embeddings (4–6), 2 logits (7–8). Targets: features, logits.
    let (features, others, logits) = (4, 3, 2)
    let n = features + others + logits
    let columns = features + others
    var generator = SystemRandomNumberGenerator()
    var adjacency = [Float](repeating: 0, count: (features + logits) * columns)
    // A DAG: feature i reads features < i and every error/embedding; logits read everything.
    for r in 0..<(features + logits) {
      for j in 0..<columns where r >= features || j >= features || j < r {
        adjacency[r * columns + j] = Float.random(in: -1...1, using: &generator)
      }
    }
    let seed: [Float] = [0, 0, 0, 0, 0.7, 0.3]
    let fast = Influence.propagate(
      adjacency: adjacency, rows: features + logits, columns: columns, recurrent: features,
      rowSource: [0, 1, 2, 3, nil, nil], seed: seed)
    // The square matrix over all nodes, rows normalised.
    var square = [Double](repeating: 0, count: n * n)
    for r in 0..<(features + logits) {
      let node = r < features ? r : columns + r - features
      let sum = (0..<columns).reduce(0.0) { $0 + Double(abs(adjacency[r * columns + $1])) }
      for j in 0..<columns { square[node * n + j] = Double(abs(adjacency[r * columns + j])) / sum }
    }
    var current = [Double](repeating: 0, count: n)
    current[columns] = 0.7
    current[columns + 1] = 0.3
    var total = [Double](repeating: 0, count: n)
    for _ in 0..<n {
      var next = [Double](repeating: 0, count: n)
      for i in 0..<n where current[i] != 0 {
        for j in 0..<n { next[j] += current[i] * square[i * n + j] }
      }
      for j in 0..<n { total[j] += next[j] }
      current = next
    }
    for j in 0..<columns {
      #expect(abs(Double(fast[j]) - total[j]) < 1e-5, "node \(j): \(fast[j]) vs \(total[j])")
    }
  }

  @Test("the cumulative threshold and the top-k selection agree with sorting")
  func selectionMatchesSorting() {
    var generator = SystemRandomNumberGenerator()
    for trial in 0..<20 {
      let values = (0..<(50 + trial * 13)).map { _ in Float(Int.random(in: 0...40, using: &generator)) / 8 }
      let sorted = values.sorted(by: >)
      let total = sorted.reduce(0.0) { $0 + Double($1) }
      var running = 0.0
      var expected = Float.infinity
      for v in sorted where v > 0 {
        running += Double(v)
        if running >= 0.8 * total {
          expected = v
          break
        }
      }
      #expect(Influence.cumulativeThreshold(values, fraction: 0.8) == expected)
      let top = Influence.largest(values, count: 5)
      #expect(top.map { values[$0] } == Array(sorted.prefix(5)))
    }
  }

  @Test("bad inputs are refused with errors that say what to change")
  func badInputs() throws {
    let model = try TinyModels.gpt2()
    let (clt, normalizer) = TinyModels.transcoder(for: model)
    let attribution = model.attributionModel
    #expect(throws: AttributionError.emptyPrompt) {
      _ = try LocalReplacementModel(model: attribution, tokens: [], transcoder: clt, normalizer: normalizer)
    }
    let context = model.config.nPositions
    #expect(throws: AttributionError.promptTooLong(tokens: context + 1, context: context)) {
      _ = try LocalReplacementModel(
        model: attribution, tokens: [Int32](repeating: 1, count: context + 1), transcoder: clt,
        normalizer: normalizer)
    }
    let wrong = CrossLayerTranscoder(nLayers: 3, dModel: 32, features: 8, seed: 1)
    #expect(throws: AttributionError.self) {
      _ = try LocalReplacementModel(
        model: attribution, tokens: [1, 2], transcoder: wrong, normalizer: normalizer)
    }
    let llama = try TinyModels.llama()
    #expect(throws: AttributionError.self) {
      _ = try LocalReplacementModel(
        model: llama.attributionModel, tokens: [1, 2], transcoder: clt, normalizer: normalizer)
    }
    let local = try local()
    var options = AttributionOptions()
    options.targets = [model.config.vocabSize]
    #expect(throws: AttributionError.self) { _ = try local.logitTokens(options: options) }
  }
}
