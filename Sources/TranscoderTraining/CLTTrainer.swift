import ActivationShards
import CLTFormat
import Collectives
import Foundation
import Kernels
import Transcoder

/// Trains a cross-layer transcoder (JumpReLU, TopK or BatchTopK) on a stream of activation shards.
///
/// Each step samples N shuffled tokens (read while the step before computes: `BatchSource`),
/// scales them (`ActivationNormalizer`), runs the sparse forward pass, takes the gradients of
///   L = Σ_l w[l]‖ŷ[l] − y[l]‖²/N + λ(t) Σ_l Σ_i tanh(c‖W_dec,i‖a_i)/N + λ_p Σ_{dead} relu(θ − h)/N
///       + α·d Σ_{l'} ‖e[l'] − ê[l']‖²/‖e[l']‖²
/// (see `CrossLayerTranscoder.loss`, w from `layerWeightExponent`, and for the AuxK term
/// `CrossLayerTranscoder+AuxK`), clips their global norm and applies Adam with the
/// learning rate of `TrainingConfiguration.learningRate(step:)`. When the shards run out before
/// the last step, the run goes over them again (another epoch), unless they are consumed.
/// `checkpoint(to:createdBy:)` saves everything a run needs to continue (`init(resumingFrom:)`).
///
/// The code here is that of one process. With a `communicator` of several, the processes divide
/// each step by the run's `TrainingMode`, which the trainer asks wherever the processes must
/// share or reduce something: by the batch's rows (`DataParallelTraining`, the default under
/// mpirun) or by the features (`FeatureShardedTraining`, `shardFeatures`).
public final class CLTTrainer {
  /// Fixed at the start, except that `limit(toSteps:)` may bring the last step forward.
  public private(set) var configuration: TrainingConfiguration
  public let transcoder: CrossLayerTranscoder
  /// The first shard's metadata: the model the transcoder belongs to.
  public let metadata: ShardMetadata
  /// Fixed after the first fill of the shuffle buffer.
  public internal(set) var normalizer: ActivationNormalizer
  public internal(set) var tokensSeen = 0
  public internal(set) var step = 0
  /// Per layer and feature, how many tokens it fired on.
  public internal(set) var fireCounts: [[Int]]
  /// Per layer and feature, tokensSeen when it last fired (0 if never).
  public internal(set) var lastFired: [[Int]]
  private let firstPlannedSteps: Int
  let stream: ShardStream
  /// The stream and the shuffle buffer, which only the read-ahead touches while one is pending.
  private let source: BatchSource
  private var buffer: ShuffleBuffer { source.buffer }
  /// How the processes divide each step (one process: `SingleProcessTraining`).
  let mode: any TrainingMode
  /// The processes training together (one when launched without mpirun).
  public var communicator: Communicator { mode.communicator }
  /// Rows of the global batch this process takes each step: batch / communicator.size when data
  /// parallel, else the whole batch.
  public let localBatch: Int
  /// Whether each process holds a slice of the features (and all of the batch) rather than all of
  /// the features (and a share of the batch).
  public var shardsFeatures: Bool { mode.featureSlice != nil }
  /// The first of this process's features in each layer (0 unless the features are sharded).
  public var featureOffset: Int { mode.featureSlice?.lowerBound ?? 0 }
  let optimizer: AdamOptimizer
  /// Whether each step reads the next step's batch on a thread of its own while it computes
  /// (`BatchReadAhead`). Off, every read happens at the start of its own step; a run is
  /// bit-identical either way, which is what turning it off is for (tests, measurements).
  public var readsAhead = true
  /// This step's batch, and the one the read-ahead fills for the next step.
  private var batch: TrainingBatch
  private var spareBatch: TrainingBatch
  private var readAhead: BatchReadAhead?
  private var batchInputs: [FloatBuffer] { batch.inputs }
  var batchOutputs: [FloatBuffer] { batch.outputs }
  let activations: CLTActivations
  let gradients: CLTGradients
  /// Rank-selected activations: per layer, the running mean of the smallest selected activation,
  /// the threshold BatchTopK hands over to a JumpReLU at inference.
  public internal(set) var runningThresholds: [Float]
  /// The last step's global gradient norm, which clips this step's gradient when the decoders
  /// take Adam's step inside the backward pass (`updatesDecodersInBackward`); nil before the
  /// first step.
  public internal(set) var previousGradientNorm: Float?

