/// Per-layer reconstruction quality of a transcoder over a text: NMSE and L0, accumulated token by
/// token so that any amount of text fits.
///
/// NMSE[l] = Σ‖y − ŷ‖² / Σ‖y − ȳ‖², ȳ the mean MLP output over the tokens seen (as `clt-fit`'s
/// metrics): 0 is a perfect reconstruction, 1 no better than predicting the mean.
/// L0[l] = mean number of layer-l features active per token.
public final class ReconstructionStatistics {
  public let nLayers: Int
  public let dModel: Int
  private(set) var tokens: [Int]
  private var squaredErrors: [Double]
  private var squaredNorms: [Double]
  private var sums: [[Double]]
  private var activeFeatures: [Int]

  public init(nLayers: Int, dModel: Int) {
    self.nLayers = nLayers
    self.dModel = dModel
    tokens = Array(repeating: 0, count: nLayers)
    squaredErrors = Array(repeating: 0, count: nLayers)
    squaredNorms = Array(repeating: 0, count: nLayers)
    sums = Array(repeating: Array(repeating: 0, count: dModel), count: nLayers)
    activeFeatures = Array(repeating: 0, count: nLayers)
  }

  /// Adds one token of layer `layer`: its MLP output y and reconstruction ŷ (dModel each, same
  /// units) and how many features fired.
  public func add(
    layer: Int, output y: UnsafePointer<Float>, reconstruction yHat: UnsafePointer<Float>, active: Int
  ) {
    var error = 0.0
    var norm = 0.0
    for j in 0..<dModel {
      let v = Double(y[j])
      let e = v - Double(yHat[j])
      error += e * e
      norm += v * v
      sums[layer][j] += v
    }
    squaredErrors[layer] += error
    squaredNorms[layer] += norm
    activeFeatures[layer] += active
    tokens[layer] += 1
  }

  /// NMSE per layer; NaN for a layer with no tokens or whose outputs did not vary.
  public var nmse: [Double] {
    (0..<nLayers).map { l in
      let n = Double(tokens[l])
      let meanSquare = sums[l].reduce(0) { $0 + $1 * $1 } / max(n, 1)
      return normalizedMSE(squaredError: squaredErrors[l], squaredNorm: squaredNorms[l], meanTerm: meanSquare)
    }
  }

  /// Mean active features per token, per layer.
  public var l0: [Double] {
    (0..<nLayers).map { Double(activeFeatures[$0]) / Double(max(tokens[$0], 1)) }
  }
}

/// Σ‖y − ŷ‖² / Σ‖y − ȳ‖², from Σ‖y − ŷ‖², Σ‖y‖² and N‖ȳ‖² (= ‖Σy‖² / N), since
/// Σ‖y − ȳ‖² = Σ‖y‖² − N‖ȳ‖². NaN when the outputs have no variance.
public func normalizedMSE(squaredError: Double, squaredNorm: Double, meanTerm: Double) -> Double {
  let variance = squaredNorm - meanTerm
  return variance > 0 ? squaredError / variance : .nan
}
