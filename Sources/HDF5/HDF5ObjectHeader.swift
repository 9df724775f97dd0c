/// The root group's attribute messages checked against their own sizes before libhdf5 decodes them.
///
/// Why: libhdf5 1.10 decodes an attribute message (`H5O__attr_decode`) by the sizes it holds
/// without comparing them with the message's length: one flipped bit in a name, datatype or
/// dataspace size sent `H5Aexists` reading far past the message, and the tool died of a segfault.
/// CLTKit keeps every fact of a shard and a clt.h5 in root attributes, so these are checked when a
/// file is opened read-only. Version 1 object headers only: newer ones carry a checksum that
/// libhdf5 verifies itself.
///
/// Layout: the HDF5 File Format Specification, sections IV.A.1.a (version 1 object header: version,
/// reserved byte, message count, reference count, header size, padding to 16; then messages of type
/// (2 bytes), size (2), flags (1), 3 reserved and the data), IV.A.2.m (attribute message),
/// IV.A.2.b (dataspace), IV.A.2.d (datatype) and IV.A.2.q (continuation: an address and a length).
enum HDF5ObjectHeader {
  /// Checks every attribute message of the object header at file address `address`.
  /// - Throws: `HDF5Damage` naming what does not fit.
  static func checkAttributes(at address: Int, file: RawFile, layout: HDF5Superblock.Layout) throws {
    let prefix = file.bytes(at: layout.baseAddress + address, count: 16)
    guard prefix.count == 16, prefix[0] == 1 else { return }  // not a version 1 header
    var chunks = [(start: address + 16, length: Int(HDF5Superblock.littleEndian(prefix[8..<12])))]
    var visited = 0
    while let chunk = chunks.popLast() {
      visited += 1
      guard visited <= 4096, chunk.start >= 0, chunk.length <= file.size - layout.baseAddress - chunk.start
      else {
        throw HDF5Damage("the root group's header runs past the end of the file")
      }
      let bytes = file.bytes(at: layout.baseAddress + chunk.start, count: chunk.length)
      var position = 0
      while position + 8 <= bytes.count {
        let type = HDF5Superblock.littleEndian(bytes[position..<(position + 2)])
        let size = Int(HDF5Superblock.littleEndian(bytes[(position + 2)..<(position + 4)]))
        let data = (position + 8)..<(position + 8 + size)
        guard data.upperBound <= bytes.count else {
          throw HDF5Damage("a message of the root group's header runs past its end")
        }
        if type == 0x10, size >= layout.offsetSize + layout.lengthSize {
          let o = data.lowerBound + layout.offsetSize
          let next = HDF5Superblock.littleEndian(bytes[data.lowerBound..<o])
          let length = HDF5Superblock.littleEndian(bytes[o..<(o + layout.lengthSize)])
          guard let start = Int(exactly: next), let count = Int(exactly: length) else {
            throw HDF5Damage("the root group's header continues past the end of the file")
          }
          chunks.append((start, count))
        } else if type == 0x0C {
          try checkAttribute(bytes[data], layout: layout)
        }
        position = data.upperBound
      }
    }
  }

  /// One attribute message: its name, datatype and dataspace, and the data they imply, must fit it.
  private static func checkAttribute(_ message: ArraySlice<UInt8>, layout: HDF5Superblock.Layout) throws {
    let m = Array(message)
    guard m.count >= 8, (1...3).contains(m[0]) else { return }  // a version this does not read
    let version = m[0]
    if version >= 2 && m[1] & 0x03 != 0 { return }  // a shared datatype or dataspace: an address here
    let sizes = [2, 4, 6].map { Int(HDF5Superblock.littleEndian(m[$0..<($0 + 2)])) }
    // Version 1 pads each part to 8 bytes; version 3 adds a character-set byte before the name.
    let padded = version == 1 ? sizes.map { ($0 + 7) & ~7 } : sizes
    let name = version == 3 ? 9 : 8
    let datatype = name + padded[0]
    let dataspace = datatype + padded[1]
    let data = dataspace + padded[2]
    func damage(_ what: String) -> HDF5Damage {
      let text = String(
        decoding: m[min(name, m.count)..<min(name + sizes[0], m.count)].prefix { $0 != 0 }, as: UTF8.self)
      return HDF5Damage("the root attribute message '\(text)' \(what)")
    }
    guard data <= m.count, sizes[1] >= 8, sizes[2] >= 4 else {
      throw damage("claims parts larger than itself")
    }
    guard sizes[0] > 0, m[name..<(name + sizes[0])].contains(0) else {
      throw damage("has an unterminated name")
    }
    guard let elements = elementCount(m[dataspace..<(dataspace + sizes[2])], layout: layout) else {
      throw damage("has a dataspace larger than itself")
    }
    // A variable-length value is stored as its length, a heap address and an object index.
    let isVariable = m[datatype] & 0x0F == 9
    let elementSize =
      isVariable
      ? 8 + layout.offsetSize : Int(HDF5Superblock.littleEndian(m[(datatype + 4)..<(datatype + 8)]))
    let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
    guard !overflow, bytes <= m.count - data else { throw damage("claims more data than it holds") }
  }

  /// The number of elements a dataspace message describes, or nil if its dimensions do not fit it.
  private static func elementCount(_ message: ArraySlice<UInt8>, layout: HDF5Superblock.Layout) -> Int? {
    let m = Array(message)
    let (version, rank, flags) = (m[0], Int(m[1]), m[2])
    guard version == 1 || version == 2 else { return 1 }  // a version this does not read: let libhdf5 say
    if version == 2 && m[3] == 2 { return 0 }  // a null dataspace
    let dims = version == 1 ? 8 : 4
    let arrays = 1 + (flags & 1 == 0 ? 0 : 1) + (version == 1 && flags & 2 != 0 ? 1 : 0)
    guard rank <= 32, dims + arrays * rank * layout.lengthSize <= m.count else { return nil }
    var count = 1
    for d in 0..<rank {
      let start = dims + d * layout.lengthSize
      let (product, overflow) = count.multipliedReportingOverflow(
        by: Int(truncatingIfNeeded: HDF5Superblock.littleEndian(m[start..<(start + layout.lengthSize)])))
      guard !overflow, product >= 0 else { return nil }
      count = product
    }
    return count
  }
}
