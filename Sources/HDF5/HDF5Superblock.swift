import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The few superblock fields that tell a truncated HDF5 file from a damaged one, read directly:
/// when libhdf5 refuses a file its message ("truncated file: eof = ...") is meant for its own
/// developers, and a user needs to hear that the copy or the write did not finish.
///
/// Layout: the HDF5 File Format Specification, section II.A "Disk Format: Level 0A - Format
/// Signature and Superblock" (versions 0 and 1 put the end-of-file address after two K values and
/// the consistency flags, versions 2 and 3 right after the flags).
struct HDF5Superblock {
  /// `\211HDF\r\n\032\n`, at byte 0 or after a user block of 512, 1024, 2048... bytes.
  static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

  /// What the superblock says of the file's size.
  enum StoredSize: Equatable {
    /// Its base address plus its end-of-file address: the bytes a complete file has.
    case bytes(Int)
    /// The file ends before the end-of-file address: it is cut inside its superblock.
    case cutInsideSuperblock
    /// A superblock version or offset size this does not read.
    case unknown
  }

  /// What the superblock says of the file's size.
  var storedSize: StoredSize

  /// The superblock of the file at `path`, or nil when there is no HDF5 signature where one may be.
  static func read(path: String) -> HDF5Superblock? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return nil }
    let size = Int(info.st_size)
    var offset = 0
    while offset + signature.count <= size {
      var head = [UInt8](repeating: 0, count: 64)
      let count = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
      if count >= signature.count && head.starts(with: signature) {
        return HDF5Superblock(storedSize: storedSize(Array(head.prefix(count))))
      }
      offset = offset == 0 ? 512 : offset * 2
    }
    return nil
  }

  /// Base address + end-of-file address from `head`, the superblock's first bytes.
  private static func storedSize(_ head: [UInt8]) -> StoredSize {
    // Byte 8 is the version; the size of offsets is byte 13 (versions 0, 1) or byte 9 (2, 3).
    guard head.count > 13 else { return .cutInsideSuperblock }
    let version = head[8]
    let offsetSize: Int
    let baseField: Int
    switch version {
    case 0, 1:
      offsetSize = Int(head[13])
      baseField = version == 0 ? 24 : 28
    case 2, 3:
      offsetSize = Int(head[9])
      baseField = 12
    default:
      return .unknown
    }
    guard [2, 4, 8].contains(offsetSize) else { return .unknown }
    // Base address, then one address (free space or superblock extension), then end of file.
    let endOfFileField = baseField + 2 * offsetSize
    guard endOfFileField + offsetSize <= head.count else { return .cutInsideSuperblock }
    func address(at start: Int) -> UInt64 {
      (0..<offsetSize).reduce(UInt64(0)) { $0 | UInt64(head[start + $1]) << (8 * UInt64($1)) }
    }
    let (total, overflow) = address(at: baseField).addingReportingOverflow(address(at: endOfFileField))
    guard !overflow, let bytes = Int(exactly: total) else { return .unknown }
    return .bytes(bytes)
  }
}
