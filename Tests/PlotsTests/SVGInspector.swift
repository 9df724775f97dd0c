import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// An SVG (or any XML) file parsed with Foundation's XMLParser into a flat list of elements, so
/// the tests can count marks and read labels; parsing fails the test on ill-formed XML.
final class SVGInspector: NSObject, XMLParserDelegate {
  struct Element {
    var name: String
    var attributes: [String: String]
    var text: String
    var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }
  }

  private(set) var elements: [Element] = []
  private var stack: [Int] = []
  private(set) var root: String?

  /// Parses `text`; throws on ill-formed XML with the parser's reason and position.
  init(_ text: String) throws {
    super.init()
    let parser = XMLParser(data: Data(text.utf8))
    parser.delegate = self
    guard parser.parse() else {
      throw InspectorError(
        "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?") at line \(parser.lineNumber)")
    }
  }

  struct InspectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String] = [:]
  ) {
    if root == nil { root = name }
    elements.append(Element(name: name, attributes: attributes, text: ""))
    stack.append(elements.count - 1)
  }

  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?)
  {
    stack.removeLast()
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    if let last = stack.last { elements[last].text += string }
  }

  /// Elements named `name`, with `className` among their classes when given.
  func all(_ name: String, className: String? = nil) -> [Element] {
    elements.filter { $0.name == name && (className == nil || $0.classes.contains(className!)) }
  }

  /// The root's viewBox as four numbers.
  var viewBox: [Double] {
    (elements.first?.attributes["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) }
  }

  /// Checks what every picture must have: an `svg` root with a viewBox, a title and a description.
  func expectPicture(sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(root == "svg", "the root element is svg", sourceLocation: sourceLocation)
    #expect(
      viewBox.count == 4 && viewBox[2] > 0 && viewBox[3] > 0, "a viewBox", sourceLocation: sourceLocation)
    #expect(!(all("title").first?.text.isEmpty ?? true), "a title", sourceLocation: sourceLocation)
    #expect(!(all("desc").first?.text.isEmpty ?? true), "a description", sourceLocation: sourceLocation)
  }
}

/// Inputs the picture tests share, written by hand as the tools write them (docs/FORMATS.md).
enum PlotFixtures {
  /// A fresh temporary folder, removed by the caller.
  static func directory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-plots-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// The token text with every character SVG must escape.
  static let nastyToken = " <a&b\"c'>"

  /// Three tokens of document 0 and one of document 1, as clt-encode prints them.
  static let encodeLines = """
    {"doc": 0, "pos": 0, "token_id": 464, "token": "The", "features": [{"layer": 1, "feature": 5, "activation": 2.5}, {"layer": 0, "feature": 9, "activation": 0.5}, {"layer": 0, "feature": 2, "activation": 0.25}]}
    {"doc": 0, "pos": 1, "token_id": 1, "token": " <a&b\\"c'>", "features": [{"layer": 0, "feature": 9, "activation": 1.5}]}
    {"doc": 0, "pos": 2, "token_id": 2, "token": " cat", "features": [{"layer": 1, "feature": 3, "activation": 0.75}, {"layer": 1, "feature": 5, "activation": 0.5}]}
    {"doc": 1, "pos": 0, "token_id": 3, "token": "y", "features": [{"layer": 1, "feature": 5, "activation": 1}]}

    """

  /// `count` metrics lines of a 3-layer run, as clt-fit --log writes them.
  static func metricsLines(_ count: Int) -> String {
    (1...count).map { i in
      let s = Double(i)
      return "{\"step\": \(i * 10), \"tokens\": \(i * 320), \"loss\": 1.0, \"mse\": 0.5, \"sparsity\": 0.1, "
        + "\"preact\": 0.0, \"lr\": 0.001, \"lambda\": 0.1, \"grad_norm\": 1.0, \"mean_nmse\": \(1 / s), "
        + "\"mean_l0\": \(40 - s), \"nmse\": [\(1 / s), \(0.9 / s), \(0.8 / s)], \"l0\": [30, 40, 50], "
        + "\"explained_variance\": [0.1, 0.2, 0.3], \"seconds\": [0.1, 0.2, 0.3], \"dead_fraction\": [0.0, \(s / 100), 0.5]}"
    }.joined(separator: "\n") + "\n"
  }

  /// A small attribution graph by hand: 2 embeddings, 2 features, an error and a logit.
  static let graphJSON = """
    {"metadata": {"schema_version": 1, "prompt": "Hi <there>", "prompt_tokens": ["Hi", " <there>"], "n_layers": 2,
      "completeness_score": 0.8, "replacement_score": 0.6, "scan": "model", "transcoder": "clt.h5"},
     "qParams": {"pinnedIds": [], "supernodes": [], "linkType": "both"},
     "nodes": [
      {"node_id": "E_10_0", "feature_type": "embedding", "layer": "E", "feature": 10, "ctx_idx": 0, "activation": null, "influence": 0.3, "token_prob": 0, "is_target_logit": false, "clerp": "Emb: Hi"},
      {"node_id": "E_11_1", "feature_type": "embedding", "layer": "E", "feature": 11, "ctx_idx": 1, "activation": null, "influence": 0.3, "token_prob": 0, "is_target_logit": false, "clerp": "Emb: </script><b>"},
      {"node_id": "0_5_1", "feature_type": "cross layer transcoder", "layer": "0", "feature": 5, "ctx_idx": 1, "activation": 2.0, "influence": 0.5, "token_prob": 0, "is_target_logit": false, "clerp": "L0 #5"},
      {"node_id": "1_7_1", "feature_type": "cross layer transcoder", "layer": "1", "feature": 7, "ctx_idx": 1, "activation": 1.0, "influence": 0.4, "token_prob": 0, "is_target_logit": false, "clerp": "L1 #7"},
      {"node_id": "err_1_1", "feature_type": "mlp reconstruction error", "layer": "1", "feature": null, "ctx_idx": 1, "activation": null, "influence": 0.1, "token_prob": 0, "is_target_logit": false, "clerp": "error L1 @1"},
      {"node_id": "L_99_1", "feature_type": "logit", "layer": "2", "feature": 99, "ctx_idx": 1, "activation": null, "influence": 0, "token_prob": 0.6, "is_target_logit": true, "clerp": "Output \\"x\\" (p=0.600)"}],
     "links": [{"source": "E_11_1", "target": "0_5_1", "weight": 1.5}, {"source": "0_5_1", "target": "1_7_1", "weight": -0.5},
      {"source": "1_7_1", "target": "L_99_1", "weight": 2.0}, {"source": "err_1_1", "target": "L_99_1", "weight": 0.3},
      {"source": "E_10_0", "target": "L_99_1", "weight": 0.1}]}
    """

  static func write(_ text: String, _ name: String, in dir: URL) throws -> String {
    let url = dir.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }
}
