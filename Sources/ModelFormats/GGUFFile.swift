import Foundation

/// A GGUF v3 file (llama.cpp's model format), memory-mapped: a header, typed metadata, tensor
/// descriptions, then the aligned tensor data. Format: ggml's docs/gguf.md.
///
/// Tensors are dequantised to float32 on request (`floats`), once, at model load.
///
/// `@unchecked Sendable`: everything is set in `init` and never changed; threads only read the map
/// (the Llama loader dequantises its layers concurrently).
public final class GGUFFile: @unchecked Sendable {
  /// One tensor's description.
  public struct TensorInfo: Sendable, Equatable {
    public let name: String
    /// Row-major shape, outermost first (GGUF stores ne0, the contiguous one, first; this is reversed).
    public let shape: [Int]
    public let type: GGMLType?
    /// The raw type number, kept for error messages about types this reader does not know.
    public let typeNumber: UInt32
    /// Byte offset from the start of the data section.
    public let offset: Int
    public var elementCount: Int { shape.reduce(1, *) }
  }

  public let file: MappedFile
  public let version: UInt32
  public let metadata: [String: GGUFValue]
  /// Tensors in file order.
  public let tensorInfos: [TensorInfo]
  public let tensors: [String: TensorInfo]
  /// Start of the data section in the file.
  public let dataOffset: Int
  /// The largest `general.alignment` accepted; writers use 32 (ggml's default) or another small
  /// power of two.
  static let maximumAlignment = 1 << 16

