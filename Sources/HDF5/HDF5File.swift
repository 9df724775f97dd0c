import CHDF5
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An open HDF5 file; its root is the container for datasets, groups and root attributes.
///
/// The file is closed by `close()` (which reports errors such as a full disk while flushing) or,
/// failing that, when the object is released. Datasets and groups opened from it keep the file
/// open until they are closed too (HDF5's default "weak" close).
public final class HDF5File: HDF5Container {
  /// How to open an existing file.
  public enum Mode: Sendable {
    case readOnly
    case readWrite
  }

  private var id: hid_t
  /// The path as given, used in every error message about this file.
  public let filePath: String
  public var objectName: String { "/" }

  private init(id: hid_t, path: String) {
    self.id = id
    self.filePath = path
  }

  deinit {
    if id >= 0 { H5Fclose(id) }
  }

  /// Creates a file, truncating any existing file at `path`.
  public static func create(path: String) throws -> HDF5File {
    HDF5Library.ensureInitialized()
    let id = H5Fcreate(path, cltk_h5f_acc_trunc(), cltk_h5p_default(), HDF5Library.fileAccess)
    guard id >= 0 else {
      throw HDF5Error.cannotCreateFile(path: path, detail: HDF5Library.lastErrorDetail())
    }
    return HDF5File(id: id, path: path)
  }

  /// Creates a file at a file URL, truncating any existing file.
  public static func create(url: URL) throws -> HDF5File {
    try create(path: url.path)
  }

  /// Opens an existing file. A missing, unreadable, non-HDF5, truncated or damaged file is each a
  /// named error of its own, since each asks the user for something else.
  public convenience init(path: String, mode: Mode = .readOnly) throws {
    HDF5Library.ensureInitialized()
    guard FileManager.default.fileExists(atPath: path) else {
      throw HDF5Error.fileNotFound(path: path)
    }
    if let reason = systemOpenFailure(path, writable: mode == .readWrite) {
      throw HDF5Error.cannotOpenFile(path: path, detail: reason)
    }
    guard let superblock = HDF5Superblock.read(path: path) else {
      throw HDF5Error.notHDF5File(path: path)
    }
    let flags = mode == .readOnly ? cltk_h5f_acc_rdonly() : cltk_h5f_acc_rdwr()
    let id = H5Fis_hdf5(path) > 0 ? H5Fopen(path, flags, HDF5Library.fileAccess) : -1
    guard id >= 0 else {
      let detail = HDF5Library.lastErrorDetail()
      throw Self.truncation(path: path, superblock: superblock)
        ?? HDF5Error.damagedFile(
          path: path, detail: "libhdf5 cannot open it" + (detail.isEmpty ? "" : ": \(detail)"))
    }
    if mode == .readOnly, let layout = superblock.layout, let raw = RawFile(path: path) {
      do {
        try HDF5ObjectHeader(file: raw, layout: layout, object: "the root group").check(
          at: layout.rootObjectHeader)
      } catch let damage as HDF5Damage {
        H5Fclose(id)
        throw HDF5Error.damagedFile(path: path, detail: damage.description)
      }
    }
    self.init(id: id, path: path)
  }

  /// `HDF5Error.truncatedFile` when the superblock promises more bytes than the file has.
  private static func truncation(path: String, superblock: HDF5Superblock) -> HDF5Error? {
    guard let size = size(ofFileAt: path) else { return nil }
    switch superblock.contents {
    case .layout(let layout) where size < layout.storedSize:
      return .truncatedFile(path: path, size: size, expectedSize: layout.storedSize)
    case .cutInsideSuperblock:
      return .truncatedFile(path: path, size: size, expectedSize: nil)
    default:
      return nil
    }
  }

  /// The file's size on disk, against which a reader checks the sizes the file claims before it
  /// allocates for them (nil if the size cannot be read).
  public var sizeOnDisk: Int? { Self.size(ofFileAt: filePath) }

  /// `stat`, not FileManager's attributes: those describe a symbolic link itself (a few bytes),
  /// and a shard folder of links to shards elsewhere must read as the shards' own sizes.
  private static func size(ofFileAt path: String) -> Int? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return Int(status.st_size)
  }

  /// Opens an existing file at a file URL.
  public convenience init(url: URL, mode: Mode = .readOnly) throws {
    try self.init(path: url.path, mode: mode)
  }

  public var objectID: hid_t {
    get throws {
      HDF5Library.ensureInitialized()
      guard id >= 0 else { throw HDF5Error.fileClosed(path: filePath) }
      return id
    }
  }

  /// Whether `close()` has been called.
  public var isClosed: Bool { id < 0 }

  /// Writes buffered data to disk, so that a full disk is reported here rather than lost.
  public func flush() throws {
    try HDF5Library.check(
      H5Fflush(try objectID, H5F_SCOPE_GLOBAL), path: filePath, name: "",
      operation: "flush to disk (is the disk full?)")
  }

  /// Closes the file, reporting any error from writing the last buffered data. Idempotent.
  public func close() throws {
    guard id >= 0 else { return }
    let status = H5Fclose(id)
    id = -1
    try HDF5Library.check(
      status, path: filePath, name: "", operation: "close file (is the disk full?)")
  }
}

/// Why the system refuses to open `path` (permissions, a folder opened for writing...), or nil if
/// it opens: asked before libhdf5, whose own failure would not tell this from a damaged file.
private func systemOpenFailure(_ path: String, writable: Bool) -> String? {
  let descriptor = open(path, writable ? O_RDWR : O_RDONLY)
  guard descriptor >= 0 else { return String(cString: strerror(errno)) }
  close(descriptor)
  return nil
}
