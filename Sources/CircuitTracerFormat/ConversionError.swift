import Foundation

/// What can stop a conversion between clt.h5 and circuit-tracer's CLT layout, each case naming the
/// file involved and saying what to do about it.
public enum ConversionError: Error, LocalizedError, Equatable {
  /// A file the layout needs is not in the folder.
  case missingFile(path: String, hint: String)
  /// config.yaml lacks a key circuit-tracer's loader reads, or gives it an unusable value.
  case badConfig(path: String, detail: String)
  /// The transcoder reads another tensor than the MLP input our tools feed it.
  case inputHookMismatch(path: String, found: String, required: [String], architecture: String)
  /// The transcoder writes another tensor than the MLP output our tools replace.
  case outputHookMismatch(path: String, found: String, required: [String])
  /// A tensor the layout needs is not in its file.
  case missingTensor(path: String, tensor: String)
  /// A tensor has another shape than the layout and the other files imply.
  case wrongShape(path: String, tensor: String, expected: [Int], found: [Int])
  /// Values this toolkit cannot represent (e.g. a negative JumpReLU threshold).
  case unsupportedValues(path: String, tensor: String, detail: String)
  /// The transcoder does not belong to the model given with --model.
  case modelMismatch(path: String, field: String, transcoder: String, model: String)
  /// A transcoder circuit-tracer cannot run (TopK selects by rank, which it has no activation for).
  case unsupportedActivation(path: String, activation: String)
  /// A transcoder with a skip connection: circuit-tracer 0.5 loads a CLT folder without its W_skip
  /// (`load_clt` never reads one), so the export would run as a different transcoder there.
  case skipConnection(path: String)
  /// The output exists and replacing it was not asked for.
  case outputExists(path: String)
  /// The output cannot be written.
  case outputNotWritable(path: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .missingFile(let path, let hint):
      return "\(path): no such file; \(hint)"
    case .badConfig(let path, let detail):
      return "\(path): \(detail)"
    case .inputHookMismatch(let path, let found, let required, let architecture):
      return "\(path): feature_input_hook is '\(found)', but CLTKit's transcoders read the MLP input "
        + "(hook \(required.map { "'\($0)'" }.joined(separator: " or ")) for \(architecture)); "
        + "a transcoder trained on another tensor (e.g. the residual stream before the norm, "
        + "hook_resid_mid) computes a different function and cannot be converted; train one on the MLP input"
    case .outputHookMismatch(let path, let found, let required):
      return "\(path): feature_output_hook is '\(found)', but CLTKit's transcoders write the MLP output "
        + "(\(required.map { "'\($0)'" }.joined(separator: " or "))); this transcoder cannot replace the MLPs here"
    case .missingTensor(let path, let tensor):
      return "\(path): tensor '\(tensor)' not found; the folder is not a complete circuit-tracer CLT"
    case .wrongShape(let path, let tensor, let expected, let found):
      return "\(path): tensor '\(tensor)' has shape \(found), expected \(expected); "
        + "the files do not belong to one transcoder of this model"
    case .unsupportedValues(let path, let tensor, let detail):
      return "\(path): tensor '\(tensor)': \(detail)"
    case .modelMismatch(let path, let field, let transcoder, let model):
      return "\(path): the transcoder has \(field) \(transcoder) but --model has \(model); "
        + "pass the model it was trained on"
    case .unsupportedActivation(let path, let activation):
      return "\(path): activation '\(activation)' has no circuit-tracer equivalent (it loads JumpReLU "
        + "with thresholds, or ReLU); only jumprelu and batchtopk transcoders can be exported"
    case .skipConnection(let path):
      return "\(path): the transcoder has a skip connection (W_skip), which circuit-tracer 0.5 does not "
        + "load from a CLT folder, so it would run there without it; train with clt-fit --no-skip "
        + "to export"
    case .outputExists(let path):
      return "\(path) already exists; remove it, choose another -o, or pass --force to replace it"
    case .outputNotWritable(let path, let reason):
      return "\(path): cannot write (\(reason)); choose a writable path"
    }
  }
}
