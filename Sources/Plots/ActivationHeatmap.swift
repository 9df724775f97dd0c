import CLTFormat
import Foundation

/// A token × feature heatmap of one text's activations (from `clt-encode`): one row per token,
/// labelled with its position and text; one column per feature among those that fire most on the
/// text, labelled `L{layer}/F{feature}`; the cell's colour is the activation (white: silent).
///
/// "Fire most" ranks features by their summed activation over the text's tokens, so a feature
/// strong on a few tokens and one weak on many can both make it; ties go to the lower layer, then
/// the lower index. Columns are ordered by layer, then feature, so the picture reads bottom-up
/// through the model from left to right.
public struct ActivationHeatmap {
  public var tokens: [TokenFeatures]
  public var columns: [FeatureKey]
  /// values[row][column]: the activation, 0 where the feature was silent (or cut by --top).
  public var values: [[Double]]
  public var source: String

  /// - Parameters:
  ///   - tokens: one document's tokens, in order.
  ///   - maxFeatures: the number of columns at most.
  public init(tokens: [TokenFeatures], maxFeatures: Int, source: String) {
    var totals: [FeatureKey: Double] = [:]
    for token in tokens {
      for f in token.features { totals[f.key, default: 0] += Double(f.activation) }
    }
    let ranked = totals.sorted { a, b in a.value != b.value ? a.value > b.value : a.key < b.key }
    columns = ranked.prefix(maxFeatures).map(\.key).sorted()
    let index = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
    values = tokens.map { token in
      var row = [Double](repeating: 0, count: index.count)
      for f in token.features { if let c = index[f.key] { row[c] = max(row[c], Double(f.activation)) } }
      return row
    }
    self.tokens = tokens
    self.source = source
  }

  /// The picture.
  public func svg() -> String {
    let cell = 18.0
    let labelWidth = min(220, 60 + 6.5 * Double(tokens.map { $0.token.count }.max() ?? 4))
    let left = labelWidth + 12
    let top = 110.0
    let width = max(left + Double(max(columns.count, 1)) * cell + 130, 560)
    let height = top + Double(tokens.count) * cell + 40
    let maximum = values.flatMap { $0 }.max() ?? 0
    let scale = ColorScale.sequential(0, maximum > 0 ? maximum : 1)
    var svg = SVGDocument(
      width: width, height: height,
      title: "Feature activations by token (doc \(tokens.first?.doc ?? 0))",
      summary:
        "Rows: the \(tokens.count) tokens of document \(tokens.first?.doc ?? 0) of \(source), top to bottom. "
        + "Columns: the \(columns.count) features with the largest summed activation on it, as L{layer}/F{feature}, "
        + "ordered by layer. Colour: the feature's activation on the token (clt-encode, normalised units); white: silent."
    )
    svg.heading(
      subtitle:
        "\(SVGDocument.fileName(source)): \(tokens.count) tokens × \(columns.count) most active features")
    svg.beginGroup(className: "column-labels", label: "features")
    for (c, key) in columns.enumerated() {
      let x = left + (Double(c) + 0.5) * cell + 3
      svg.text(key.label, x: x, y: top - 6, size: 9, rotate: -60, className: "column-label")
    }
    svg.endGroup()
    svg.beginGroup(className: "row-labels", label: "tokens")
    for (r, token) in tokens.enumerated() {
      let y = top + (Double(r) + 0.5) * cell + 3.5
      svg.text(
        "\(token.pos) \(tokenLabel(token.token))", x: left - 6, y: y, size: 10, anchor: .end,
        className: "row-label")
    }
    svg.endGroup()
    svg.beginGroup(className: "cells", label: "activations")
    for (r, token) in tokens.enumerated() {
      for (c, key) in columns.enumerated() {
        let value = values[r][c]
        svg.rect(
          x: left + Double(c) * cell, y: top + Double(r) * cell, width: cell - 1, height: cell - 1,
          fill: scale.color(value), className: "cell",
          tooltip: "pos \(token.pos) \(tokenLabel(token.token)) · \(key.label): \(Axis.trimmed(value))")
      }
    }
    svg.endGroup()
    scale.drawLegend(
      in: &svg, x: left + Double(columns.count) * cell + 24, y: top + 10,
      height: min(200, max(80, Double(tokens.count) * cell - 20)), caption: "activation")
    return svg.render()
  }
}
