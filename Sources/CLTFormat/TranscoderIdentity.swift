import Foundation

/// What a file made with a clt.h5 (clt-encode's lines, an attribution graph) records of that
/// transcoder: the model it was trained on and its shape, so that a tool reading the file together
/// with a clt.h5 can refuse one from another model instead of drawing features that mean nothing.
/// A field the file does not record (an older file) is nil and is not compared.
public struct TranscoderIdentity: Codable, Sendable, Equatable {
  /// The model's name, e.g. "gpt2" or "SmolLM2-135M-Instruct.Q4_1.gguf" (clt.h5's `model`).
  public var model: String?
  /// sha256 of the model's weights (clt.h5's `model_sha256`).
  public var modelSHA256: String?
  /// The transcoder's layers L (clt.h5's `n_layers`, the model's layer count).
  public var nLayers: Int?
  /// The transcoder's features per layer F (clt.h5's `features`).
  public var features: Int?

  /// clt.h5's attribute names, which clt-encode's `clt` field uses as well.
  enum CodingKeys: String, CodingKey {
    case model
    case modelSHA256 = "model_sha256"
    case nLayers = "n_layers"
    case features
  }

  public init(model: String?, modelSHA256: String?, nLayers: Int?, features: Int?) {
    self.model = model
    self.modelSHA256 = modelSHA256.flatMap { $0.isEmpty ? nil : $0 }
    self.nLayers = nLayers
    self.features = features
  }

  /// The identity of the transcoder `metadata` describes (clt.h5's root attributes).
  public init(_ metadata: CLTFileMetadata) {
    self.init(
      model: metadata.model, modelSHA256: metadata.modelSHA256, nLayers: metadata.nLayers,
      features: metadata.features)
  }

  /// A model as messages name it: "gpt2 (sha256 248dfc3a1b2c…)".
  public static func modelLabel(name: String, sha256: String) -> String {
    sha256.isEmpty ? name : "\(name) (sha256 \(sha256.prefix(12))…)"
  }

  /// Why the file `file`, recording this identity, cannot have been made with the clt.h5 at
  /// `cltPath` described by `clt`, naming both ("graph.json was made with gpt2 (sha256 …), clt.h5
  /// with …"; the caller adds what to do); nil when they agree on every field the file records. The
  /// model is compared by its sha256 (a renamed model folder is the same model), then the layers
  /// and features.
  public func mismatch(with clt: CLTFileMetadata, file: String, cltPath: String) -> String? {
    let made: String
    let given: String
    if let sha = modelSHA256, !clt.modelSHA256.isEmpty, sha != clt.modelSHA256 {
      made = Self.modelLabel(name: model ?? "another model", sha256: sha)
      given = Self.modelLabel(name: clt.model, sha256: clt.modelSHA256)
    } else if nLayers.map({ $0 != clt.nLayers }) == true || features.map({ $0 != clt.features }) == true {
      made = "a CLT of " + Self.shape(nLayers: nLayers, features: features)
      given =
        "one of "
        + Self.shape(nLayers: nLayers.map { _ in clt.nLayers }, features: features.map { _ in clt.features })
    } else {
      return nil
    }
    return "\(file) was made with \(made), \(cltPath) with \(given)"
  }

  /// "2 layers × 16 features", leaving out what is unknown.
  static func shape(nLayers: Int?, features: Int?) -> String {
    [nLayers.map { "\($0) layers" }, features.map { "\($0) features" }].compactMap { $0 }
      .joined(separator: " × ")
  }
}
