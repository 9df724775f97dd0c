import Foundation
import HDF5
import Testing

@Suite struct Float16ConversionTests {
  @Test("bulk Float to binary16 conversion matches Swift's Float16 rounding, edge cases included")
  func matchesSwiftFloat16() {
    var values: [Float] = [
      0, -0, 1, -1, 65504, 65520, 1e6, -1e6, .infinity, -.infinity, 5.96e-8, 2.98e-8, 1e-10,
      6.1e-5, 1.0009765625, 1.00048828125, 1.00146484375, .greatestFiniteMagnitude,
    ]
    values += (0..<1000).map { Float($0) * 0.7919 - 300 }
    values += (0..<37).map { Float(sin(Double($0))) * 1e-5 }  // subnormal range, odd count
    var bits = [UInt16](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { src in
      bits.withUnsafeMutableBufferPointer { Float16Conversion.convert(src, to: $0) }
    }
    let expected = values.map { Float16($0).bitPattern }
    #expect(bits == expected, "every value rounds to nearest even like Float16(_:)")
    var back = [Float](repeating: 0, count: values.count)
    bits.withUnsafeBufferPointer { src in
      back.withUnsafeMutableBufferPointer { Float16Conversion.convert(src, to: $0) }
    }
    #expect(
      back.map(\.bitPattern) == expected.map { Float(Float16(bitPattern: $0)).bitPattern },
      "binary16 widens to the same Float")
    var nanBits: [UInt16] = [0]
    [Float.nan].withUnsafeBufferPointer { src in
      nanBits.withUnsafeMutableBufferPointer { Float16Conversion.convert(src, to: $0) }
    }
    #expect(Float16(bitPattern: nanBits[0]).isNaN, "NaN stays NaN")
  }
}
