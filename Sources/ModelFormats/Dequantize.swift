/// Dequantisation of ggml's block formats to float32, following ggml's reference
/// `dequantize_row_*` definitions (ggml-quants.c).
enum Dequantize {
  /// Converts `count` elements of `type` at `source` into `out`.
  static func run(
    _ type: GGMLType, from source: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>, count: Int
  ) {
    switch type {
    case .f32:
      for i in 0..<count {
        out[i] = Float(
          bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
      }
    case .f16:
      for i in 0..<count { out[i] = half(source, 2 * i) }
    case .bf16:
      for i in 0..<count {
        out[i] = Float(
          bitPattern: UInt32(
            UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
      }
    case .q8_0:
      q8_0(source, out, count: count)
    case .q4_1:
      q4_1(source, out, count: count)
    default:
      preconditionFailure("\(type.name) is not dequantisable; GGUFFile.floats checks this first")
    }
  }

  @inline(__always)
  static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
  }

  /// Q8_0: blocks of 32 as {f16 d; int8 q[32]}, x = d · q.
  static func q8_0(_ source: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
    for b in 0..<count / 32 {
      let block = source + b * 34
      let d = half(block, 0)
      let qs = (block + 2).assumingMemoryBound(to: Int8.self)
      let y = out + b * 32
      for j in 0..<32 { y[j] = d * Float(qs[j]) }
    }
  }

  /// Q4_1: blocks of 32 as {f16 d; f16 m; uint8 q[16]}; element j is (q[j] & 15)·d + m and
  /// element j + 16 is (q[j] >> 4)·d + m.
  static func q4_1(_ source: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int) {
    for b in 0..<count / 32 {
      let block = source + b * 20
      let d = half(block, 0)
      let m = half(block, 2)
      let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
      let y = out + b * 32
      for j in 0..<16 {
        y[j] = Float(qs[j] & 0x0F) * d + m
        y[j + 16] = Float(qs[j] >> 4) * d + m
      }
    }
  }
}
