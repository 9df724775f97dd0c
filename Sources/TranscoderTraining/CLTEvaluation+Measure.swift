import CLTFormat
import Kernels
import Transcoder

extension CLTEvaluation {
  /// Runs the transcoder, as inference runs it, over up to `maxTokens` rows of `stream`'s shards
  /// in batches of `batch` tokens, in shard order (no shuffling is needed to measure).
  ///
  /// As inference runs it means token by token (`encode`): a BatchTopK CLT as the JumpReLU its
  /// training estimated, which every other tool uses. Re-running BatchTopK over each held-out
  /// batch, as the training forward would, reports L0 = k whatever the CLT does on its own (it gave
  /// 32 where the tools saw 28.4).
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
    // The same sums over the typical tokens (`typicalNMSE`), whose bound the first batch sets.
    var typicalBounds: [Float]?
    var typicalError = [Double](repeating: 0, count: nL)
    var typicalSquares = [Double](repeating: 0, count: nL)
    var typicalSum = [[Double]](repeating: [Double](repeating: 0, count: d), count: nL)
    var typicalCount = [Int](repeating: 0, count: nL)
    let reconstruction = FloatBuffer(count: batch * d)
    var tokens = 0
    while tokens < maxTokens {
      try buffer.fill(to: min(batch, maxTokens - tokens), from: stream)
      let n = buffer.count
      guard n > 0 else { break }
      buffer.takeInOrder(
        n, inputs: inputs, outputs: outputs, inputScales: normalizer.inputScales,
        outputScales: normalizer.outputScales)
      let activations = (0..<nL).map { transcoder.encode(layer: $0, input: inputs[$0].pointer, rows: n) }
      let rowSquares = outputs.map { y in
        (0..<n).map { t in (0..<d).reduce(Float(0)) { $0 + y[t * d + $1] * y[t * d + $1] } }
      }
      let bounds =
        typicalBounds ?? rowSquares.map { Float(Self.typicalTokenFactor) * $0.sorted()[$0.count / 2] }
      typicalBounds = bounds
      for l in 0..<nL {
        transcoder.reconstruct(target: l, from: activations, into: reconstruction.pointer)
        transcoder.addSkip(layer: l, input: inputs[l].pointer, rows: n, into: reconstruction.pointer)
        let y = outputs[l].pointer
        let yHat = reconstruction.pointer
        for t in 0..<n {
          let typical = rowSquares[l][t] <= bounds[l]
          if typical { typicalCount[l] += 1 }
          for j in 0..<d {
            let target = Double(y[t * d + j])
            let r = Double(yHat[t * d + j]) - target
            squaredError[l] += r * r
            residualSum[l][j] += r
            targetSquares[l] += target * target
            targetSum[l][j] += target
            if typical {
              typicalError[l] += r * r
              typicalSquares[l] += target * target
              typicalSum[l][j] += target
            }
          }
        }
        active[l] += activations[l].indices.count
        for i in activations[l].indices { fired[l][Int(i)] = true }
      }
      tokens += n
    }
    guard tokens > 0 else { throw TrainingError.noShards("the --eval shards hold no usable rows") }
    let count = Double(tokens)
    func centred(_ squares: Double, _ sums: [Double], count: Double = count) -> Double {
      squares - sums.reduce(0) { $0 + $1 * $1 } / count
    }
    var nmse: [Double] = []
    var explained: [Double] = []
    for l in 0..<nL {
      let variance = centred(targetSquares[l], targetSum[l])
      nmse.append(variance > 0 ? squaredError[l] / variance : 0)
      explained.append(variance > 0 ? 1 - centred(squaredError[l], residualSum[l]) / variance : 0)
    }
    let typicalNMSE = (0..<nL).map { l in
      let variance = centred(typicalSquares[l], typicalSum[l], count: Double(max(typicalCount[l], 1)))
      return variance > 0 ? typicalError[l] / variance : 0
    }
    return CLTEvaluation(
      tokens: tokens, nmse: nmse, explainedVariance: explained, l0: active.map { Double($0) / count },
      deadFraction: fired.map { Double($0.filter { !$0 }.count) / Double(f) }, typicalNMSE: typicalNMSE)
  }
}
