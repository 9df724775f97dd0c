import CLTFormat
import Foundation

/// Turns an experiment's results into its report (results/NAME/REPORT.md and REPORT.html): the
/// metrics the issues ask for (per-layer NMSE, L0 and dead fraction on held-out text, CE
/// recovered, KL, top-1 agreement, graph completeness and replacement scores), the pictures,
/// graphs and generation comparisons, the stage timings and the provenance.
public enum ExperimentReport {
  public static func document(for results: ExperimentResults) -> ReportDocument {
    var doc = ReportDocument(title: "CLTKit experiment: \(results.name)")
    let first = results.variants[0].metadata
    doc.add(
      .paragraph(
        "Cross-layer transcoders on \(first.model) (\(first.architecture), \(first.nLayers) layers, "
          + "d_model \(first.dModel)); \(results.variants.count) variant(s): "
          + results.variants.map(\.name).joined(separator: ", ")
          + ". The commands that made these results are in commands.sh, the inputs' hashes and tool "
          + "versions below."))
    doc.add(.heading(level: 1, text: "Summary"))
    doc.add(
      .table(
        header: [
          "variant", "activation", "features/layer", "tokens trained", "held-out NMSE", "held-out L0",
          "dead", "CE recovered", "KL (nats)", "top-1 agreement", "graph completeness", "graph replacement",
        ],
        rows: results.variants.map(summaryRow)))
    for variant in results.variants { addVariant(variant, to: &doc) }
    if !results.timings.isEmpty {
      doc.add(.heading(level: 1, text: "Wall time"))
      let total = results.timings.reduce(0) { $0 + $1.seconds }
      doc.add(
        .table(
          header: ["stage", "seconds"],
          rows: results.timings.map { [relative($0.stage, to: results.folder), format($0.seconds, 1)] }
            + [["total", format(total, 1) + " (" + minutes(total) + ")"]]))
    }
    let provenance = results.provenanceRows
    if !provenance.isEmpty {
      doc.add(.heading(level: 1, text: "Provenance"))
      doc.add(.table(header: ["what", "value"], rows: provenance.map { [$0.key, $0.value] }))
    }
    return doc
  }

  // MARK: - Rows and sections

