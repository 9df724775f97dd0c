import OutputFiles

/// One feature's activation on one token.
public struct FeatureActivation: Codable, Sendable, Equatable {
  public var layer: Int
  public var feature: Int
  public var activation: Float

  public init(layer: Int, feature: Int, activation: Float) {
    self.layer = layer
    self.feature = feature
    self.activation = activation
  }
}

/// One line of `clt-encode`'s output (docs/FORMATS.md, "clt-encode output"): a token of a document
/// and the features active on it, strongest first. clt-encode writes it (`jsonLine`) and clt-plot
/// reads it back (Plots' `TokenFeatures.forEach`): this is the format's one definition.
public struct TokenFeatures: Codable, Sendable, Equatable {
  /// 0-based index of the document in the input.
  public var doc: Int
  /// 0-based index of the token in its document.
  public var pos: Int
  public var tokenID: Int
  /// The token's text (its bytes as UTF-8, an incomplete character replaced by U+FFFD).
  public var token: String
  public var features: [FeatureActivation]
  /// The transcoder the features are of (`clt`), which clt-encode writes on its first line only, so
  /// that a tool reading the lines with a clt.h5 can tell whether it is the same one.
  public var transcoder: TranscoderIdentity?

  enum CodingKeys: String, CodingKey {
    case doc, pos
    case tokenID = "token_id"
    case token, features
    case transcoder = "clt"
  }

  public init(
    doc: Int, pos: Int, tokenID: Int, token: String, features: [FeatureActivation],
    transcoder: TranscoderIdentity? = nil
  ) {
    self.doc = doc
    self.pos = pos
    self.tokenID = tokenID
    self.token = token
    self.features = features
    self.transcoder = transcoder
  }

  /// The JSON object on one line, keys in the documented order (docs/FORMATS.md, "clt-encode"),
  /// `clt` last when there is one.
  public var jsonLine: String {
    let list = features.map {
      "{\"layer\": \($0.layer), \"feature\": \($0.feature), \"activation\": \(JSONText.number($0.activation))}"
    }
    let clt = transcoder.map { t in
      let fields = [
        t.model.map { "\"model\": \(JSONText.string($0))" },
        t.modelSHA256.map { "\"model_sha256\": \(JSONText.string($0))" },
        t.nLayers.map { "\"n_layers\": \($0)" }, t.features.map { "\"features\": \($0)" },
      ]
      return ", \"clt\": {\(fields.compactMap { $0 }.joined(separator: ", "))}"
    }
    return
      "{\"doc\": \(doc), \"pos\": \(pos), \"token_id\": \(tokenID), \"token\": \(JSONText.string(token)), "
      + "\"features\": [\(list.joined(separator: ", "))]\(clt ?? "")}"
  }
}
