import CLTFormat
import Foundation

/// How strongly a feature writes to each layer: the norm ‖W_dec[l→l′]_i‖ of its decoder row into
/// every target layer l′ ≥ l of a cross-layer transcoder (clt.h5). A feature whose profile peaks at
/// its own layer acts like a per-layer transcoder's; one spread over later layers is the
/// cross-layer kind the CLT exists for (Ameisen et al. 2025, "cross-layer transcoders").
public struct DecoderNormProfile {
  public struct Profile: Sendable {
    public var key: FeatureKey
    /// norms[l′ − layer] for l′ in layer..<L.
    public var norms: [Double]
  }

  public var profiles: [Profile]
  public var layers: Int
  public var source: String

  /// The profiles of `features` (each must exist in the file).
  public init(file: CLTFile, features: [FeatureKey], source: String) throws {
    let t = file.transcoder
    profiles = try features.map { key in
      guard key.layer >= 0 && key.layer < t.nLayers else {
        throw PlotError.notInInput(
          file: source, detail: "no layer \(key.layer) (the transcoder has \(t.nLayers))")
      }
      guard key.feature >= 0 && key.feature < t.features else {
        throw PlotError.notInInput(
          file: source, detail: "no feature \(key.feature) in layer \(key.layer) (it has \(t.features))")
      }
      let norms = (key.layer..<t.nLayers).map { target -> Double in
        let row = t.decoder(from: key.layer, to: target).pointer + key.feature * t.dModel
        var sum = 0.0
        for k in 0..<t.dModel { sum += Double(row[k]) * Double(row[k]) }
        return sum.squareRoot()
      }
      return Profile(key: key, norms: norms)
    }
    layers = t.nLayers
    self.source = source
  }

  /// The `count` features of `layer` with the largest decoder norm over all its target layers.
  public static func topFeatures(file: CLTFile, layer: Int, count: Int, source: String) throws -> [FeatureKey]
  {
    guard layer >= 0 && layer < file.transcoder.nLayers else {
      throw PlotError.notInInput(
        file: source, detail: "no layer \(layer) (the transcoder has \(file.transcoder.nLayers))")
    }
    let norms = file.transcoder.decoderNorms(layer: layer)
    return norms.indices.sorted { norms[$0] != norms[$1] ? norms[$0] > norms[$1] : $0 < $1 }.prefix(count)
      .map { FeatureKey(layer: layer, feature: $0) }
  }

  public func svg() -> String {
    let series = profiles.enumerated().map { i, p in
      LineChart.Series(
        name: p.key.label, color: TrainingCurves.palette(i),
        points: p.norms.enumerated().map { (Double(p.key.layer + $0), $1) })
    }
    let chart = LineChart(
      series: series, xTitle: "target layer l′", yTitle: "‖W_dec[l→l′] row‖",
      xTicks: (0..<layers).map(Double.init))
    var svg = SVGDocument(
      width: 640, height: 400, title: "Decoder norms across target layers (\(profiles.count) features)",
      summary:
        "From \(source): for each feature (L{layer}/F{feature}), the Euclidean norm of its decoder row W_dec[l→l′] "
        + "into each target layer l′ ≥ l, in the transcoder's normalised units. One polyline per feature.")
    svg.heading(
      subtitle: "\(SVGDocument.fileName(source)): how strongly each feature writes to each later layer")
    chart.draw(into: &svg, x: 80, y: 70, width: 420, height: 270)
    return svg.render()
  }
}
