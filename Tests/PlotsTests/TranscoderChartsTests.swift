import ActivationShards
import CLTFormat
import Foundation
import Plots
import Testing
import Transcoder

/// The pictures read from a clt.h5: decoder-norm profiles, the decoder PCA, feature importance.
@Suite struct TranscoderChartsTests {
  let dir: URL
  let clt: URL

  static let layers = 3
  static let dModel = 8
  static let features = 12

  init() throws {
    dir = try PlotFixtures.directory("transcoder")
    clt = dir.appendingPathComponent("clt.h5")
    try Self.randomFile().write(to: clt)
  }

  /// A small random transcoder with frequencies 10^−k, written with CLTFile as clt-fit writes it.
  static func randomFile(transcoder: CrossLayerTranscoder? = nil) -> CLTFile {
    let t =
      transcoder
      ?? CrossLayerTranscoder(
        nLayers: layers, dModel: dModel, features: features, seed: 5, initialThreshold: 0.2)
    let shards = ShardMetadata(
      architecture: "gpt2", model: "test", modelSHA256: "", nLayers: t.nLayers, dModel: t.dModel, context: 16,
      inputTap: "in", outputTap: "out", createdBy: "test")
    return CLTFile(
      transcoder: t,
      normalizer: ActivationNormalizer(
        inputScales: [Float](repeating: 1, count: t.nLayers),
        outputScales: [Float](repeating: 1, count: t.nLayers)),
      frequencies: (0..<t.nLayers).map { _ in (0..<t.features).map { Float(pow(10, -Double($0 % 5))) } },
      metadata: CLTFileMetadata(
        shards: shards, features: t.features,
        configuration: TrainingConfiguration(features: t.features, steps: 1),
        tokensSeen: 0, steps: 0, createdBy: "test"))
  }

