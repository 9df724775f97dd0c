import CLTFormat
import Foundation
import LanguageModels

/// A trained transcoder with the model it belongs to: clt.h5 loaded and checked against the model
/// it will run inside.
extension CLTFile {
  /// Loads `url` and checks that it was trained on `model` (see `checkMatches`).
  public static func load(url: URL, for model: ModelDescription) throws -> CLTFile {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw ReplacementError.transcoderNotFound(path: url.path)
    }
    let file = try CLTFile.load(url: url)
    try file.metadata.checkMatches(model, path: url.path)
    return file
  }
}

extension CLTFileMetadata {
  /// Throws `ReplacementError.mismatchedModel` naming the first field in which the transcoder's
  /// source model differs from `model`: architecture, layer count, width, the weights' sha256 (when
  /// the model's is known) and the two taps. A transcoder read from other activations than the ones
  /// it would replace gives meaningless features, so this is refused rather than warned about.
  public func checkMatches(_ model: ModelDescription, path: String) throws {
    let checks: [(String, String, String)] = [
      ("architecture", architecture, model.architecture),
      ("n_layers", "\(nLayers)", "\(model.nLayers)"),
      ("d_model", "\(dModel)", "\(model.dModel)"),
      ("model_sha256", modelSHA256, model.sha256.isEmpty ? modelSHA256 : model.sha256),
      ("input_tap", inputTap, model.inputTap),
      ("output_tap", outputTap, model.outputTap),
    ]
    for (field, transcoder, found) in checks where transcoder != found {
      throw ReplacementError.mismatchedModel(
        path: path, trainedOn: "\(self.model) (\(architecture))", field: field, transcoder: transcoder,
        model: found)
    }
  }
}
