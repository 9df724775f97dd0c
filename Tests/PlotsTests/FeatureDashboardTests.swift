import CLTFormat
import Foundation
import Plots
import Testing

/// Feature dashboards: the streamed top-k contexts against a brute-force sort, and the page's
/// structure (sections, contexts, highlighted tokens, escaping, logit tables).
@Suite struct FeatureDashboardTests {
  /// A random clt-encode stream: `docs` documents of 5…24 tokens, each token with a few of
  /// `layers` × `features` features at activations on a coarse grid (so that ties occur).
  static func randomLines(docs: Int, layers: Int, features: Int, seed: UInt64) -> [TokenFeatures] {
    var state = seed
    func next(_ bound: Int) -> Int {  // SplitMix64
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return Int((z ^ (z >> 31)) % UInt64(bound))
    }
    var tokens: [TokenFeatures] = []
    for doc in 0..<docs {
      for pos in 0..<(5 + next(20)) {
        var seen = Set<FeatureKey>()
        var active: [FeatureActivation] = []
        for _ in 0..<next(4) {
          let key = FeatureKey(layer: next(layers), feature: next(features))
          guard seen.insert(key).inserted else { continue }
          active.append(.init(layer: key.layer, feature: key.feature, activation: Float(1 + next(8)) / 4))
        }
        tokens.append(
          TokenFeatures(doc: doc, pos: pos, tokenID: pos, token: "t\(doc).\(pos)", features: active))
      }
    }
    return tokens
  }

  /// The tokens as clt-encode prints them.
  static func jsonLines(_ tokens: [TokenFeatures]) -> String {
    tokens.map(\.jsonLine).joined(separator: "\n") + "\n"
  }

