import Foundation

/// A feature firing on a token, with the tokens around it in the same document: one row of a
/// feature dashboard.
public struct ActivationContext: Sendable, Equatable {
  /// A token of the window and the feature's activation on it (0 where it was silent or not
  /// among the token's features in the clt-encode lines).
  public struct Token: Sendable, Equatable {
    public var pos: Int
    public var text: String
    public var activation: Double

    public init(pos: Int, text: String, activation: Double) {
      self.pos = pos
      self.text = text
      self.activation = activation
    }
  }

  public var doc: Int
  /// The activating token's position in its document.
  public var pos: Int
  /// The feature's activation on it (normalised units, as clt-encode prints it).
  public var activation: Double
  /// Up to `window` tokens before it, itself, and up to `window` after it, all of one document.
  public var tokens: [Token]

  public init(doc: Int, pos: Int, activation: Double, tokens: [Token]) {
    self.doc = doc
    self.pos = pos
    self.activation = activation
    self.tokens = tokens
  }

  /// The activating token's index in `tokens`.
  public var center: Int? { tokens.firstIndex { $0.pos == pos } }

  /// The order a dashboard lists contexts in: stronger first; equal ones by document, then
  /// position, so the choice never depends on the order of the input lines.
  public static func precedes(_ a: ActivationContext, _ b: ActivationContext) -> Bool {
    if a.activation != b.activation { return a.activation > b.activation }
    return (a.doc, a.pos) < (b.doc, b.pos)
  }
}
