/// A node of an attribution graph (Ameisen et al. 2025, §2.3).
public enum AttributionNode: Equatable, Sendable {
  /// An active transcoder feature: its layer, position, index in the layer and activation.
  case feature(layer: Int, position: Int, index: Int, activation: Float)
  /// The reconstruction error of one layer's MLP at one position (what the transcoder misses).
  case error(layer: Int, position: Int)
  /// The token embedding at one position.
  case embedding(position: Int, token: Int32)
  /// A logit at the last position: the token and the model's probability for it.
  case logit(token: Int, probability: Float)

  /// An identifier unique within a graph, in circuit-tracer's style: features
  /// `{layer}_{feature}_{position}`, errors `err_{layer}_{position}`, embeddings
  /// `E_{token}_{position}`, logits `L_{token}_{position}` (the prefixes keep the kinds apart).
  public func id(lastPosition: Int) -> String {
    switch self {
    case .feature(let layer, let position, let index, _): return "\(layer)_\(index)_\(position)"
    case .error(let layer, let position): return "err_\(layer)_\(position)"
    case .embedding(let position, let token): return "E_\(token)_\(position)"
    case .logit(let token, _): return "L_\(token)_\(lastPosition)"
    }
  }
}
