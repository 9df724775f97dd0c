import CHDF5

/// An HDF5 object that carries attributes: the file root, groups and datasets.
///
/// Attributes hold the small self-describing facts about a file (model name, shapes, versions),
/// so they are typed here (string, Int64, Double) and a wrong type is an error, not a silent
/// conversion between a string and a number.
public protocol HDF5AttributeHolder: AnyObject {
  /// The open HDF5 identifier of the object.
  var objectID: hid_t { get throws }
  /// The file's path, for error messages.
  var filePath: String { get }
  /// The object's name in the file ("/" for the root), for error messages.
  var objectName: String { get }
}

extension HDF5AttributeHolder {
  /// The longest fixed-length string attribute read: attributes hold short facts, and the length
  /// comes from the file, so a damaged one must not size an allocation.
  static var maximumFixedStringBytes: Int { 1 << 20 }

  /// Whether an attribute called `name` exists on this object.
  public func hasAttribute(_ name: String) throws -> Bool {
    let status = H5Aexists(try objectID, name)
    try HDF5Library.check(
      status, path: filePath, name: objectName, operation: "check attribute '\(name)'")
    return status > 0
  }

  /// Deletes the attribute called `name`, if there is one (so that a reader meets a file as an
  /// older writer left it, without the attributes added since).
  public func removeAttribute(_ name: String) throws {
    guard try hasAttribute(name) else { return }
    try HDF5Library.check(
      H5Adelete(try objectID, name), path: filePath, name: objectName, operation: "remove attribute '\(name)'"
    )
  }

  /// Writes (or replaces) a UTF-8 string attribute, stored variable-length so h5py reads `str`.
  public func setAttribute(_ name: String, _ value: String) throws {
    let type = try HDF5Library.checkID(
      H5Tcopy(cltk_h5t_c_s1()), path: filePath, name: objectName, operation: "create string type")
    defer { H5Tclose(type) }
    try HDF5Library.check(
      H5Tset_size(type, cltk_h5t_variable()), path: filePath, name: objectName,
      operation: "create string type")
    try HDF5Library.check(
      H5Tset_cset(type, H5T_CSET_UTF8), path: filePath, name: objectName,
      operation: "create string type")
    try writeAttribute(name, type: type) { attribute in
      value.withCString { cString in
        var pointer: UnsafePointer<CChar>? = cString
        return H5Awrite(attribute, type, &pointer)
      }
    }
  }

  /// Writes (or replaces) a 64-bit integer attribute.
  public func setAttribute(_ name: String, _ value: Int64) throws {
    try writeAttribute(name, type: cltk_h5t_std_i64le()) { attribute in
      var copy = value
      return H5Awrite(attribute, cltk_h5t_native_int64(), &copy)
    }
  }

  /// Writes (or replaces) a double-precision attribute.
  public func setAttribute(_ name: String, _ value: Double) throws {
    try writeAttribute(name, type: cltk_h5t_ieee_f64le()) { attribute in
      var copy = value
      return H5Awrite(attribute, cltk_h5t_native_double(), &copy)
    }
  }

  /// Reads a string attribute (variable- or fixed-length, ASCII or UTF-8).
  public func stringAttribute(_ name: String) throws -> String {
    try readAttribute(name, expecting: H5T_STRING, described: "a string") { attribute, fileType in
      let isVariable = try check(H5Tis_variable_str(fileType), reading: name)
      let memType = try check(H5Tcopy(fileType), reading: name)
      defer { H5Tclose(memType) }
      if isVariable > 0 {
        if let checked = try checkedVariableString(attribute, name) { return checked }
        var pointer: UnsafeMutablePointer<CChar>? = nil
        try check(H5Aread(attribute, memType, &pointer), reading: name)
        defer { if let pointer { H5free_memory(pointer) } }
        return pointer.map { String(cString: $0) } ?? ""
      } else {
        let size = H5Tget_size(fileType)
        guard size <= Self.maximumFixedStringBytes else {
          throw HDF5Error.typeMismatch(
            path: filePath, name: qualified(name), expected: "a string of at most 1 MiB",
            found: "a string of \(size) bytes")
        }
        var buffer = [CChar](repeating: 0, count: size + 1)
        try check(H5Aread(attribute, memType, &buffer), reading: name)
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
      }
    }
  }

