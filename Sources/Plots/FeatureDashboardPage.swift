import Foundation

/// Feature dashboards as one static HTML page: an index of the features, then a section per
/// feature with its top-activating contexts (the activating tokens shaded by activation) and its
/// logit effects (top promoted and suppressed tokens). Inline CSS, no script, nothing fetched.
///
/// The page is well-formed XML as well as HTML (every element closed, only XML's entities), so a
/// test can parse it; its structure is in docs/FORMATS.md ("clt-plot outputs").
public struct FeatureDashboardPage {
  public var dashboards: [FeatureDashboard]
  /// The clt-encode file the contexts came from.
  public var source: String
  /// Lines of it read.
  public var tokensSeen: Int
  /// Tokens shown on each side of the activating one.
  public var window: Int
  /// How the logit effects were computed, or nil when there are none (no model given).
  public var logitNote: String?

  public init(
    dashboards: [FeatureDashboard], source: String, tokensSeen: Int, window: Int, logitNote: String?
  ) {
    self.dashboards = dashboards
    self.source = source
    self.tokensSeen = tokensSeen
    self.window = window
    self.logitNote = logitNote
  }

  // MARK: - Text

  /// A token's text as HTML with its whitespace made visible: a space as a middle dot, a line feed
  /// as ↵, a tab as →, a carriage return as ␍ (each in `span.ws`), the rest escaped; an empty
  /// token as ∅.
  public static func visibleToken(_ text: String) -> String {
    guard !text.isEmpty else { return "<span class=\"ws\">\u{2205}</span>" }
    var out = ""
    for character in text {
      switch character {
      case " ": out += "<span class=\"ws\">\u{00B7}</span>"
      case "\n", "\r\n": out += "<span class=\"ws\">\u{21B5}</span>"
      case "\t": out += "<span class=\"ws\">\u{2192}</span>"
      case "\r": out += "<span class=\"ws\">\u{240D}</span>"
      default: out += SVGDocument.escape(String(character))
      }
    }
    return out
  }

  static func escape(_ text: String) -> String { SVGDocument.escape(text) }

  /// A signed value with its sign, for the logit tables.
  static func signed(_ value: Double) -> String {
    (value > 0 ? "+" : "") + Axis.trimmed(value)
  }

  // MARK: - Sections

  /// One context as a line of tokens, the feature's activation shading each.
  func contextHTML(_ context: ActivationContext, key: FeatureKey, peak: Double) -> String {
    let tokens = context.tokens.map { token -> String in
      let text = Self.visibleToken(token.text)
      guard token.activation > 0 else { return "<span class=\"tok\">\(text)</span>" }
      let alpha = peak > 0 ? min(max(token.activation / peak, 0.08), 1) : 1
      let centre = token.pos == context.pos ? " centre" : ""
      return "<span class=\"tok act\(centre)\" style=\"background: rgba(255, 122, 0, "
        + String(format: "%.2f", alpha) + ")\" data-activation=\"\(Axis.trimmed(token.activation))\" "
        + "title=\"\(key.label) = \(Axis.trimmed(token.activation)) at doc \(context.doc), pos \(token.pos)\">"
        + text + "</span>"
    }.joined()
    return "<div class=\"context\" data-doc=\"\(context.doc)\" data-pos=\"\(context.pos)\" "
      + "data-activation=\"\(Axis.trimmed(context.activation))\"><span class=\"value\">"
      + Axis.trimmed(context.activation)
      + "</span><span class=\"where\">doc \(context.doc) pos \(context.pos)</span>"
      + "<span class=\"text\">\(tokens)</span></div>"
  }

  /// A table of logit effects: `kind` is promoted or suppressed.
  func logitTable(_ effects: [FeatureDashboard.LogitEffect], kind: String) -> String {
    let rows = effects.map {
      "<tr><td class=\"token\">\(Self.visibleToken($0.token))</td><td class=\"value\">\(Self.signed($0.value))</td></tr>"
    }.joined(separator: "\n")
    return "<table class=\"logits \(kind)\"><caption>\(kind)</caption>\n\(rows)\n</table>"
  }

