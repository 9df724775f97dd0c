import Foundation

/// A hand-written SVG document: a few drawing calls that append escaped elements, and `render()`.
///
/// Written by hand rather than through a library so that the tools need nothing at run time, and so
/// that every picture is plain, readable XML a test can parse: a `viewBox` (the picture scales), a
/// `<title>` and `<desc>` saying what it shows, and a `<title>` child on marks that carry a value,
/// which browsers show as a tooltip.
public struct SVGDocument {
  /// How text is anchored at its x coordinate.
  public enum Anchor: String { case start, middle, end }

  public let width: Double
  public let height: Double
  public let title: String
  public let summary: String
  private var body: [String] = []
  private var depth = 1

  /// - Parameters:
  ///   - width, height: the picture's size in user units (the viewBox is `0 0 width height`).
  ///   - title: the picture's `<title>`, also drawn at the top by `heading`.
  ///   - summary: the `<desc>`: what the marks mean and where the data came from.
  public init(width: Double, height: Double, title: String, summary: String) {
    self.width = width
    self.height = height
    self.title = title
    self.summary = summary
  }

  // MARK: - Escaping

  /// `text` made safe inside XML character data and attribute values: the five markup characters
  /// become entities, and the characters XML 1.0 forbids (C0 controls other than tab, line feed and
  /// carriage return; U+FFFE, U+FFFF) become their visible Control Pictures, so a token made of a
  /// control byte still shows as something and never makes the file unreadable.
  public static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      case "\t", "\n", "\r": out += "&#\(scalar.value);"
      default:
        if scalar.value < 0x20 {
          out.unicodeScalars.append(Unicode.Scalar(0x2400 + scalar.value)!)
        } else if scalar.value == 0x7F {
          out += "\u{2421}"
        } else if scalar.value == 0xFFFE || scalar.value == 0xFFFF {
          out += "\u{FFFD}"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }

  /// A number as SVG wants it: short, no exponent, `0` for anything not finite.
  static func number(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let rounded = (value * 100).rounded() / 100
    if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int64(rounded)) }
    return String(format: "%.2f", rounded)
  }

  // MARK: - Drawing

  private mutating func append(_ element: String) {
    body.append(String(repeating: "  ", count: depth) + element)
  }

  private static func attributes(_ pairs: [(String, String?)]) -> String {
    pairs.compactMap { name, value in value.map { " \(name)=\"\(escape($0))\"" } }.joined()
  }

  private static func tooltip(_ tooltip: String?) -> String {
    tooltip.map { "<title>\(escape($0))</title>" } ?? ""
  }

  /// Opens a `<g>`; `label` becomes its `aria-label`, `className` its class.
  public mutating func beginGroup(className: String? = nil, label: String? = nil, transform: String? = nil) {
    append(
      "<g" + Self.attributes([("class", className), ("aria-label", label), ("transform", transform)]) + ">")
    depth += 1
  }

  public mutating func endGroup() {
    depth -= 1
    append("</g>")
  }

  /// A rectangle; `tooltip` becomes its `<title>` child.
  public mutating func rect(
    x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil,
    className: String? = nil, tooltip: String? = nil
  ) {
    let attributes = Self.attributes([
      ("class", className), ("x", Self.number(x)), ("y", Self.number(y)),
      ("width", Self.number(max(width, 0))),
      ("height", Self.number(max(height, 0))), ("fill", fill), ("stroke", stroke),
    ])
    if let tooltip {
      append("<rect\(attributes)>\(Self.tooltip(tooltip))</rect>")
    } else {
      append("<rect\(attributes)/>")
    }
  }

  public mutating func line(
    x1: Double, y1: Double, x2: Double, y2: Double, stroke: String = "#333", width: Double = 1,
    dash: String? = nil, className: String? = nil
  ) {
    append(
      "<line"
        + Self.attributes([
          ("class", className), ("x1", Self.number(x1)), ("y1", Self.number(y1)), ("x2", Self.number(x2)),
          ("y2", Self.number(y2)), ("stroke", stroke), ("stroke-width", Self.number(width)),
          ("stroke-dasharray", dash),
        ]) + "/>")
  }

  /// Text at (x, y) (y is the baseline); `rotate` turns it about that point, in degrees.
  /// Whitespace is kept as written, so a token's leading space shows.
  public mutating func text(
    _ string: String, x: Double, y: Double, size: Double = 11, anchor: Anchor = .start, rotate: Double? = nil,
    bold: Bool = false, fill: String = "#222", className: String? = nil
  ) {
    let transform = rotate.map { "rotate(\(Self.number($0)) \(Self.number(x)) \(Self.number(y)))" }
    append(
      "<text"
        + Self.attributes([
          ("class", className), ("x", Self.number(x)), ("y", Self.number(y)),
          ("font-size", Self.number(size)),
          ("text-anchor", anchor == .start ? nil : anchor.rawValue), ("transform", transform),
          ("font-weight", bold ? "bold" : nil), ("fill", fill),
        ]) + " xml:space=\"preserve\">\(Self.escape(string))</text>")
  }

  /// A polyline through `points`, with a `<title>` naming the series.
  public mutating func polyline(
    _ points: [(x: Double, y: Double)], stroke: String, width: Double = 1.5, className: String? = nil,
    series: String? = nil
  ) {
    let list = points.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
    append(
      "<polyline"
        + Self.attributes([
          ("class", className), ("data-series", series), ("points", list), ("fill", "none"),
          ("stroke", stroke),
          ("stroke-width", Self.number(width)), ("stroke-linejoin", "round"),
        ]) + ">\(Self.tooltip(series))</polyline>")
  }

  public mutating func circle(
    cx: Double, cy: Double, r: Double, fill: String, stroke: String? = nil, className: String? = nil,
    tooltip: String? = nil
  ) {
    append(
      "<circle"
        + Self.attributes([
          ("class", className), ("cx", Self.number(cx)), ("cy", Self.number(cy)), ("r", Self.number(r)),
          ("fill", fill), ("stroke", stroke),
        ]) + ">\(Self.tooltip(tooltip))</circle>")
  }

  /// A path shortened to its file name for a subtitle, where a long temporary path would run off
  /// the picture; the `<desc>` keeps the whole path.
  public static func fileName(_ path: String) -> String {
    path == "-" ? "stdin" : URL(fileURLWithPath: path).lastPathComponent
  }

  /// The title drawn at the top, and a smaller subtitle under it.
  public mutating func heading(subtitle: String? = nil) {
    text(title, x: 12, y: 22, size: 15, bold: true, className: "title")
    if let subtitle { text(subtitle, x: 12, y: 40, size: 11, fill: "#555", className: "subtitle") }
  }

  /// The whole document as UTF-8 text.
  public func render() -> String {
    var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    out +=
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" "
      + "viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" "
      + "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\">\n"
    out += "  <title>\(Self.escape(title))</title>\n"
    out += "  <desc>\(Self.escape(summary))</desc>\n"
    out += "  <rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    out += body.joined(separator: "\n")
    out += "\n</svg>\n"
    return out
  }
}
