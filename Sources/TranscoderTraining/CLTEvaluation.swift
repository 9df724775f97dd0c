import Foundation
import HDF5
import Kernels
import Transcoder

/// A transcoder's metrics on held-out shards (`clt-fit --eval`): what the training batches
/// report, measured on tokens it never trained on, and stored in clt.h5 (`eval_*` datasets).
public struct CLTEvaluation: Sendable, Equatable {
  /// Tokens evaluated.
  public var tokens: Int
  /// Per layer ‖y − ŷ‖² / ‖y − ȳ‖² over all evaluated tokens (ȳ their mean).
  public var nmse: [Double]
  /// Per layer 1 − Var(y − ŷ) / Var(y).
  public var explainedVariance: [Double]
  /// Per layer, mean active features per token.
  public var l0: [Double]
  /// Per layer, the fraction of features that fired on none of the evaluated tokens.
  public var deadFraction: [Double]

  public var meanNMSE: Double { nmse.reduce(0, +) / Double(max(nmse.count, 1)) }
  public var meanL0: Double { l0.reduce(0, +) / Double(max(l0.count, 1)) }
  public var meanDeadFraction: Double { deadFraction.reduce(0, +) / Double(max(deadFraction.count, 1)) }

  public init(tokens: Int, nmse: [Double], explainedVariance: [Double], l0: [Double], deadFraction: [Double])
  {
    self.tokens = tokens
    self.nmse = nmse
    self.explainedVariance = explainedVariance
    self.l0 = l0
    self.deadFraction = deadFraction
  }

  /// Runs the transcoder, as inference runs it, over up to `maxTokens` rows of `stream`'s shards
  /// in batches of `batch` tokens, in shard order (no shuffling is needed to measure).
  public static func measure(
    _ transcoder: CrossLayerTranscoder, normalizer: ActivationNormalizer, stream: ShardStream, maxTokens: Int,
    batch: Int = 1024
  ) throws -> CLTEvaluation {
    let (nL, d, f) = (transcoder.nLayers, transcoder.dModel, transcoder.features)
    let buffer = ShuffleBuffer(capacity: batch, nLayers: nL, dModel: d, seed: 0)
    let inputs = (0..<nL).map { _ in FloatBuffer(count: batch * d) }
    let outputs = (0..<nL).map { _ in FloatBuffer(count: batch * d) }
    var squaredError = [Double](repeating: 0, count: nL)
    var residualSum = [[Double]](repeating: [Double](repeating: 0, count: d), count: nL)
    var targetSquares = [Double](repeating: 0, count: nL)
    var targetSum = [[Double]](repeating: [Double](repeating: 0, count: d), count: nL)
    var active = [Int](repeating: 0, count: nL)
    var fired = [[Bool]](repeating: [Bool](repeating: false, count: f), count: nL)
    var tokens = 0
    while tokens < maxTokens {
      try buffer.fill(to: min(batch, maxTokens - tokens), from: stream)
      let n = buffer.count
      guard n > 0 else { break }
      buffer.takeInOrder(
        n, inputs: inputs, outputs: outputs, inputScales: normalizer.inputScales,
        outputScales: normalizer.outputScales)
      let act = transcoder.forward(inputs: inputs, tokens: n)
      for l in 0..<nL {
        let y = outputs[l].pointer
        let yHat = act.reconstructions[l].pointer
        for t in 0..<n {
          for j in 0..<d {
            let target = Double(y[t * d + j])
            let r = Double(yHat[t * d + j]) - target
            squaredError[l] += r * r
            residualSum[l][j] += r
            targetSquares[l] += target * target
            targetSum[l][j] += target
          }
        }
        active[l] += act.activeCount(layer: l)
        for (i, count) in act.firingCounts[l].enumerated() where count > 0 { fired[l][i] = true }
      }
      tokens += n
    }
    guard tokens > 0 else { throw TrainingError.noShards("the --eval shards hold no usable rows") }
    let count = Double(tokens)
    func centred(_ squares: Double, _ sums: [Double]) -> Double {
      squares - sums.reduce(0) { $0 + $1 * $1 } / count
    }
    var nmse: [Double] = []
    var explained: [Double] = []
    for l in 0..<nL {
      let variance = centred(targetSquares[l], targetSum[l])
      nmse.append(variance > 0 ? squaredError[l] / variance : 0)
      explained.append(variance > 0 ? 1 - centred(squaredError[l], residualSum[l]) / variance : 0)
    }
    return CLTEvaluation(
      tokens: tokens, nmse: nmse, explainedVariance: explained, l0: active.map { Double($0) / count },
      deadFraction: fired.map { Double($0.filter { !$0 }.count) / Double(f) })
  }

  // MARK: - clt.h5

  func write(to file: HDF5File) throws {
    try file.setAttribute("eval_tokens", Int64(tokens))
    let nL = nmse.count
    try CLTFile.write(file, "eval_nmse", [nL], FloatBuffer(nmse.map(Float.init)))
    try CLTFile.write(file, "eval_explained_variance", [nL], FloatBuffer(explainedVariance.map(Float.init)))
    try CLTFile.write(file, "eval_l0", [nL], FloatBuffer(l0.map(Float.init)))
    try CLTFile.write(file, "eval_dead_fraction", [nL], FloatBuffer(deadFraction.map(Float.init)))
  }

  /// The evaluation stored in `file`, or nil when it has none.
  init?(file: HDF5File, nLayers: Int) throws {
    guard try file.hasAttribute("eval_tokens") else { return nil }
    func read(_ name: String) throws -> [Double] {
      let buffer = FloatBuffer(count: nLayers)
      try CLTFile.read(file, name, into: buffer, path: file.filePath)
      return buffer.array.map(Double.init)
    }
    self.init(
      tokens: Int(try file.int64Attribute("eval_tokens")), nmse: try read("eval_nmse"),
      explainedVariance: try read("eval_explained_variance"), l0: try read("eval_l0"),
      deadFraction: try read("eval_dead_fraction"))
  }
}
