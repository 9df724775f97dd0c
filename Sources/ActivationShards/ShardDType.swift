/// The element type of `mlp_in`/`mlp_out` in a shard.
///
/// float16 halves disk use and read bandwidth for training; its ~3 significant digits are ample
/// for activations. float32 is kept for exact comparisons and debugging.
public enum ShardDType: String, Sendable, CaseIterable {
  case f16
  case f32
}
