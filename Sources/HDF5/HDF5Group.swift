import CHDF5

/// A group inside an HDF5 file: a folder of datasets, groups and attributes.
///
/// Closed when released (or by `close()`); the file stays readable while a group is open.
public final class HDF5Group: HDF5Container {
  private var id: hid_t
  public let objectName: String
  public let filePath: String

  init(id: hid_t, name: String, filePath: String) {
    self.id = id
    self.objectName = name
    self.filePath = filePath
  }

  deinit {
    if id >= 0 { H5Gclose(id) }
  }

  public var objectID: hid_t {
    get throws {
      HDF5Library.ensureInitialized()
      guard id >= 0 else { throw HDF5Error.fileClosed(path: filePath) }
      return id
    }
  }

  /// Closes the group now; later use throws.
  public func close() throws {
    guard id >= 0 else { return }
    let status = H5Gclose(id)
    id = -1
    try HDF5Library.check(status, path: filePath, name: objectName, operation: "close group")
  }
}
