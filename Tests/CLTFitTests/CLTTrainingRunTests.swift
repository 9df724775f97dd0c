import ActivationShards
import CLTFormat
import Foundation
import HDF5
import Kernels
import Testing
import Transcoder
import TranscoderTraining

/// What a long run needs: checkpoints and resume, consumed shards, skips of bad data, held-out
/// evaluation and the rank-selected activations, on synthetic shards.
@Suite(.serialized) struct CLTTrainingRunTests {
  let dir: URL

  init() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("cltkit-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  func shards(_ name: String, count: Int = 2, rows: Int = 512, nanRows: Int = 0) throws -> [URL] {
    var dictionary = SyntheticDictionary(seed: 1)
    return try dictionary.writeShards(
      to: dir.appendingPathComponent(name), shards: count, rows: rows, nanRows: nanRows)
  }

  func trainer(
    _ urls: [URL], _ configuration: TrainingConfiguration, consume: Bool = false, resume: URL? = nil
  ) throws -> (CLTTrainer, ShardStream) {
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    stream.consume = consume
    return (try CLTTrainer(configuration: configuration, stream: stream, resumingFrom: resume), stream)
  }

  static let small = TrainingConfiguration(
    features: 16, batch: 64, steps: 6, learningRate: 1e-2, shuffleRows: 256, seed: 4)

