import CLTFormat
import Foundation

/// Features ranked by importance as horizontal bars. A feature's importance on a token is its
/// activation times its decoder norm ‖W_dec,i‖ (its rows into every target layer, concatenated):
/// the size of what it writes into the model, the quantity the paper's sparsity penalty weighs
/// (Ameisen et al. 2025). From clt-encode lines it is summed over the tokens; from an attribution
/// graph each feature node (a feature at a position) is a bar, and without a clt.h5 the graph's
/// influence on the logits ranks them instead.
public struct FeatureImportance {
  public struct Bar: Sendable {
    public var label: String
    public var value: Double
  }

  public var bars: [Bar]
  public var measure: String
  public var source: String

  public init(bars: [Bar], measure: String, source: String) {
    self.bars = bars
    self.measure = measure
    self.source = source
  }

  /// Σ over tokens of activation × decoder norm, per feature, the `top` largest.
  public static func fromEncoded(_ tokens: [TokenFeatures], file: CLTFile, top: Int, source: String) throws
    -> FeatureImportance
  {
    var totals = Totals(file: file, source: source)
    for token in tokens { try totals.add(token) }
    return totals.chart(top: top, tokens: tokens.count)
  }

  /// The same from a clt-encode file read as a stream: memory grows with the distinct features.
  public static func fromEncoded(path: String, file: CLTFile, top: Int) throws -> FeatureImportance {
    let (totals, count) = try streamedTotals(path: path, file: file)
    return totals.chart(top: top, tokens: count)
  }

  /// The `top` most important features of a clt-encode file read as a stream (Σ over its tokens
  /// of activation × decoder norm), most important first.
  public static func topFeatures(path: String, file: CLTFile, top: Int) throws -> [FeatureKey] {
    try streamedTotals(path: path, file: file).totals.ranked(top: top).map(\.key)
  }

  /// The totals of a clt-encode file read as a stream, and its number of lines; a line made with
  /// another transcoder than `file` is refused (`CLTFile.checkMadeWith`).
  static func streamedTotals(path: String, file: CLTFile) throws -> (totals: Totals, tokens: Int) {
    var totals = Totals(file: file, source: path)
    var count = 0
    try TokenFeatures.forEach(path, madeWith: file) { token in
      try totals.add(token)
      count += 1
      return true
    }
    guard count > 0 else { throw PlotError.emptyInput(file: path, what: "clt-encode lines") }
    return (totals, count)
  }

  /// Per feature, the running Σ activation × decoder norm; each layer's norms computed once.
  struct Totals {
    let file: CLTFile
    let source: String
    var norms: [Int: [Double]] = [:]
    var totals: [FeatureKey: Double] = [:]

    init(file: CLTFile, source: String) {
      self.file = file
      self.source = source
    }

    mutating func add(_ token: TokenFeatures) throws {
      for f in token.features {
        if norms[f.layer] == nil {
          norms[f.layer] = try FeatureImportance.decoderNorms(file, layers: [f.layer], source: source)[
            f.layer]
        }
        guard let n = norms[f.layer], f.feature >= 0, f.feature < n.count else {
          throw PlotError.notInInput(
            file: source,
            detail: "feature \(f.label) is not in the transcoder (\(file.transcoder.features) a layer)")
        }
        totals[f.key, default: 0] += Double(f.activation) * n[f.feature]
      }
    }

    /// The `top` largest totals, largest first (ties: lower layer, then lower index).
    func ranked(top: Int) -> ArraySlice<(key: FeatureKey, value: Double)> {
      totals.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top)
    }

    func chart(top: Int, tokens: Int) -> FeatureImportance {
      let ranked = ranked(top: top)
      return FeatureImportance(
        bars: ranked.map { Bar(label: $0.key.label, value: $0.value) },
        measure: "Σ over \(tokens) tokens of activation × decoder norm", source: source)
    }
  }

  /// The graph's feature nodes, by activation × decoder norm (with `file`, which must be the
  /// transcoder the graph was made with: `CLTFile.checkMadeWith`) or by influence.
  public static func fromGraph(_ graph: AttributionGraphFile, file: CLTFile?, top: Int, source: String) throws
    -> FeatureImportance
  {
    let features = graph.nodes.filter { $0.kind == .feature }
    guard !features.isEmpty else { throw PlotError.emptyInput(file: source, what: "feature nodes") }
    try file?.checkMadeWith(graph, path: source)
    func label(_ n: AttributionGraphFile.Node) -> String {
      let token =
        n.position < graph.promptTokens.count ? " " + tokenLabel(graph.promptTokens[n.position]) : ""
      return "L\(n.layer)/F\(n.featureIndex ?? -1) @\(n.position)\(token)"
    }
    var bars: [Bar]
    let measure: String
    if let file {
      let norms = try decoderNorms(file, layers: Set(features.map(\.layer)), source: source)
      bars = try features.map { n in
        guard let f = n.featureIndex, let layerNorms = norms[n.layer], f < layerNorms.count else {
          throw PlotError.notInInput(file: source, detail: "node \(n.id) is not a feature of the transcoder")
        }
        return Bar(label: label(n), value: (n.activation ?? 0) * layerNorms[f])
      }
      measure = "activation × decoder norm"
    } else {
      bars = features.map { Bar(label: label($0), value: $0.influence) }
      measure = "influence on the logits (no --clt given)"
    }
    bars.sort { $0.value > $1.value }
    return FeatureImportance(bars: Array(bars.prefix(top)), measure: measure, source: source)
  }

  static func decoderNorms(_ file: CLTFile, layers: Set<Int>, source: String) throws -> [Int: [Double]] {
    var norms: [Int: [Double]] = [:]
    for l in layers {
      guard l >= 0 && l < file.transcoder.nLayers else {
        throw PlotError.notInInput(
          file: source, detail: "layer \(l) is not in the transcoder (it has \(file.transcoder.nLayers))")
      }
      norms[l] = file.transcoder.decoderNorms(layer: l).map(Double.init)
    }
    return norms
  }

  public func svg() -> String {
    let barHeight = 16.0
    let left = 230.0
    let plotWidth = 380.0
    let top = 70.0
    let scale = LinearScale(
      domain: LinearScale.niceDomain(bars.map(\.value) + [0], includeZero: true),
      range: (left, left + plotWidth))
    var svg = SVGDocument(
      width: left + plotWidth + 90, height: top + Double(max(bars.count, 1)) * barHeight + 60,
      title: "Feature importance: \(measure)",
      summary:
        "From \(source): the \(bars.count) most important features, most important on top; bar length: \(measure) "
        + "(normalised units of the transcoder).")
    svg.heading(subtitle: "\(SVGDocument.fileName(source))")
    for (i, bar) in bars.enumerated() {
      let y = top + Double(i) * barHeight
      let (x0, x1) = (scale.map(min(0, bar.value)), scale.map(max(0, bar.value)))
      svg.text(bar.label, x: left - 6, y: y + 11.5, size: 10, anchor: .end, className: "bar-label")
      svg.rect(
        x: x0, y: y + 2, width: x1 - x0, height: barHeight - 4, fill: bar.value >= 0 ? "#3a6fb0" : "#c0303a",
        className: "bar", tooltip: "\(bar.label): \(Axis.trimmed(bar.value))")
      svg.text(Axis.trimmed(bar.value), x: x1 + 4, y: y + 11.5, size: 9, fill: "#444")
    }
    Axis.drawBottom(
      in: &svg, scale: scale, y: top + Double(bars.count) * barHeight + 6, title: measure)
    return svg.render()
  }
}
