import CLTFormat
import Foundation
import Plots
import Testing

/// The pictures of clt-encode output: heatmap, top-feature bars, layer correlations.
@Suite struct EncodedChartsTests {
  let dir: URL
  let input: String

  init() throws {
    dir = try PlotFixtures.directory("encoded")
    input = try PlotFixtures.write(PlotFixtures.encodeLines, "features.jsonl", in: dir)
  }

  @Test("clt-encode lines are read with every field, and a document is chosen by its number")
  func reading() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let tokens = try TokenFeatures.read(input)
    #expect(tokens.count == 4)
    #expect(tokens[1].token == PlotFixtures.nastyToken)
    #expect(tokens[0].features[0] == FeatureActivation(layer: 1, feature: 5, activation: 2.5))
    #expect(try TokenFeatures.document(nil, of: tokens, file: input).count == 3)
    #expect(try TokenFeatures.document(1, of: tokens, file: input).count == 1)
    #expect(throws: PlotError.self) { try TokenFeatures.document(7, of: tokens, file: input) }
  }

  @Test("what clt-encode writes (jsonLine) reads back as the same lines: one definition of the format")
  func writerAndReaderAgree() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let identity = TranscoderIdentity(model: "m \"q\"", modelSHA256: "ab12", nLayers: 3, features: 8)
    let written = [
      TokenFeatures(
        doc: 0, pos: 0, tokenID: 50256, token: PlotFixtures.nastyToken,
        features: [
          .init(layer: 2, feature: 7, activation: 0.1), .init(layer: 0, feature: 3, activation: 3e-7),
        ],
        transcoder: identity),
      TokenFeatures(doc: 1, pos: 4, tokenID: 11, token: "\u{FFFD}\n\t", features: []),
    ]
    let path = try PlotFixtures.write(
      written.map(\.jsonLine).joined(separator: "\n") + "\n", "written.jsonl", in: dir)
    #expect(try TokenFeatures.read(path) == written)
  }

  @Test("one document is read up to its end only; lines across 1 MiB blocks are read whole")
  func streaming() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let broken = try PlotFixtures.write(PlotFixtures.encodeLines + "not json\n", "broken.jsonl", in: dir)
    #expect(
      try TokenFeatures.readDocument(broken, doc: 0).map(\.pos) == [0, 1, 2],
      "the bad line after it is never read")
    #expect(throws: PlotError.badLine(file: broken, line: 5, reason: "not valid JSON")) {
      try TokenFeatures.readDocument(broken, doc: 7)
    }
    let line =
      "{\"doc\": 0, \"pos\": 0, \"token_id\": 1, \"token\": \"\(String(repeating: "x", count: 997))\", \"features\": []}"
    let many = (0..<3000).map { line.replacingOccurrences(of: "\"pos\": 0", with: "\"pos\": \($0)") }
    let big = try PlotFixtures.write(many.joined(separator: "\n"), "big.jsonl", in: dir)
    let tokens = try TokenFeatures.read(big)
    #expect(
      tokens.count == 3000 && tokens.map(\.pos) == Array(0..<3000), "no line lost or cut at a block edge")
    #expect(tokens.allSatisfy { $0.token.count == 997 })
  }

  @Test("a bad line, a missing field and an empty file are errors naming the file and the line")
  func badInputs() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = try PlotFixtures.write(
      PlotFixtures.encodeLines + "{\"doc\": 0, \"pos\": 3\n", "bad.jsonl", in: dir)
    #expect(throws: PlotError.badLine(file: bad, line: 5, reason: "not valid JSON")) {
      try TokenFeatures.read(bad)
    }
    let missing = try PlotFixtures.write(
      "{\"doc\": 0, \"pos\": 0, \"token_id\": 1, \"features\": []}\n", "missing.jsonl", in: dir)
    #expect(throws: PlotError.badLine(file: missing, line: 1, reason: "missing field \"token\"")) {
      try TokenFeatures.read(missing)
    }
    let empty = try PlotFixtures.write("\n\n", "empty.jsonl", in: dir)
    #expect(throws: PlotError.emptyInput(file: empty, what: "clt-encode lines")) {
      try TokenFeatures.read(empty)
    }
    let error = PlotError.badLine(file: bad, line: 5, reason: "not valid JSON")
    #expect(error.localizedDescription == "\(bad):5: not valid JSON")
  }

  @Test("the heatmap has a cell per token and feature, token labels with escaped characters, feature labels")
  func heatmap() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let tokens = try TokenFeatures.document(0, of: try TokenFeatures.read(input), file: input)
    let heatmap = ActivationHeatmap(tokens: tokens, maxFeatures: 3, source: input)
    #expect(heatmap.columns.count == 3, "three of the four features make it")
    #expect(
      heatmap.columns == [
        FeatureKey(layer: 0, feature: 9), FeatureKey(layer: 1, feature: 3), FeatureKey(layer: 1, feature: 5),
      ],
      "the most active by summed activation, in layer order")
    let text = heatmap.svg()
    #expect(text.contains("&lt;a&amp;b&quot;c&#39;&gt;"), "the token's markup characters are escaped")
    let svg = try SVGInspector(text)
    svg.expectPicture()
    #expect(svg.all("rect", className: "cell").count == 3 * 3)
    let rows = svg.all("text", className: "row-label").map(\.text)
    #expect(
      rows == [
        "0 \u{201C}The\u{201D}", "1 \u{201C}\(PlotFixtures.nastyToken)\u{201D}", "2 \u{201C} cat\u{201D}",
      ])
    #expect(svg.all("text", className: "column-label").map(\.text) == ["L0/F9", "L1/F3", "L1/F5"])
    let fills = Set(svg.all("rect", className: "cell").compactMap { $0.attributes["fill"] })
    #expect(fills.contains("#ffffff"), "silent cells are white")
  }

  @Test("top-features draws min(top, active) bars per token, strongest first")
  func topFeatures() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let tokens = try TokenFeatures.document(0, of: try TokenFeatures.read(input), file: input)
    let svg = try SVGInspector(TopFeaturesChart(tokens: tokens, top: 2, source: input).svg())
    svg.expectPicture()
    #expect(svg.all("rect", className: "bar").count == 2 + 1 + 2)
    #expect(svg.all("g", className: "panel").count == 3)
    #expect(svg.all("text", className: "bar-label").map(\.text).prefix(2) == ["L1/F5", "L0/F9"])
    let widths = svg.all("rect", className: "bar").compactMap { Double($0.attributes["width"] ?? "") }
    #expect(widths[0] > widths[1], "the strongest bar is the longest")
    let single = try SVGInspector(TopFeaturesChart(tokens: [tokens[2]], top: 8, source: input).svg())
    #expect(single.all("rect", className: "bar").count == 2)
    #expect(single.all("title").first?.text.contains("position 2") == true)
  }

  @Test("correlations: an L × L matrix with 1 on the diagonal, r = −1 for layers that move oppositely")
  func correlations() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    func token(_ pos: Int, _ a: Float, _ b: Float) -> TokenFeatures {
      TokenFeatures(
        doc: 0, pos: pos, tokenID: pos, token: "t",
        features: [
          .init(layer: 0, feature: 0, activation: a), .init(layer: 1, feature: 0, activation: b),
          .init(layer: 2, feature: 1, activation: 2 * a + 1),
        ])
    }
    let tokens = [token(0, 1, 3), token(1, 2, 2), token(2, 3, 1)]
    let matrix = LayerCorrelation(tokens: tokens, measure: .mass, source: "test").matrix
    #expect(matrix.count == 3)
    #expect(abs(matrix[0][0] - 1) < 1e-12 && abs(matrix[0][1] + 1) < 1e-12 && abs(matrix[0][2] - 1) < 1e-12)
    let counts = LayerCorrelation(tokens: tokens, measure: .count, source: "test").matrix
    #expect(counts[0][1].isNaN, "a layer with the same count on every token has no correlation")
    let streamed = try LayerCorrelation(path: input, measure: .mass)
    #expect(streamed.tokens == 4 && streamed.matrix.count == 2)
    let svg = try SVGInspector(streamed.svg())
    svg.expectPicture()
    #expect(svg.all("rect", className: "cell").count == 2 * 2)
    #expect(svg.all("title").first?.text.contains("correlation") == true)
  }
}
