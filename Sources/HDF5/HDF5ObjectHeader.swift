/// An object header's messages checked against their own sizes, and the file's, before libhdf5
/// decodes them.
///
/// Why: libhdf5 1.10 decodes messages by the sizes they hold without comparing them with the
/// message's length. One flipped bit in an attribute's dataspace size sent `H5Aexists` reading far
/// past the message, and one in a dataset's layout version (3 read as 2) made `H5Dread` copy from
/// a compact buffer that was not there: the tools died of a segfault instead of naming the file.
/// The root group (every fact of a shard and a clt.h5 is a root attribute) is checked when a file
/// is opened read-only, and each dataset when it is opened. Version 1 object headers only: newer
/// ones carry a checksum that libhdf5 verifies itself.
///
/// Layout: the HDF5 File Format Specification, sections IV.A.1.a (version 1 object header: version,
/// reserved byte, message count, reference count, header size, padding to 16; then messages of
/// type (2 bytes), size (2), flags (1), 3 reserved and the data), IV.A.2.b (dataspace), IV.A.2.i
/// (data layout), IV.A.2.m (attribute) and IV.A.2.q (continuation: an address and a length).
struct HDF5ObjectHeader {
  let file: RawFile
  let layout: HDF5Superblock.Layout
  /// The object, as an error message names it ("the root group", "dataset 'W_enc_0'").
  let object: String

  /// Checks the dataspace, layout and attribute messages of the object header at file address
  /// `address`.
  /// - Throws: `HDF5Damage` naming the object and what does not fit.
  func check(at address: Int) throws {
    let prefix = file.bytes(at: layout.baseAddress + address, count: 16)
    guard prefix.count == 16, prefix[0] == 1 else { return }  // not a version 1 header
    var chunks = [(start: address + 16, length: Int(HDF5Superblock.littleEndian(prefix[8..<12])))]
    var visited = 0
    // What a compact layout's data must hold: the dataspace's elements of the datatype's size.
    var (elements, elementSize, compactBytes): (Int?, Int?, Int?) = (nil, nil, nil)
    while let chunk = chunks.popLast() {
      visited += 1
      guard visited <= 4096, fits(chunk.start, chunk.length) else {
        throw damage("has a header that runs past the end of the file")
      }
      let bytes = file.bytes(at: layout.baseAddress + chunk.start, count: chunk.length)
      var position = 0
      while position + 8 <= bytes.count {
        let type = HDF5Superblock.littleEndian(bytes[position..<(position + 2)])
        let size = Int(HDF5Superblock.littleEndian(bytes[(position + 2)..<(position + 4)]))
        guard position + 8 + size <= bytes.count else {
          throw damage("has a message that runs past its header")
        }
        let message = Array(bytes[(position + 8)..<(position + 8 + size)])
        let shared = bytes[position + 4] & 0x02 != 0  // the data is a reference to the message
        switch shared ? 0 : type {
        case 0x01:
          elements = elementCount(ofDataspace: message)
          guard elements != nil else { throw damage("has a damaged dataspace") }
        case 0x03 where size >= 8:
          elementSize = Int(HDF5Superblock.littleEndian(message[4..<8]))
        case 0x08: compactBytes = try checkLayout(message)
        case 0x0C: try checkAttribute(message)
        case 0x10 where size >= layout.offsetSize + layout.lengthSize:
          guard let next = number(message, at: 0, layout.offsetSize),
            let length = number(message, at: layout.offsetSize, layout.lengthSize)
          else { throw damage("has a header that continues past the end of the file") }
          chunks.append((next, length))
        default: break
        }
        position += 8 + size
      }
    }
    if let compactBytes, let elements, let elementSize,
      elements.multipliedReportingOverflow(by: elementSize) != (compactBytes, false)
    {
      throw damage(
        "has \(compactBytes) bytes of compact data for \(elements) elements of \(elementSize) bytes")
    }
  }

