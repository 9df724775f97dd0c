import CHDF5

/// An n-dimensional dataset whose first dimension counts rows.
///
/// Rows are the unit of I/O: a row is one index of the first dimension with all its trailing
/// dimensions, stored contiguously in memory (row-major). Blocks of rows can be written and read
/// at any offset, and an extendable dataset grows by rows with `extend(toRows:)`.
public final class HDF5Dataset: HDF5AttributeHolder {
  private var id: hid_t
  /// The dataset's name in the file, for error messages.
  public let objectName: String
  public let filePath: String
  /// The type of the stored elements; typed reads and writes must use the same type.
  public let elementType: HDF5ElementType

  init(id: hid_t, name: String, filePath: String, elementType: HDF5ElementType) {
    self.id = id
    self.objectName = name
    self.filePath = filePath
    self.elementType = elementType
  }

  deinit {
    if id >= 0 { H5Dclose(id) }
  }

  public var objectID: hid_t {
    get throws {
      HDF5Library.ensureInitialized()
      guard id >= 0 else { throw HDF5Error.fileClosed(path: filePath) }
      return id
    }
  }

  /// Closes the dataset now, reporting errors from writing cached chunks. Idempotent.
  public func close() throws {
    guard id >= 0 else { return }
    let status = H5Dclose(id)
    id = -1
    try HDF5Library.check(
      status, path: filePath, name: objectName, operation: "close dataset (is the disk full?)")
  }

  // MARK: - Shape

  /// The current dimensions.
  public var shape: [Int] {
    get throws { try extent().current }
  }

  /// The largest dimensions; `nil` entries are unlimited.
  public var maxShape: [Int?] {
    get throws { try extent().maximum }
  }

  /// The number of rows (the first dimension).
  public var rowCount: Int {
    get throws { try shape.first ?? 0 }
  }

  /// Elements per row: the product of the trailing dimensions (1 for a 1-D dataset).
  public var rowElementCount: Int {
    get throws { try product(shape.dropFirst()) }
  }

  /// Elements in the whole dataset: the product of its dimensions.
  public var elementCount: Int {
    get throws { try product(shape) }
  }

  /// The bytes `rows` rows take in memory.
  private func bytes(rows: Int) throws -> Int {
    try product([rows, try rowElementCount, elementType.size])
  }

  /// The product of `factors`, which come from the file: one that overflows is a damaged file
  /// (or a shape no memory holds), reported rather than trapped.
  private func product<Factors: Sequence<Int>>(_ factors: Factors) throws -> Int {
    try factors.reduce(1) { total, factor in
      let (next, overflow) = total.multipliedReportingOverflow(by: factor)
      guard !overflow else {
        throw HDF5Error.shapeMismatch(
          path: filePath, name: objectName,
          message: "its shape \(try shape) holds more elements than memory can address; the file is damaged")
      }
      return next
    }
  }

  private func extent() throws -> (current: [Int], maximum: [Int?]) {
    let space = try HDF5Library.checkID(
      H5Dget_space(try objectID), path: filePath, name: objectName, operation: "read shape")
    defer { H5Sclose(space) }
    let rank = Int(
      try HDF5Library.check(
        H5Sget_simple_extent_ndims(space), path: filePath, name: objectName,
        operation: "read rank"))
    var dims = [hsize_t](repeating: 0, count: rank)
    var maxDims = [hsize_t](repeating: 0, count: rank)
    try HDF5Library.check(
      H5Sget_simple_extent_dims(space, &dims, &maxDims), path: filePath, name: objectName,
      operation: "read shape")
    // Dimensions come from the file; one beyond Int.max is damage, not a size (and a maximum
    // that large is as good as unlimited).
    let current = dims.compactMap { Int(exactly: $0) }
    guard current.count == dims.count else {
      throw HDF5Error.shapeMismatch(
        path: filePath, name: objectName, message: "its shape \(dims) is beyond any size; the file is damaged"
      )
    }
    return (current, maxDims.map { Int(exactly: $0) })
  }

  /// Changes the number of rows (grow or shrink), within the maximum shape.
  public func extend(toRows rows: Int) throws {
    var dims = try shape
    dims[0] = rows
    try setExtent(dims)
  }

  /// Changes the dimensions, within the maximum shape (data outside the new extent is lost).
  public func setExtent(_ newShape: [Int]) throws {
    let (current, maximum) = try extent()
    guard newShape.count == current.count,
      zip(newShape, maximum).allSatisfy({ $0 >= 0 && ($1 == nil || $0 <= $1!) })
    else {
      throw HDF5Error.shapeMismatch(
        path: filePath, name: objectName,
        message: "cannot resize to \(newShape): maximum shape is "
          + "\(maximum.map { $0.map(String.init) ?? "unlimited" })")
    }
    let dims = newShape.map { hsize_t($0) }
    try HDF5Library.check(
      H5Dset_extent(try objectID, dims), path: filePath, name: objectName,
      operation: "resize to \(newShape)")
  }

  // MARK: - Typed row I/O

