/// Which norm of a pre-norm transformer: a layer's attention norm or MLP norm, or the final norm.
public enum NormSite: Sendable, Equatable {
  case attention(layer: Int)
  case mlp(layer: Int)
  case final
}

/// Watches one forward pass from inside the block, without running any of it again: attribution
/// records what the local replacement model freezes (every norm's 1/σ, every attention pattern)
/// and the MLP activations the transcoder reads, from the very pass that computes the logits.
///
/// The model calls these in the order the pass computes them: `embedded`, then per layer in
/// increasing order `normalized(.attention)`, `attended` (once per window), `normalized(.mlp)` and
/// `mlpComputed`, and `normalized(.final)` when it computes logits. The pointers are the model's
/// scratch: copy what you keep. The default implementations ignore everything.
public protocol ForwardObserver: AnyObject {
  /// The embeddings x0, (rows, dModel).
  func embedded(_ x: UnsafePointer<Float>, rows: Int)

  /// 1/σ of each row the norm at `site` normalised, (rows). For `.final` in a cached decode call,
  /// only the last row is normalised (the logits returned are the last row's).
  func normalized(_ site: NormSite, rstd: UnsafePointer<Float>, rows: Int)

  /// Whether `attended` is wanted: keeping the probabilities costs heads · rows · keys floats.
  var observesAttention: Bool { get }

  /// The softmax probabilities of window `window` at layer `layer`, (heads, queries, keys): query
  /// row i sits at position keys − queries + i and is zero above its causal diagonal.
  func attended(layer: Int, window: Int, probabilities: UnsafePointer<Float>, queries: Int, keys: Int)

  /// The MLP's input and the output that joins the residual stream (after any `MLPReplacement`),
  /// (rows, dModel) each.
  func mlpComputed(layer: Int, input: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int)
}

extension ForwardObserver {
  public func embedded(_ x: UnsafePointer<Float>, rows: Int) {}
  public func normalized(_ site: NormSite, rstd: UnsafePointer<Float>, rows: Int) {}
  public var observesAttention: Bool { false }
  public func attended(layer: Int, window: Int, probabilities: UnsafePointer<Float>, queries: Int, keys: Int)
  {}
  public func mlpComputed(layer: Int, input: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int) {}
}