  /// A variable-length string read through `HDF5GlobalHeap` (see there why), or nil where that
  /// does not apply and libhdf5 reads it: a file open for writing, whose heap may not be on disk
  /// yet, or a superblock `HDF5Superblock` does not read.
  private func checkedVariableString(_ attribute: hid_t, _ name: String) throws -> String? {
    guard HDF5Library.variableStringDescriptor >= 0,
      let (raw, layout) = HDF5Superblock.directAccess(to: try objectID, path: filePath)
    else { return nil }
    var descriptor = [UInt8](repeating: 0, count: 16)
    try check(H5Aread(attribute, HDF5Library.variableStringDescriptor, &descriptor), reading: name)
    do {
      let text = try HDF5GlobalHeap.string(descriptor: descriptor, file: raw, layout: layout)
      return String(text.prefix { $0 != "\0" })  // as libhdf5's C string would end
    } catch let damage as HDF5Damage {
      throw HDF5Error.damagedFile(
        path: filePath, detail: "attribute '\(qualified(name))': \(damage.description)")
    }
  }

  /// Reads an integer attribute as Int64.
  public func int64Attribute(_ name: String) throws -> Int64 {
    try readAttribute(name, expecting: H5T_INTEGER, described: "an integer") { attribute, _ in
      var value: Int64 = 0
      try check(H5Aread(attribute, cltk_h5t_native_int64(), &value), reading: name)
      return value
    }
  }

  /// Reads a floating-point attribute as Double.
  public func doubleAttribute(_ name: String) throws -> Double {
    try readAttribute(name, expecting: H5T_FLOAT, described: "a float") { attribute, _ in
      var value: Double = 0
      try check(H5Aread(attribute, cltk_h5t_native_double(), &value), reading: name)
      return value
    }
  }

  // MARK: - Shared plumbing

  private func writeAttribute(
    _ name: String, type: hid_t, write: (hid_t) -> herr_t
  ) throws {
    let object = try objectID
    try removeAttribute(name)
    let space = try HDF5Library.checkID(
      H5Screate(H5S_SCALAR), path: filePath, name: objectName, operation: "create dataspace")
    defer { H5Sclose(space) }
    let attribute = try HDF5Library.checkID(
      H5Acreate2(object, name, type, space, cltk_h5p_default(), cltk_h5p_default()),
      path: filePath, name: objectName, operation: "create attribute '\(name)'")
    defer { H5Aclose(attribute) }
    try HDF5Library.check(
      write(attribute), path: filePath, name: objectName, operation: "write attribute '\(name)'")
  }

  private func readAttribute<T>(
    _ name: String, expecting typeClass: H5T_class_t, described: String,
    read: (hid_t, hid_t) throws -> T
  ) throws -> T {
    guard try hasAttribute(name) else {
      throw HDF5Error.notFound(
        path: filePath, kind: "attribute", name: qualified(name))
    }
    let attribute = try HDF5Library.checkID(
      H5Aopen(try objectID, name, cltk_h5p_default()), path: filePath, name: objectName,
      operation: "open attribute '\(name)'")
    defer { H5Aclose(attribute) }
    // Every read below fills one value; an attribute of several (from a damaged dataspace, or
    // another writer) would overrun it.
    let space = try HDF5Library.checkID(
      H5Aget_space(attribute), path: filePath, name: objectName,
      operation: "read the shape of attribute '\(name)'")
    defer { H5Sclose(space) }
    let points = H5Sget_simple_extent_npoints(space)
    guard points == 1 else {
      throw HDF5Error.typeMismatch(
        path: filePath, name: qualified(name), expected: "one value", found: "\(points) values")
    }
    let fileType = try HDF5Library.checkID(
      H5Aget_type(attribute), path: filePath, name: objectName,
      operation: "read the type of attribute '\(name)'")
    defer { H5Tclose(fileType) }
    let found = H5Tget_class(fileType)
    guard found == typeClass else {
      let foundText =
        found == H5T_STRING
        ? "a string"
        : found == H5T_INTEGER
          ? "an integer"
          : found == H5T_FLOAT ? "a float" : "type class \(found.rawValue)"
      throw HDF5Error.typeMismatch(
        path: filePath, name: qualified(name), expected: described, found: foundText)
    }
    return try read(attribute, fileType)
  }

  /// Throws, with HDF5's detail captured now (before any cleanup clears it), if `status` < 0.
  @discardableResult
  private func check<Status: BinaryInteger>(_ status: Status, reading name: String) throws
    -> Status
  {
    if status < 0 {
      throw HDF5Error.operationFailed(
        path: filePath, name: objectName, operation: "read attribute '\(name)'",
        detail: HDF5Library.lastErrorDetail())
    }
    return status
  }

  /// "model" on the root, "mlp_in/scale" on a dataset: what a user would look for with h5ls.
  private func qualified(_ attribute: String) -> String {
    objectName == "/" ? attribute : "\(objectName)@\(attribute)"
  }
}
