import CHDF5

/// An HDF5 object that holds named datasets and groups: the file root or a group.
public protocol HDF5Container: HDF5AttributeHolder {}

extension HDF5Container {
  /// Whether a link called `name` (a dataset or group, relative to this container) exists.
  public func contains(_ name: String) throws -> Bool {
    let object = try objectID
    // H5Lexists fails, rather than answering false, when an intermediate group is missing.
    var prefix = ""
    for component in name.split(separator: "/") {
      prefix += prefix.isEmpty ? String(component) : "/\(component)"
      if H5Lexists(object, prefix, cltk_h5p_default()) <= 0 { return false }
    }
    return !prefix.isEmpty
  }

  /// Creates a dataset.
  ///
  /// - Parameters:
  ///   - shape: the initial dimensions (the first may be 0 for a dataset that grows by rows).
  ///   - maxShape: the largest dimensions; `nil` entries are unlimited. Defaults to `shape`.
  ///     Any unlimited dimension requires `chunkShape`.
  ///   - chunkShape: chunk dimensions for chunked (extendable) storage; `nil` for contiguous.
  public func createDataset(
    _ name: String, elementType: HDF5ElementType, shape: [Int], maxShape: [Int?]? = nil,
    chunkShape: [Int]? = nil
  ) throws -> HDF5Dataset {
    let path = filePath
    let maxShape = maxShape ?? shape.map { Optional($0) }
    guard !shape.isEmpty, maxShape.count == shape.count,
      chunkShape.map({ $0.count == shape.count }) ?? true
    else {
      throw HDF5Error.shapeMismatch(
        path: path, name: name,
        message: "shape \(shape), max shape \(maxShape) and chunk shape \(chunkShape ?? []) "
          + "must have the same, non-zero rank")
    }
    if maxShape.contains(where: { $0 == nil }) && chunkShape == nil {
      throw HDF5Error.shapeMismatch(
        path: path, name: name, message: "an unlimited dimension needs a chunk shape")
    }
    if try contains(name) {
      throw HDF5Error.operationFailed(
        path: path, name: name, operation: "create dataset", detail: "the name is already used")
    }
    let dims = shape.map { hsize_t($0) }
    let maxDims = maxShape.map { $0.map { hsize_t($0) } ?? cltk_h5s_unlimited() }
    let space = try HDF5Library.checkID(
      H5Screate_simple(Int32(dims.count), dims, maxDims), path: path, name: name,
      operation: "create dataspace of shape \(shape)")
    defer { H5Sclose(space) }
    let createProperties = try HDF5Library.checkID(
      H5Pcreate(cltk_h5p_dataset_create()), path: path, name: name,
      operation: "create dataset properties")
    defer { H5Pclose(createProperties) }
    if let chunkShape {
      let chunkDims = chunkShape.map { hsize_t(Swift.max($0, 1)) }
      try HDF5Library.check(
        H5Pset_chunk(createProperties, Int32(chunkDims.count), chunkDims), path: path, name: name,
        operation: "set chunk shape \(chunkShape)")
    }
    // Intermediate groups are created as needed, like `mkdir -p`.
    let linkProperties = try HDF5Library.checkID(
      H5Pcreate(cltk_h5p_link_create()), path: path, name: name,
      operation: "create link properties")
    defer { H5Pclose(linkProperties) }
    try HDF5Library.check(
      H5Pset_create_intermediate_group(linkProperties, 1), path: path, name: name,
      operation: "set link properties")
    let id = try HDF5Library.checkID(
      H5Dcreate2(
        try objectID, name, elementType.typeID, space, linkProperties, createProperties,
        cltk_h5p_default()),
      path: path, name: name, operation: "create dataset")
    return HDF5Dataset(id: id, name: name, filePath: path, elementType: elementType)
  }

  /// Opens an existing dataset; throws `HDF5Error.notFound` naming it if there is none.
  public func openDataset(_ name: String) throws -> HDF5Dataset {
    let path = filePath
    guard try contains(name) else {
      throw HDF5Error.notFound(path: path, kind: "dataset", name: name)
    }
    let id = try HDF5Library.checkID(
      H5Dopen2(try objectID, name, cltk_h5p_default()), path: path, name: name,
      operation: "open dataset (is it a dataset?)")
    // Its header is checked before libhdf5 reads its data by the sizes it holds (`HDF5ObjectHeader`).
    let address = cltk_h5o_address(id)
    if let (raw, layout) = HDF5Superblock.directAccess(to: id, path: path), let start = Int(exactly: address)
    {
      do {
        try HDF5ObjectHeader(file: raw, layout: layout, object: "dataset '\(name)'").check(at: start)
      } catch let damage as HDF5Damage {
        H5Dclose(id)
        throw HDF5Error.damagedFile(path: path, detail: damage.description)
      }
    }
    let type = H5Dget_type(id)
    guard type >= 0 else {
      H5Dclose(id)
      throw HDF5Error.operationFailed(
        path: path, name: name, operation: "read the element type",
        detail: HDF5Library.lastErrorDetail())
    }
    defer { H5Tclose(type) }
    switch HDF5ElementType.from(typeID: type) {
    case .success(let elementType):
      return HDF5Dataset(id: id, name: name, filePath: path, elementType: elementType)
    case .failure(let unsupported):
      H5Dclose(id)
      throw HDF5Error.unsupportedType(path: path, name: name, description: unsupported.text)
    }
  }

  /// Creates a group (and any missing intermediate groups).
  public func createGroup(_ name: String) throws -> HDF5Group {
    let path = filePath
    let linkProperties = try HDF5Library.checkID(
      H5Pcreate(cltk_h5p_link_create()), path: path, name: name,
      operation: "create link properties")
    defer { H5Pclose(linkProperties) }
    try HDF5Library.check(
      H5Pset_create_intermediate_group(linkProperties, 1), path: path, name: name,
      operation: "set link properties")
    let id = try HDF5Library.checkID(
      H5Gcreate2(try objectID, name, linkProperties, cltk_h5p_default(), cltk_h5p_default()),
      path: path, name: name, operation: "create group (does it already exist?)")
    return HDF5Group(id: id, name: name, filePath: path)
  }

  /// Opens an existing group; throws `HDF5Error.notFound` naming it if there is none.
  public func openGroup(_ name: String) throws -> HDF5Group {
    let path = filePath
    guard try contains(name) else {
      throw HDF5Error.notFound(path: path, kind: "group", name: name)
    }
    let id = try HDF5Library.checkID(
      H5Gopen2(try objectID, name, cltk_h5p_default()), path: path, name: name,
      operation: "open group (is it a group?)")
    return HDF5Group(id: id, name: name, filePath: path)
  }
}
