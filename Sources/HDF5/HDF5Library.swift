import CHDF5

/// Process-wide HDF5 setup and the helpers that turn C return codes into `HDF5Error`s.
enum HDF5Library {
  /// Opens the library once per process, without HDF5's exit handler. Every file this package
  /// writes is closed explicitly before it is renamed into place, so nothing is left for the
  /// handler to flush; what it would close is a temporary already abandoned after an error, and
  /// after a close that failed on a full disk, libhdf5 1.10's handler crashed closing it again
  /// (`H5F__close_cb`), turning a clear error exit into a segfault.
  static let initialized: Bool = {
    _ = H5dont_atexit()
    _ = H5open()
    return true
  }()

  /// How every file is created and opened: without HDF5's flock. That lock is held by the open
  /// descriptor, and a process started from another thread holds a copy of each descriptor until
  /// it has closed them all (Foundation's `Process` closes them one by one up to the limit), so a
  /// file closed at that moment stayed locked and reopening it failed with "unable to lock file".
  /// Network file systems without flock fail the same way. Nothing here relies on the lock: every
  /// file is written under a temporary name and renamed into place, and a shard folder has its own
  /// lock (`FolderLock`). Falls back to the default list if libhdf5 refuses.
  static let fileAccess: hid_t = {
    _ = initialized
    let list = cltk_h5p_file_access_without_locking()
    return list >= 0 ? list : cltk_h5p_default()
  }()

  /// The opaque type an attribute read fills with a variable-length string's descriptor as stored
  /// (`cltk_h5_vlen_descriptor_type`); negative if libhdf5 refused to register its conversion.
  static let variableStringDescriptor: hid_t = {
    _ = initialized
    return cltk_h5_vlen_descriptor_type()
  }()

  /// Opens the library and silences HDF5's automatic error printing on the calling thread
  /// (this libhdf5 is built thread-safe, so the setting is per thread); errors surface as
  /// Swift errors instead. Cheap; called before every use of an open object.
  @inline(__always) static func ensureInitialized() {
    _ = initialized
    _ = cltk_h5_silence_errors()
  }

  /// The innermost message on HDF5's error stack (empty if none), for error details.
  static func lastErrorDetail() -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    cltk_h5_last_error(&buffer, buffer.count)
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Throws `error` (with HDF5's detail where the case has one) if `status` is negative.
  @discardableResult
  static func check(
    _ status: herr_t, path: String, name: String, operation: @autoclosure () -> String
  ) throws -> herr_t {
    if status < 0 {
      throw HDF5Error.operationFailed(
        path: path, name: name, operation: operation(), detail: lastErrorDetail())
    }
    return status
  }

  /// Throws if `id` is negative (an invalid identifier), else returns it.
  static func checkID(
    _ id: hid_t, path: String, name: String, operation: @autoclosure () -> String
  ) throws -> hid_t {
    if id < 0 {
      throw HDF5Error.operationFailed(
        path: path, name: name, operation: operation(), detail: lastErrorDetail())
    }
    return id
  }
}
