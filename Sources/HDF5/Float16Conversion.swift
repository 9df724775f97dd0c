import CHDF5

/// Fast bulk conversion between Float and IEEE binary16 bits, as stored in float16 datasets.
///
/// Activation dumps convert tens of kilobytes per token; a scalar software conversion costs
/// ~8 ns per value, the F16C instructions ~0.3 ns. The F16C path is chosen at run time, with a
/// portable fallback. Both round to nearest even, exactly like `Float16(_: Float)`.
public enum Float16Conversion {
  /// Whether this CPU has the F16C instructions (checked once).
  public static let usesHardware: Bool = cltk_has_f16c() != 0

  /// Converts `source` to binary16 bit patterns in `destination` (same count).
  public static func convert(
    _ source: UnsafeBufferPointer<Float>, to destination: UnsafeMutableBufferPointer<UInt16>
  ) {
    precondition(source.count == destination.count, "Float16Conversion: counts differ")
    guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
    if usesHardware {
      cltk_f32_to_f16_f16c(src, dst, source.count)
    } else {
      for i in 0..<source.count { dst[i] = softwareBits(src[i]) }
    }
  }

  /// Converts binary16 bit patterns in `source` to Float in `destination` (same count).
  public static func convert(
    _ source: UnsafeBufferPointer<UInt16>, to destination: UnsafeMutableBufferPointer<Float>
  ) {
    precondition(source.count == destination.count, "Float16Conversion: counts differ")
    guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
    if usesHardware {
      cltk_f16_to_f32_f16c(src, dst, source.count)
    } else {
      for i in 0..<source.count { dst[i] = softwareFloat(src[i]) }
    }
  }

  #if !(os(macOS) && arch(x86_64))
    @inline(__always) static func softwareBits(_ value: Float) -> UInt16 {
      Float16(value).bitPattern
    }
    @inline(__always) static func softwareFloat(_ bits: UInt16) -> Float {
      Float(Float16(bitPattern: bits))
    }
  #else
    // Intel Macs lack Swift's Float16; they all have F16C, so this path is never taken there.
    static func softwareBits(_ value: Float) -> UInt16 {
      fatalError("Float16Conversion: no F16C and no Swift Float16 on this platform")
    }
    static func softwareFloat(_ bits: UInt16) -> Float {
      fatalError("Float16Conversion: no F16C and no Swift Float16 on this platform")
    }
  #endif
}
