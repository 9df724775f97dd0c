import Foundation
import Plots
import Testing

/// The SVG builder: whatever text a token holds, the picture stays well-formed XML.
@Suite struct SVGDocumentTests {
  @Test(
    "escaping turns markup characters into entities and forbidden control characters into visible symbols")
  func escaping() {
    #expect(SVGDocument.escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;")
    #expect(SVGDocument.escape("\u{1}\u{1B}\u{7F}") == "\u{2401}\u{241B}\u{2421}")
    #expect(SVGDocument.escape("tab\there") == "tab&#9;here")
  }

  @Test("a document with every kind of mark and hostile text parses, with its title, description and viewBox")
  func wellFormed() throws {
    var svg = SVGDocument(width: 200, height: 100, title: "a <title> & more", summary: "]]> \u{0} \u{FFFF}")
    svg.heading(subtitle: "\u{8}sub")
    svg.rect(x: 1, y: 2, width: -3, height: 4, fill: "#fff", className: "cell", tooltip: "</rect>")
    svg.text("x\"y'z", x: 5, y: 6, rotate: -45)
    svg.polyline([(x: 0, y: 0), (x: .nan, y: 1)], stroke: "red", series: "s<1>")
    svg.circle(cx: 1, cy: 1, r: 2, fill: "blue", tooltip: "&")
    svg.beginGroup(className: "g", label: "\"label\"")
    svg.line(x1: 0, y1: 0, x2: 1, y2: 1)
    svg.endGroup()
    let parsed = try SVGInspector(svg.render())
    parsed.expectPicture()
    #expect(parsed.viewBox == [0, 0, 200, 100])
    #expect(parsed.all("title").first?.text == "a <title> & more")
    #expect(
      parsed.all("rect", className: "cell").first?.attributes["width"] == "0", "negative sizes clamp to 0")
    #expect(parsed.all("polyline").first?.attributes["data-series"] == "s<1>")
  }
}
