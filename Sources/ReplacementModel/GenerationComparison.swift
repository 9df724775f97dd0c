import LanguageModels

/// Step by step, how the replacement model's next-token distribution compares with the original
/// model's along one continuation (teacher forcing: both see the same prefix at every step, so a
/// single early disagreement does not make every later step differ).
public struct GenerationComparison: Sendable, Equatable {
  /// Per step: whether both models' most likely next token is the same.
  public var agreements: [Bool]
  /// Per step: KL(original ‖ replacement) of the next-token distributions, nats.
  public var kl: [Double]

  /// Runs `prompt + continuation` (but its last token, which predicts nothing scored) through the
  /// model with and without `replacement` and compares the predictions of each continuation token.
  public init(
    model: any LanguageModel, replacement: any MLPReplacement, prompt: [Int32], continuation: [Int32]
  ) throws {
    agreements = []
    kl = []
    guard !continuation.isEmpty, !prompt.isEmpty else { return }
    let tokens = prompt + continuation.dropLast()
    let v = model.description.vocabularySize
    let original = try model.forward(
      tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
    let replaced = try model.forward(
      tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true, replacement: replacement
    )
    for row in prompt.count - 1..<tokens.count {
      let p = original[row * v..<(row + 1) * v]
      let q = replaced[row * v..<(row + 1) * v]
      agreements.append(argmaxIndex(p) == argmaxIndex(q))
      kl.append(klDivergence(logSoftmax(p), logSoftmax(q)))
    }
  }

  /// Fraction of steps whose top-1 tokens agree (NaN with no steps).
  public var meanAgreement: Double {
    agreements.isEmpty ? .nan : Double(agreements.filter { $0 }.count) / Double(agreements.count)
  }

  /// Mean KL per step (NaN with no steps).
  public var meanKL: Double { kl.isEmpty ? .nan : kl.reduce(0, +) / Double(kl.count) }
}