  @Test("decoder-norm profiles: one line per feature with a point per target layer, equal to the row norms")
  func decoderNorms() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try CLTFile.load(url: clt)
    let keys = [FeatureKey(layer: 0, feature: 3), FeatureKey(layer: 1, feature: 0)]
    let profile = try DecoderNormProfile(file: file, features: keys, source: clt.path)
    #expect(profile.profiles.map { $0.norms.count } == [3, 2])
    let row = file.transcoder.decoder(from: 1, to: 2).pointer + 0 * Self.dModel
    let expected = (0..<Self.dModel).reduce(0.0) { $0 + Double(row[$1]) * Double(row[$1]) }.squareRoot()
    #expect(abs(profile.profiles[1].norms[1] - expected) < 1e-6)
    let svg = try SVGInspector(profile.svg())
    svg.expectPicture()
    let lines = svg.all("polyline", className: "series")
    #expect(lines.map { $0.attributes["data-series"] ?? "" } == ["L0/F3", "L1/F0"])
    #expect(lines.map { ($0.attributes["points"] ?? "").split(separator: " ").count } == [3, 2])
    let top = try DecoderNormProfile.topFeatures(file: file, layer: 2, count: 4, source: clt.path)
    let norms = file.transcoder.decoderNorms(layer: 2)
    #expect(top.count == 4 && norms[top[0].feature] == norms.max())
    #expect(throws: PlotError.self) {
      try DecoderNormProfile(file: file, features: [FeatureKey(layer: 0, feature: 99)], source: clt.path)
    }
  }

  @Test("PCA of points on a line puts all the variance on the first component")
  func pcaOnALine() {
    let direction: [Float] = [1, 2, -2, 0]
    let n = 9
    var points: [Float] = []
    for i in 0..<n { points += direction.map { $0 * Float(i - 3) + 0.25 } }
    let pca = PrincipalComponents(points: points, n: n, dim: 4, count: 2)
    #expect(abs(pca.explained[0] - 1) < 1e-6, "\(pca.explained)")
    #expect(pca.explained[1] < 1e-6)
    let unit = direction.map { Double($0) / 3.0 }  // |direction| = 3
    let cosine = abs(zip(unit, pca.components[0]).reduce(0) { $0 + $1.0 * $1.1 })
    #expect(abs(cosine - 1) < 1e-6, "the component is the line's direction")
  }

  @Test("PCA of a plane finds its two axes in order of variance, orthogonal")
  func pcaOnAPlane() {
    var points: [Float] = []
    for i in 0..<5 { for j in 0..<5 { points += [Float(i - 2) * 3, Float(j - 2), 0] } }
    let pca = PrincipalComponents(points: points, n: 25, dim: 3, count: 2)
    #expect(abs(pca.explained[0] - 0.9) < 1e-6 && abs(pca.explained[1] - 0.1) < 1e-6, "\(pca.explained)")
    #expect(abs(abs(pca.components[0][0]) - 1) < 1e-6 && abs(abs(pca.components[1][1]) - 1) < 1e-6)
  }

  @Test("the decoder PCA draws one circle per feature, coloured by frequency, axes naming the variance")
  func decoderPCA() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try CLTFile.load(url: clt)
    for rows in DecoderPCA.Rows.allCases {
      let pca = try DecoderPCA(file: file, layer: 1, rows: rows, source: clt.path)
      let svg = try SVGInspector(pca.svg())
      svg.expectPicture()
      let points = svg.all("circle", className: "point")
      #expect(points.count == Self.features)
      #expect(Set(points.compactMap { $0.attributes["fill"] }).count == 5, "five frequencies, five colours")
      #expect(svg.all("text", className: "axis-title").contains { $0.text.hasPrefix("PC1 (") })
    }
    #expect(throws: PlotError.self) { try DecoderPCA(file: file, layer: 3, rows: .same, source: clt.path) }
  }

  @Test("importance from clt-encode lines is Σ activation × decoder norm, ranked")
  func importanceFromEncoded() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try CLTFile.load(url: clt)
    let path = try PlotFixtures.write(PlotFixtures.encodeLines, "f.jsonl", in: dir)
    let chart = try FeatureImportance.fromEncoded(
      try TokenFeatures.read(path), file: file, top: 10, source: path)
    let streamed = try FeatureImportance.fromEncoded(path: path, file: file, top: 10)
    #expect(streamed.bars.map(\.label) == chart.bars.map(\.label), "streaming ranks the same")
    #expect(zip(streamed.bars, chart.bars).allSatisfy { abs($0.value - $1.value) < 1e-9 })
    #expect(chart.bars.count == 4, "four distinct features")
    let n1 = Double(file.transcoder.decoderNorms(layer: 1)[5])
    let l15 = chart.bars.first { $0.label == "L1/F5" }!
    #expect(abs(l15.value - (2.5 + 0.5 + 1) * n1) < 1e-6)
    #expect(zip(chart.bars, chart.bars.dropFirst()).allSatisfy { $0.value >= $1.value })
    let svg = try SVGInspector(chart.svg())
    svg.expectPicture()
    #expect(svg.all("rect", className: "bar").count == 4)
  }

  @Test(
    "importance from a graph: feature nodes by activation × decoder norm, or by influence without a clt.h5")
  func importanceFromGraph() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    // The fixture graph's model has 2 layers: made with another CLT than this 3-layer one.
    let twoLayers = try AttributionGraphFile.read(
      try PlotFixtures.write(PlotFixtures.graphJSON, "g2.json", in: dir))
    let file = try CLTFile.load(url: clt)
    #expect(throws: PlotError.self, "a graph of another shape is refused") {
      try FeatureImportance.fromGraph(twoLayers, file: file, top: 10, source: "g2.json")
    }
    let graph = try AttributionGraphFile.read(
      try PlotFixtures.write(
        PlotFixtures.graphJSON.replacingOccurrences(of: "\"n_layers\": 2", with: "\"n_layers\": 3"), "g.json",
        in: dir))
    let byInfluence = try FeatureImportance.fromGraph(graph, file: nil, top: 10, source: "g.json")
    #expect(byInfluence.bars.map(\.value) == [0.5, 0.4])
    let byNorm = try FeatureImportance.fromGraph(graph, file: file, top: 10, source: "g.json")
    let expected = Set([
      2.0 * Double(file.transcoder.decoderNorms(layer: 0)[5]),
      1.0 * Double(file.transcoder.decoderNorms(layer: 1)[7]),
    ])
    #expect(Set(byNorm.bars.map(\.value)) == expected)
    let svg = try SVGInspector(byNorm.svg())
    #expect(svg.all("rect", className: "bar").count == 2)
    #expect(
      svg.all("text", className: "bar-label").allSatisfy { $0.text.contains("\u{201C} <there>\u{201D}") })
  }
}
