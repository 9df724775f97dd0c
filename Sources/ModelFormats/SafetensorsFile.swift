import Foundation

/// A safetensors checkpoint, memory-mapped: an 8-byte little-endian header length, a JSON header
/// mapping each tensor name to `{dtype, shape, data_offsets}`, then the raw little-endian data.
/// Format: https://github.com/huggingface/safetensors (the "Format" section of its README).
///
/// `@unchecked Sendable`: its header and map are set in `init` and only read afterwards.
public final class SafetensorsFile: @unchecked Sendable {
  /// Element types this reader converts to Float.
  public static let supportedDTypes = ["F32", "F16", "BF16"]

  /// One tensor's entry in the header.
  public struct TensorInfo: Sendable, Equatable {
    public let dtype: String
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let dataRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
  }

  public let file: MappedFile
  /// Every tensor in the file, by name.
  public let tensors: [String: TensorInfo]
  /// The optional `__metadata__` string map.
  public let metadata: [String: String]
  private let dataStart: Int
  /// The largest header the safetensors reference reader accepts (100 MB, its `MAX_HEADER_SIZE`).
  static let maximumHeaderBytes = 100_000_000

  /// Opens and validates the header of `url`: every tensor's byte range lies inside the file and
  /// matches its dtype and shape.
  public init(url: URL) throws {
    file = try MappedFile(url: url)
    let path = file.path
    guard file.count >= 8 else {
      throw ModelFormatError.truncated(
        path: path, detail: "\(file.count) bytes, shorter than the 8-byte header length")
    }
    // The length is untrusted: compared as a UInt64 first, since a corrupt one may not fit an Int.
    let claimedLength = file.load(UInt64.self, at: 0)
    guard claimedLength <= UInt64(file.count - 8) else {
      throw ModelFormatError.truncated(
        path: path,
        detail: "the safetensors header claims \(claimedLength) bytes but the file has only "
          + "\(file.count - 8) after the 8-byte length; it is cut short, or not a safetensors file")
    }
    let headerLength = Int(claimedLength)
    guard headerLength < Self.maximumHeaderBytes else {
      throw ModelFormatError.malformedHeader(
        path: path,
        detail: "the header claims \(headerLength) bytes, more than the \(Self.maximumHeaderBytes) "
          + "safetensors allows")
    }
    dataStart = 8 + headerLength
    let headerData = Data(bytes: file.bytes! + 8, count: headerLength)
    guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
      throw ModelFormatError.malformedHeader(path: path, detail: "the header is not a JSON object")
    }
    let dataBytes = file.count - dataStart
    var tensors: [String: TensorInfo] = [:]
    var metadata: [String: String] = [:]
    for (name, value) in json {
      if name == "__metadata__" {
        metadata = (value as? [String: String]) ?? [:]
        continue
      }
      guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
        let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
        offsets.count == 2
      else {
        throw ModelFormatError.malformedHeader(
          path: path, detail: "entry '\(name)' lacks dtype, shape or data_offsets")
      }
      guard offsets[0] >= 0, offsets[1] >= offsets[0] else {
        throw ModelFormatError.malformedHeader(
          path: path, detail: "tensor '\(name)' has data_offsets \(offsets)")
      }
      // Offsets are relative to the data section, so comparing with its size cannot overflow.
      guard offsets[1] <= dataBytes else {
        throw ModelFormatError.truncated(
          path: path,
          detail: "tensor '\(name)' ends at byte \(offsets[1]) of a data section of \(dataBytes) bytes")
      }
      guard let elements = ShapeArithmetic.elementCount(shape) else {
        throw ModelFormatError.malformedHeader(
          path: path, detail: "tensor '\(name)' has shape \(shape), not a list of sizes whose product fits")
      }
      let info = TensorInfo(dtype: dtype, shape: shape, dataRange: offsets[0]..<offsets[1])
      if let size = Self.elementSize(dtype) {
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: size)
        guard !overflow, bytes == info.dataRange.count else {
          throw ModelFormatError.malformedHeader(
            path: path,
            detail: "tensor '\(name)' has \(info.dataRange.count) bytes for shape \(shape) of \(dtype)")
        }
      }
      tensors[name] = info
    }
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Bytes per element of a safetensors dtype, or nil when unknown.
  static func elementSize(_ dtype: String) -> Int? {
    switch dtype {
    case "F64", "I64", "U64": return 8
    case "F32", "I32", "U32": return 4
    case "F16", "BF16", "I16", "U16": return 2
    case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
    default: return nil
    }
  }

  /// The tensor `name` converted to Float (row-major, as stored), checking its shape when
  /// `expectedShape` is given.
  public func floats(_ name: String, expectedShape: [Int]? = nil) throws -> [Float] {
    guard let info = tensors[name] else {
      throw ModelFormatError.missingTensor(path: file.path, tensor: name)
    }
    if let expectedShape, expectedShape != info.shape {
      throw ModelFormatError.shapeMismatch(
        path: file.path, tensor: name, expected: expectedShape, found: info.shape)
    }
    let source = file.bytes! + dataStart + info.dataRange.lowerBound
    let n = info.elementCount
    switch info.dtype {
    case "F32":
      return [Float](unsafeUninitializedCapacity: n) { out, count in
        for i in 0..<n {
          out[i] = Float(
            bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
        count = n
      }
    case "F16":
      return [Float](unsafeUninitializedCapacity: n) { out, count in
        for i in 0..<n {
          out[i] = Float(
            Float16(
              bitPattern: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        }
        count = n
      }
    case "BF16":
      return [Float](unsafeUninitializedCapacity: n) { out, count in
        for i in 0..<n {
          let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
          out[i] = Float(bitPattern: UInt32(bits) << 16)
        }
        count = n
      }
    default:
      throw ModelFormatError.unsupportedDType(
        path: file.path, tensor: name, dtype: info.dtype, supported: Self.supportedDTypes)
    }
  }
}
