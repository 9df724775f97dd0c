import Foundation
import Transcoder

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
  /// The outlier tokens of each layer and the weight of their errors, where `outputScales` were
  /// set without them (nil: every token set them, and every token's error weighs 1).
  public var outliers: OutlierWeights?

  public init(inputScales: [Float], outputScales: [Float], outliers: OutlierWeights? = nil) {
    self.inputScales = inputScales
    self.outputScales = outputScales
    self.outliers = outliers
  }

  /// Scales from per-layer mean squared norms; a layer that is all zeros keeps scale 1.
  public init(meanSquaredInputNorms: [Double], meanSquaredOutputNorms: [Double], dModel: Int) {
    let scale = { Self.scale(meanSquaredNorm: $0, dModel: dModel) }
    self.init(
      inputScales: meanSquaredInputNorms.map(scale), outputScales: meanSquaredOutputNorms.map(scale))
  }

  /// √(d / m), the scale that brings a mean squared norm m to d; 1 for an all-zero layer.
  static func scale(meanSquaredNorm m: Double, dModel: Int) -> Float {
    m > 0 ? Float((Double(dModel) / m).squareRoot()) : 1
  }

  /// Scales from per-layer mean squared input norms and each output row's squared norm,
  /// `outputRowSquares[l][n]` = ‖y[l]_n‖² in raw units, with the outlier tokens of each layer set
  /// apart: the rows whose squared norm is above `outlierFactor` (≥ 1; 0: none) × the layer's median.
  ///
  /// Massive activations (Sun et al. 2024) make a few tokens' MLP outputs thousands of times the
  /// others' at some layers, at sink tokens such as a newline or a document's end. An all-token
  /// mean squared norm is then theirs, and scaling by it shrinks the other tokens' targets in
  /// that layer to almost nothing, so that the loss ignores them (SmolLM2-135M's layer 11: 0.2% of
  /// tokens hold 99.7% of the energy, and a CLT trained so reconstructed the other tokens with NMSE
  /// 1.5, worse than their mean). Here s_out[l] comes from the other rows, E_typical, and an
  /// outlier's squared error is weighted by E_typical / E_all: exactly what it weighed under the
  /// all-token scale. A layer without outliers gets the scale and weights it always had.
  public init(
    meanSquaredInputNorms: [Double], outputRowSquares: [[Float]], dModel: Int, outlierFactor: Double
  ) {
    let d = Double(dModel)
    let scale = { Self.scale(meanSquaredNorm: $0, dModel: dModel) }
    var outputScales: [Float] = []
    var thresholds: [Float] = []
    var weights: [Float] = []
    for rows in outputRowSquares {
      let all = rows.reduce(0) { $0 + Double($1) } / Double(max(rows.count, 1))
      let median = rows.isEmpty ? 0 : Double(rows.sorted()[rows.count / 2])
      let bound = outlierFactor * median
      let typicalRows = rows.filter { Double($0) <= bound }
      // With a factor of at least 1 the typical rows are at least half, and their mean is > 0.
      guard outlierFactor >= 1, median > 0, typicalRows.count < rows.count else {
        outputScales.append(scale(all))
        thresholds.append(.infinity)
        weights.append(1)
        continue
      }
      let typical = typicalRows.reduce(0) { $0 + Double($1) } / Double(typicalRows.count)
      outputScales.append(scale(typical))
      thresholds.append(Float(bound * d / typical))
      weights.append(Float(typical / all))
    }
    self.init(
      inputScales: meanSquaredInputNorms.map(scale), outputScales: outputScales,
      outliers: thresholds.allSatisfy(\.isInfinite)
        ? nil : OutlierWeights(thresholds: thresholds, weights: weights))
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
