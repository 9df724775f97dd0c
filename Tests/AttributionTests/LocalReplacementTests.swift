import Foundation
import Kernels
import LanguageModels
import Testing
import Transcoder

@testable import Attribution

/// The recorded forward pass, the local replacement model and its edges, on both model families.
@Suite struct LocalReplacementTests {
  enum Family: String, CaseIterable, CustomTestStringConvertible {
    case gpt2, llama
    var testDescription: String { rawValue }

    func load() throws -> (any LanguageModel, AttributionModel) {
      switch self {
      case .gpt2:
        let m = try TinyModels.gpt2()
        return (m, m.attributionModel)
      case .llama:
        let m = try TinyModels.llama()
        return (m, m.attributionModel)
      }
    }
  }

  /// A model family, with a transcoder with or without a skip connection: the invariants below
  /// hold for both, the skip being one more linear path through each MLP.
  struct Setup: CustomTestStringConvertible {
    let family: Family
    let skip: Bool
    var testDescription: String { family.rawValue + (skip ? " with W_skip" : "") }
    static let all = Family.allCases.flatMap { f in [false, true].map { Setup(family: f, skip: $0) } }
  }

  func replacement(_ setup: Setup, length: Int = 9, constantFirstPosition: Bool = false) throws -> (
    any LanguageModel, LocalReplacementModel
  ) {
    try replacement(
      setup.family, length: length, constantFirstPosition: constantFirstPosition, skip: setup.skip)
  }

  func replacement(
    _ family: Family, length: Int = 9, constantFirstPosition: Bool = false, skip: Bool = false
  ) throws -> (any LanguageModel, LocalReplacementModel) {
    let (model, attribution) = try family.load()
    let (clt, normalizer) = TinyModels.transcoder(for: model, skip: skip)
    let tokens = TinyModels.prompt(length, vocabulary: model.description.vocabularySize)
    let local = try LocalReplacementModel(
      model: attribution, tokens: tokens, transcoder: clt, normalizer: normalizer,
      constantFirstPosition: constantFirstPosition)
    return (model, local)
  }

