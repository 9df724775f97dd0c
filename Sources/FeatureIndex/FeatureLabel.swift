import Foundation

/// What a feature is about, in a few words, for a graph's node: `text` is shown, and `group`
/// decides which features of one position are drawn as one supernode (`GraphView`).
public struct FeatureLabel: Sendable, Equatable {
  public var text: String
  public var group: String

  public init(text: String, group: String) {
    self.text = text
    self.group = group
  }

  /// A label from the tokens a feature fires on most and the tokens it promotes most:
  /// `"Paris" " France" → Paris`; from the promoted tokens alone (`→ Paris · London`) when it
  /// never fired on the corpus, or no corpus was seen. The group is the first token shown, without
  /// its surrounding spaces and case, so that " Paris" and "Paris" features merge.
  public init(firing: [String], promoting: [String]) {
    func bare(_ token: String) -> String {
      let trimmed = token.trimmingCharacters(in: .whitespacesAndNewlines)
      return trimmed.isEmpty ? Self.visible(token) : trimmed
    }
    var shown: [String] = []
    for token in firing where !shown.contains(token) && shown.count < 2 { shown.append(token) }
    let quoted = shown.map { "\"" + Self.visible($0) + "\"" }
    let promoted = promoting.prefix(shown.isEmpty ? 2 : 1).map(bare)
    let arrow = promoted.isEmpty ? "" : "→ " + promoted.joined(separator: " · ")
    text = (quoted + (arrow.isEmpty ? [] : [arrow])).joined(separator: " ")
    group = (shown.first.map(bare) ?? promoted.first ?? "").lowercased()
  }

  /// A token as a label shows it: line breaks, tabs and other control characters made visible.
  public static func visible(_ token: String) -> String {
    var out = ""
    for scalar in token.unicodeScalars {
      switch scalar {
      case "\n": out += "⏎"
      case "\t": out += "⇥"
      case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "␀"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }
}