  /// Writes `values` (whole rows) starting at row `start`; the rows must already exist.
  public func writeRows<T: HDF5Element>(_ values: UnsafeBufferPointer<T>, start: Int) throws {
    try checkType(T.self)
    try writeRows(rawBytes: UnsafeRawBufferPointer(values), start: start)
  }

  /// Writes `values` (whole rows) starting at row `start`; the rows must already exist.
  public func writeRows<T: HDF5Element>(_ values: [T], start: Int) throws {
    try values.withUnsafeBufferPointer { try writeRows($0, start: start) }
  }

  /// Reads rows `rows` into `buffer`, which must hold exactly those rows.
  public func readRows<T: HDF5Element>(
    _ rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>
  ) throws {
    try checkType(T.self)
    try readRows(rows, intoRawBytes: UnsafeMutableRawBufferPointer(buffer))
  }

  /// Reads rows `rows` into a new array (row-major).
  public func readRows<T: HDF5Element>(_ rows: Range<Int>, as type: T.Type) throws -> [T] {
    try checkType(T.self)
    let count = try bytes(rows: rows.count) / elementType.size
    return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
      try readRows(rows, intoRawBytes: UnsafeMutableRawBufferPointer(buffer))
      initialized = count
    }
  }

  /// Reads the whole dataset into a new array (row-major).
  public func readAll<T: HDF5Element>(as type: T.Type) throws -> [T] {
    try readRows(0..<(try rowCount), as: type)
  }

  // MARK: - Raw row I/O

  /// Writes whole rows of raw elements in this dataset's `elementType` (for example binary16
  /// bits produced by a fast converter) starting at row `start`.
  public func writeRows(rawBytes: UnsafeRawBufferPointer, start: Int) throws {
    let rowBytes = try bytes(rows: 1)
    guard rowBytes > 0, rawBytes.count % rowBytes == 0 else {
      throw HDF5Error.shapeMismatch(
        path: filePath, name: objectName,
        message: "a buffer of \(rawBytes.count) bytes is not a whole number of "
          + "\(rowBytes)-byte rows")
    }
    let count = rawBytes.count / rowBytes
    try transfer(rows: start..<(start + count), operation: "write") { memSpace, fileSpace in
      H5Dwrite(
        try objectID, elementType.typeID, memSpace, fileSpace, cltk_h5p_default(),
        rawBytes.baseAddress)
    }
  }

  /// Reads rows `rows` as raw elements of this dataset's `elementType` into `rawBytes`.
  public func readRows(_ rows: Range<Int>, intoRawBytes rawBytes: UnsafeMutableRawBufferPointer)
    throws
  {
    guard rawBytes.count == (try bytes(rows: rows.count)) else {
      throw HDF5Error.shapeMismatch(
        path: filePath, name: objectName,
        message: "a buffer of \(rawBytes.count) bytes cannot hold \(rows.count) rows of "
          + "\(try bytes(rows: 1)) bytes")
    }
    try transfer(rows: rows, operation: "read") { memSpace, fileSpace in
      H5Dread(
        try objectID, elementType.typeID, memSpace, fileSpace, cltk_h5p_default(),
        rawBytes.baseAddress)
    }
  }

  /// Selects rows `rows` in the file and a matching memory space, then runs `io`.
  private func transfer(
    rows: Range<Int>, operation: String, io: (hid_t, hid_t) throws -> herr_t
  ) throws {
    let dims = try shape
    guard rows.lowerBound >= 0, rows.upperBound <= dims[0] else {
      throw HDF5Error.shapeMismatch(
        path: filePath, name: objectName,
        message: "cannot \(operation) rows \(rows.lowerBound)..<\(rows.upperBound): "
          + "the dataset has \(dims[0]) rows")
    }
    if rows.isEmpty { return }
    var blockDims = dims.map { hsize_t($0) }
    blockDims[0] = hsize_t(rows.count)
    var offset = [hsize_t](repeating: 0, count: dims.count)
    offset[0] = hsize_t(rows.lowerBound)
    let fileSpace = try HDF5Library.checkID(
      H5Dget_space(try objectID), path: filePath, name: objectName, operation: "\(operation) rows")
    defer { H5Sclose(fileSpace) }
    try HDF5Library.check(
      H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset, nil, blockDims, nil),
      path: filePath, name: objectName, operation: "select rows \(rows)")
    let memSpace = try HDF5Library.checkID(
      H5Screate_simple(Int32(blockDims.count), blockDims, nil), path: filePath, name: objectName,
      operation: "\(operation) rows")
    defer { H5Sclose(memSpace) }
    try HDF5Library.check(
      try io(memSpace, fileSpace), path: filePath, name: objectName,
      operation: "\(operation) rows \(rows.lowerBound)..<\(rows.upperBound)"
        + (operation == "write" ? " (is the disk full?)" : ""))
  }

  private func checkType<T: HDF5Element>(_ type: T.Type) throws {
    guard T.hdf5ElementType == elementType else {
      throw HDF5Error.typeMismatch(
        path: filePath, name: objectName, expected: "\(T.hdf5ElementType)",
        found: "\(elementType)")
    }
  }
}