  /// Opens the first shard (to learn the shapes), fills the shuffle buffer and estimates the
  /// normalisation; throws `TrainingError.noShards` when there is no data at all.
  /// - Parameters:
  ///   - resumingFrom: a checkpoint written by `checkpoint(to:createdBy:)`; the run continues from its
  ///     parameters, optimizer state, normalisation, step and counters (the data order after the
  ///     resume is a fresh draw from the shards given now).
  ///   - shuffleRows: when `configuration.shuffleRows` is 0, picks the buffer size from the
  ///     first shard's metadata (so a tool can bound its memory by the model's shape).
  ///   - memoryLimit: refuse up front, with the figures, a run whose estimate exceeds it.
  ///   - communicator: the processes training together, each with its own `stream` (a disjoint
  ///     share of the shards); `configuration.batch` and `shuffleRows` count over all of them and
  ///     the batch must divide evenly. `shuffleRows(_:)` gives one process's rows.
  ///   - shardFeatures: divide the features instead of the batch; every process's `stream` then
  ///     holds all of the shards, and the features must divide evenly.
  public init(
    configuration: TrainingConfiguration, stream: ShardStream, resumingFrom checkpoint: URL? = nil,
    shuffleRows: (ShardMetadata) -> Int = { _ in 65_536 }, memoryLimit: Int? = nil,
    communicator: Communicator = SingleProcess(), shardFeatures: Bool = false
  ) throws {
    var configuration = configuration
    self.stream = stream
    let mode = try trainingMode(communicator, shardFeatures: shardFeatures, configuration: configuration)
    self.mode = mode
    // The first shard fixes the shapes; the buffer then loads it like any other.
    let first = try stream.first()
    metadata = first.metadata
    if configuration.shuffleRows == 0 { configuration.shuffleRows = shuffleRows(metadata) * mode.tokenShares }
    try configuration.validate()
    let local = mode.perProcess(configuration)
    self.configuration = configuration
    firstPlannedSteps = configuration.steps
    localBatch = local.batch
    let slice = mode.featureSlice ?? 0..<configuration.features
    let (l, d, f) = (metadata.nLayers, metadata.dModel, slice.count)
    if let memoryLimit {
      let estimate = local.memoryEstimate(nLayers: l, dModel: d)
      guard estimate.bytes <= memoryLimit else {
        throw TrainingError.insufficientMemory(
          neededBytes: estimate.bytes, availableBytes: memoryLimit, detail: estimate.detail)
      }
    }
    source = BatchSource(
      stream: stream,
      buffer: ShuffleBuffer(
        capacity: local.shuffleRows, nLayers: l, dModel: d, seed: mode.samplingSeed(configuration.seed)),
      seed: configuration.seed)
    transcoder = CrossLayerTranscoder(
      nLayers: l, dModel: d, features: configuration.features, seed: configuration.seed, slice: slice,
      skip: configuration.skipConnection)
    transcoder.activation = configuration.activation
    transcoder.k = configuration.k
    optimizer = AdamOptimizer(
      parameters: transcoder.parameterBuffers, learningRate: configuration.learningRate)
    batch = TrainingBatch(rows: local.batch, nLayers: l, dModel: d)
    spareBatch = TrainingBatch(rows: local.batch, nLayers: l, dModel: d)
    activations = CLTActivations(tokens: local.batch, nLayers: l, dModel: d, features: f)
    activations.auxiliaryK = configuration.coefficients.auxiliary > 0 ? configuration.auxK : 0
    gradients = CLTGradients(nLayers: l, dModel: d, features: f, skip: configuration.skipConnection)
    fireCounts = Array(repeating: Array(repeating: 0, count: f), count: l)
    lastFired = fireCounts
    runningThresholds = Array(repeating: 0, count: l)
    try source.buffer.fill(to: local.shuffleRows, from: stream)
    guard source.buffer.count > 0 else {
      throw TrainingError.noShards(
        "the shards hold no usable rows (\(source.buffer.skippedRows) had NaN or Inf)"
          + (communicator.isDistributed ? " on rank \(communicator.rank)" : ""))
    }
    normalizer = try mode.normalizer(source.buffer, outlierFactor: configuration.outlierFactor)
    if let checkpoint {
      try restore(from: checkpoint)
    } else {
      try initializeFromFirstBatch()
    }
  }