  static func summaryRow(_ v: VariantResults) -> [String] {
    let m = v.metadata
    let graphs = v.graphs.map(\.graph)
    func mean(_ key: String) -> Double? {
      let values = graphs.compactMap { $0.child("metadata")?.number(key) }
      return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
    let sparsity =
      m.activation == "jumprelu" ? "λ \(m.configuration.coefficients.sparsity)" : "k \(m.configuration.k)"
    return [
      v.name, "\(m.activation) (\(sparsity))", "\(m.features)", "\(m.tokensSeen) (\(m.steps) steps)",
      format(v.heldOut?.meanNMSE, 4), format(v.heldOut?.meanL0, 1), percent(v.heldOut?.meanDeadFraction),
      percent(v.replacement?.number("fraction_ce_recovered")), format(v.replacement?.number("kl"), 3),
      percent(v.replacement?.number("top1_agreement")), format(mean("completeness_score"), 3),
      format(mean("replacement_score"), 3),
    ]
  }

  static func addVariant(_ v: VariantResults, to doc: inout ReportDocument) {
    let m = v.metadata
    doc.add(.heading(level: 1, text: "Variant \(v.name)"))
    doc.add(
      .paragraph(
        "\(m.activation), \(m.features) features per layer, batch \(m.configuration.batch), peak learning rate "
          + "\(m.configuration.learningRate), \(m.steps) of \(m.configuration.steps) planned steps, "
          + "\(m.tokensSeen) tokens, seed \(m.configuration.seed); \(m.createdBy)."))
    if let last = v.lastStep {
      doc.add(
        .paragraph(
          "Last training step logged: step \(format(last.number("step"), 0)), batch NMSE "
            + "\(format(last.number("mean_nmse"), 4)), batch L0 \(format(last.number("mean_l0"), 1))."))
    }
    if let r = v.replacement {
      doc.add(.heading(level: 2, text: "Replacement model on held-out text"))
      doc.add(
        .table(
          header: [
            "predictions", "CE original", "CE replacement", "CE MLPs ablated", "CE recovered", "KL", "top-1",
          ],
          rows: [
            [
              format(r.number("predictions"), 0), format(r.number("ce_original"), 3),
              format(r.number("ce_replacement"), 3), format(r.number("ce_ablated"), 3),
              percent(r.number("fraction_ce_recovered")), format(r.number("kl"), 3),
              percent(r.number("top1_agreement")),
            ]
          ]))
    }
    addLayers(v, to: &doc)
    if let g = v.generation {
      doc.add(.heading(level: 2, text: "Generation: original and replacement model"))
      doc.add(
        .paragraph(
          "Greedy continuations of the same prompt; per-step top-1 agreement "
            + "\(percent(g.number("top1_agreement"))), mean KL \(format(g.number("kl"), 3)) nats."))
      doc.add(.code("original:    " + (g.child("original")?.string("text") ?? "")))
      doc.add(.code("replacement: " + (g.child("replacement")?.string("text") ?? "")))
    }
    if !v.graphs.isEmpty {
      doc.add(.heading(level: 2, text: "Attribution graphs"))
      doc.add(
        .table(
          header: [
            "graph", "prompt", "nodes", "links", "completeness", "replacement", "pruned completeness",
            "pruned replacement",
          ],
          rows: v.graphs.map { index, graph in
            let meta = graph.child("metadata")
            return [
              "\(index)", meta?.string("prompt") ?? "", "\(graph.count("nodes") ?? 0)",
              "\(graph.count("links") ?? 0)",
              format(meta?.number("completeness_score"), 3), format(meta?.number("replacement_score"), 3),
              format(meta?.number("pruned_completeness_score"), 3),
              format(meta?.number("pruned_replacement_score"), 3),
            ]
          }))
    }
    let pages = v.graphs.map { "\(v.name)/graphs/graph-\($0.index).html" }.filter {
      FileManager.default.fileExists(
        atPath: v.folder.deletingLastPathComponent().appendingPathComponent($0).path)
    }
    if !pages.isEmpty {
      doc.add(.paragraph("Interactive graph pages (hover or click a node for its edges):"))
      doc.add(.links(pages.map { ($0, URL(fileURLWithPath: $0).lastPathComponent) }))
    }
    let dashboards = "\(v.name)/pictures/dashboards.html"
    if FileManager.default.fileExists(
      atPath: v.folder.deletingLastPathComponent().appendingPathComponent(dashboards).path)
    {
      doc.add(
        .paragraph(
          "Feature dashboards of the graphs' features (top-activating contexts in held-out text, logit effects):"
        ))
      doc.add(.links([(dashboards, "dashboards.html")]))
    }
    if !v.pictures.isEmpty {
      doc.add(.heading(level: 2, text: "Pictures"))
      for picture in v.pictures {
        doc.add(
          .image(
            path: picture, caption: URL(fileURLWithPath: picture).deletingPathExtension().lastPathComponent))
      }
    }
  }

  static func addLayers(_ v: VariantResults, to doc: inout ReportDocument) {
    let held = v.heldOut
    let evalNMSE = v.replacement?.numbers("nmse")
    let evalL0 = v.replacement?.numbers("l0")
    guard held != nil || evalNMSE != nil else { return }
    doc.add(.heading(level: 2, text: "Per layer"))
    if let held {
      doc.add(
        .paragraph(
          "clt-fit --eval: \(held.tokens) held-out tokens (NMSE = ‖y − ŷ‖² / ‖y − ȳ‖²; dead = never fired on them)."
        ))
    }
    let rows = (0..<v.metadata.nLayers).map { l -> [String] in
      [
        "\(l)", format(held?.nmse[l], 4), format(held?.explainedVariance[l], 4), format(held?.l0[l], 1),
        percent(held?.deadFraction[l]), format(evalNMSE?[l] ?? nil, 4), format(evalL0?[l] ?? nil, 1),
      ]
    }
    doc.add(
      .table(
        header: [
          "layer", "NMSE", "explained variance", "L0", "dead", "NMSE (replacement eval)",
          "L0 (replacement eval)",
        ],
        rows: rows))
  }

  // MARK: - Formatting

  static func format(_ value: Double?, _ digits: Int) -> String {
    guard let value, value.isFinite else { return "—" }
    return String(format: "%.\(digits)f", value)
  }

  static func percent(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "—" }
    return String(format: "%.1f%%", 100 * value)
  }

  static func minutes(_ seconds: Double) -> String {
    String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
  }

  static func relative(_ path: String, to folder: URL) -> String {
    let prefix = folder.path + "/"
    return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
  }
}
