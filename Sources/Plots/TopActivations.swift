import CLTFormat
import Foundation

/// The strongest activations of chosen features over a clt-encode stream, each with a window of
/// its document: what a feature dashboard shows as its top-activating contexts.
///
/// Read in one pass, a token at a time (`add`), so a clt-encode output of a whole corpus streams:
/// memory holds, per feature, at most `count` contexts of 2 · `window` + 1 tokens, plus the last
/// `window` tokens of the current document, never the corpus.
public struct TopActivations {
  public let features: [FeatureKey]
  /// Contexts kept per feature.
  public let count: Int
  /// Tokens kept on each side of the activating one.
  public let window: Int
  /// Lines read.
  public private(set) var tokensSeen = 0
  /// Per feature, on how many tokens it was active (in the lines read).
  public private(set) var firingTokens: [FeatureKey: Int] = [:]

  /// A recent token: its text and the chosen features' activations on it.
  struct Recent {
    var token: ActivationContext.Token
    var activations: [FeatureKey: Double]
  }

  private let chosen: Set<FeatureKey>
  /// Per feature, the ids of its kept contexts, best first (`ActivationContext.precedes`).
  private var kept: [FeatureKey: [Int]] = [:]
  /// Every kept context, by id, with its feature.
  private var contexts: [Int: (key: FeatureKey, context: ActivationContext)] = [:]
  private var nextID = 0
  /// Kept contexts still collecting the tokens after the activating one.
  private var pending: [Int] = []
  /// The last `window` tokens of the current document, oldest first.
  private var recent: [Recent] = []
  private var currentDoc: Int?

  /// - Parameters:
  ///   - features: the features to collect contexts of.
  ///   - count: contexts per feature, at least 1.
  ///   - window: tokens on each side, at least 0.
  public init(features: [FeatureKey], count: Int, window: Int) {
    precondition(count >= 1 && window >= 0)
    self.features = features
    self.count = count
    self.window = window
    chosen = Set(features)
  }

  /// Takes the next line of the stream (lines of a document in order of position).
  /// - Complexity: O(f · count + window) for a token on which f chosen features fire.
  public mutating func add(_ token: TokenFeatures) {
    tokensSeen += 1
    if token.doc != currentDoc {
      currentDoc = token.doc
      recent.removeAll(keepingCapacity: true)
      pending.removeAll()
    }
    var activations: [FeatureKey: Double] = [:]
    for f in token.features where f.activation > 0 && chosen.contains(f.key) {
      activations[f.key] = max(activations[f.key] ?? 0, Double(f.activation))
    }
    // The tokens after an earlier activation, for the contexts still waiting for them.
    pending = pending.filter { id in
      guard var entry = contexts[id] else { return false }
      entry.context.tokens.append(
        ActivationContext.Token(pos: token.pos, text: token.token, activation: activations[entry.key] ?? 0))
      contexts[id] = entry
      return entry.context.tokens.count - (entry.context.center ?? 0) - 1 < window
    }
    let this = ActivationContext.Token(pos: token.pos, text: token.token, activation: 0)
    for (key, activation) in activations {
      firingTokens[key, default: 0] += 1
      let candidate = ActivationContext(doc: token.doc, pos: token.pos, activation: activation, tokens: [])
      var ids = kept[key, default: []]
      if ids.count == count, let last = ids.last,
        !ActivationContext.precedes(candidate, contexts[last]!.context)
      {
        continue
      }
      var context = candidate
      context.tokens =
        recent.map { r in
          var t = r.token
          t.activation = r.activations[key] ?? 0
          return t
        } + [ActivationContext.Token(pos: this.pos, text: this.text, activation: activation)]
      let id = nextID
      nextID += 1
      contexts[id] = (key, context)
      let at = ids.firstIndex { ActivationContext.precedes(context, contexts[$0]!.context) } ?? ids.count
      ids.insert(id, at: at)
      if ids.count > count { contexts[ids.removeLast()] = nil }
      kept[key] = ids
      if window > 0 { pending.append(id) }
    }
    if window > 0 {
      recent.append(Recent(token: this, activations: activations))
      if recent.count > window { recent.removeFirst() }
    }
  }

  /// Contexts held now, for all features together: at most `features.count` × `count`, however
  /// long the stream (the memory bound, checked by the tests).
  public var heldContexts: Int { contexts.count }

  /// The kept contexts of `key`, strongest first.
  public func contexts(of key: FeatureKey) -> [ActivationContext] {
    (kept[key] ?? []).compactMap { contexts[$0]?.context }
  }

  /// Reads a clt-encode file (`-`: stdin) as a stream and keeps the top contexts of `features`;
  /// with `transcoder`, a line made with another one is refused (`CLTFile.checkMadeWith`).
  public static func read(
    _ path: String, features: [FeatureKey], count: Int, window: Int, madeWith transcoder: CLTFile? = nil
  ) throws -> TopActivations {
    var top = TopActivations(features: features, count: count, window: window)
    try TokenFeatures.forEach(path, madeWith: transcoder) { token in
      top.add(token)
      return true
    }
    guard top.tokensSeen > 0 else { throw PlotError.emptyInput(file: path, what: "clt-encode lines") }
    return top
  }
}
