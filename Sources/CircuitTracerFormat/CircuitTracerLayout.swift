import Foundation

/// circuit-tracer's on-disk CLT layout (`circuit_tracer/transcoder/cross_layer_transcoder.py`:
/// `CrossLayerTranscoder.to_safetensors` writes it, `load_clt` / `_load_state_dict` read it), one
/// folder holding, for each layer i of L:
/// - `W_enc_{i}.safetensors`: `W_enc_{i}` (d_transcoder, d_model), `b_enc_{i}` (d_transcoder),
///   `b_dec_{i}` (d_model, the output bias of layer i), and `threshold_{i}` (d_transcoder) when the
///   activation is a JumpReLU (a file without thresholds loads as a ReLU);
/// - `W_dec_{i}.safetensors`: `W_dec_{i}` (d_transcoder, L − i, d_model), where
///   `W_dec_{i}[f, j, :]` is feature f's decoder vector into layer i + j;
/// and `config.yaml` (`CircuitTracerConfig`). The layer count is the number of `W_enc_*.safetensors`
/// files; the activation is a = h · 1[h > θ] with h = x · W_encᵀ + b_enc.
public enum CircuitTracerLayout {
  public static func encoderFile(_ layer: Int) -> String { "W_enc_\(layer).safetensors" }
  public static func decoderFile(_ layer: Int) -> String { "W_dec_\(layer).safetensors" }
  public static let configFile = "config.yaml"

  // MARK: - Hooks

  /// The hook written on export for the features' input: circuit-tracer's `ReplacementMLP` wraps
  /// every block's MLP with `hook_in` and `hook_out`, so `blocks.{l}.mlp.hook_in` is exactly the
  /// tensor the MLP reads (after ln_2 / post_attention_layernorm, weight and bias applied) in both
  /// of our families; its NNSight mappings map `mlp.hook_in` to the output of Llama's
  /// post_attention_layernorm likewise (`circuit_tracer/utils/tl_nnsight_mapping.py`).
  public static let mlpInputHook = "mlp.hook_in"
  /// The hook written for the features' output: the MLP's output before the residual add.
  public static let mlpOutputHook = "mlp.hook_out"

  /// Input hooks that name exactly CLTKit's MLP-input tap for `architecture`. For GPT-2,
  /// TransformerLens's `ln2.hook_normalized` is taken after LayerNorm's weight and bias, so it is
  /// the MLP input too; for Llama it is not (RMSNorm's `hook_normalized` comes before the weight).
  public static func inputHooks(architecture: String) -> [String] {
    architecture == "gpt2" ? [mlpInputHook, "ln2.hook_normalized"] : [mlpInputHook]
  }

  /// Output hooks that name the MLP output in both families (neither has a norm after the MLP, so
  /// TransformerLens's `hook_mlp_out` is the MLP's output as it is).
  public static let outputHooks = [mlpOutputHook, "hook_mlp_out"]
}