  func section(_ d: FeatureDashboard) -> String {
    let peak = d.contexts.map(\.activation).max() ?? 0
    let share =
      tokensSeen > 0 ? String(format: "%.2f%%", 100 * Double(d.firingTokens) / Double(tokensSeen)) : "—"
    let training = d.trainingFrequency.map { String(format: "; in training %.2f%%", 100 * $0) } ?? ""
    var html = """
      <section class="feature" id="\(d.anchor)" data-layer="\(d.key.layer)" data-feature="\(d.key.feature)">
      <h2>\(d.key.label)\(d.label.map { " <span class=\"label\">" + Self.escape($0) + "</span>" } ?? "")</h2>
      <p class="stats">Active on \(d.firingTokens) of \(tokensSeen) tokens (\(share))\(training); strongest activation \(Axis.trimmed(peak)).</p>

      """
    if !d.notes.isEmpty {
      html += "<ul class=\"notes\">" + d.notes.map { "<li>\(Self.escape($0))</li>" }.joined() + "</ul>\n"
    }
    html += "<div class=\"columns\">\n<div class=\"contexts\"><h3>Top activations</h3>\n"
    if d.contexts.isEmpty {
      html +=
        "<p class=\"empty\">Not active on any token of \(Self.escape(SVGDocument.fileName(source))).</p>\n"
    } else {
      html += d.contexts.map { contextHTML($0, key: d.key, peak: peak) }.joined(separator: "\n") + "\n"
    }
    html += "</div>\n"
    if logitNote != nil {
      html += "<div class=\"effects\"><h3>Logit effects</h3>\n"
      html += logitTable(d.promoted, kind: "promoted") + "\n" + logitTable(d.suppressed, kind: "suppressed")
      html += "\n</div>\n"
    }
    return html + "</div>\n</section>"
  }

  func index() -> String {
    let rows = dashboards.map { d -> String in
      let top = d.contexts.first.map { Axis.trimmed($0.activation) } ?? "—"
      let promoted = d.promoted.prefix(3).map { "<span class=\"chip\">\(Self.visibleToken($0.token))</span>" }
        .joined(separator: " ")
      return
        "<tr><td><a href=\"#\(d.anchor)\">\(d.key.label)</a></td><td>\(d.firingTokens)</td><td>\(top)</td>"
        + (logitNote != nil ? "<td>\(promoted)</td>" : "") + "</tr>"
    }.joined(separator: "\n")
    let promotedHeader = logitNote != nil ? "<th>top promoted</th>" : ""
    return """
      <table class="index">
      <tr><th>feature</th><th>active on (tokens)</th><th>strongest</th>\(promotedHeader)</tr>
      \(rows)
      </table>
      """
  }

  /// The page.
  public func html() -> String {
    let title = "Feature dashboards: \(dashboards.count) features"
    let logits =
      logitNote.map { " Logit effects: \(Self.escape($0))" }
      ?? " No logit effects (no model given)."
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8"/>
      <title>\(Self.escape(title))</title>
      <style>\(Self.css)</style>
      </head>
      <body>
      <header><h1>\(Self.escape(title))</h1>
      <p>Contexts from \(Self.escape(source)) (\(tokensSeen) tokens, clt-encode): each feature's strongest activations, \
      \(window) tokens either side within the document, shaded by the feature's activation (normalised units) \
      relative to its strongest; · is a space, ↵ a line break.\(logits)</p></header>
      <nav>
      \(index())
      </nav>
      <main>
      \(dashboards.map(section).joined(separator: "\n"))
      </main>
      </body>
      </html>

      """
  }

  static let css = """
    body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
    h1 { font-size: 1.4em; } h2 { margin-bottom: 0.2em; } h2 .label { font-weight: normal; color: #555; font-size: 0.8em; } h3 { font-size: 1em; margin: 0.4em 0; }
    table { border-collapse: collapse; } td, th { padding: 1px 8px; text-align: left; }
    table.index tr:nth-child(even) { background: #f4f4f4; }
    section.feature { border-top: 1px solid #ccc; margin-top: 1.2em; }
    .stats { color: #555; margin: 0; } ul.notes { color: #555; font-size: 0.9em; margin: 0.2em 0; }
    .columns { display: flex; gap: 2em; align-items: flex-start; }
    .contexts { flex: 1; min-width: 0; }
    .context { font-family: ui-monospace, monospace; white-space: pre; overflow-x: auto; padding: 2px 0; }
    .context .value { display: inline-block; width: 5em; color: #a04000; }
    .context .where { display: inline-block; width: 10em; color: #999; font-size: 0.85em; }
    .tok.act { border-radius: 2px; } .tok.centre { outline: 1px solid #a04000; }
    .ws { color: #aaa; } .chip { font-family: ui-monospace, monospace; background: #eef2f8; padding: 0 3px; }
    table.logits { font-family: ui-monospace, monospace; margin-bottom: 0.6em; }
    table.logits caption { text-align: left; font-weight: bold; }
    table.promoted td.value { color: #1a5fb4; } table.suppressed td.value { color: #c01c28; }
    .empty { color: #999; }
    """
}
