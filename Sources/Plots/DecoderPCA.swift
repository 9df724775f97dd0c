import CLTFormat
import Foundation

/// A 2-D principal-component projection of one layer's decoder directions (clt.h5): each feature
/// is a point — its decoder row into its own layer, W_dec[l→l]_i (d values), or with `.concatenated`
/// its rows into every target layer l′ ≥ l joined end to end (d·(L − l) values) — projected on the
/// first two principal components, coloured by the feature's firing frequency (log scale).
/// Features that write similar directions land close together; dead ones (frequency 0) show dark.
public struct DecoderPCA {
  public enum Rows: String, Sendable, CaseIterable {
    case same, concatenated
  }

  public var pca: PrincipalComponents
  public var frequencies: [Double]
  public var layer: Int
  public var rows: Rows
  public var source: String

  public init(file: CLTFile, layer: Int, rows: Rows, source: String) throws {
    let t = file.transcoder
    guard layer >= 0 && layer < t.nLayers else {
      throw PlotError.notInInput(file: source, detail: "no layer \(layer) (the transcoder has \(t.nLayers))")
    }
    let targets = rows == .same ? [layer] : Array(layer..<t.nLayers)
    let dim = targets.count * t.dModel
    var points = [Float](repeating: 0, count: t.features * dim)
    for i in 0..<t.features {
      for (k, target) in targets.enumerated() {
        let row = t.decoder(from: layer, to: target).pointer + i * t.dModel
        for j in 0..<t.dModel { points[i * dim + k * t.dModel + j] = row[j] }
      }
    }
    pca = PrincipalComponents(points: points, n: t.features, dim: dim, count: 2)
    frequencies = layer < file.frequencies.count ? file.frequencies[layer].map(Double.init) : []
    self.layer = layer
    self.rows = rows
    self.source = source
  }

  public func svg() -> String {
    let (left, top, size) = (80.0, 80.0, 420.0)
    let xs = pca.projections.map { $0.count > 0 ? $0[0] : 0 }
    let ys = pca.projections.map { $0.count > 1 ? $0[1] : 0 }
    let xScale = LinearScale(domain: LinearScale.niceDomain(xs), range: (left, left + size))
    let yScale = LinearScale(domain: LinearScale.niceDomain(ys), range: (top + size, top))
    let floor = 1e-6
    let logs = frequencies.map { log10(max($0, floor)) }
    let color = ColorScale.viridis(logs.min() ?? -6, max(logs.max() ?? 0, (logs.min() ?? -6) + 1e-9))
    let explained = pca.explained
    func pct(_ k: Int) -> String {
      k < explained.count ? String(format: "%.1f%%", 100 * explained[k]) : "n/a"
    }
    let what =
      rows == .same
      ? "decoder rows into layer \(layer) itself" : "decoder rows into layers \(layer)… concatenated"
    var svg = SVGDocument(
      width: left + size + 160, height: top + size + 60,
      title: "PCA of layer \(layer)'s decoder directions (\(xs.count) features)",
      summary:
        "From \(source): each circle is one feature of layer \(layer), placed by the projection of its \(what) on the "
        + "first two principal components (PC1 \(pct(0)), PC2 \(pct(1)) of the variance); colour: log10 of its firing "
        + "frequency (frequency_\(layer) in clt.h5, floored at 1e-6).")
    svg.heading(
      subtitle: "\(SVGDocument.fileName(source)): \(what); PC1 \(pct(0)), PC2 \(pct(1)) of variance")
    Axis.drawLeft(in: &svg, scale: yScale, x: left, right: left + size, title: "PC2 (\(pct(1)))")
    Axis.drawBottom(in: &svg, scale: xScale, y: top + size, top: top, title: "PC1 (\(pct(0)))")
    svg.beginGroup(className: "points", label: "features")
    for i in xs.indices {
      let f = i < frequencies.count ? frequencies[i] : .nan
      svg.circle(
        cx: xScale.map(xs[i]), cy: yScale.map(ys[i]), r: 3,
        fill: f.isFinite ? color.color(log10(max(f, floor))) : "#bbb",
        stroke: "#0003", className: "point", tooltip: "L\(layer)/F\(i): frequency \(Axis.trimmed(f))")
    }
    svg.endGroup()
    color.drawLegend(
      in: &svg, x: left + size + 40, y: top + 20, height: 200, caption: "log10 firing frequency")
    return svg.render()
  }
}