  /// b_dec, the features (`--init tokens`) and (JumpReLU) the thresholds, from the first batch: up to 4096 rows spread over the
  /// shuffle buffer, an equal share from each process, gathered so that every process starts
  /// from the same parameters.
  private func initializeFromFirstBatch() throws {
    let ranks = mode.tokenShares
    let share = try mode.commonRows(min(localBatch, buffer.count, 4096 / ranks))
    buffer.peek(
      share, inputs: batchInputs, outputs: batchOutputs, inputScales: normalizer.inputScales,
      outputScales: normalizer.outputScales)
    let d = transcoder.dModel
    let n = share * ranks
    let inputs = try mode.gathered(batchInputs, rows: share, width: d)
    let targets = try mode.gathered(batchOutputs, rows: share, width: d)
    initializeDecoderBiases(targets: targets, tokens: n)
    if configuration.initialization == .tokens {
      let c = configuration
      transcoder.seedFeatures(
        inputs: inputs, targets: targets, tokens: n, firstFeature: featureOffset,
        activeFeatures: c.activation.selectsByRank ? Double(c.k) : min(c.initialL0, Double(c.features) / 2))
    }
    if configuration.activation == .jumpReLU {
      transcoder.calibrateThresholds(
        inputs: inputs, tokens: n,
        fraction: min(0.5, configuration.initialL0 / Double(configuration.features)))
    }
  }

  /// b_dec[l] ← the mean of the first batch's (scaled) targets, so that the first steps spend
  /// nothing on learning the outputs' offset: NMSE starts at about 1 instead of 1 + ‖ȳ‖²/Var(y).
  private func initializeDecoderBiases(targets: [FloatBuffer], tokens n: Int) {
    let d = transcoder.dModel
    for l in 0..<transcoder.nLayers {
      let y = targets[l].pointer
      var sums = [Double](repeating: 0, count: d)
      for t in 0..<n {
        for j in 0..<d { sums[j] += Double(y[t * d + j]) }
      }
      let bias = transcoder.decoderBiases[l].pointer
      for j in 0..<d { bias[j] = Float(sums[j] / Double(n)) }
    }
  }

  /// The trained transcoder as a clt.h5, with the run's attributes (this process's features).
  public func file(createdBy: String) -> CLTFile {
    file(transcoder, frequencies: frequencies, createdBy: createdBy)
  }

  /// `transcoder` as a clt.h5 of this run.
  func file(_ transcoder: CrossLayerTranscoder, frequencies: [[Float]], createdBy: String) -> CLTFile {
    CLTFile(
      transcoder: transcoder, normalizer: normalizer, frequencies: frequencies,
      metadata: CLTFileMetadata(
        shards: metadata, features: configuration.features, configuration: configuration,
        tokensSeen: tokensSeen, steps: step, createdBy: createdBy))
  }

  /// The trained transcoder as one ordinary clt.h5, at rank 0 (nil elsewhere): with sharded
  /// features the slices are gathered there first (`FeatureShardedTraining.assembledFile`).
  public func assembledFile(createdBy: String) throws -> CLTFile? {
    try mode.assembledFile(of: self, createdBy: createdBy)
  }

  /// Ends the run after `steps` steps instead of the planned number (never before the steps
  /// already taken, never later than first planned; it may be called again with a later step as
  /// the pace changes). λ's warm-up and the learning rate's decay are functions of the planned
  /// steps, so they now end at the new last step: a run cut short by a time limit still
  /// finishes with a decayed learning rate and its full λ.
  public func limit(toSteps steps: Int) {
    configuration.steps = max(step, min(firstPlannedSteps, steps))
    if isFinished { finishReadingAhead() }
  }

  /// Rows skipped for NaN or Inf so far (waits for the batch being read ahead).
  public var skippedRows: Int {
    finishReadingAhead()
    return buffer.skippedRows
  }

  /// Whether every step has been taken.
  public var isFinished: Bool { step >= configuration.steps }

  /// Whether the data ran out before the last step (only with consumed shards, which cannot be
  /// gone over again).
  public private(set) var isOutOfData = false

  /// Passes over the shards started after the first (epochs begun; waits for the batch being
  /// read ahead).
  public var passes: Int {
    finishReadingAhead()
    return source.passes
  }

  /// Rows in the shuffle buffer now, after the batch being read ahead was taken from it.
  public var bufferedRows: Int {
    finishReadingAhead()
    return buffer.count
  }

  /// Waits until the next step's batch, if one is being read, is in: afterwards nothing touches
  /// the shards or the shuffle buffer until the next `trainStep`, so the stream may be closed or
  /// inspected. What the reading found (the batch, or its error) is kept for that step.
  public func finishReadingAhead() {
    _ = try? readAhead?.wait()
  }

