/// One metadata value of a GGUF file (every value type of GGUF v3).
public enum GGUFValue: Sendable, Equatable {
  case uint(UInt64)
  case int(Int64)
  case float(Double)
  case bool(Bool)
  case string(String)
  case array([GGUFValue])

  /// The value as an integer, whatever its integer width (nil for other kinds).
  public var intValue: Int? {
    switch self {
    case .uint(let v): return Int(exactly: v)
    case .int(let v): return Int(exactly: v)
    default: return nil
    }
  }

  /// The value as a Double, from a float or an integer.
  public var doubleValue: Double? {
    switch self {
    case .float(let v): return v
    case .uint(let v): return Double(v)
    case .int(let v): return Double(v)
    default: return nil
    }
  }

  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  public var boolValue: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }

  public var arrayValue: [GGUFValue]? {
    if case .array(let a) = self { return a }
    return nil
  }

  /// An array of strings (e.g. `tokenizer.ggml.tokens`), nil if any element is not a string.
  public var stringArray: [String]? {
    guard let array = arrayValue else { return nil }
    var out: [String] = []
    out.reserveCapacity(array.count)
    for v in array {
      guard case .string(let s) = v else { return nil }
      out.append(s)
    }
    return out
  }

  /// An array of integers (e.g. `tokenizer.ggml.token_type`), nil if any element is not one.
  public var intArray: [Int]? {
    guard let array = arrayValue else { return nil }
    var out: [Int] = []
    out.reserveCapacity(array.count)
    for v in array {
      guard let i = v.intValue else { return nil }
      out.append(i)
    }
    return out
  }
}
