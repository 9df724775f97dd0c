import Foundation

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

  /// w[l] ∝ (E‖y[l]‖²)^p, the raw mean squared norm of layer l's outputs (d / s_out[l]², what the
  /// scales were made from) to the power p, normalised to a mean of 1 over the layers so that the
  /// MSE term keeps its size beside λ and the learning rate; nil for p = 0 (every layer 1). p = 1
  /// weighs each layer's normalised error by its raw size, so the loss is the raw-unit MSE of the
  /// whole residual-stream contribution (up to one factor); 0 < p < 1 goes part of the way.
  public func lossWeights(exponent p: Double) -> [Float]? {
    guard p != 0, !outputScales.isEmpty else { return nil }
    // (1 / s²)^p = s^(−2p); d cancels in the normalisation.
    let raw = outputScales.map { Foundation.pow(Double($0), -2 * p) }
    let mean = raw.reduce(0, +) / Double(raw.count)
    guard mean > 0, mean.isFinite else { return nil }
    return raw.map { Float($0 / mean) }
  }
}