  @Test("streamed top contexts equal a brute-force sort of every activation, windows clipped to the document")
  func topContextsMatchBruteForce() throws {
    let dir = try PlotFixtures.directory("dashboard-topk")
    defer { try? FileManager.default.removeItem(at: dir) }
    let tokens = Self.randomLines(docs: 30, layers: 2, features: 4, seed: 11)
    let path = try PlotFixtures.write(Self.jsonLines(tokens), "encode.jsonl", in: dir)
    let keys = (0..<2).flatMap { l in (0..<4).map { FeatureKey(layer: l, feature: $0) } }
    let (count, window) = (5, 3)
    let top = try TopActivations.read(path, features: keys, count: count, window: window)
    #expect(top.tokensSeen == tokens.count)
    func activation(_ t: TokenFeatures, _ key: FeatureKey) -> Double {
      Double(t.features.first { $0.key == key }?.activation ?? 0)
    }
    for key in keys {
      let firing = tokens.filter { activation($0, key) > 0 }
      let expected = firing.sorted { a, b in
        activation(a, key) != activation(b, key)
          ? activation(a, key) > activation(b, key) : (a.doc, a.pos) < (b.doc, b.pos)
      }.prefix(count)
      let found = top.contexts(of: key)
      #expect(top.firingTokens[key] ?? 0 == firing.count, "\(key.label) fires on \(firing.count) tokens")
      #expect(
        found.map { [$0.doc, $0.pos] } == expected.map { [$0.doc, $0.pos] }, "\(key.label)'s top \(count)")
      #expect(found.map(\.activation) == expected.map { activation($0, key) })
      for context in found {
        let doc = tokens.filter { $0.doc == context.doc }
        let span = doc.filter { abs($0.pos - context.pos) <= window }
        #expect(
          context.tokens.map(\.text) == span.map(\.token), "the window of \(context.doc):\(context.pos)")
        #expect(context.tokens.map(\.activation) == span.map { activation($0, key) })
        #expect(context.center.map { context.tokens[$0].pos } == context.pos)
      }
    }
    #expect(top.contexts(of: FeatureKey(layer: 7, feature: 0)).isEmpty)
    #expect(
      top.heldContexts == keys.map { top.contexts(of: $0).count }.reduce(0, +), "evicted contexts are freed")
    #expect(top.heldContexts <= keys.count * count)
  }

  @Test("window 0 keeps the activating token alone; a feature that never fires has no context")
  func windowZero() throws {
    var top = TopActivations(
      features: [FeatureKey(layer: 0, feature: 9), FeatureKey(layer: 3, feature: 3)], count: 2, window: 0)
    let dir = try PlotFixtures.directory("dashboard-w0")
    defer { try? FileManager.default.removeItem(at: dir) }
    try TokenFeatures.forEach(try PlotFixtures.write(PlotFixtures.encodeLines, "e.jsonl", in: dir)) {
      top.add($0)
      return true
    }
    let contexts = top.contexts(of: FeatureKey(layer: 0, feature: 9))
    #expect(contexts.map(\.pos) == [1, 0] && contexts.map(\.tokens.count) == [1, 1])
    #expect(contexts[0].tokens[0].text == PlotFixtures.nastyToken)
    #expect(top.contexts(of: FeatureKey(layer: 3, feature: 3)).isEmpty)
  }

  /// Two features by hand: one with two contexts and logit effects, one never active.
  static func page(logits: Bool) -> FeatureDashboardPage {
    typealias T = ActivationContext.Token
    let contexts = [
      ActivationContext(
        doc: 0, pos: 1, activation: 2,
        tokens: [
          T(pos: 0, text: "Hi", activation: 0), T(pos: 1, text: PlotFixtures.nastyToken, activation: 2),
          T(pos: 2, text: "\n\tx", activation: 0.5),
        ]),
      ActivationContext(
        doc: 3, pos: 0, activation: 1,
        tokens: [T(pos: 0, text: "", activation: 1), T(pos: 1, text: " b", activation: 0)]),
    ]
    let effects = logits
    let first = FeatureDashboard(
      key: FeatureKey(layer: 1, feature: 5), contexts: contexts, firingTokens: 3, trainingFrequency: 0.0125,
      notes: ["graph-1.json @1 <x>"],
      promoted: effects ? [.init(token: " <p>", value: 0.5), .init(token: "&", value: 0.25)] : [],
      suppressed: effects ? [.init(token: " no", value: -0.75)] : [])
    let second = FeatureDashboard(key: FeatureKey(layer: 0, feature: 2), contexts: [], firingTokens: 0)
    return FeatureDashboardPage(
      dashboards: [first, second], source: "corpus <encode>.jsonl", tokensSeen: 40, window: 2,
      logitNote: logits ? "W_U · γ" : nil)
  }

  @Test(
    "the page is well-formed XML with one section per feature, its contexts, highlighted tokens and logit tables"
  )
  func pageStructure() throws {
    let html = Self.page(logits: true).html()
    let page = try SVGInspector(html)
    #expect(page.root == "html")
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"))
    let sections = page.all("section", className: "feature")
    #expect(sections.map { $0.attributes["id"] } == ["L1-F5", "L0-F2"])
    #expect(
      page.all("a").map { $0.attributes["href"] } == ["#L1-F5", "#L0-F2"], "the index links each section")
    #expect(page.all("div", className: "context").map { $0.attributes["data-pos"] } == ["1", "0"])
    let active = page.all("span", className: "act")
    #expect(active.count == 3, "three tokens with a non-zero activation")
    #expect(active.map { $0.attributes["data-activation"] } == ["2", "0.5", "1"])
    #expect(page.all("span", className: "centre").count == 2, "one activating token per context")
    #expect(
      page.all("table", className: "promoted").count == 2
        && page.all("table", className: "suppressed").count == 2)
    #expect(page.all("td", className: "value").map(\.text) == ["+0.5", "+0.25", "-0.75"])
    #expect(
      page.all("td", className: "token").map(\.text) == ["<p>", "&", "no"], "the spaces are in span.ws")
    #expect(page.all("p", className: "empty").count == 1, "the silent feature says so")
    #expect(
      page.all("p", className: "stats").map(\.text) == [
        "Active on 3 of 40 tokens (7.50%); in training 1.25%; strongest activation 2.",
        "Active on 0 of 40 tokens (0.00%); strongest activation 0.",
      ])
    // Escaping: the markup in tokens and notes is text, never elements.
    #expect(page.all("p").count == 4, "the header, two stats lines and the empty note; no <p> from a token")
    #expect(html.contains("&lt;a&amp;b&quot;c&#39;&gt;") && !html.contains("<a&b"))
    #expect(page.all("li").map(\.text) == ["graph-1.json @1 <x>"])
    // Whitespace is visible: the leading space, the line feed and the tab, the empty token.
    // In page order: the index's top promoted token, the contexts, then the logit tables.
    #expect(
      page.all("span", className: "ws").map(\.text) == [
        "\u{00B7}", "\u{00B7}", "\u{21B5}", "\u{2192}", "\u{2205}", "\u{00B7}", "\u{00B7}", "\u{00B7}",
      ])
  }

  @Test("without logit effects the page has no logit tables and says why")
  func pageWithoutLogits() throws {
    let html = Self.page(logits: false).html()
    let page = try SVGInspector(html)
    #expect(page.all("table", className: "logits").isEmpty)
    #expect(html.contains("No logit effects (no model given)"))
    #expect(page.all("section", className: "feature").count == 2)
  }

  @Test("graph features: distinct feature nodes by their largest influence, each with a note per node")
  func graphFeatures() throws {
    let dir = try PlotFixtures.directory("dashboard-graph")
    defer { try? FileManager.default.removeItem(at: dir) }
    let graph = try AttributionGraphFile.read(
      try PlotFixtures.write(PlotFixtures.graphJSON, "g.json", in: dir))
    let chosen = FeatureDashboard.graphFeatures([("a.json", graph), ("b.json", graph)], top: 5)
    #expect(chosen.map(\.key) == [FeatureKey(layer: 0, feature: 5), FeatureKey(layer: 1, feature: 7)])
    #expect(
      chosen[0].notes == [
        "a.json @1 \u{201C} <there>\u{201D}: influence 0.5",
        "b.json @1 \u{201C} <there>\u{201D}: influence 0.5",
      ])
    #expect(
      FeatureDashboard.graphFeatures([("a.json", graph)], top: 1).map(\.key) == [
        FeatureKey(layer: 0, feature: 5)
      ])
  }
}
