import Transcoder

/// One intervention on a transcoder feature in the replacement model (`--steer`).
///
/// Two conventions, both applied to the feature's activation a after the encoder's JumpReLU and
/// before any decoder reads it:
/// - `LAYER:FEATURE=VALUE` sets a to VALUE, at every position, including positions where the
///   feature did not fire (that is how a silent feature is switched on); VALUE 0 switches it off.
/// - `LAYER:FEATURE*FACTOR` multiplies a by FACTOR where the feature fired; where it did not, a
///   stays 0 (a factor cannot switch a feature on).
///
/// Either may end in `@POS`, the 0-based position in the sequence (the prompt's first token is
/// position 0) to which the intervention is limited. Position 0 is never steered: the replacement
/// leaves the model's own MLP there (see `CLTReplacement`). The steered activation is written through the
/// feature's decoder to its own layer and every later one.
public struct FeatureSteering: Sendable, Equatable, CustomStringConvertible {
  public enum Operation: Sendable, Equatable {
    /// a := value.
    case set(Float)
    /// a := a · factor.
    case scale(Float)
  }

  public var layer: Int
  public var feature: Int
  public var operation: Operation
  /// The one position steered, or nil for all.
  public var position: Int?

  public init(layer: Int, feature: Int, operation: Operation, position: Int? = nil) {
    self.layer = layer
    self.feature = feature
    self.operation = operation
    self.position = position
  }

  /// Parses `LAYER:FEATURE=VALUE` or `LAYER:FEATURE*FACTOR`, each optionally followed by `@POS`.
  public init(parsing spec: String) throws {
    func fail(_ reason: String) -> ReplacementError { .invalidSteering(spec: spec, reason: reason) }
    var body = Substring(spec)
    if let at = body.firstIndex(of: "@") {
      guard let p = Int(body[body.index(after: at)...]), p >= 1 else {
        throw fail(
          "the position after @ must be a whole number, 1 or more (position 0 keeps the model's MLP)")
      }
      position = p
      body = body[..<at]
    }
    guard let colon = body.firstIndex(of: ":") else { throw fail("no ':' between layer and feature") }
    guard let layer = Int(body[..<colon]), layer >= 0 else { throw fail("the layer must be a whole number") }
    let rest = body[body.index(after: colon)...]
    guard let op = rest.firstIndex(where: { $0 == "=" || $0 == "*" }) else {
      throw fail("no '=VALUE' or '*FACTOR' after the feature")
    }
    guard let feature = Int(rest[..<op]), feature >= 0 else {
      throw fail("the feature must be a whole number")
    }
    guard let number = Float(rest[rest.index(after: op)...]), number.isFinite else {
      throw fail("'\(rest[rest.index(after: op)...])' is not a number")
    }
    self.layer = layer
    self.feature = feature
    operation = rest[op] == "=" ? .set(number) : .scale(number)
  }

  /// Throws `ReplacementError.unknownFeature` unless the transcoder has this layer and feature.
  public func check(against transcoder: CrossLayerTranscoder) throws {
    guard layer < transcoder.nLayers else {
      throw ReplacementError.unknownFeature(
        spec: "--steer \(self)",
        reason: "the transcoder has layers 0..\(transcoder.nLayers - 1), not \(layer)")
    }
    guard feature < transcoder.features else {
      throw ReplacementError.unknownFeature(
        spec: "--steer \(self)",
        reason: "the transcoder has features 0..\(transcoder.features - 1) per layer, not \(feature)")
    }
  }

  public var description: String {
    let op: String
    switch operation {
    case .set(let value): op = "=\(value)"
    case .scale(let factor): op = "*\(factor)"
    }
    return "\(layer):\(feature)\(op)" + (position.map { "@\($0)" } ?? "")
  }

  /// Applies the interventions of `steerings` that concern one token's activations.
  /// - Parameters:
  ///   - indices, values: the token's active features, indices increasing (a row of `SparseActivations`).
  ///   - position: the token's position in its sequence.
  /// - Returns: the steered row, indices still increasing.
  static func apply(
    _ steerings: [FeatureSteering], indices: ArraySlice<Int32>, values: ArraySlice<Float>, position: Int
  ) -> (indices: [Int32], values: [Float]) {
    var row = Dictionary(uniqueKeysWithValues: zip(indices, values))
    for s in steerings where s.position == nil || s.position == position {
      let key = Int32(s.feature)
      switch s.operation {
      case .set(let value): row[key] = value
      case .scale(let factor): if let a = row[key] { row[key] = a * factor }
      }
    }
    let sorted = row.keys.sorted()
    return (sorted, sorted.map { row[$0]! })
  }
}
