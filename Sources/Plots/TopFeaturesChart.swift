import CLTFormat
import Foundation

/// The strongest features of each token as horizontal bars (from `clt-encode`): one small panel
/// per token, its `top` features from the strongest down, the bar's length the activation on a
/// scale shared by all panels, so panels compare.
public struct TopFeaturesChart {
  public var tokens: [TokenFeatures]
  public var top: Int
  public var source: String

  public init(tokens: [TokenFeatures], top: Int, source: String) {
    self.tokens = tokens
    self.top = top
    self.source = source
  }

  /// Each token's features to draw: the strongest first (ties: lower layer, then lower index).
  func bars(_ token: TokenFeatures) -> [FeatureActivation] {
    Array(
      token.features.sorted { a, b in
        a.activation != b.activation ? a.activation > b.activation : a.key < b.key
      }.prefix(top))
  }

  public func svg() -> String {
    let barHeight = 13.0
    let panelGap = 34.0
    let left = 150.0
    let plotWidth = 380.0
    let top0 = 70.0
    let maximum = Double(tokens.flatMap { $0.features.map(\.activation) }.max() ?? 1)
    let scale = LinearScale(
      domain: LinearScale.niceDomain([0, maximum], includeZero: true), range: (left, left + plotWidth))
    let heights = tokens.map { Double(max(bars($0).count, 1)) * barHeight + panelGap }
    let height = top0 + heights.reduce(0, +) + 40
    let single = tokens.count == 1
    var svg = SVGDocument(
      width: left + plotWidth + 80, height: height,
      title: single
        ? "Top \(top) features at position \(tokens[0].pos) \(tokenLabel(tokens[0].token))"
        : "Top \(top) features of each token (doc \(tokens.first?.doc ?? 0))",
      summary:
        "One panel per token of \(source); in each, the token's \(top) most active transcoder features "
        + "(L{layer}/F{feature}), strongest on top. Bar length: activation (clt-encode, normalised units), "
        + "on one scale for all panels.")
    svg.heading(subtitle: "\(SVGDocument.fileName(source)): bar length = activation")
    var y = top0
    for (t, token) in tokens.enumerated() {
      let features = bars(token)
      svg.beginGroup(className: "panel", label: "position \(token.pos)")
      svg.text(
        "pos \(token.pos) \(tokenLabel(token.token))", x: 12, y: y + 10, size: 11, bold: true,
        className: "panel-title")
      let panelTop = y + 16
      if features.isEmpty {
        svg.text("no active features", x: left, y: panelTop + 10, size: 10, fill: "#777")
      }
      for (i, f) in features.enumerated() {
        let by = panelTop + Double(i) * barHeight
        svg.text(f.label, x: left - 6, y: by + 10, size: 9.5, anchor: .end, className: "bar-label")
        let value = Double(f.activation)
        svg.rect(
          x: left, y: by + 1, width: scale.map(value) - left, height: barHeight - 2,
          fill: "#3a6fb0", className: "bar", tooltip: "\(f.label): \(Axis.trimmed(value))")
        svg.text(
          Axis.trimmed(value), x: scale.map(value) + 4, y: by + 10, size: 8.5, fill: "#444")
      }
      svg.endGroup()
      y += heights[t]
    }
    Axis.drawBottom(in: &svg, scale: scale, y: y - panelGap + 20, title: "activation (normalised units)")
    return svg.render()
  }
}
