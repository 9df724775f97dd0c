import Foundation

/// An HDF5 failure, naming the file and the object so that the message alone says what to fix.
///
/// Every negative return from the C library becomes one of these; the wrapper never crashes on a
/// failed call. `detail` carries HDF5's own innermost error message where there is one.
public enum HDF5Error: Error, LocalizedError, Equatable {
  /// The file could not be created (missing or read-only folder, full disk...).
  case cannotCreateFile(path: String, detail: String)
  /// The file does not exist.
  case fileNotFound(path: String)
  /// The file exists but does not start with the HDF5 signature.
  case notHDF5File(path: String)
  /// The file exists but the system refuses to open it (`detail`: its reason, e.g. permissions).
  case cannotOpenFile(path: String, detail: String)
  /// An HDF5 file shorter than its superblock says (`expectedSize` nil: cut inside the superblock).
  case truncatedFile(path: String, size: Int, expectedSize: Int?)
  /// An HDF5 file, complete in length, whose bytes are inconsistent (libhdf5 cannot open it, or
  /// its global heap is damaged), or that a writer still holds.
  case damagedFile(path: String, detail: String)
  /// A named object (dataset, group or attribute) does not exist.
  case notFound(path: String, kind: String, name: String)
  /// An object exists but holds another element type than the one asked for.
  case typeMismatch(path: String, name: String, expected: String, found: String)
  /// A row block, buffer or shape does not fit the dataset.
  case shapeMismatch(path: String, name: String, message: String)
  /// The object's datatype is not one this wrapper supports.
  case unsupportedType(path: String, name: String, description: String)
  /// Any other failed HDF5 call: `operation` says what was being done.
  case operationFailed(path: String, name: String, operation: String, detail: String)
  /// The file was used after `close()`.
  case fileClosed(path: String)

  public var errorDescription: String? {
    switch self {
    case .cannotCreateFile(let path, let detail):
      return "\(path): cannot create file (is the folder writable, and is there space left?)"
        + Self.suffix(detail)
    case .fileNotFound(let path):
      return "\(path): file not found"
    case .notHDF5File(let path):
      return "\(path): not an HDF5 file (it does not start with the HDF5 signature); check the path"
    case .cannotOpenFile(let path, let detail):
      return "\(path): cannot open file (\(detail)); check the file's permissions"
    case .truncatedFile(let path, let size, let expectedSize):
      let promised = expectedSize.map { "its superblock says \($0)" } ?? "it ends inside its superblock"
      return "\(path): truncated HDF5 file: it has \(size) bytes but \(promised); the write or copy did not "
        + "finish, so copy it again or rerun the tool that wrote it"
    case .damagedFile(let path, let detail):
      return "\(path): damaged HDF5 file (\(detail)); copy it again or rerun the tool that wrote it "
        + "(or wait, if a program is still writing it)"
    case .notFound(let path, let kind, let name):
      return "\(path): \(kind) '\(name)' not found"
    case .typeMismatch(let path, let name, let expected, let found):
      return "\(path): '\(name)' holds \(found), expected \(expected)"
    case .shapeMismatch(let path, let name, let message):
      return "\(path): '\(name)': \(message)"
    case .unsupportedType(let path, let name, let description):
      return "\(path): '\(name)' has an unsupported element type (\(description))"
    case .operationFailed(let path, let name, let operation, let detail):
      let object = name.isEmpty ? "" : " '\(name)'"
      return "\(path):\(object) cannot \(operation)" + Self.suffix(detail)
    case .fileClosed(let path):
      return "\(path): file is already closed"
    }
  }

  private static func suffix(_ detail: String) -> String {
    detail.isEmpty ? "" : " [HDF5: \(detail)]"
  }
}

/// Damage that CLTKit's own checks of the file's structure found (`HDF5GlobalHeap`,
/// `HDF5ObjectHeader`), in words for `HDF5Error.damagedFile`.
struct HDF5Damage: Error {
  let description: String
  init(_ description: String) { self.description = description }
}
