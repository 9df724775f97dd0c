import Foundation

/// A GGUF v3 file (llama.cpp's model format), memory-mapped: a header, typed metadata, tensor
/// descriptions, then the aligned tensor data. Format: ggml's docs/gguf.md.
///
/// Tensors are dequantised to float32 on request (`floats`), once, at model load.
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
      for _ in 0..<dims { ne.append(Int(try cursor.read(UInt64.self))) }
      let typeNumber = try cursor.read(UInt32.self)
      let offset = Int(try cursor.read(UInt64.self))
      infos.append(
        TensorInfo(
          name: name, shape: ne.reversed(), type: GGMLType(rawValue: typeNumber), typeNumber: typeNumber,
          offset: offset))
    }
    let alignment = metadata["general.alignment"]?.intValue ?? 32
    guard alignment > 0 else {
      throw ModelFormatError.malformedHeader(path: file.path, detail: "general.alignment is \(alignment)")
    }
    dataOffset = (cursor.position + alignment - 1) / alignment * alignment
    for info in infos {
      guard let type = info.type, let layout = type.blockLayout else { continue }
      let bytes = info.elementCount / layout.elements * layout.bytes
      guard dataOffset + info.offset + bytes <= file.count else {
        throw ModelFormatError.truncated(
          path: file.path,
          detail: "tensor '\(info.name)' ends at byte \(dataOffset + info.offset + bytes) of \(file.count)")
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

    mutating func readString() throws -> String {
      let length = Int(try read(UInt64.self))
      guard length >= 0, position + length <= file.count else {
        throw ModelFormatError.truncated(
          path: file.path, detail: "a string of \(length) bytes runs past the end")
      }
      defer { position += length }
      return String(
        decoding: UnsafeRawBufferPointer(start: file.bytes! + position, count: length), as: UTF8.self)
    }

    mutating func readValue(type: UInt32, key: String) throws -> GGUFValue {
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
        let elementType = try read(UInt32.self)
        let count = try read(UInt64.self)
        guard count <= UInt64(file.count) else {
          throw ModelFormatError.truncated(path: file.path, detail: "array '\(key)' claims \(count) elements")
        }
        var values: [GGUFValue] = []
        values.reserveCapacity(Int(count))
        for _ in 0..<count { values.append(try readValue(type: elementType, key: key)) }
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