  /// This step's batch into `batch`: the one read ahead during the last step if there is one,
  /// else read now. False when consumed shards have run out.
  private func takeBatch() throws -> Bool {
    guard let pending = readAhead else {
      return try source.next(
        localBatch, into: batch, inputScales: normalizer.inputScales, outputScales: normalizer.outputScales)
    }
    readAhead = nil
    let read = try pending.wait()
    swap(&batch, &spareBatch)
    return read
  }

  /// Starts reading the next step's batch into the spare buffers, unless this step is the last
  /// planned (a time limit may still end the run earlier: `limit(toSteps:)` then waits for it).
  private func readNextBatchAhead() {
    guard readsAhead, step + 1 < configuration.steps else { return }
    let (source, rows, into) = (source, localBatch, spareBatch)
    let (inputScales, outputScales) = (normalizer.inputScales, normalizer.outputScales)
    readAhead = BatchReadAhead {
      try source.next(rows, into: into, inputScales: inputScales, outputScales: outputScales)
    }
  }

  /// Takes one step and returns what it measured, or nil when the shards are consumed and no
  /// batch is left (`isOutOfData`).
  public func trainStep() throws -> StepMetrics? {
    let n = localBatch
    guard try takeBatch() else {
      isOutOfData = true
      return nil
    }
    readNextBatchAhead()

    var coefficients = configuration.coefficients
    coefficients.sparsity = configuration.sparsity(step: step)
    coefficients.layerWeights = normalizer.lossWeights(exponent: configuration.layerWeightExponent)
    coefficients.outlierWeights = normalizer.outliers
    let learningRate = configuration.learningRate(step: step)
    let rankSelected = configuration.activation.selectsByRank
    let clock = ContinuousClock()
    let t0 = clock.now
    try transcoder.forward(
      inputs: batchInputs, tokens: n, into: activations, dead: deadFeatures(),
      bandwidth: coefficients.bandwidth,
      referenceThresholds: rankSelected && step > 0 ? runningThresholds : nil,
      sharing: mode.sharing(features: configuration.features))
    try mode.shareAuxiliaryErrors(of: self)
    let t1 = clock.now
    optimizer.learningRate = learningRate
    // With `clipByPreviousNorm` one process updates the decoders inside the backward pass, each
    // row while its gradient is in registers, and so must fix the clipping factor before the
    // global norm is known: it clips by the last step's norm instead. The first step, and every
    // step of several processes (whose gradients are summed after the backward pass), clip by
    // their own.
    let staleClip = updatesDecodersInBackward ? previousGradientNorm.map(clipFactor(norm:)) : nil
    let decoderStep = staleClip.map {
      optimizer.decoderStep(optimizer.nextStep(gradientScale: $0), of: transcoder)
    }
    let localLoss = transcoder.backward(
      activations, inputs: batchInputs, targets: batchOutputs, coefficients: coefficients, into: gradients,
      decoderStep: decoderStep)
    let t2 = clock.now
    let (loss, squaredNorm) = try mode.reduce(localLoss, of: self)
    // Each process's gradient is a mean over its n rows: the global batch's is their sum / size.
    let ranks = Float(mode.tokenShares)
    let norm = Float(squaredNorm.squareRoot()) / ranks
    if let decoderStep {
      optimizer.apply(
        decoderStep.constants, parameters: transcoder.parameterBuffers, gradients: gradients.buffers,
        skipping: transcoder.decoderBufferIndices)
    } else {
      optimizer.update(
        parameters: transcoder.parameterBuffers, gradients: gradients.buffers, rowMasks: gradients.rowMasks,
        maskRows: transcoder.features, gradientScale: clipFactor(norm: norm) / ranks)
    }
    previousGradientNorm = norm
    if rankSelected { try updateRunningThresholds() }
    let t3 = clock.now
    func seconds(_ d: Duration) -> Double {
      Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    let metrics = try measure(activations)
    step += 1
    return StepMetrics(
      step: step, tokensSeen: tokensSeen, meanSquaredError: loss.meanSquaredError, sparsity: loss.sparsity,
      preActivation: loss.preActivation, auxiliary: loss.auxiliary, learningRate: learningRate,
      lambda: coefficients.sparsity,
      gradientNorm: norm, nmse: metrics.nmse, explainedVariance: metrics.explainedVariance, l0: metrics.l0,
      deadFraction: metrics.dead,
      phaseSeconds: [seconds(t1 - t0), seconds(t2 - t1), seconds(t3 - t2)])
  }

  /// Whether the decoders take Adam's step inside the backward pass (`backward(…, decoderStep:)`):
  /// when asked (`clipByPreviousNorm`) and for one process, which holds every row's whole
  /// gradient there. Saves about a fifth of a step at the demo's shape (docs/BENCHMARKS.md).
  var updatesDecodersInBackward: Bool {
    configuration.clipByPreviousNorm && mode.tokenShares == 1 && mode.featureSlice == nil
  }

  /// Global-norm clipping: the factor that brings a gradient of norm `norm` down to the limit
  /// (none for a limit of 0).
  private func clipFactor(norm: Float) -> Float {
    let limit = configuration.gradientClip
    return limit > 0 && norm > limit && norm.isFinite ? limit / norm : 1
  }

  /// Per layer, the features that have not fired in the last `deadWindow` tokens: the
  /// pre-activation term pulls these (and only these) back towards their threshold, and the AuxK
  /// term makes them reconstruct the main error.
  private func deadFeatures() -> [[Int32]]? {
    let c = configuration.coefficients
    guard c.preActivation > 0 || c.auxiliary > 0 else { return nil }
    let now = tokensSeen
    let window = configuration.deadWindow
    return lastFired.map { layer in
      layer.indices.compactMap { now - layer[$0] >= window ? Int32($0) : nil }
    }
  }

  /// θ ← the running mean of each layer's smallest selected activation, written into the
  /// transcoder's thresholds so that a BatchTopK checkpoint is a usable JumpReLU at any point.
  /// The mean is plain over the first 20 steps, then exponential with a 5% weight: the batch
  /// threshold falls as training goes on, and a slower mean (1%, as first written) lagged so far
  /// behind that a 200-step SmolLM2 run handed over a JumpReLU with held-out L0 47 for k = 64.
  private func updateRunningThresholds() throws {
    let weight = max(0.05, 1 / Double(step + 1))
    // BatchTopK's threshold is already the global batch's; TopK's is a mean over each process's
    // tokens.
    var selected = activations.selectedMinimum.map(Double.init)
    if configuration.activation == .topK { try mode.averageOverTokenShares(&selected) }
    for l in 0..<transcoder.nLayers {
      let measured = selected[l]
      runningThresholds[l] = Float((1 - weight) * Double(runningThresholds[l]) + weight * Double(measured))
      let logTheta = Foundation.log(max(runningThresholds[l], 1e-6))
      transcoder.logThresholds[l].pointer.update(repeating: logTheta, count: transcoder.features)
    }
  }

  /// Per-feature firing frequency over the whole run, per layer.
  public var frequencies: [[Float]] {
    fireCounts.map { layer in layer.map { Float(Double($0) / Double(max(tokensSeen, 1))) } }
  }

  private func measure(_ act: CLTActivations) throws -> (
    nmse: [Double], explainedVariance: [Double], l0: [Double], dead: [Double]
  ) {
    let n = act.tokens * mode.tokenShares
    let (d, f) = (transcoder.dModel, transcoder.features)
    var deadCounts: [Int64] = []
    var sums = BatchSums(act, targets: batchOutputs, dModel: d)
    try mode.combine(&sums)
    var nmse: [Double] = []
    var explained: [Double] = []
    var l0: [Double] = []
    var dead: [Double] = []
    for l in 0..<transcoder.nLayers {
      let layer = sums.layers[l]
      let (squares, targetSums) = (layer[0], layer[1...d])
      let (squaredErrors, residualSums) = (layer[d + 1], layer[(d + 2)...(2 * d + 1)])
      // Σ‖y − ȳ‖² = Σ‖y‖² − N‖ȳ‖², and likewise for the residual r = ŷ − y.
      let variance = squares - targetSums.reduce(0) { $0 + $1 * $1 } / Double(n)
      let residualVariance = squaredErrors - residualSums.reduce(0) { $0 + $1 * $1 } / Double(n)
      nmse.append(variance > 0 ? squaredErrors / variance : 0)
      explained.append(variance > 0 ? 1 - residualVariance / variance : 0)
      l0.append(layer[sums.activePairsIndex] / Double(n))
      let counts = sums.firing[l]
      for i in 0..<f where counts[i] > 0 {
        fireCounts[l][i] += Int(counts[i])
        lastFired[l][i] = tokensSeen + n
      }
      let now = tokensSeen + n
      let window = configuration.deadWindow
      deadCounts.append(Int64(lastFired[l].filter { now - $0 >= window }.count))
    }
    try mode.totalOverFeatureSlices(&deadCounts)
    dead = deadCounts.map { Double($0) / Double(configuration.features) }
    tokensSeen += n
    return (nmse, explained, l0, dead)
  }
}
