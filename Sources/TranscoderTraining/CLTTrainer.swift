import ActivationShards
import Foundation
import Kernels
import Transcoder

/// Trains a JumpReLU cross-layer transcoder on a stream of activation shards.
///
/// Each step samples N shuffled tokens, scales them (`ActivationNormalizer`), runs the sparse
/// forward pass, takes the gradients of
///   L = Σ_l ‖ŷ[l] − y[l]‖²/N + λ(t) Σ_l Σ_i tanh(c‖W_dec,i‖a_i)/N + λ_p Σ relu(θ − h)/N
/// (see `CrossLayerTranscoder.loss`), clips their global norm and applies Adam with the
/// learning rate of `TrainingConfiguration.learningRate(step:)`. When the shards run out before
/// the last step, the run goes over them again (another epoch).
public final class CLTTrainer {
  public let configuration: TrainingConfiguration
  public let transcoder: CrossLayerTranscoder
  /// The first shard's metadata: the model the transcoder belongs to.
  public let metadata: ShardMetadata
  /// Fixed after the first fill of the shuffle buffer.
  public private(set) var normalizer: ActivationNormalizer
  public private(set) var tokensSeen = 0
  public private(set) var step = 0
  /// Per layer and feature, how many tokens it fired on.
  public private(set) var fireCounts: [[Int]]
  private var lastFired: [[Int]]
  private let stream: ShardStream
  private let buffer: ShuffleBuffer
  private let optimizer: AdamOptimizer
  private let batchInputs: [FloatBuffer]
  private let batchOutputs: [FloatBuffer]

  /// Opens the first shard (to learn the shapes), fills the shuffle buffer and estimates the
  /// normalisation; throws `TrainingError.noShards` when there is no data at all.
  /// - Parameter shuffleRows: when `configuration.shuffleRows` is 0, picks the buffer size from the
  ///   first shard's metadata (so a tool can bound its memory by the model's shape).
  public init(
    configuration: TrainingConfiguration, stream: ShardStream,
    shuffleRows: (ShardMetadata) -> Int = { _ in 65_536 }
  ) throws {
    var configuration = configuration
    self.stream = stream
    // The first shard fixes the shapes; the buffer then loads it like any other.
    guard let first = try stream.next() else { throw TrainingError.noShards("none were given") }
    metadata = first.metadata
    stream.rewind()
    if configuration.shuffleRows == 0 { configuration.shuffleRows = shuffleRows(metadata) }
    try configuration.validate()
    self.configuration = configuration
    let (l, d, f) = (metadata.nLayers, metadata.dModel, configuration.features)
    buffer = ShuffleBuffer(
      capacity: configuration.shuffleRows, nLayers: l, dModel: d, seed: configuration.seed)
    transcoder = CrossLayerTranscoder(
      nLayers: l, dModel: d, features: f, seed: configuration.seed,
      initialThreshold: configuration.initialThreshold)
    optimizer = AdamOptimizer(
      parameters: transcoder.parameterBuffers, learningRate: configuration.learningRate)
    batchInputs = (0..<l).map { _ in FloatBuffer(count: configuration.batch * d) }
    batchOutputs = (0..<l).map { _ in FloatBuffer(count: configuration.batch * d) }
    fireCounts = Array(repeating: Array(repeating: 0, count: f), count: l)
    lastFired = fireCounts
    try buffer.fill(to: configuration.shuffleRows, from: stream)
    guard buffer.count > 0 else {
      throw TrainingError.noShards("the shards hold no usable rows (\(buffer.skippedRows) had NaN or Inf)")
    }
    normalizer = ActivationNormalizer(buffer: buffer)
  }

  /// The trained transcoder as a clt.h5, with the run's attributes.
  public func file(createdBy: String) -> CLTFile {
    CLTFile(
      transcoder: transcoder, normalizer: normalizer, frequencies: frequencies,
      metadata: CLTFileMetadata(
        shards: metadata, features: configuration.features, configuration: configuration,
        tokensSeen: tokensSeen, steps: step, createdBy: createdBy))
  }

  /// Rows skipped for NaN or Inf so far.
  public var skippedRows: Int { buffer.skippedRows }

  /// Whether every step has been taken.
  public var isFinished: Bool { step >= configuration.steps }

