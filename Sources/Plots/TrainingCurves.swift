import Foundation

/// Training curves from `clt-fit --log`: four charts in a 2 × 2 grid against tokens seen (or
/// steps) — mean NMSE over layers, mean L0, the dead fraction averaged over layers, and each
/// layer's NMSE as its own line with a legend. One polyline per series, one point per log line;
/// a value that is not finite (a layer whose outputs never varied) is left out of its line.
public struct TrainingCurves {
  public enum XAxis: String, Sendable, CaseIterable { case tokens, step }

  public var log: TrainingLog
  public var x: XAxis
  public var source: String

  public init(log: TrainingLog, x: XAxis = .tokens, source: String) {
    self.log = log
    self.x = x
    self.source = source
  }

  /// A chart's series: name, colour, values (one per entry).
  struct Series {
    var name: String
    var color: String
    var values: [Double]
  }

  /// Distinct colours for per-layer lines (Tableau 10, then repeated darker).
  static func palette(_ i: Int) -> String {
    let colors = [
      "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
      "#bab0ac",
    ]
    return colors[i % colors.count]
  }

  public func svg() -> String {
    let entries = log.entries
    let xs = entries.map { Double(x == .tokens ? $0.tokens : $0.step) }
    let layers = log.layers
    let charts: [(String, String, [Series])] = [
      (
        "Mean NMSE over layers", "NMSE",
        [Series(name: "mean NMSE", color: "#4e79a7", values: entries.map(\.meanNMSE))]
      ),
      (
        "Mean L0 (active features per token)", "L0",
        [Series(name: "mean L0", color: "#f28e2b", values: entries.map(\.meanL0))]
      ),
      (
        "Dead fraction (mean over layers)", "fraction dead",
        [Series(name: "dead fraction", color: "#e15759", values: entries.map(\.meanDeadFraction))]
      ),
      (
        "NMSE per layer", "NMSE",
        (0..<layers).map { l in
          Series(
            name: "layer \(l)", color: Self.palette(l),
            values: entries.map { l < $0.nmse.count ? $0.nmse[l] : .nan })
        }
      ),
    ]
    let (chartWidth, chartHeight) = (360.0, 220.0)
    let (marginLeft, marginTop, gapX, gapY) = (70.0, 80.0, 170.0, 90.0)
    var svg = SVGDocument(
      width: marginLeft + 2 * chartWidth + gapX + 110, height: marginTop + 2 * chartHeight + gapY + 60,
      title: "Training curves (\(entries.count) log lines, \(layers) layers)",
      summary:
        "From \(source) (clt-fit --log). x: \(x == .tokens ? "tokens seen" : "training step"). Charts: mean NMSE "
        + "over layers, mean L0, dead fraction averaged over layers, and NMSE of each layer. One polyline per series "
        + "with one point per log line; non-finite values are left out.")
    svg.heading(subtitle: SVGDocument.fileName(source))
    let xDomain = LinearScale.niceDomain(xs)
    for (i, chart) in charts.enumerated() {
      let ox = marginLeft + Double(i % 2) * (chartWidth + gapX)
      let oy = marginTop + Double(i / 2) * (chartHeight + gapY)
      let xScale = LinearScale(domain: xDomain, range: (ox, ox + chartWidth))
      let all = chart.2.flatMap(\.values)
      let yScale = LinearScale(
        domain: LinearScale.niceDomain(all, includeZero: true), range: (oy + chartHeight, oy))
      svg.beginGroup(className: "chart", label: chart.0)
      svg.text(chart.0, x: ox, y: oy - 10, size: 12, bold: true, className: "chart-title")
      Axis.drawLeft(in: &svg, scale: yScale, x: ox, right: ox + chartWidth, title: chart.1)
      Axis.drawBottom(
        in: &svg, scale: xScale, y: oy + chartHeight, top: oy, title: x == .tokens ? "tokens seen" : "step")
      for series in chart.2 {
        let points = zip(xs, series.values).filter { $0.1.isFinite }.map {
          (x: xScale.map($0.0), y: yScale.map($0.1))
        }
        svg.polyline(points, stroke: series.color, className: "series", series: series.name)
      }
      if chart.2.count > 1 {
        svg.beginGroup(className: "legend", label: "series")
        for (s, series) in chart.2.enumerated() {
          let ly = oy + 6 + Double(s) * 14
          svg.line(
            x1: ox + chartWidth + 12, y1: ly, x2: ox + chartWidth + 30, y2: ly, stroke: series.color,
            width: 2.5)
          svg.text(series.name, x: ox + chartWidth + 34, y: ly + 3.5, size: 10)
        }
        svg.endGroup()
      }
      svg.endGroup()
    }
    return svg.render()
  }
}
