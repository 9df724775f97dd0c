import Foundation

/// Maps numbers to colours: a sequential scale for magnitudes (activations, norms, frequencies) and a
/// diverging one for signed values (correlations, edge weights), each a piecewise-linear ramp
/// through a few anchor colours.
///
/// The sequential ramp runs from white through light blue to a dark violet, so that the zero of a
/// sparse activation map (most cells) stays white and the eye goes to what fired; the diverging ramp
/// is blue for negative, white at zero, red for positive (ColorBrewer's RdBu, reversed).
public struct ColorScale: Sendable {
  /// RGB anchors in 0...1, spread evenly over the domain.
  let anchors: [(Double, Double, Double)]
  /// The values mapped to the first and last anchor; values outside are clamped.
  public let lower: Double
  public let upper: Double

  /// White to dark violet over [lower, upper].
  public static func sequential(_ lower: Double, _ upper: Double) -> ColorScale {
    ColorScale(
      anchors: [
        (1, 1, 1), (0.78, 0.86, 0.94), (0.42, 0.68, 0.84), (0.13, 0.44, 0.71), (0.03, 0.19, 0.42),
        (0.16, 0.05, 0.30),
      ], lower: lower, upper: upper)
  }

  /// Viridis-like (dark purple, blue, green, yellow) over [lower, upper]: for a scatter, where no
  /// value should vanish into the white background.
  public static func viridis(_ lower: Double, _ upper: Double) -> ColorScale {
    ColorScale(
      anchors: [
        (0.267, 0.005, 0.329), (0.230, 0.322, 0.546), (0.128, 0.567, 0.551), (0.369, 0.789, 0.383),
        (0.993, 0.906, 0.144),
      ], lower: lower, upper: upper)
  }

  /// Blue (−limit) through white (0) to red (+limit).
  public static func diverging(limit: Double) -> ColorScale {
    let l = limit > 0 && limit.isFinite ? limit : 1
    return ColorScale(
      anchors: [(0.13, 0.40, 0.67), (0.57, 0.77, 0.87), (1, 1, 1), (0.96, 0.65, 0.51), (0.70, 0.09, 0.17)],
      lower: -l, upper: l)
  }

  /// The colour of `value` as `#rrggbb`; a value that is not finite is grey.
  public func color(_ value: Double) -> String {
    guard value.isFinite else { return "#bbbbbb" }
    let span = upper - lower
    let t = span > 0 ? min(max((value - lower) / span, 0), 1) : 0.5
    let scaled = t * Double(anchors.count - 1)
    let i = min(Int(scaled), anchors.count - 2)
    let f = scaled - Double(i)
    let (a, b) = (anchors[i], anchors[i + 1])
    func channel(_ x: Double, _ y: Double) -> Int { Int(((x + (y - x) * f) * 255).rounded()) }
    return String(
      format: "#%02x%02x%02x", channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
  }

  /// Draws the scale as a vertical bar of `steps` stripes at (x, y), highest value on top, with
  /// ticks and a caption saying what the colour means.
  public func drawLegend(
    in svg: inout SVGDocument, x: Double, y: Double, height: Double, caption: String,
    format: (Double) -> String = Axis.label
  ) {
    let steps = 48
    let stripe = height / Double(steps)
    svg.beginGroup(className: "legend", label: caption)
    svg.text(caption, x: x, y: y - 8, size: 10, fill: "#333")
    for s in 0..<steps {
      let value = upper - (Double(s) + 0.5) / Double(steps) * (upper - lower)
      svg.rect(x: x, y: y + Double(s) * stripe, width: 14, height: stripe + 0.5, fill: color(value))
    }
    svg.rect(x: x, y: y, width: 14, height: height, fill: "none", stroke: "#666")
    let scale = LinearScale(domain: (lower, upper), range: (y + height, y))
    for tick in scale.ticks(5) {
      let ty = scale.map(tick)
      svg.line(x1: x + 14, y1: ty, x2: x + 18, y2: ty, stroke: "#666")
      svg.text(format(tick), x: x + 21, y: ty + 3.5, size: 9, fill: "#333")
    }
    svg.endGroup()
  }
}