  /// Takes one step and returns what it measured.
  public func trainStep() throws -> StepMetrics {
    let n = configuration.batch
    // Keep the buffer well mixed: refill whenever it is half empty.
    try buffer.fill(to: max(n, configuration.shuffleRows / 2), from: stream)
    if buffer.count < n {
      stream.rewind()
      try buffer.fill(to: configuration.shuffleRows, from: stream)
      guard buffer.count >= n else {
        throw TrainingError.noShards(
          "the shards hold \(buffer.count) usable rows, fewer than one batch of \(n); lower --batch")
      }
    }
    buffer.sample(
      n, inputs: batchInputs, outputs: batchOutputs, inputScales: normalizer.inputScales,
      outputScales: normalizer.outputScales)

    var coefficients = configuration.coefficients
    coefficients.sparsity = configuration.sparsity(step: step)
    let learningRate = configuration.learningRate(step: step)
    let activations = transcoder.forward(inputs: batchInputs, tokens: n)
    let loss = transcoder.loss(activations, targets: batchOutputs, coefficients: coefficients)
    let gradients = transcoder.gradients(
      activations, inputs: batchInputs, targets: batchOutputs, coefficients: coefficients)
    let norm = Self.clip(gradients.buffers, to: configuration.gradientClip)
    optimizer.learningRate = learningRate
    optimizer.update(parameters: transcoder.parameterBuffers, gradients: gradients.buffers)

    let metrics = measure(activations, loss: loss, learningRate: learningRate, lambda: coefficients.sparsity)
    step += 1
    return StepMetrics(
      step: step, tokensSeen: tokensSeen, meanSquaredError: loss.meanSquaredError, sparsity: loss.sparsity,
      preActivation: loss.preActivation, learningRate: learningRate, lambda: coefficients.sparsity,
      gradientNorm: norm, nmse: metrics.nmse, l0: metrics.l0, deadFraction: metrics.dead)
  }

  /// Per-feature firing frequency over the whole run, per layer.
  public var frequencies: [[Float]] {
    fireCounts.map { layer in layer.map { Float(Double($0) / Double(max(tokensSeen, 1))) } }
  }

  /// Scales every gradient by min(1, clip / ‖g‖) with ‖g‖ the norm over all of them; returns ‖g‖.
  static func clip(_ buffers: [FloatBuffer], to clip: Float) -> Float {
    var total: Double = 0
    for buffer in buffers {
      let p = buffer.pointer
      var s: Float = 0
      for k in 0..<buffer.count { s += p[k] * p[k] }
      total += Double(s)
    }
    let norm = Float(total.squareRoot())
    if norm > clip && norm.isFinite {
      let scale = clip / norm
      for buffer in buffers {
        let p = buffer.pointer
        for k in 0..<buffer.count { p[k] *= scale }
      }
    }
    return norm
  }

  private func measure(
    _ activations: CLTActivations, loss: CLTLoss, learningRate: Float, lambda: Float
  ) -> (nmse: [Double], l0: [Double], dead: [Double]) {
    let n = activations.tokens
    let (d, f) = (transcoder.dModel, transcoder.features)
    var nmse: [Double] = []
    var l0: [Double] = []
    var dead: [Double] = []
    for l in 0..<transcoder.nLayers {
      let y = batchOutputs[l].pointer
      let yHat = activations.reconstructions[l].pointer
      var mean = [Double](repeating: 0, count: d)
      for t in 0..<n {
        for j in 0..<d { mean[j] += Double(y[t * d + j]) }
      }
      for j in 0..<d { mean[j] /= Double(n) }
      var error: Double = 0
      var variance: Double = 0
      for t in 0..<n {
        for j in 0..<d {
          let r = Double(y[t * d + j] - yHat[t * d + j])
          let c = Double(y[t * d + j]) - mean[j]
          error += r * r
          variance += c * c
        }
      }
      nmse.append(variance > 0 ? error / variance : 0)
      l0.append(Double(activations.activeCount(layer: l)) / Double(n))
      let offsets = activations.activeOffsets[l]
      let active = activations.activeFeatures[l]
      for t in 0..<n {
        for k in offsets[t]..<offsets[t + 1] {
          let i = Int(active[k])
          fireCounts[l][i] += 1
          lastFired[l][i] = tokensSeen + t + 1
        }
      }
      let now = tokensSeen + n
      let window = configuration.deadWindow
      dead.append(Double(lastFired[l].filter { now - $0 >= window }.count) / Double(f))
    }
    tokensSeen += n
    return (nmse, l0, dead)
  }
}