  @Test("TrainingRun: a signal after step 2 stops every step after it, with a checkpoint that resumes at 2")
  func trainingRunStopsOnSignal() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data")
    let (trainer, _) = try trainer(urls, Self.small)
    let checkpoint = dir.appendingPathComponent("run.ckpt")
    let run = TrainingRun(trainer: trainer, checkpointURL: checkpoint, createdBy: "test")
    run.interruptReceived = { trainer.step >= 2 ? SIGINT : nil }
    var reported: [Int] = []
    run.onProgress = { metrics, rate in reported.append(metrics.step) }
    run.progressInterval = 0
    #expect(try run.run() == .interrupted(signal: SIGINT))
    #expect(trainer.step == 2 && reported == [1, 2])
    #expect(run.timing.steps == 1 && run.timing.tokens == 64, "the first step is left out of the timing")
    let (resumed, _) = try self.trainer(urls, Self.small, resume: checkpoint)
    #expect(resumed.step == 2)
    let rest = TrainingRun(trainer: resumed, checkpointURL: checkpoint, createdBy: "test")
    #expect(try rest.run() == .finished && resumed.step == Self.small.steps)
  }

  @Test(
    "A checkpoint restores parameters, normalisation, Adam's moments and last gradient norm, step and counters; the run then finishes"
  )
  func resume() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data")
    let (first, _) = try trainer(urls, Self.small)
    for _ in 0..<3 { _ = try first.trainStep() }
    let checkpoint = dir.appendingPathComponent("run.ckpt")
    try first.checkpoint(to: checkpoint, createdBy: "test")
    let (resumed, _) = try trainer(urls, Self.small, resume: checkpoint)
    #expect(resumed.step == 3 && resumed.tokensSeen == 3 * 64)
    #expect(resumed.normalizer == first.normalizer)
    #expect(resumed.fireCounts == first.fireCounts && resumed.lastFired == first.lastFired)
    // The next step clips by the last step's norm (its decoders update inside the backward pass).
    #expect(resumed.previousGradientNorm != nil && resumed.previousGradientNorm == first.previousGradientNorm)
    #expect(
      resumed.transcoder.parameterBuffers.map(\.array) == first.transcoder.parameterBuffers.map(\.array))
    // Saving the resumed run again gives the same state, Adam's moments included.
    let again = dir.appendingPathComponent("again.ckpt")
    try resumed.checkpoint(to: again, createdBy: "test")
    for name in ["adam_m_0", "adam_v_0", "adam_m_\(3 * 2)", "fire_count_1"] {
      let a = try HDF5File(url: checkpoint).openDataset(name).readAll(as: Float.self, orInt: true)
      let b = try HDF5File(url: again).openDataset(name).readAll(as: Float.self, orInt: true)
      #expect(a == b && !a.isEmpty, "\(name)")
    }
    while !resumed.isFinished { _ = try resumed.trainStep() }
    #expect(resumed.step == 6)
    // The first run, going on without the interruption, takes the same schedule.
    while !first.isFinished { _ = try first.trainStep() }
    #expect(first.step == resumed.step && first.tokensSeen == resumed.tokensSeen)
  }

  @Test(
    "--clip-previous-norm: the first step is the exact one; later steps clip by the last norm and still train"
  )
  func clipByPreviousNorm() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data")
    var lagged = Self.small
    lagged.clipByPreviousNorm = true
    let (exact, _) = try trainer(urls, Self.small)
    let (fast, _) = try trainer(urls, lagged)
    let first = (try #require(try exact.trainStep()), try #require(try fast.trainStep()))
    #expect(
      exact.transcoder.parameterBuffers.map(\.array) == fast.transcoder.parameterBuffers.map(\.array),
      "with no previous norm the first step clips by its own")
    #expect(first.0.gradientNorm > Self.small.gradientClip, "the steps are clipped")
    var last = first.1
    while !fast.isFinished { last = try #require(try fast.trainStep()) }
    _ = try exact.trainStep()
    #expect(
      exact.transcoder.parameterBuffers.map(\.array) != fast.transcoder.parameterBuffers.map(\.array),
      "the second step clips by the first step's norm")
    #expect(last.meanNMSE < first.1.meanNMSE && last.meanNMSE.isFinite)
  }

  @Test("Resuming from a finished clt.h5 or a checkpoint of another shape is refused, naming the file")
  func resumeMismatch() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data", count: 1)
    let (run, _) = try trainer(urls, Self.small)
    _ = try run.trainStep()
    let finished = dir.appendingPathComponent("clt.h5")
    try run.file(createdBy: "test").write(to: finished)
    let checkpoint = dir.appendingPathComponent("run.ckpt")
    try run.checkpoint(to: checkpoint, createdBy: "test")
    var other = Self.small
    other.features = 32
    for (url, configuration, needle) in [
      (finished, Self.small, "not a checkpoint"), (checkpoint, other, "features"),
    ] {
      do {
        _ = try trainer(urls, configuration, resume: url)
        Issue.record("resuming from \(url.lastPathComponent) must fail")
      } catch let error as TrainingError {
        let message = error.localizedDescription
        #expect(message.contains(url.path) && message.contains(needle), "\(message)")
      }
    }
  }

  @Test("--consume deletes each shard once loaded and stops cleanly when they run out")
  func consume() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data", count: 3, rows: 128)
    var configuration = Self.small
    configuration.steps = 100
    configuration.shuffleRows = 128
    let (run, _) = try trainer(urls, configuration, consume: true)
    var steps = 0
    while try run.trainStep() != nil { steps += 1 }
    #expect(run.isOutOfData && steps == 6, "3 × 128 rows make 6 batches of 64; took \(steps)")
    #expect(urls.allSatisfy { !FileManager.default.fileExists(atPath: $0.path) })
  }

  @Test("A truncated shard is skipped and reported; rows with NaN are skipped and counted")
  func badData() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let good = try shards("good", count: 2, rows: 256, nanRows: 5)
    let broken = dir.appendingPathComponent("broken.h5")
    let bytes = try Data(contentsOf: good[0])
    try bytes.prefix(bytes.count / 2).write(to: broken)
    let (run, stream) = try trainer([good[0], broken, good[1]], Self.small)
    while !run.isFinished { _ = try run.trainStep() }
    #expect(stream.skipped.map(\.path) == [broken.path])
    #expect(run.skippedRows == 10, "5 NaN rows in each of 2 shards")
  }

  @Test("Held-out evaluation: NMSE and L0 recomputed from clt.h5 agree, and survive the round trip")
  func evaluation() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try shards("train")
    let held = try shards("held", count: 1, rows: 300)
    let (run, _) = try trainer(train, Self.small)
    while !run.isFinished { _ = try run.trainStep() }
    let stream = try ShardStream(arguments: held.map(\.path), readStandardInput: false)
    let evaluation = try CLTEvaluation.measure(
      run.transcoder, normalizer: run.normalizer, stream: stream, maxTokens: 1000, batch: 128)
    #expect(evaluation.tokens == 300)
    // The same NMSE by hand on all 300 rows at once.
    let reader = try ShardReader(url: held[0])
    let (nL, d) = (run.transcoder.nLayers, run.transcoder.dModel)
    var x = [Float](repeating: 0, count: 300 * nL * d)
    var y = x
    try x.withUnsafeMutableBufferPointer { try reader.readActivations(.mlpIn, rows: 0..<300, into: $0) }
    try y.withUnsafeMutableBufferPointer { try reader.readActivations(.mlpOut, rows: 0..<300, into: $0) }
    let s = run.normalizer
    let inputs = (0..<nL).map { l in
      FloatBuffer((0..<(300 * d)).map { x[($0 / d) * nL * d + l * d + $0 % d] * s.inputScales[l] })
    }
    let act = run.transcoder.forward(inputs: inputs, tokens: 300)
    for l in 0..<nL {
      let target = (0..<(300 * d)).map { Double(y[($0 / d) * nL * d + l * d + $0 % d] * s.outputScales[l]) }
      var mean = [Double](repeating: 0, count: d)
      for (m, v) in target.enumerated() { mean[m % d] += v / 300 }
      var error: Double = 0
      var variance: Double = 0
      for (m, v) in target.enumerated() {
        error += pow(Double(act.reconstructions[l][m]) - v, 2)
        variance += pow(v - mean[m % d], 2)
      }
      #expect(abs(evaluation.nmse[l] - error / variance) < 1e-4, "layer \(l)")
      #expect(evaluation.l0[l] == Double(act.activeCount(layer: l)) / 300)
    }
    var file = run.file(createdBy: "test")
    file.evaluation = evaluation
    let url = dir.appendingPathComponent("clt.h5")
    try file.write(to: url)
    let loaded = try CLTFile.load(url: url)
    #expect(loaded.evaluation?.tokens == 300)
    #expect(zip(loaded.evaluation!.nmse, evaluation.nmse).allSatisfy { abs($0 - $1) < 1e-6 })
  }

  @Test("The decoder biases start at the targets' mean, so training starts at NMSE 1, not above it")
  func decoderBiasesStartAtTheMean() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    // One batch holds every row, so the first batch's mean is the data's mean exactly.
    let urls = try shards("data", count: 2, rows: 128)
    let configuration = TrainingConfiguration(
      features: 16, batch: 256, steps: 1, learningRate: 1e-2, shuffleRows: 256, seed: 4)
    let (run, _) = try trainer(urls, configuration)
    let (l, d) = (run.transcoder.nLayers, run.transcoder.dModel)
    var sums = [Double](repeating: 0, count: l * d)
    for url in urls {
      let reader = try ShardReader(url: url)
      let y = try reader.readActivations(.mlpOut, rows: 0..<reader.rowCount)
      for row in 0..<reader.rowCount {
        for k in 0..<(l * d) { sums[k] += Double(y[row * l * d + k]) }
      }
    }
    for layer in 0..<l {
      let scale = Double(run.normalizer.outputScales[layer])
      let mean = (0..<d).map { sums[layer * d + $0] / 256 * scale }
      let bias = run.transcoder.decoderBiases[layer].array
      let gap = zip(mean, bias).map { abs($0 - Double($1)) }.max()!
      #expect(mean.contains { abs($0) > 0.05 }, "the synthetic targets have a mean to find")
      #expect(gap < 1e-4, "layer \(layer): b_dec differs from the mean by \(gap)")
    }
  }

  @Test("A time limit shortens the plan: the learning rate has decayed and λ is full by the new last step")
  func limitedRun() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data")
    var configuration = Self.small
    configuration.steps = 100
    let (run, _) = try trainer(urls, configuration)
    for _ in 0..<3 { _ = try run.trainStep() }
    run.limit(toSteps: 10)
    #expect(run.configuration.steps == 10)
    run.limit(toSteps: 1000)
    #expect(run.configuration.steps == 100, "never later than first planned")
    run.limit(toSteps: 1)
    #expect(run.configuration.steps == 3, "never before the steps already taken")
    run.limit(toSteps: 10)
    var last: StepMetrics?
    while !run.isFinished { last = try run.trainStep() }
    #expect(run.step == 10)
    // Under the first plan (100 steps) step 10 was at the peak; the new last step decays it.
    #expect(configuration.learningRate(step: 9) == configuration.learningRate)
    #expect(last!.learningRate == run.configuration.learningRate(step: 9))
    #expect(last!.learningRate < configuration.learningRate / 1.5, "decayed: \(last!.learningRate)")
    #expect(last!.lambda == configuration.coefficients.sparsity)
  }

  @Test("--time-limit parses seconds, minutes and hours and plans the steps that fit at the measured pace")
  func timeLimit() throws {
    #expect(try TrainingTimeLimit(parsing: "7200").seconds == 7200)
    #expect(try TrainingTimeLimit(parsing: "90s").seconds == 90)
    #expect(try TrainingTimeLimit(parsing: "45m").seconds == 2700)
    #expect(try TrainingTimeLimit(parsing: "1.5h").seconds == 5400)
    for bad in ["", "h", "2x", "-1h", "0", "nan"] {
      #expect(throws: TrainingError.self, "'\(bad)'") { try TrainingTimeLimit(parsing: bad) }
    }
    let limit = TrainingTimeLimit(seconds: 200)
    // No plan before three steps: the first is slow for reasons that do not recur.
    #expect(limit.lastStepThatFits(elapsed: 50, trainingSeconds: 40, stepsTaken: 2, currentStep: 2) == nil)
    // 10 s a step, 100 s left (set-up counts against the limit, not in the pace): 10 more steps.
    #expect(limit.lastStepThatFits(elapsed: 100, trainingSeconds: 50, stepsTaken: 5, currentStep: 5) == 15)
    // A resumed run counts its steps from where it resumed.
    #expect(limit.lastStepThatFits(elapsed: 100, trainingSeconds: 50, stepsTaken: 5, currentStep: 45) == 55)
    // Out of time: the plan ends at the current step.
    #expect(limit.lastStepThatFits(elapsed: 250, trainingSeconds: 240, stepsTaken: 24, currentStep: 24) == 24)
  }

  @Test("BatchTopK trains at L0 = k and hands over to a JumpReLU with its running threshold", arguments: [2])
  func batchTopK(k: Int) throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data", count: 2, rows: 1024)
    var configuration = TrainingConfiguration(
      features: 32, batch: 128, steps: 400, learningRate: 1e-2, shuffleRows: 1024, seed: 3)
    configuration.activation = .batchTopK
    configuration.k = k
    configuration.coefficients.sparsity = 0
    let (run, _) = try trainer(urls, configuration)
    var last: StepMetrics?
    while !run.isFinished { last = try run.trainStep() }
    #expect(last!.l0.allSatisfy { $0 == Double(k) }, "\(last!.l0)")
    #expect(last!.meanNMSE < 0.2, "mean NMSE \(last!.meanNMSE)")
    let url = dir.appendingPathComponent("clt.h5")
    try run.file(createdBy: "test").write(to: url)
    let loaded = try CLTFile.load(url: url)
    #expect(loaded.metadata.activation == "batchtopk")
    for l in 0..<loaded.transcoder.nLayers {
      let theta = Foundation.exp(loaded.transcoder.logThresholds[l][0])
      #expect(abs(theta - run.runningThresholds[l]) < 1e-4 * max(1, theta))
    }
    // At inference each token alone: L0 near k on the training data.
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    let evaluation = try CLTEvaluation.measure(
      loaded.transcoder, normalizer: loaded.normalizer, stream: stream, maxTokens: 1024)
    #expect(evaluation.l0.allSatisfy { $0 > Double(k) / 2 && $0 < Double(k) * 2 }, "\(evaluation.l0)")
    // The trainer's own transcoder (still BatchTopK) is scored the same way, not at L0 = k.
    let live = try CLTEvaluation.measure(
      run.transcoder, normalizer: run.normalizer,
      stream: try ShardStream(arguments: urls.map(\.path), readStandardInput: false), maxTokens: 1024)
    #expect(run.transcoder.activation == .batchTopK)
    #expect(live.l0 == evaluation.l0 && live.nmse == evaluation.nmse, "\(live.l0) vs \(evaluation.l0)")
    #expect(live.l0.contains { $0 != Double(k) }, "a per-token JumpReLU does not hit k exactly")
    // The running threshold follows the recent batches, so the hand-over keeps L0 close to k on
    // average (a slowly moving mean lagged and left L0 well below k).
    let meanL0 = evaluation.l0.reduce(0, +) / Double(evaluation.l0.count)
    #expect(abs(meanL0 - Double(k)) < 0.25 * Double(k), "mean L0 \(meanL0) for k \(k)")
  }
}

extension HDF5Dataset {
  /// The values as Float, converting an int32 dataset.
  fileprivate func readAll(as: Float.Type, orInt: Bool) throws -> [Float] {
    if elementType == .int32 { return try readAll(as: Int32.self).map(Float.init) }
    return try readAll(as: Float.self)
  }
}
