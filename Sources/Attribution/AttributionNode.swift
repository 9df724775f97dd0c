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

  /// An identifier unique within a graph, circuit-tracer's `node_id` (`circuit_tracer/frontend/
  /// graph_models.py`, `Node.*_node`): features `{layer}_{feature}_{position}`, errors
  /// `{layer}_-1_{position}` (feature −1 is never a real index), embeddings `E_{token}_{position}`,
  /// logits `{nLayers + 1}_{token}_{position}`.
  public func id(nLayers: Int, lastPosition: Int) -> String {
    switch self {
    case .feature(let layer, let position, let index, _): return "\(layer)_\(index)_\(position)"
    case .error(let layer, let position): return "\(layer)_-1_\(position)"
    case .embedding(let position, let token): return "E_\(token)_\(position)"
    case .logit(let token, _): return "\(nLayers + 1)_\(token)_\(lastPosition)"
    }
  }

  /// circuit-tracer's `jsNodeId`, the id its graph frontend keys nodes by: features
  /// `{layer}_{feature}-0`, errors `{layer}_-1-{position}`, embeddings `E_{token}-{position}`,
  /// logits `L_{token}-{position}`.
  public func jsNodeID(lastPosition: Int) -> String {
    switch self {
    case .feature(let layer, _, let index, _): return "\(layer)_\(index)-0"
    case .error(let layer, let position): return "\(layer)_-1-\(position)"
    case .embedding(let position, let token): return "E_\(token)-\(position)"
    case .logit(let token, _): return "L_\(token)-\(lastPosition)"
    }
  }
}
