import Foundation

/// What can be wrong with a checkpoint file, with the file named and a hint at the fix.
public enum ModelFormatError: Error, LocalizedError, Equatable {
  case cannotOpen(path: String, reason: String)
  case truncated(path: String, detail: String)
  case malformedHeader(path: String, detail: String)
  case unsupportedDType(path: String, tensor: String, dtype: String, supported: [String])
  case missingTensor(path: String, tensor: String)
  case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])

  public var errorDescription: String? {
    switch self {
    case .cannotOpen(let path, let reason):
      return "\(path): cannot open (\(reason)); check the path and its permissions"
    case .truncated(let path, let detail):
      return "\(path): file is truncated (\(detail)); the download or copy did not finish, fetch it again"
    case .malformedHeader(let path, let detail):
      return "\(path): malformed header (\(detail)); is this really the right kind of file?"
    case .unsupportedDType(let path, let tensor, let dtype, let supported):
      return "\(path): tensor '\(tensor)' has dtype \(dtype); supported: \(supported.joined(separator: ", "))"
    case .missingTensor(let path, let tensor):
      return "\(path): tensor '\(tensor)' not found; the checkpoint does not match the model's config"
    case .shapeMismatch(let path, let tensor, let expected, let found):
      return "\(path): tensor '\(tensor)' has shape \(found), but config.json implies \(expected); "
        + "the config and the weights belong to different models"
    }
  }
}
