/// Variable-length strings read from a file's global heap by CLTKit itself, every size and index
/// checked against the file before a byte is copied.
///
/// Why: libhdf5 1.10 (`H5HG_read`) trusts the heap. One flipped bit in a collection's size, an
/// object's size or a string's object index makes it copy past its buffers, and a tool reading a
/// damaged shard or clt.h5 died of a segfault instead of naming the file. The attribute's raw
/// descriptor comes from libhdf5 through a conversion that leaves it as stored
/// (`cltk_h5_vlen_descriptor_type` in the C shim); the heap is read here.
///
/// Layout: the HDF5 File Format Specification, section III.E "Disk Format: Level 1E - Global Heap"
/// (a collection is "GCOL", version 1, three reserved bytes and its size, then objects, each an
/// index, a reference count, four reserved bytes, a size and the data padded to 8 bytes; object 0
/// is the free space, whose size counts its own header), and section IV.A.2.d for the descriptor
/// of a variable-length string (its length, the collection's address, the object's index).
enum HDF5GlobalHeap {
  /// The largest collection read: collections are 4 KiB unless one object is bigger, and the
  /// strings CLTKit stores are short, so a larger size is damage.
  static let maximumCollectionBytes = 1 << 26

  /// The string that `descriptor` (a variable-length string as stored) points at.
  /// - Throws: the damage found, as text for `HDF5Error.damagedFile`.
  static func string(
    descriptor: [UInt8], file: RawFile, layout: HDF5Superblock.Layout
  ) throws -> String {
    let o = layout.offsetSize
    guard descriptor.count >= 8 + o else { throw HDF5Damage("a string descriptor is cut short") }
    let length = HDF5Superblock.littleEndian(descriptor[0..<4])
    if length == 0 { return "" }
    let address = HDF5Superblock.littleEndian(descriptor[4..<(4 + o)])
    let index = HDF5Superblock.littleEndian(descriptor[(4 + o)..<(8 + o)])
    let objects = try collection(at: address, file: file, layout: layout)
    guard index > 0, let object = objects[index] else {
      throw HDF5Damage(
        "a string names object \(index) of the global heap at \(address), which has no such object")
    }
    guard UInt64(object.count) == length else {
      throw HDF5Damage("a string of \(length) bytes names a global heap object of \(object.count)")
    }
    return String(decoding: object, as: UTF8.self)
  }

  /// The objects of the collection at file address `address`, by index, each checked to lie inside
  /// the collection and the collection inside the file.
  static func collection(
    at address: UInt64, file: RawFile, layout: HDF5Superblock.Layout
  ) throws -> [UInt64: ArraySlice<UInt8>] {
    let l = layout.lengthSize
    let headerSize = align(8 + l)
    guard let relative = Int(exactly: address), relative <= file.size - layout.baseAddress else {
      throw HDF5Damage("a string points at byte \(address), past the end of the file")
    }
    let start = layout.baseAddress + relative
    let header = file.bytes(at: start, count: headerSize)
    guard header.count == headerSize, header.starts(with: Array("GCOL".utf8)), header[4] == 1 else {
      throw HDF5Damage("a string points at byte \(address), where there is no global heap collection")
    }
    let size = HDF5Superblock.littleEndian(header[8..<(8 + l)])
    guard size >= headerSize, size <= maximumCollectionBytes, Int(size) <= file.size - start else {
      throw HDF5Damage("the global heap collection at \(address) claims \(size) bytes")
    }
    let bytes = file.bytes(at: start, count: Int(size))
    var objects: [UInt64: ArraySlice<UInt8>] = [:]
    var position = headerSize
    let objectHeaderSize = 8 + l
    // What is left once too little remains for an object header is free space (as libhdf5 reads it).
    while position + objectHeaderSize <= bytes.count {
      let index = HDF5Superblock.littleEndian(bytes[position..<(position + 2)])
      let claimed = HDF5Superblock.littleEndian(bytes[(position + 8)..<(position + 8 + l)])
      let left = bytes.count - position
      // The free-space object's size counts its header; another object's counts its data alone.
      let objectSize = claimed <= UInt64(left) ? Int(claimed) : left + 1
      let span = index == 0 ? objectSize : objectHeaderSize + align(objectSize)
      guard span > 0, span <= left else {
        throw HDF5Damage("object \(index) of the global heap collection at \(address) runs past its end")
      }
      if index > 0 {
        guard objects[index] == nil else {
          throw HDF5Damage("the global heap collection at \(address) holds object \(index) twice")
        }
        let data = position + objectHeaderSize
        objects[index] = bytes[data..<(data + objectSize)]
      }
      position += span
    }
    return objects
  }

  /// `n` rounded up to a multiple of 8, as the heap aligns its headers and objects.
  private static func align(_ n: Int) -> Int { (n + 7) & ~7 }
}
