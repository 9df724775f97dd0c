import Foundation

/// How the next token is chosen from the logits.
public enum Sampling: Sendable, Equatable {
  /// The most likely token (the lowest id among ties, as `torch.argmax`).
  case greedy
  /// A draw from softmax(logits / temperature), restricted to the `topK` most likely tokens when
  /// given; `seed` makes the draw reproducible.
  case sample(temperature: Float, topK: Int?, seed: UInt64)
}

/// Autoregressive generation with a KV cache: the prompt is prefilled in one call, then each new
/// token costs one position's forward pass.
public struct Generator {
  public let model: any LanguageModel
  /// When given, every MLP goes through it (a replacement model, steering); see `MLPReplacement`.
  public let replacement: (any MLPReplacement)?

  public init(model: any LanguageModel, replacement: (any MLPReplacement)? = nil) {
    self.model = model
    self.replacement = replacement
  }

  /// Generates up to `maxNewTokens` ids after `prompt`, stopping early at any id in `stopAt` (which
  /// is not returned): a chat model's turn ends at its EOS before any `<|endoftext|>`. `onToken` sees each id as it is produced, for streaming output.
  public func generate(
    prompt: [Int32], maxNewTokens: Int, sampling: Sampling, stopAt: Set<Int32>,
    onToken: ((Int32) -> Void)? = nil
  ) throws -> [Int32] {
    guard !prompt.isEmpty else { throw LanguageModelError.sequenceTooLong(tokens: 0, context: 0) }
    let context = model.description.contextLength
    guard prompt.count < context else {
      throw LanguageModelError.sequenceTooLong(tokens: prompt.count + 1, context: context)
    }
    let capacity = min(context, prompt.count + maxNewTokens)
    let cache = model.makeCache(capacity: capacity)
    var rng = SplitMix64(
      seed: { if case .sample(_, _, let seed) = sampling { return seed } else { return 0 } }())
    var logits = try model.decode(tokens: prompt, cache: cache, replacement: replacement)
    var generated: [Int32] = []
    while generated.count < maxNewTokens {
      let next = choose(logits, sampling: sampling, rng: &rng)
      if stopAt.contains(next) { break }
      generated.append(next)
      onToken?(next)
      if generated.count == maxNewTokens || cache.count >= capacity { break }
      logits = try model.decode(tokens: [next], cache: cache, replacement: replacement)
    }
    return generated
  }

  func choose(_ logits: [Float], sampling: Sampling, rng: inout SplitMix64) -> Int32 {
    switch sampling {
    case .greedy:
      return Int32(argmax(logits))
    case .sample(let temperature, let topK, _):
      if temperature <= 0 { return Int32(argmax(logits)) }
      var candidates = Array(logits.indices)
      if let topK, topK > 0, topK < logits.count {
        candidates = Array(candidates.sorted { logits[$0] > logits[$1] }.prefix(topK))
      }
      let top = candidates.map { logits[$0] }.max()!
      let weights = candidates.map { Double(expf((logits[$0] - top) / temperature)) }
      var u = rng.nextUnitDouble() * weights.reduce(0, +)
      for (index, weight) in zip(candidates, weights) {
        u -= weight
        if u <= 0 { return Int32(index) }
      }
      return Int32(candidates.last!)
    }
  }
}

/// Index of the largest value, the first among ties.
public func argmax(_ values: [Float]) -> Int {
  var best = 0
  for i in values.indices where values[i] > values[best] { best = i }
  return best
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny seeded generator, so that sampling is
/// reproducible across runs and platforms.
public struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// A uniform double in [0, 1).
  public mutating func nextUnitDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
