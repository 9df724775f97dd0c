import Foundation

/// A wall-clock budget for a training run (`clt-fit --time-limit 2h`).
///
/// Researchers plan runs in hours, not steps, and the step time depends on the machine and on
/// whatever else runs on it. The run keeps its planned `--steps` as long as the measured pace
/// says they fit; once they do not, the plan is shortened to the steps that do
/// (`CLTTrainer.limit(toSteps:)`), so the learning-rate decay and λ's warm-up still complete
/// inside the budget instead of the run being cut off at full learning rate.
public struct TrainingTimeLimit: Sendable, Equatable {
  public let seconds: Double

  public init(seconds: Double) {
    precondition(seconds > 0, "a time limit is positive")
    self.seconds = seconds
  }

  /// Parses "7200", "90s", "45m", "2h" or "1.5h".
  public init(parsing text: String) throws {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
    var number = Substring(text.trimmingCharacters(in: .whitespaces))
    var unit = 1.0
    if let last = number.last, let factor = units[last] {
      unit = factor
      number = number.dropLast()
    }
    guard let value = Double(number), value.isFinite, value > 0 else {
      throw TrainingError.invalidTimeLimit(text)
    }
    self.init(seconds: value * unit)
  }

  /// The last step that fits: `currentStep` plus as many more steps as the time left holds at
  /// the pace measured so far.
  /// - Parameters:
  ///   - elapsed: seconds since the run started, set-up included (the limit counts from there).
  ///   - trainingSeconds: seconds spent in the `stepsTaken` steps of this process, checkpoints
  ///     and shard loading between them included; set-up is left out of the pace, as it is paid
  ///     once. Nil until three steps have been taken: the first is slow (page faults, threads
  ///     starting), and a plan shortened on it would end the run early for nothing.
  public func lastStepThatFits(
    elapsed: Double, trainingSeconds: Double, stepsTaken: Int, currentStep: Int
  ) -> Int? {
    guard stepsTaken >= 3, trainingSeconds > 0 else { return nil }
    let pace = trainingSeconds / Double(stepsTaken)
    let remaining = max(0, seconds - elapsed)
    return currentStep + Int((remaining / pace).rounded(.down))
  }
}
