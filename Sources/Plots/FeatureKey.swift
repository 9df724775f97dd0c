import Foundation

/// A feature's identity, (layer, index in the layer).
public struct FeatureKey: Sendable, Hashable, Comparable {
  public var layer: Int
  public var feature: Int

  public init(layer: Int, feature: Int) {
    self.layer = layer
    self.feature = feature
  }

  public var label: String { "L\(layer)/F\(feature)" }

  public static func < (a: FeatureKey, b: FeatureKey) -> Bool {
    (a.layer, a.feature) < (b.layer, b.feature)
  }

  /// Parses `LAYER:FEATURE` (or `LAYER/FEATURE`, `L2/F117`).
  public init?(parsing text: String) {
    let cleaned = text.replacingOccurrences(of: "L", with: "").replacingOccurrences(of: "F", with: "")
    let parts = cleaned.split(whereSeparator: { $0 == ":" || $0 == "/" })
    guard parts.count == 2, let l = Int(parts[0]), let f = Int(parts[1]), l >= 0, f >= 0 else { return nil }
    self.init(layer: l, feature: f)
  }
}

/// How a token's text is shown in a label: control characters as visible symbols (the SVG
/// escaping does that), quoted so leading spaces show.
public func tokenLabel(_ token: String) -> String {
  "\u{201C}" + token + "\u{201D}"
}
