import CHDF5

/// The element types a dataset may hold.
///
/// On disk they are little-endian IEEE/two's-complement types, so h5py and numpy read them as
/// `float32`, `float16` and `int32`.
public enum HDF5ElementType: String, Sendable, Equatable, CustomStringConvertible {
  case float32
  case float16
  case int32

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .float32, .int32: return 4
    case .float16: return 2
    }
  }

  public var description: String { rawValue }

  /// The HDF5 datatype for this element type, both in the file and in memory.
  ///
  /// float16 is not predefined in HDF5 1.10; it is built the way h5py builds it (a copy of
  /// IEEE F32LE with binary16 fields) so that h5py and numpy recognise it as float16. Memory
  /// and file layouts are identical on little-endian hosts, so no conversion happens on I/O.
  var typeID: hid_t {
    HDF5Library.ensureInitialized()
    switch self {
    case .float32: return cltk_h5t_ieee_f32le()
    case .int32: return cltk_h5t_std_i32le()
    case .float16: return Self.float16TypeID
    }
  }

  /// Built once and kept for the life of the process (a handful of bytes).
  private static let float16TypeID: hid_t = {
    HDF5Library.ensureInitialized()
    let type = H5Tcopy(cltk_h5t_ieee_f32le())
    precondition(type >= 0, "HDF5: cannot copy the IEEE F32LE datatype")
    // Order matters: shrink the fields before the size so every intermediate state is valid.
    let steps: [herr_t] = [
      H5Tset_fields(type, 15, 10, 5, 0, 10),
      H5Tset_size(type, 2),
      H5Tset_ebias(type, 15),
    ]
    precondition(steps.allSatisfy { $0 >= 0 }, "HDF5: cannot build the float16 datatype")
    return type
  }()

  /// Recognises the element type of an HDF5 datatype, or returns nil with a description.
  static func from(typeID: hid_t) -> Result<HDF5ElementType, DescribedType> {
    let typeClass = H5Tget_class(typeID)
    let size = H5Tget_size(typeID)
    switch typeClass {
    case H5T_FLOAT where size == 4:
      return .success(.float32)
    case H5T_FLOAT where size == 2:
      return .success(.float16)
    case H5T_INTEGER where size == 4 && H5Tget_sign(typeID) == H5T_SGN_2:
      return .success(.int32)
    case H5T_FLOAT:
      return .failure(DescribedType(text: "\(size * 8)-bit float"))
    case H5T_INTEGER:
      return .failure(DescribedType(text: "\(size * 8)-bit integer"))
    case H5T_STRING:
      return .failure(DescribedType(text: "string"))
    default:
      return .failure(DescribedType(text: "HDF5 type class \(typeClass.rawValue)"))
    }
  }

  /// A human-readable description of an unsupported datatype.
  struct DescribedType: Error {
    let text: String
  }
}

/// A Swift type whose values can be stored in a dataset of the matching `HDF5ElementType`.
public protocol HDF5Element {
  /// The dataset element type that stores this Swift type bit for bit.
  static var hdf5ElementType: HDF5ElementType { get }
}

extension Float: HDF5Element {
  public static var hdf5ElementType: HDF5ElementType { .float32 }
}

extension Int32: HDF5Element {
  public static var hdf5ElementType: HDF5ElementType { .int32 }
}

#if !(os(macOS) && arch(x86_64))
  extension Float16: HDF5Element {
    public static var hdf5ElementType: HDF5ElementType { .float16 }
  }
#endif
