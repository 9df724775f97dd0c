/// ggml's tensor element types, as numbered in GGUF files. CLTKit dequantises F32, F16, BF16,
/// Q8_0 and Q4_1 (what SmolLM2's Q4_1 file holds); the others are named in the error they raise.
public enum GGMLType: UInt32, Sendable {
  case f32 = 0
  case f16 = 1
  case q4_0 = 2
  case q4_1 = 3
  case q5_0 = 6
  case q5_1 = 7
  case q8_0 = 8
  case q8_1 = 9
  case q2_K = 10
  case q3_K = 11
  case q4_K = 12
  case q5_K = 13
  case q6_K = 14
  case q8_K = 15
  case iq2_XXS = 16
  case iq2_XS = 17
  case iq3_XXS = 18
  case iq1_S = 19
  case iq4_NL = 20
  case iq3_S = 21
  case iq2_S = 22
  case iq4_XS = 23
  case i8 = 24
  case i16 = 25
  case i32 = 26
  case i64 = 27
  case f64 = 28
  case iq1_M = 29
  case bf16 = 30

  /// Elements per block and bytes per block, for the types whose size this reader knows.
  var blockLayout: (elements: Int, bytes: Int)? {
    switch self {
    case .f32: return (1, 4)
    case .f16, .bf16: return (1, 2)
    case .q4_0: return (32, 18)
    case .q4_1: return (32, 20)
    case .q5_0: return (32, 22)
    case .q5_1: return (32, 24)
    case .q8_0: return (32, 34)
    case .q8_1: return (32, 36)
    case .i8: return (1, 1)
    case .i16: return (1, 2)
    case .i32: return (1, 4)
    case .i64, .f64: return (1, 8)
    case .q2_K: return (256, 84)
    case .q3_K: return (256, 110)
    case .q4_K: return (256, 144)
    case .q5_K: return (256, 176)
    case .q6_K: return (256, 210)
    case .q8_K: return (256, 292)
    default: return nil
    }
  }

  /// The types `GGUFFile.floats` converts.
  public static let dequantisable: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_1]

  public var name: String { String(describing: self).uppercased() }
}
