import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A read-only memory map of a whole file. Checkpoints are mapped rather than read so that
/// opening a multi-gigabyte model costs nothing until its tensors are touched.
///
/// `@unchecked Sendable`: the map is read-only (PROT_READ) and unmapped only in `deinit`.
public final class MappedFile: @unchecked Sendable {
  /// The file's path, for error messages.
  public let path: String
  /// Size in bytes.
  public let count: Int
  /// Start of the mapping (nil for an empty file).
  public let bytes: UnsafeRawPointer?

  /// Maps `url`; throws `ModelFormatError.cannotOpen` naming the file when it cannot be opened.
  public init(url: URL) throws {
    path = url.path
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      throw ModelFormatError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw ModelFormatError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
    }
    count = Int(info.st_size)
    if count == 0 {
      bytes = nil
      return
    }
    let mapping = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
    guard let mapping, mapping != MAP_FAILED else {
      throw ModelFormatError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
    }
    bytes = UnsafeRawPointer(mapping)
  }

  deinit {
    if let bytes { munmap(UnsafeMutableRawPointer(mutating: bytes), count) }
  }

  /// Reads a little-endian integer at `offset`, which the caller has bounds-checked.
  public func load<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
    T(littleEndian: bytes!.loadUnaligned(fromByteOffset: offset, as: T.self))
  }
}
