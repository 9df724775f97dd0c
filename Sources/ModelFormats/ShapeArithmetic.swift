/// Sizes computed from a file's claimed shapes and offsets, which are untrusted: a corrupt header
/// may hold any number, and a product or sum that overflows would trap the process instead of
/// reporting the file.
public enum ShapeArithmetic {
  /// The product of `shape`, or nil when a dimension is negative or the product overflows `Int`.
  public static func elementCount(_ shape: [Int]) -> Int? {
    var product = 1
    for dimension in shape {
      guard dimension >= 0 else { return nil }
      let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
      if overflow { return nil }
      product = next
    }
    return product
  }

  /// `a + b`, or nil when it overflows `Int`.
  public static func sum(_ a: Int, _ b: Int) -> Int? {
    let (total, overflow) = a.addingReportingOverflow(b)
    return overflow ? nil : total
  }
}
