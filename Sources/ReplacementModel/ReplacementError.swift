import Foundation

/// Why a transcoder cannot be used with a model, or a steering or encoding request cannot be
/// carried out, each with what to do about it.
public enum ReplacementError: Error, LocalizedError, Equatable {
  /// The clt.h5 file does not exist.
  case transcoderNotFound(path: String)
  /// The clt.h5 was trained on another model (`trainedOn`): `field` differs (clt.h5's value, the model's).
  case mismatchedModel(path: String, trainedOn: String, field: String, transcoder: String, model: String)
  /// A --steer specification that cannot be parsed.
  case invalidSteering(spec: String, reason: String)
  /// A --steer or --layers entry names a layer or feature the transcoder does not have.
  case unknownFeature(spec: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .transcoderNotFound(let path):
      return "\(path): not found; pass --clt with a clt.h5 written by clt-fit"
    case .mismatchedModel(let path, let trainedOn, let field, let transcoder, let model):
      return
        "\(path) was trained on another model (\(trainedOn)): its \(field) is \(transcoder) but --model's is "
        + "\(model); pass --model the model the transcoder was trained on, or train one for this model with "
        + "gpt2-acts | clt-fit"
    case .invalidSteering(let spec, let reason):
      return
        "--steer \(spec): \(reason); write LAYER:FEATURE=VALUE or LAYER:FEATURE*FACTOR, optionally followed by @POSITION"
    case .unknownFeature(let spec, let reason):
      return "\(spec): \(reason)"
    }
  }
}
