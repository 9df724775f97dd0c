import Foundation

/// Writes float32 tensors as a safetensors file, atomically (a temporary name, then a rename),
/// so that a crash never leaves a half-written checkpoint under the final name.
public struct SafetensorsWriter {
  public struct Tensor {
    public let name: String
    public let shape: [Int]
    public let values: [Float]
    public init(name: String, shape: [Int], values: [Float]) {
      precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
      self.name = name
      self.shape = shape
      self.values = values
    }
  }

  public var tensors: [Tensor] = []
  public var metadata: [String: String] = [:]

  public init() {}

  public mutating func add(_ name: String, shape: [Int], values: [Float]) {
    tensors.append(Tensor(name: name, shape: shape, values: values))
  }

  /// Serialises the header and data; tensors are laid out in the order they were added.
  public func encoded() throws -> Data {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    for t in tensors {
      header[t.name] = [
        "dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count],
      ]
      offset += 4 * t.values.count
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    // Pad the header with spaces so the data section starts 8-byte aligned.
    while (8 + json.count) % 8 != 0 { json.append(0x20) }
    var data = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    for t in tensors {
      if 1.littleEndian == 1 {  // the file is little-endian: on such hosts the bytes go as they are
        t.values.withUnsafeBytes { data.append(contentsOf: $0) }
      } else {
        for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
      }
    }
    return data
  }

  /// Writes the file to `url` via a temporary sibling and a rename.
  public func write(to url: URL) throws {
    let data = try encoded()
    try data.write(to: url, options: .atomic)
  }
}
