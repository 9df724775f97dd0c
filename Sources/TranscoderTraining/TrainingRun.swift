import Collectives
import Foundation

/// The step loop of one training run, as `clt-fit` drives it: the time budget (every process
/// follows the slowest, so all stop after the same step), a checkpoint every N steps and on a
/// signal (the processes agree on the signal, so all stop together), the `--log` lines, progress,
/// and the figures `--timing` reports. A type of its own, apart from the tool, so that tests reach
/// the loop without a subprocess and the tool only parses options and reports.
public final class TrainingRun {
  /// Totals over the timed steps: every step but the first, a warm-up (page faults, threads
  /// starting), as the PyTorch references in `make bench` leave out their first batch.
  public struct Timing: Sendable {
    public var tokens = 0
    /// The forward, backward and update phases together.
    public var seconds = 0.0
    /// Whole steps, with the sampling and the metrics' reductions the phases leave out.
    public var wallSeconds = 0.0
    public var phaseSeconds = [0.0, 0.0, 0.0]
    public var meanL0Sum = 0.0
    public var steps = 0
  }

  /// How the loop ended.
  public enum Outcome: Equatable, Sendable {
    /// Every planned step was taken, or consumed shards ran out (`CLTTrainer.isOutOfData`).
    case finished
    /// A signal arrived; the checkpoint is written and the run can be resumed from it.
    case interrupted(signal: Int32)
  }

  public let trainer: CLTTrainer
  /// Where checkpoints go (each process of a feature-sharded run writes its own slice).
  public let checkpointURL: URL
  public let createdBy: String
  /// Shortens the plan to the steps that fit, measured from `processStart`.
  public var budget: TrainingTimeLimit?
  public var processStart = Date()
  public var checkpointEvery: Int?
  /// Receives one JSON line of `StepMetrics` every `logEvery` steps and at the last.
  public var log: FileHandle?
  public var logEvery = 10
  /// The signal received so far, if any (`InterruptRequest.received`).
  public var interruptReceived: () -> Int32? = { nil }
  /// Called with each step's metrics and the tokens per second since the start, at most every
  /// `progressInterval` seconds and after the last step.
  public var onProgress: ((StepMetrics, Double) -> Void)?
  public var progressInterval: TimeInterval = 2
  public private(set) var timing = Timing()
  /// The last step's metrics.
  public private(set) var lastMetrics: StepMetrics?

  public init(trainer: CLTTrainer, checkpointURL: URL, createdBy: String) {
    self.trainer = trainer
    self.checkpointURL = checkpointURL
    self.createdBy = createdBy
  }

  /// Takes the steps until the plan is done, the consumed shards run out or a signal arrives.
  public func run() throws -> Outcome {
    let group = trainer.communicator
    // The last step may have started reading a batch that no step will take; the caller may close
    // the stream once this returns.
    defer { trainer.finishReadingAhead() }
    let started = Date()
    let startTokens = trainer.tokensSeen
    let startStep = trainer.step
    var lastProgress = Date.distantPast
    while !trainer.isFinished {
      let stepStart = Date()
      guard let metrics = try trainer.trainStep() else { break }
      if let budget {
        let fit = budget.lastStepThatFits(
          elapsed: Date().timeIntervalSince(processStart), trainingSeconds: Date().timeIntervalSince(started),
          stepsTaken: trainer.step - startStep, currentStep: trainer.step)
        let agreed = try group.minimum(Int64(fit ?? Int.max))
        if agreed < Int.max { trainer.limit(toSteps: Int(agreed)) }
      }
      if lastMetrics != nil { record(metrics, wallSeconds: Date().timeIntervalSince(stepStart)) }
      lastMetrics = metrics
      if let log, metrics.step % logEvery == 0 || trainer.isFinished {
        log.write(Data((metrics.jsonLine + "\n").utf8))
      }
      if let onProgress, Date().timeIntervalSince(lastProgress) >= progressInterval || trainer.isFinished {
        lastProgress = Date()
        onProgress(
          metrics, Double(metrics.tokensSeen - startTokens) / max(Date().timeIntervalSince(started), 1e-9))
      }
      // A signal reaches the processes at different steps; they agree on it so all stop here.
      let signal = Int32(try group.maximum(Int64(interruptReceived() ?? 0)))
      if signal != 0 {
        try trainer.checkpoint(to: checkpointURL, createdBy: createdBy)
        return .interrupted(signal: signal)
      }
      if let every = checkpointEvery, metrics.step % every == 0, !trainer.isFinished {
        try trainer.checkpoint(to: checkpointURL, createdBy: createdBy)
      }
    }
    return .finished
  }

  private func record(_ metrics: StepMetrics, wallSeconds: Double) {
    timing.tokens += trainer.configuration.batch
    timing.seconds += metrics.phaseSeconds.reduce(0, +)
    timing.wallSeconds += wallSeconds
    timing.phaseSeconds = zip(timing.phaseSeconds, metrics.phaseSeconds).map(+)
    timing.meanL0Sum += metrics.meanL0
    timing.steps += 1
  }
}