  @Test("the recording forward pass gives the model's own logits and MLP taps", arguments: Family.allCases)
  func recordingMatchesModel(family: Family) throws {
    let (model, local) = try replacement(family)
    #expect(local.record.mlpIn.isEmpty && local.record.mlpOut.isEmpty, "released once the errors are known")
    let record = try local.model.record(tokens: local.record.tokens)
    let info = model.description
    let n = local.positions
    let taps = MLPTaps(nLayers: info.nLayers, rows: n, dModel: info.dModel)
    let logits = try model.forward(
      tokens: local.record.tokens, batch: 1, length: n, taps: taps, computeLogits: true)
    let v = info.vocabularySize
    let error = maxRelativeError(local.record.lastLogits, Array(logits[(n - 1) * v..<n * v]))
    #expect(error < 1e-5, "last-position logits differ from the model's forward by \(error)")
    for l in 0..<info.nLayers {
      let block = n * info.dModel
      let mlpIn = Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpIn, layer: l), count: block))
      let mlpOut = Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpOut, layer: l), count: block))
      #expect(maxRelativeError(record.mlpIn[l].array, mlpIn) < 1e-5, "layer \(l) MLP input")
      #expect(maxRelativeError(record.mlpOut[l].array, mlpOut) < 1e-5, "layer \(l) MLP output")
    }
    let pattern = FloatBuffer(count: n * n)
    for l in 0..<info.nLayers {
      // Every row of every head's pattern is a distribution over the visible positions.
      for h in 0..<local.record.heads {
        local.record.unpackPattern(layer: l, head: h, width: n, into: pattern.pointer)
        for i in 0..<n {
          var sum: Float = 0
          for j in 0..<n { sum += pattern[i * n + j] }
          #expect(abs(sum - 1) < 1e-5)
          #expect((i + 1..<n).allSatisfy { pattern[i * n + $0] == 0 }, "causal: zero above the diagonal")
        }
      }
    }
  }

  @Test(
    "with its error terms the local replacement model reproduces the original logits and feature pre-activations",
    arguments: Setup.all)
  func errorsMakeReplacementExact(family: Setup) throws {
    let (_, local) = try replacement(family)
    #expect(local.featureCount > 20, "the test transcoder must have active features (\(local.featureCount))")
    let run = local.forward()
    let error = maxRelativeError(run.logits, local.record.lastLogits)
    #expect(error < 1e-4, "local replacement logits differ from the original's by \(error)")
    for source in 0..<local.featureCount {
      let f = local.feature(source)
      let h = local.preActivation(of: source, in: run)
      #expect(
        abs(h - f.activation) < 1e-4 * max(1, abs(f.activation)), "feature \(f): \(h) vs \(f.activation)")
    }
    let without = local.forward(includeErrors: false)
    #expect(maxRelativeError(without.logits, local.record.lastLogits) > 1e-3, "the errors must matter here")
  }

  @Test(
    "incoming edges plus constant terms equal each feature's pre-activation and each logit",
    arguments: Setup.all)
  func linearityInvariant(family: Setup) throws {
    let (_, local) = try replacement(family)
    let run = local.forward()
    let targets = (0..<local.featureCount).map(local.featureTarget) + [0, 3, 5].map(local.logitTarget)
    let rows = local.edgeRows(targets: targets)
    let s = local.sourceCount
    expectEdgesSumToInputs(local, rows: rows, targets: targets, run: run)
    // A logit's value is the original model's logit relative to the mean logit.
    let logits = local.record.lastLogits
    let mean = logits.reduce(0, +) / Float(logits.count)
    let logitRow = targets.count - 3
    let sum = inputFromEdges(rows, row: logitRow, sources: s)
    #expect(abs(Float(sum) - (logits[0] - mean)) < 1e-3)
  }

  @Test(
    "a constant first position has no feature nodes and no error edges, and the invariants still hold",
    arguments: Setup.all)
  func constantFirstPosition(family: Setup) throws {
    let (_, plain) = try replacement(family)
    let (_, local) = try replacement(family, constantFirstPosition: true)
    #expect(plain.activations.contains { $0.offsets[1] > 0 }, "the test needs features at position 0")
    #expect(local.activations.allSatisfy { $0.offsets[1] == 0 })
    #expect(local.featureCount == plain.featureCount - plain.activations.map { $0.offsets[1] }.reduce(0, +))
    // Exact with the errors: position 0's (the whole MLP output less b_dec) is kept as a constant.
    let run = local.forward()
    #expect(maxRelativeError(run.logits, local.record.lastLogits) < 1e-4)
    let targets = (0..<local.featureCount).map(local.featureTarget) + [local.logitTarget(2)]
    let rows = local.edgeRows(targets: targets)
    expectEdgesSumToInputs(local, rows: rows, targets: targets, run: run)
    let s = local.sourceCount
    for b in targets.indices {
      for l in 0..<local.nLayers {
        #expect(rows.weights[b * s + local.errorSource(layer: l, position: 0)] == 0)
      }
    }
    // Without the flag the same errors are nodes with edges: the zeros above are the flag's doing.
    let logit = plain.edgeRows(targets: [plain.logitTarget(2)])
    let errorEdges = (0..<plain.nLayers).map { logit.weights[plain.errorSource(layer: $0, position: 0)] }
    #expect(errorEdges.contains { abs($0) > 1e-6 }, "\(errorEdges)")
  }

  @Test(
    "an edge equals the change in its target when the source's activation is perturbed",
    arguments: Setup.all)
  func edgeEqualsPerturbation(family: Setup) throws {
    let (local, base, targets, rows) = try everyTarget(family, logit: 1)
    var checked = 0
    for source in stride(from: 0, to: local.featureCount, by: 3) {
      let f = local.feature(source)
      let delta: Float = 0.25
      var acts = local.activations
      let k = source - local.featureOffsets[f.layer]
      acts[f.layer].values[k] += delta
      let run = local.forward(activations: acts)
      checked += expectChangesMatchEdges(
        local, rows: rows, targets: targets, column: source, factor: delta / f.activation, base: base,
        run: run)
    }
    #expect(checked > 10)
  }

  @Test(
    "an error node's edge equals the change in its target when that error is scaled",
    arguments: Setup.all)
  func errorEdgeEqualsPerturbation(family: Setup) throws {
    let (local, base, targets, rows) = try everyTarget(family, logit: 2)
    let c = local.model.dModel
    for (layer, position) in [(0, 0), (0, 4), (1, 6), (local.nLayers - 1, local.positions - 1)] {
      let epsilon: Float = 0.5
      let errors = local.errors.map { FloatBuffer($0.array) }
      for j in 0..<c { errors[layer][position * c + j] *= 1 + epsilon }
      let run = local.forward(errors: errors)
      let column = local.errorSource(layer: layer, position: position)
      _ = expectChangesMatchEdges(
        local, rows: rows, targets: targets, column: column, factor: epsilon, base: base, run: run)
    }
  }

  @Test(
    "a skip connection's errors are the skip-free errors less mlp_in · W_skip · s_in / s_out",
    arguments: Family.allCases)
  func skipErrorsInModelUnits(family: Family) throws {
    let (model, plain) = try replacement(family)
    let (_, skipped) = try replacement(family, skip: true)
    let record = try plain.model.record(tokens: plain.record.tokens)
    let (n, c) = (plain.positions, model.description.dModel)
    let (clt, normalizer) = TinyModels.transcoder(for: model, skip: true)
    var largest: Float = 0
    for l in 0..<plain.nLayers {
      let scale = normalizer.inputScales[l] / normalizer.outputScales[l]
      for p in 0..<n {
        for j in 0..<c {
          var skip: Float = 0
          for i in 0..<c { skip += record.mlpIn[l][p * c + i] * clt.skipWeights[l][i * c + j] }
          skip *= scale
          largest = max(largest, abs(skip))
          let want = plain.errors[l][p * c + j] - skip
          #expect(
            abs(skipped.errors[l][p * c + j] - want) < 1e-4 * max(1, abs(want)), "layer \(l) position \(p)")
        }
      }
    }
    #expect(largest > 0.1, "the skip term must matter here (\(largest))")
  }

  /// A replacement model, its unperturbed run, every feature and one logit as targets, and their edges.
  func everyTarget(_ family: Setup, logit: Int) throws -> (
    LocalReplacementModel, LocalForward, [AttributionTarget], EdgeRows
  ) {
    let (_, local) = try replacement(family)
    let targets = (0..<local.featureCount).map(local.featureTarget) + [local.logitTarget(logit)]
    return (local, local.forward(), targets, local.edgeRows(targets: targets))
  }

  /// Checks that every target's input changes from `base` to `run` by its edge from `column` times
  /// `factor` (the local replacement model is linear); returns how many targets were checked.
  func expectChangesMatchEdges(
    _ local: LocalReplacementModel, rows: EdgeRows, targets: [AttributionTarget], column: Int, factor: Float,
    base: LocalForward, run: LocalForward
  ) -> Int {
    let s = local.sourceCount
    for (b, target) in targets.enumerated() {
      let change = local.input(of: target, in: run) - local.input(of: target, in: base)
      let predicted = rows.weights[b * s + column] * factor
      #expect(
        abs(change - predicted) < 1e-4 * max(1, abs(predicted)),
        "edge \(column)→\(b): \(predicted) vs \(change)")
    }
    return targets.count
  }

  /// The linearity invariant: each target's incoming edges plus its constant are its input in `run`.
  func expectEdgesSumToInputs(
    _ local: LocalReplacementModel, rows: EdgeRows, targets: [AttributionTarget], run: LocalForward
  ) {
    for (b, target) in targets.enumerated() {
      let sum = inputFromEdges(rows, row: b, sources: local.sourceCount)
      let expected = local.input(of: target, in: run)
      #expect(abs(Float(sum) - expected) < 2e-4 * max(1, abs(expected)), "target \(b): \(sum) vs \(expected)")
    }
  }

  /// A target's input rebuilt from its incoming edges and its constant term.
  func inputFromEdges(_ rows: EdgeRows, row: Int, sources: Int) -> Double {
    var sum = Double(rows.constants[row])
    for j in 0..<sources { sum += Double(rows.weights[row * sources + j]) }
    return sum
  }
}