  /// A data layout message: compact data inside it, contiguous data inside the file, chunk
  /// dimensions inside it.
  /// - Returns: the size of compact data (nil for other layouts), which the dataset's shape must fill.
  private func checkLayout(_ m: [UInt8]) throws -> Int? {
    guard m.count >= 2 else { throw damage("has a damaged data layout") }
    let (o, l) = (layout.offsetSize, layout.lengthSize)
    switch (m[0], m[1]) {
    case (1, _), (2, _):
      // Dimensionality, class, 5 reserved bytes, an address unless compact, 4-byte dimensions,
      // then the element size (chunked) or the compact data's size and the data (compact).
      guard m.count >= 8, m[2] <= 2 else { throw damage("has a damaged data layout") }
      let end = 8 + (m[2] == 0 ? 0 : o) + 4 * Int(m[1])
      guard end <= m.count else { throw damage("has a damaged data layout") }
      guard m[2] == 0 else { return nil }
      let compact = end + 4 <= m.count ? Int(HDF5Superblock.littleEndian(m[end..<(end + 4)])) : m.count
      guard end + 4 + compact <= m.count else {
        throw damage("has compact data larger than its layout message")
      }
      return compact
    case (3, 0):  // compact: its size and the data
      let compact = m.count >= 4 ? Int(HDF5Superblock.littleEndian(m[2..<4])) : m.count
      guard 4 + compact <= m.count else { throw damage("has compact data larger than its layout message") }
      return compact
    case (3, 1):  // contiguous: an address (all ones until the storage is allocated) and a size
      guard m.count >= 2 + o + l else { throw damage("has a damaged data layout") }
      guard m[2..<(2 + o)].contains(where: { $0 != 0xFF }) else { return nil }
      guard let address = number(m, at: 2, o), let size = number(m, at: 2 + o, l), fits(address, size) else {
        throw damage("has data past the end of the file")
      }
    case (3, 2):  // chunked: dimensionality, the index's address, 4-byte dimensions
      guard m.count >= 3, (1...33).contains(m[2]), 3 + o + 4 * Int(m[2]) <= m.count else {
        throw damage("has a damaged chunk layout")
      }
    case (3, _):
      throw damage("has an unknown data layout class \(m[1])")
    default:
      break  // version 4 and later: let libhdf5 say
    }
    return nil
  }

  /// An attribute message: its name, datatype and dataspace, and the data they imply, must fit it.
  private func checkAttribute(_ m: [UInt8]) throws {
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
    guard data <= m.count, sizes[1] >= 8, sizes[2] >= 4 else {
      throw damage("has an attribute message whose parts are larger than itself")
    }
    let text = String(decoding: m[name..<(name + sizes[0])].prefix { $0 != 0 }, as: UTF8.self)
    guard sizes[0] > 0, m[name..<(name + sizes[0])].contains(0) else {
      throw damage("has an attribute '\(text)' with an unterminated name")
    }
    guard let elements = elementCount(ofDataspace: Array(m[dataspace..<(dataspace + sizes[2])])) else {
      throw damage("has an attribute '\(text)' with a damaged dataspace")
    }
    // A variable-length value is stored as its length, a heap address and an object index.
    let isVariable = m[datatype] & 0x0F == 9
    let elementSize =
      isVariable
      ? 8 + layout.offsetSize : Int(HDF5Superblock.littleEndian(m[(datatype + 4)..<(datatype + 8)]))
    let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
    guard !overflow, bytes <= m.count - data else {
      throw damage("has an attribute '\(text)' that claims more data than it holds")
    }
  }

  /// The number of elements a dataspace message describes, or nil if its dimensions do not fit it.
  private func elementCount(ofDataspace m: [UInt8]) -> Int? {
    guard m.count >= 4 else { return nil }
    let (version, rank, flags) = (m[0], Int(m[1]), m[2])
    guard version == 1 || version == 2 else { return 1 }  // a version this does not read: let libhdf5 say
    if version == 2 && m[3] == 2 { return 0 }  // a null dataspace
    let dims = version == 1 ? 8 : 4
    let arrays = 1 + (flags & 1 == 0 ? 0 : 1) + (version == 1 && flags & 2 != 0 ? 1 : 0)
    guard rank <= 32, dims + arrays * rank * layout.lengthSize <= m.count else { return nil }
    var count = 1
    for d in 0..<rank {
      guard let dimension = number(m, at: dims + d * layout.lengthSize, layout.lengthSize) else { return nil }
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow else { return nil }
      count = product
    }
    return count
  }

  /// The `width`-byte little-endian number at `start` of `m`, or nil if it does not fit an Int.
  private func number(_ m: [UInt8], at start: Int, _ width: Int) -> Int? {
    Int(exactly: HDF5Superblock.littleEndian(m[start..<(start + width)]))
  }

  /// Whether `count` bytes from file address `address` lie inside the file.
  private func fits(_ address: Int, _ count: Int) -> Bool {
    let start = layout.baseAddress.addingReportingOverflow(address)
    return address >= 0 && count >= 0 && !start.overflow && start.partialValue <= file.size
      && count <= file.size - start.partialValue
  }

  private func damage(_ what: String) -> HDF5Damage { HDF5Damage("\(object) \(what)") }
}
