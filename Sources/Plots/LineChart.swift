import Foundation

/// What several charts share: a titled set of named lines over one x axis, with a legend, drawn
/// into a plot area. `TrainingCurves` draws its grid itself; the decoder-norm profiles use this.
struct LineChart {
  struct Series {
    var name: String
    var color: String
    /// (x, y) points; non-finite ys are left out.
    var points: [(Double, Double)]
  }

  var series: [Series]
  var xTitle: String
  var yTitle: String
  var xTicks: [Double]?

  /// Draws the lines with a circle on each point, axes and a legend at the right.
  func draw(into svg: inout SVGDocument, x: Double, y: Double, width: Double, height: Double) {
    let xs = series.flatMap { $0.points.map(\.0) }
    let ys = series.flatMap { $0.points.map(\.1) }
    let xScale = LinearScale(domain: LinearScale.niceDomain(xs), range: (x, x + width))
    let yScale = LinearScale(domain: LinearScale.niceDomain(ys, includeZero: true), range: (y + height, y))
    Axis.drawLeft(in: &svg, scale: yScale, x: x, right: x + width, title: yTitle)
    Axis.drawBottom(in: &svg, scale: xScale, y: y + height, top: y, title: xTitle, ticks: xTicks)
    for s in series {
      let points = s.points.filter { $0.1.isFinite }.map { (x: xScale.map($0.0), y: yScale.map($0.1)) }
      svg.polyline(points, stroke: s.color, width: 1.8, className: "series", series: s.name)
      for (p, raw) in zip(points, s.points.filter { $0.1.isFinite }) {
        svg.circle(
          cx: p.x, cy: p.y, r: 2.5, fill: s.color, className: "marker",
          tooltip: "\(s.name): \(Axis.trimmed(raw.0)) → \(Axis.trimmed(raw.1))")
      }
    }
    svg.beginGroup(className: "legend", label: "series")
    for (i, s) in series.enumerated() {
      let ly = y + 6 + Double(i) * 14
      svg.line(x1: x + width + 14, y1: ly, x2: x + width + 32, y2: ly, stroke: s.color, width: 2.5)
      svg.text(s.name, x: x + width + 36, y: ly + 3.5, size: 10)
    }
    svg.endGroup()
  }
}
