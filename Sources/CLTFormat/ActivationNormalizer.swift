/// Per-layer scalars that bring inputs and targets to a mean squared norm of d_model.
///
/// MLP activations differ in size by orders of magnitude across layers (late layers of GPT-2 are
/// far larger than early ones), so without this one λ and one learning rate cannot suit every
/// layer, and the MSE would be dominated by the largest layers. Following Ameisen et al., each
/// layer's x[l] is multiplied by s_in[l] = √(d / E‖x[l]‖²) and each y[l] by s_out[l] =
/// √(d / E‖y[l]‖²), estimated once from the first data and then fixed. The transcoder is trained
/// on the scaled values; at inference x is scaled by s_in and the reconstruction divided by s_out,
/// which is why both are stored in clt.h5 (`input_scale`, `output_scale`).
public struct ActivationNormalizer: Sendable, Equatable {
  /// s_in[l], one per layer.
  public var inputScales: [Float]
  /// s_out[l], one per layer.
  public var outputScales: [Float]

  public init(inputScales: [Float], outputScales: [Float]) {
    self.inputScales = inputScales
    self.outputScales = outputScales
  }

  /// Scales from per-layer mean squared norms; a layer that is all zeros keeps scale 1.
  public init(meanSquaredInputNorms: [Double], meanSquaredOutputNorms: [Double], dModel: Int) {
    func scale(_ m: Double) -> Float { m > 0 ? Float((Double(dModel) / m).squareRoot()) : 1 }
    self.init(
      inputScales: meanSquaredInputNorms.map(scale), outputScales: meanSquaredOutputNorms.map(scale))
  }
}
