import CLTFormat
import Foundation

extension FeatureActivation {
  /// The label every chart uses: `L{layer}/F{feature}`.
  public var label: String { FeatureKey(layer: layer, feature: feature).label }
  public var key: FeatureKey { FeatureKey(layer: layer, feature: feature) }
}

/// Reading clt-encode's lines (the type and its writer are CLTFormat's `TokenFeatures`).
extension TokenFeatures {
  /// Reads a clt-encode JSON-lines file (`-`: stdin). Errors name the file, the line and the field.
  public static func read(_ path: String) throws -> [TokenFeatures] {
    var tokens: [TokenFeatures] = []
    try forEach(path) {
      tokens.append($0)
      return true
    }
    guard !tokens.isEmpty else { throw PlotError.emptyInput(file: path, what: "clt-encode lines") }
    return tokens
  }

  /// The tokens of one document (the first when `doc` is nil), read until the document ends: the
  /// rest of a large file is never parsed.
  public static func readDocument(_ path: String, doc: Int?) throws -> [TokenFeatures] {
    var tokens: [TokenFeatures] = []
    var seen = 0
    var docs: ClosedRange<Int>?
    try forEach(path) { token in
      seen += 1
      docs =
        docs.map { min($0.lowerBound, token.doc)...max($0.upperBound, token.doc) } ?? token.doc...token.doc
      let chosen = doc ?? tokens.first?.doc ?? token.doc
      if token.doc == chosen {
        tokens.append(token)
      } else if !tokens.isEmpty {
        return false
      }
      return true
    }
    guard seen > 0 else { throw PlotError.emptyInput(file: path, what: "clt-encode lines") }
    guard !tokens.isEmpty else {
      let held = docs.map { "\($0.lowerBound)…\($0.upperBound)" } ?? "none"
      throw PlotError.notInInput(file: path, detail: "no document \(doc ?? 0) (it holds documents \(held))")
    }
    return tokens
  }

  /// Calls `body` with each line's token, in file order, until it returns false. With `transcoder`
  /// (the clt.h5 read with the lines) each line is first checked to have been made with it
  /// (`CLTFile.checkMadeWith`), so lines of another model's CLT are refused at the first such line.
  public static func forEach(
    _ path: String, madeWith transcoder: CLTFile? = nil, _ body: (TokenFeatures) throws -> Bool
  ) throws {
    try JSONLines.forEachObject(path) { line, object in
      let token = try parse(object, line: line, path: path)
      try transcoder?.checkMadeWith(token, line: line, path: path)
      return try body(token)
    }
  }

  /// One line's object as a token, or an error naming the file, the line and the field.
  static func parse(_ object: [String: Any], line: Int, path: String) throws -> TokenFeatures {
    func int(_ key: String) throws -> Int {
      let n: NSNumber = try JSONLines.field(object, key, path, line)
      return n.intValue
    }
    let list: [Any] = try JSONLines.field(object, "features", path, line)
    let features = try list.enumerated().map { index, item -> FeatureActivation in
      guard let f = item as? [String: Any], let layer = f["layer"] as? NSNumber,
        let feature = f["feature"] as? NSNumber, let activation = f["activation"] as? NSNumber
      else {
        throw PlotError.badLine(
          file: path, line: line,
          reason: "features[\(index)] needs numbers \"layer\", \"feature\" and \"activation\"")
      }
      return FeatureActivation(
        layer: layer.intValue, feature: feature.intValue, activation: activation.floatValue)
    }
    var transcoder: TranscoderIdentity?
    if object["clt"] != nil {
      let clt: [String: Any] = try JSONLines.field(object, "clt", path, line)
      transcoder = TranscoderIdentity(
        model: clt["model"] as? String, modelSHA256: clt["model_sha256"] as? String,
        nLayers: (clt["n_layers"] as? NSNumber)?.intValue, features: (clt["features"] as? NSNumber)?.intValue)
    }
    return TokenFeatures(
      doc: try int("doc"), pos: try int("pos"), tokenID: try int("token_id"),
      token: try JSONLines.field(object, "token", path, line), features: features, transcoder: transcoder)
  }

  /// The tokens of document `doc` (the first document when nil), in order.
  public static func document(_ doc: Int?, of tokens: [TokenFeatures], file: String) throws -> [TokenFeatures]
  {
    let chosen = doc ?? tokens[0].doc
    let selected = tokens.filter { $0.doc == chosen }
    guard !selected.isEmpty else {
      let docs = Set(tokens.map(\.doc)).sorted()
      throw PlotError.notInInput(
        file: file, detail: "no document \(chosen) (it holds documents \(docs.first!)…\(docs.last!))")
    }
    return selected
  }
}
