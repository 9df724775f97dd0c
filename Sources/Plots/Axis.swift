import Foundation

/// Axes for the charts: a baseline, ticks with labels, light grid lines and an axis title, drawn
/// into an `SVGDocument` for a plot area whose scales are given.
public enum Axis {
  /// A tick label: at most four significant digits, no trailing zeros, thousands as "k" and
  /// millions as "M" (tokens seen reach millions).
  public static func label(_ value: Double) -> String {
    guard value.isFinite else { return "n/a" }
    let magnitude = abs(value)
    if magnitude >= 1e6 { return trimmed(value / 1e6) + "M" }
    if magnitude >= 1e4 { return trimmed(value / 1e3) + "k" }
    return trimmed(value)
  }

  static func trimmed(_ value: Double) -> String {
    var text = String(format: "%.4g", value)
    if text.contains("."), !text.contains("e") {
      while text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
    }
    return text == "-0" ? "0" : text
  }

  /// A horizontal axis under the plot area (at `scale`'s y range bottom `y`), ticks from `scale`.
  public static func drawBottom(
    in svg: inout SVGDocument, scale: LinearScale, y: Double, top: Double? = nil, title: String,
    ticks: [Double]? = nil
  ) {
    let (x0, x1) = (min(scale.range.0, scale.range.1), max(scale.range.0, scale.range.1))
    svg.beginGroup(className: "axis x-axis", label: title)
    for tick in ticks ?? scale.ticks(6) {
      let x = scale.map(tick)
      if let top { svg.line(x1: x, y1: top, x2: x, y2: y, stroke: "#e5e5e5", className: "grid") }
      svg.line(x1: x, y1: y, x2: x, y2: y + 4, stroke: "#555")
      svg.text(label(tick), x: x, y: y + 15, size: 9, anchor: .middle, fill: "#333", className: "tick")
    }
    svg.line(x1: x0, y1: y, x2: x1, y2: y, stroke: "#555")
    svg.text(title, x: (x0 + x1) / 2, y: y + 31, size: 11, anchor: .middle, className: "axis-title")
    svg.endGroup()
  }

  /// A vertical axis left of the plot area at `x`; grid lines run to `right` when given.
  public static func drawLeft(
    in svg: inout SVGDocument, scale: LinearScale, x: Double, right: Double? = nil, title: String
  ) {
    let (y0, y1) = (min(scale.range.0, scale.range.1), max(scale.range.0, scale.range.1))
    svg.beginGroup(className: "axis y-axis", label: title)
    for tick in scale.ticks(5) {
      let y = scale.map(tick)
      if let right { svg.line(x1: x, y1: y, x2: right, y2: y, stroke: "#e5e5e5", className: "grid") }
      svg.line(x1: x - 4, y1: y, x2: x, y2: y, stroke: "#555")
      svg.text(label(tick), x: x - 6, y: y + 3, size: 9, anchor: .end, fill: "#333", className: "tick")
    }
    svg.line(x1: x, y1: y0, x2: x, y2: y1, stroke: "#555")
    svg.text(
      title, x: x - 40, y: (y0 + y1) / 2, size: 11, anchor: .middle, rotate: -90, className: "axis-title")
    svg.endGroup()
  }
}