  public init(url: URL) throws {
    file = try MappedFile(url: url)
    var cursor = Cursor(file: file)
    guard file.count >= 24, try cursor.read(UInt32.self) == 0x4655_4747 else {  // "GGUF"
      throw ModelFormatError.malformedHeader(path: file.path, detail: "no GGUF magic at the start")
    }
    version = try cursor.read(UInt32.self)
    guard version == 2 || version == 3 else {
      throw ModelFormatError.malformedHeader(
        path: file.path, detail: "GGUF version \(version); this reader handles versions 2 and 3")
    }
    let tensorCount = try cursor.read(UInt64.self)
    let kvCount = try cursor.read(UInt64.self)
    guard tensorCount < 1 << 24, kvCount < 1 << 24 else {
      throw ModelFormatError.malformedHeader(
        path: file.path, detail: "implausible counts \(tensorCount), \(kvCount)")
    }
    var metadata: [String: GGUFValue] = [:]
    for _ in 0..<kvCount {
      let key = try cursor.readString()
      let type = try cursor.read(UInt32.self)
      metadata[key] = try cursor.readValue(type: type, key: key)
    }
    var infos: [TensorInfo] = []
    for _ in 0..<tensorCount {
      let name = try cursor.readString()
      let dims = try cursor.read(UInt32.self)
      guard dims <= 8 else {
        throw ModelFormatError.malformedHeader(
          path: file.path, detail: "tensor '\(name)' has \(dims) dimensions")
      }
      var ne: [Int] = []
      for _ in 0..<dims { ne.append(try cursor.readSize("a dimension of tensor '\(name)'")) }
      let typeNumber = try cursor.read(UInt32.self)
      let offset = try cursor.readSize("the data offset of tensor '\(name)'")
      guard ShapeArithmetic.elementCount(ne) != nil else {
        throw ModelFormatError.malformedHeader(
          path: file.path, detail: "tensor '\(name)' has dimensions \(ne) whose product overflows")
      }
      infos.append(
        TensorInfo(
          name: name, shape: ne.reversed(), type: GGMLType(rawValue: typeNumber), typeNumber: typeNumber,
          offset: offset))
    }
    let alignment = metadata["general.alignment"]?.intValue ?? 32
    guard alignment > 0, alignment <= Self.maximumAlignment else {
      throw ModelFormatError.malformedHeader(
        path: file.path,
        detail: "general.alignment is \(alignment), not between 1 and \(Self.maximumAlignment)")
    }
    let dataOffset = (cursor.position + alignment - 1) / alignment * alignment
    self.dataOffset = dataOffset
    for info in infos {
      guard let type = info.type, let layout = type.blockLayout else { continue }
      // The offset and size are untrusted: a corrupt one must be reported, not overflow.
      let bytes = (info.elementCount / layout.elements).multipliedReportingOverflow(by: layout.bytes)
      let end = ShapeArithmetic.sum(info.offset, bytes.partialValue).flatMap {
        ShapeArithmetic.sum($0, dataOffset)
      }
      guard !bytes.overflow, let end, end <= file.count else {
        throw ModelFormatError.truncated(
          path: file.path,
          detail: "tensor '\(info.name)' of \(info.shape) \(type.name) at offset \(info.offset) ends past "
            + "the \(file.count) bytes of the file")
      }
    }
    self.metadata = metadata
    tensorInfos = infos
    tensors = Dictionary(infos.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
  }

  /// The tensor `name` dequantised to float32, row-major, checking its shape when `expectedShape` is given.
  public func floats(_ name: String, expectedShape: [Int]? = nil) throws -> [Float] {
    guard let info = tensors[name] else {
      throw ModelFormatError.missingTensor(path: file.path, tensor: name)
    }
    if let expectedShape, expectedShape != info.shape {
      throw ModelFormatError.shapeMismatch(
        path: file.path, tensor: name, expected: expectedShape, found: info.shape)
    }
    guard let type = info.type, GGMLType.dequantisable.contains(type) else {
      throw ModelFormatError.unsupportedDType(
        path: file.path, tensor: name, dtype: info.type?.name ?? "ggml type \(info.typeNumber)",
        supported: GGMLType.dequantisable.map(\.name))
    }
    let n = info.elementCount
    if let blockElements = type.blockLayout?.elements, n % blockElements != 0 {
      throw ModelFormatError.malformedHeader(
        path: file.path,
        detail: "tensor '\(name)' has \(n) elements, not a whole number of \(type.name) blocks")
    }
    let source = file.bytes! + dataOffset + info.offset
    return [Float](unsafeUninitializedCapacity: n) { out, count in
      Dequantize.run(type, from: source, into: out.baseAddress!, count: n)
      count = n
    }
  }

  /// A metadata value that must be present, with an error naming the key otherwise.
  public func require(_ key: String) throws -> GGUFValue {
    guard let value = metadata[key] else {
      throw ModelFormatError.malformedHeader(path: file.path, detail: "metadata key '\(key)' is missing")
    }
    return value
  }

  // MARK: - Reading the header

  /// A bounds-checked reader over the mapped bytes.
  struct Cursor {
    /// How deep arrays of arrays may nest; GGUF writers nest at most once.
    static let maximumArrayDepth = 4

    let file: MappedFile
    var position = 0

    mutating func read<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
      let size = MemoryLayout<T>.size
      guard position + size <= file.count else {
        throw ModelFormatError.truncated(path: file.path, detail: "header ends at byte \(file.count)")
      }
      defer { position += size }
      return file.load(T.self, at: position)
    }

    /// Bytes left after the cursor.
    var remaining: Int { file.count - position }

    /// A UInt64 that counts bytes or elements: one beyond `Int.max` means a corrupt header.
    mutating func readSize(_ what: @autoclosure () -> String) throws -> Int {
      let value = try read(UInt64.self)
      guard let size = Int(exactly: value) else {
        throw ModelFormatError.malformedHeader(path: file.path, detail: "\(what()) is \(value)")
      }
      return size
    }

    mutating func readString() throws -> String {
      let length = try read(UInt64.self)
      guard length <= UInt64(remaining) else {
        throw ModelFormatError.truncated(
          path: file.path,
          detail: "a string at byte \(position - 8) claims \(length) bytes but only \(remaining) follow")
      }
      let count = Int(length)
      defer { position += count }
      return String(
        decoding: UnsafeRawBufferPointer(start: file.bytes! + position, count: count), as: UTF8.self)
    }

    mutating func readValue(type: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
      switch type {
      case 0: return .uint(UInt64(try read(UInt8.self)))
      case 1: return .int(Int64(try read(Int8.self)))
      case 2: return .uint(UInt64(try read(UInt16.self)))
      case 3: return .int(Int64(try read(Int16.self)))
      case 4: return .uint(UInt64(try read(UInt32.self)))
      case 5: return .int(Int64(try read(Int32.self)))
      case 6: return .float(Double(Float(bitPattern: try read(UInt32.self))))
      case 7: return .bool(try read(UInt8.self) != 0)
      case 8: return .string(try readString())
      case 9:
        // Each element takes at least one byte, so a count beyond the bytes left is corrupt; and
        // arrays nest only a few deep, so a corrupt file cannot recurse until the stack overflows.
        let elementType = try read(UInt32.self)
        let count = try read(UInt64.self)
        guard count <= UInt64(remaining) else {
          throw ModelFormatError.truncated(
            path: file.path,
            detail: "array '\(key)' claims \(count) elements but only \(remaining) bytes follow")
        }
        guard depth < Self.maximumArrayDepth else {
          throw ModelFormatError.malformedHeader(
            path: file.path, detail: "array '\(key)' nests arrays more than \(Self.maximumArrayDepth) deep")
        }
        var values: [GGUFValue] = []
        values.reserveCapacity(Int(count))
        for _ in 0..<count { values.append(try readValue(type: elementType, key: key, depth: depth + 1)) }
        return .array(values)
      case 10: return .uint(try read(UInt64.self))
      case 11: return .int(try read(Int64.self))
      case 12: return .float(Double(bitPattern: try read(UInt64.self)))
      default:
        throw ModelFormatError.malformedHeader(
          path: file.path, detail: "metadata '\(key)' has unknown value type \(type)")
      }
    }
  }
}
