import CHDF5
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The few superblock fields that CLTKit reads itself rather than through libhdf5: the file's
/// size as the superblock records it, to tell a truncated file from a damaged one (libhdf5's own
/// message, "truncated file: eof = ...", is meant for its developers), and the width of file
/// addresses and lengths, to read the global heap (`HDF5GlobalHeap`).
///
/// Layout: the HDF5 File Format Specification, section II.A "Disk Format: Level 0A - Format
/// Signature and Superblock". Versions 0 and 1 give the sizes of offsets and lengths in bytes 13
/// and 14 and the base address after two K values and the consistency flags (byte 24, or 28 in
/// version 1); versions 2 and 3 give the sizes in bytes 9 and 10 and the base address at byte 12.
/// Both then hold one more address and the end-of-file address, and later the address of the root
/// group's object header (versions 0 and 1 after a driver address and a link name offset).
struct HDF5Superblock {
  /// `\211HDF\r\n\032\n`, at byte 0 or after a user block of 512, 1024, 2048... bytes.
  static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

  /// How the file writes addresses and lengths, and where its addresses count from.
  struct Layout: Equatable {
    /// Bytes of a file address (2, 4 or 8).
    var offsetSize: Int
    /// Bytes of a length (2, 4 or 8).
    var lengthSize: Int
    /// The absolute position that file addresses count from.
    var baseAddress: Int
    /// The bytes a complete file has: the base address plus the end-of-file address.
    var storedSize: Int
    /// The address of the root group's object header (relative to the base address).
    var rootObjectHeader: Int
  }

  /// What the superblock says, as far as it goes.
  enum Contents: Equatable {
    case layout(Layout)
    /// The file ends before the end-of-file address: it is cut inside its superblock.
    case cutInsideSuperblock
    /// A superblock version or field size this does not read.
    case unknown
  }

  var contents: Contents

  var layout: Layout? {
    if case .layout(let layout) = contents { return layout }
    return nil
  }

  /// The file holding `object`, to be read directly, with its layout: nil unless it is open
  /// read-only (a file being written may not be on disk yet) and its superblock is one this reads.
  static func directAccess(to object: hid_t, path: String) -> (file: RawFile, layout: Layout)? {
    let fileID = H5Iget_file_id(object)
    guard fileID >= 0 else { return nil }
    defer { H5Fclose(fileID) }
    var intent: UInt32 = 0
    guard H5Fget_intent(fileID, &intent) >= 0, intent & cltk_h5f_acc_rdwr() == 0,
      let layout = read(path: path)?.layout, let file = RawFile(path: path)
    else { return nil }
    return (file, layout)
  }

  /// The superblock of the file at `path`, or nil when there is no HDF5 signature where one may be.
  static func read(path: String) -> HDF5Superblock? {
    guard let file = RawFile(path: path) else { return nil }
    var offset = 0
    while offset + signature.count <= file.size {
      let head = file.bytes(at: offset, count: 96)
      if head.starts(with: signature) { return HDF5Superblock(contents: contents(head)) }
      offset = offset == 0 ? 512 : offset * 2
    }
    return nil
  }

  /// The fields of `head`, the superblock's first bytes.
  private static func contents(_ head: [UInt8]) -> Contents {
    guard head.count > 14 else { return .cutInsideSuperblock }
    let version = head[8]
    let sizes: (offset: UInt8, length: UInt8)
    let baseField: Int
    let addressesBeforeRoot: Int
    switch version {
    case 0, 1:
      sizes = (head[13], head[14])
      baseField = version == 0 ? 24 : 28
      addressesBeforeRoot = 5  // base, free space, end of file, driver, the root entry's name offset
    case 2, 3:
      sizes = (head[9], head[10])
      baseField = 12
      addressesBeforeRoot = 3  // base, superblock extension, end of file
    default:
      return .unknown
    }
    let offsetSize = Int(sizes.offset)
    guard [2, 4, 8].contains(offsetSize), [2, 4, 8].contains(Int(sizes.length)) else { return .unknown }
    func address(_ index: Int) -> UInt64 {
      let start = baseField + index * offsetSize
      return littleEndian(head[start..<(start + offsetSize)])
    }
    guard baseField + (addressesBeforeRoot + 1) * offsetSize <= head.count else {
      return .cutInsideSuperblock
    }
    let (total, overflow) = address(0).addingReportingOverflow(address(2))
    guard !overflow, let baseAddress = Int(exactly: address(0)), let storedSize = Int(exactly: total),
      let root = Int(exactly: address(addressesBeforeRoot))
    else {
      return .unknown
    }
    return .layout(
      Layout(
        offsetSize: offsetSize, lengthSize: Int(sizes.length), baseAddress: baseAddress,
        storedSize: storedSize, rootObjectHeader: root))
  }

  /// The unsigned little-endian number in `bytes` (at most 8 of them).
  static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
  }
}

/// A file read with `pread`, byte ranges at a time: the superblock and the global heap are read
/// this way, beside libhdf5's own handle, and only while a read-only file is open.
struct RawFile {
  let size: Int
  private let descriptor: FileDescriptor

  /// Closes the descriptor when the last copy of the `RawFile` goes.
  private final class FileDescriptor {
    let value: Int32
    init(_ value: Int32) { self.value = value }
    deinit { close(value) }
  }

  init?(path: String) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    descriptor = FileDescriptor(fd)
    var info = stat()
    guard fstat(fd, &info) == 0 else { return nil }
    size = Int(info.st_size)
  }

  /// Up to `count` bytes from `offset` (fewer at the end of the file).
  func bytes(at offset: Int, count: Int) -> [UInt8] {
    guard offset >= 0, offset < size, count > 0 else { return [] }
    var buffer = [UInt8](repeating: 0, count: min(count, size - offset))
    let read = buffer.withUnsafeMutableBytes {
      pread(descriptor.value, $0.baseAddress, $0.count, off_t(offset))
    }
    return Array(buffer.prefix(max(read, 0)))
  }
}
