import Foundation

/// The leading principal components of a set of points, by power iteration on the covariance
/// without forming it: C·v = Xcᵀ(Xc·v) / (n − 1), where Xc is the centred (n, dim) data, costs
/// O(n · dim) a step, so the decoder directions of a whole layer (n = F, dim = d or d·(L − l))
/// need no dim × dim matrix. Each later component is found on the data with the earlier ones
/// deflated (projected out), as in Golub & Van Loan's treatment of the power method.
public struct PrincipalComponents {
  /// components[k]: unit vector of length dim.
  public var components: [[Double]]
  /// The variance along each component (its covariance eigenvalue).
  public var variances: [Double]
  /// The total variance (trace of the covariance): the denominators of explained fractions.
  public var totalVariance: Double
  /// projections[i][k]: point i's coordinate along component k.
  public var projections: [[Double]]

  /// The fraction of the total variance along each component.
  public var explained: [Double] { variances.map { totalVariance > 0 ? $0 / totalVariance : 0 } }

  /// - Parameters:
  ///   - points: (n, dim) row-major.
  ///   - count: components wanted (at most dim).
  ///   - iterations: power steps at most per component; stops earlier once the direction settles.
  public init(points: [Float], n: Int, dim: Int, count: Int = 2, iterations: Int = 500) {
    precondition(points.count == n * dim && n > 0 && dim > 0, "points must be n × dim")
    var mean = [Double](repeating: 0, count: dim)
    for i in 0..<n { for j in 0..<dim { mean[j] += Double(points[i * dim + j]) } }
    for j in 0..<dim { mean[j] /= Double(n) }
    // The centred data kept in Float: a SmolLM2 layer's concatenated decoder rows are 70 M values.
    var x = [Float](repeating: 0, count: n * dim)
    var total = 0.0
    for i in 0..<n {
      for j in 0..<dim {
        let v = Double(points[i * dim + j]) - mean[j]
        x[i * dim + j] = Float(v)
        total += v * v
      }
    }
    let denominator = Double(max(n - 1, 1))
    totalVariance = total / denominator
    var components: [[Double]] = []
    var variances: [Double] = []
    var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<min(count, dim) {
      var v = (0..<dim).map { _ -> Double in
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(rng >> 11) / Double(1 << 53) - 0.5
      }
      var lambda = 0.0
      for _ in 0..<iterations {
        for c in components { Self.orthogonalise(&v, against: c) }
        guard Self.normalise(&v) > 0 else { break }
        var w = Self.covarianceTimes(v, x: x, n: n, dim: dim, denominator: denominator)
        for c in components { Self.orthogonalise(&w, against: c) }
        lambda = zip(v, w).reduce(0) { $0 + $1.0 * $1.1 }
        let norm = Self.normalise(&w)
        guard norm > 0 else {
          lambda = 0
          break
        }
        let change = zip(v, w).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        v = w
        if change < 1e-12 { break }  // the direction moved by under 1e-6: enough for a scatter
      }
      components.append(v)
      variances.append(max(lambda, 0))
    }
    self.components = components
    self.variances = variances
    projections = (0..<n).map { i in
      components.map { c in (0..<dim).reduce(0) { $0 + Double(x[i * dim + $1]) * c[$1] } }
    }
  }

  /// C·v for the covariance of the centred rows x (n, dim).
  static func covarianceTimes(_ v: [Double], x: [Float], n: Int, dim: Int, denominator: Double) -> [Double] {
    var out = [Double](repeating: 0, count: dim)
    x.withUnsafeBufferPointer { x in
      for i in 0..<n {
        let row = x.baseAddress! + i * dim
        var s = 0.0
        for j in 0..<dim { s += Double(row[j]) * v[j] }
        for j in 0..<dim { out[j] += s * Double(row[j]) }
      }
    }
    for j in 0..<dim { out[j] /= denominator }
    return out
  }

  static func orthogonalise(_ v: inout [Double], against c: [Double]) {
    let dot = zip(v, c).reduce(0) { $0 + $1.0 * $1.1 }
    for j in v.indices { v[j] -= dot * c[j] }
  }

  /// Scales v to unit length and returns its former length.
  @discardableResult
  static func normalise(_ v: inout [Double]) -> Double {
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    if norm > 0 { for j in v.indices { v[j] /= norm } }
    return norm
  }
}
