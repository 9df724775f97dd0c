import CLTFormat
import Foundation

/// Cross-layer correlations of feature activations (from `clt-encode`): an L × L matrix whose
/// entry (a, b) is the Pearson correlation, over the tokens of the input, between layer a's and
/// layer b's per-token activation mass — the sum of the activations of the layer's active features
/// on that token (or, with `.count`, how many of its features are active, its L0).
///
/// Features of different layers live in different dictionaries, so their activation vectors
/// cannot be compared directly; their per-token totals can, and a high correlation says that the
/// two layers' features light up on the same tokens. An entry is undefined (grey, n/a) when a
/// layer's total is the same on every token. What `clt-encode --top`/`--min-activation` cut away
/// is not counted.
public struct LayerCorrelation {
  public enum Measure: String, Sendable, CaseIterable {
    case mass, count
  }

  public var matrix: [[Double]]
  public var measure: Measure
  public var tokens: Int
  public var source: String

  /// - Parameters:
  ///   - layers: the number of layers; default one more than the highest layer in the input.
  public init(tokens: [TokenFeatures], measure: Measure, layers: Int? = nil, source: String) {
    var moments = Moments(layers: layers)
    for token in tokens { moments.add(token, measure: measure) }
    self.init(moments: moments, measure: measure, source: source)
  }

  /// The matrix of a clt-encode file read as a stream: memory grows with L², not with the tokens.
  public init(path: String, measure: Measure, layers: Int? = nil) throws {
    var moments = Moments(layers: layers)
    try TokenFeatures.forEach(path) { token in
      moments.add(token, measure: measure)
      return true
    }
    guard moments.count > 0 else { throw PlotError.emptyInput(file: path, what: "clt-encode lines") }
    self.init(moments: moments, measure: measure, source: path)
  }

  init(moments: Moments, measure: Measure, source: String) {
    let l = moments.sums.count
    matrix = (0..<l).map { a in (0..<l).map { b in moments.correlation(a, b) } }
    self.measure = measure
    tokens = moments.count
    self.source = source
  }

  /// Running sums over tokens of each layer's total and of the products of every pair of layers'
  /// totals: all that Pearson's r needs, so any number of tokens can stream past.
  struct Moments {
    let fixedLayers: Int?
    var count = 0
    var sums: [Double]
    var products: [[Double]]

    init(layers: Int?) {
      fixedLayers = layers
      sums = [Double](repeating: 0, count: layers ?? 0)
      products = [[Double]](repeating: sums, count: layers ?? 0)
    }

    mutating func add(_ token: TokenFeatures, measure: Measure) {
      let highest = token.features.map(\.layer).max() ?? -1
      let l = fixedLayers ?? max(sums.count, highest + 1)
      if l > sums.count {
        sums += [Double](repeating: 0, count: l - sums.count)
        for a in products.indices { products[a] += [Double](repeating: 0, count: l - products[a].count) }
        products += [[Double]](repeating: [Double](repeating: 0, count: l), count: l - products.count)
      }
      var totals = [Double](repeating: 0, count: l)
      for f in token.features where f.layer >= 0 && f.layer < l {
        totals[f.layer] += measure == .mass ? Double(f.activation) : 1
      }
      count += 1
      for a in 0..<l where totals[a] != 0 {
        sums[a] += totals[a]
        for b in 0..<l where totals[b] != 0 { products[a][b] += totals[a] * totals[b] }
      }
    }

    /// Pearson's r of layers a and b over the tokens; NaN when either is constant.
    func correlation(_ a: Int, _ b: Int) -> Double {
      guard count > 1 else { return .nan }
      let n = Double(count)
      let (ma, mb) = (sums[a] / n, sums[b] / n)
      let covariance = products[a][b] / n - ma * mb
      let va = products[a][a] / n - ma * ma
      let vb = products[b][b] / n - mb * mb
      let scale = max(products[a][a], products[b][b]) / n
      guard va > 1e-12 * scale && vb > 1e-12 * scale else { return .nan }
      return min(max(covariance / (va * vb).squareRoot(), -1), 1)
    }
  }

  public func svg() -> String {
    let l = matrix.count
    let cell = max(16.0, min(40.0, 480.0 / Double(max(l, 1))))
    let (left, top) = (70.0, 90.0)
    let what =
      measure == .mass ? "activation mass (sum of active features' activations)" : "active-feature count (L0)"
    var svg = SVGDocument(
      width: max(left + Double(l) * cell + 120, 720), height: top + Double(l) * cell + 60,
      title: "Cross-layer correlation of per-token \(measure == .mass ? "activation mass" : "L0")",
      summary:
        "From \(source), \(tokens) tokens. Entry (row a, column b): Pearson correlation over tokens between layer a's "
        + "and layer b's per-token \(what). Blue negative, red positive; grey: undefined (a layer constant on every token)."
    )
    svg.heading(
      subtitle:
        "\(SVGDocument.fileName(source)): Pearson r over \(tokens) tokens of each layer's per-token \(what)")
    let scale = ColorScale.diverging(limit: 1)
    svg.beginGroup(className: "cells", label: "correlations")
    for a in 0..<l {
      for b in 0..<l {
        let r = matrix[a][b]
        svg.rect(
          x: left + Double(b) * cell, y: top + Double(a) * cell, width: cell - 1, height: cell - 1,
          fill: scale.color(r), className: "cell",
          tooltip: "layer \(a) × layer \(b): r = \(r.isFinite ? Axis.trimmed(r) : "n/a")")
        if cell >= 28 {
          svg.text(
            r.isFinite ? String(format: "%.2f", r) : "n/a", x: left + (Double(b) + 0.5) * cell - 0.5,
            y: top + (Double(a) + 0.5) * cell + 3, size: 8.5, anchor: .middle,
            fill: abs(r) > 0.6 ? "#fff" : "#222")
        }
      }
    }
    svg.endGroup()
    for i in 0..<l {
      svg.text(
        "\(i)", x: left - 6, y: top + (Double(i) + 0.5) * cell + 3.5, size: 10, anchor: .end,
        className: "row-label")
      svg.text(
        "\(i)", x: left + (Double(i) + 0.5) * cell, y: top - 6, size: 10, anchor: .middle,
        className: "column-label")
    }
    svg.text("layer b", x: left + Double(l) * cell / 2, y: top - 22, size: 11, anchor: .middle)
    svg.text("layer a", x: left - 36, y: top + Double(l) * cell / 2, size: 11, anchor: .middle, rotate: -90)
    scale.drawLegend(
      in: &svg, x: left + Double(l) * cell + 24, y: top + 10,
      height: min(200, max(80, Double(l) * cell - 20)),
      caption: "Pearson r")
    return svg.render()
  }
}
