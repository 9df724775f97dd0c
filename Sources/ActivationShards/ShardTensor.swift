/// The two activation datasets of a shard.
public enum ShardTensor: String, Sendable, CaseIterable {
  /// `mlp_in`: what each layer's MLP reads (see the `input_tap` attribute).
  case mlpIn = "mlp_in"
  /// `mlp_out`: what each layer's MLP writes (see the `output_tap` attribute).
  case mlpOut = "mlp_out"

  /// The dataset name in the shard.
  public var datasetName: String { rawValue }
}
