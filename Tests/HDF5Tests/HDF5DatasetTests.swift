import CHDF5
import Foundation
import HDF5
import Testing

@Suite struct HDF5DatasetTests {
  @Test("float32, int32 and float16 datasets return exactly the values written")
  func roundTripEachElementType() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("types.h5")
    let floats: [Float] = (0..<12).map { Float($0) * 0.37 - 2 }
    let ints: [Int32] = (0..<12).map { Int32($0) * -1_000_003 }
    let halves: [Float16] = (0..<12).map { Float16(Float($0) * 0.125 - 0.5) } + []
    do {
      let file = try HDF5File.create(path: path)
      try file.createDataset("f32", elementType: .float32, shape: [3, 4]).writeRows(floats, start: 0)
      try file.createDataset("i32", elementType: .int32, shape: [3, 4]).writeRows(ints, start: 0)
      try file.createDataset("g/f16", elementType: .float16, shape: [3, 4])
        .writeRows(halves, start: 0)
      try file.close()
    }
    let file = try HDF5File(path: path)
    let f32 = try file.openDataset("f32")
    #expect(f32.elementType == .float32, "the element type is read back from the file")
    #expect(try f32.shape == [3, 4], "the shape is stored")
    #expect(try f32.readAll(as: Float.self) == floats, "float32 values round-trip exactly")
    #expect(try file.openDataset("i32").readAll(as: Int32.self) == ints, "int32 round-trips")
    let f16 = try file.openDataset("g/f16")
    #expect(f16.elementType == .float16, "a float16 dataset is recognised as float16")
    let back = try f16.readAll(as: Float16.self)
    #expect(back.map(\.bitPattern) == halves.map(\.bitPattern), "float16 bits round-trip")
    #expect(try file.openGroup("g").contains("f16"), "the intermediate group was created")
  }

  @Test("a float16 dataset is stored as a 2-byte IEEE float with binary16 fields")
  func float16StoredTypeIsBinary16() throws {
    let dir = try TemporaryDirectory()
    let file = try HDF5File.create(path: dir.path("half.h5"))
    let dataset = try file.createDataset("h", elementType: .float16, shape: [2])
    let type = H5Dget_type(try dataset.objectID)
    #expect(type >= 0, "the dataset has a type")
    defer { H5Tclose(type) }
    #expect(H5Tget_class(type) == H5T_FLOAT, "class is float, so h5py maps it to a numpy float")
    #expect(H5Tget_size(type) == 2, "two bytes per element")
    var spos: Int = 0
    var epos: Int = 0
    var esize: Int = 0
    var mpos: Int = 0
    var msize: Int = 0
    #expect(H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0, "fields readable")
    #expect(
      [spos, epos, esize, mpos, msize] == [Int](arrayLiteral: 15, 10, 5, 0, 10),
      "IEEE binary16 bit layout")
    #expect(H5Tget_ebias(type) == 15, "binary16 exponent bias")
    #expect(H5Tget_order(type) == H5T_ORDER_LE, "little-endian like numpy '<f2'")
  }

  @Test("rows written in several blocks into an extendable chunked dataset read back in place")
  func rowBlocksAcrossAppends() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("rows.h5")
    let rowLength = 6
    let blocks = [3, 1, 7, 5]
    var expected: [Float] = []
    do {
      let file = try HDF5File.create(path: path)
      let dataset = try file.createDataset(
        "x", elementType: .float32, shape: [0, 2, 3], maxShape: [nil, 2, 3],
        chunkShape: [4, 2, 3])
      var rows = 0
      for block in blocks {
        let values = (0..<(block * rowLength)).map { Float(rows * rowLength + $0) }
        try dataset.extend(toRows: rows + block)
        try dataset.writeRows(values, start: rows)
        rows += block
        expected += values
      }
      #expect(try dataset.maxShape == [nil, 2, 3], "first dimension is unlimited")
      try dataset.close()
      try file.close()
    }
    let dataset = try HDF5File(path: path).openDataset("x")
    #expect(try dataset.rowCount == 16, "rows of all blocks are counted")
    #expect(try dataset.readAll(as: Float.self) == expected, "all rows are in order")
    #expect(
      try dataset.readRows(5..<9, as: Float.self) == Array(expected[30..<54]),
      "a block across chunk boundaries reads the right rows")
    #expect(throws: HDF5Error.self, "reading past the end is an error, not garbage") {
      _ = try dataset.readRows(10..<17, as: Float.self)
    }
    #expect(throws: HDF5Error.self, "reading with the wrong element type is an error") {
      _ = try dataset.readRows(0..<1, as: Int32.self)
    }
  }

  @Test("opening a missing dataset names the file and the dataset")
  func missingDatasetIsNamed() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("clt.h5")
    try HDF5File.create(path: path).close()
    let file = try HDF5File(path: path)
    do {
      _ = try file.openDataset("mlp_in")
      Issue.record("opening a missing dataset must throw")
    } catch let error as HDF5Error {
      #expect(error == .notFound(path: path, kind: "dataset", name: "mlp_in"), "typed error")
      #expect(
        error.localizedDescription == "\(path): dataset 'mlp_in' not found",
        "message names file and dataset")
    }
  }

  @Test("opening a file that is not HDF5, or is missing, names the file")
  func notHDF5AndMissingFiles() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("notes.txt")
    try Data("just text, not HDF5\n".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: HDF5Error.notHDF5File(path: path), "a text file is rejected by name") {
      _ = try HDF5File(path: path)
    }
    let missing = dir.path("absent.h5")
    #expect(throws: HDF5Error.fileNotFound(path: missing), "a missing file is named") {
      _ = try HDF5File(path: missing)
    }
    let description = HDF5Error.notHDF5File(path: path).localizedDescription
    #expect(description.contains(path), "the message names the file")
  }

  @Test("a truncated file is reported as truncated, with its size and the size its superblock records")
  func truncatedFile() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("whole.h5")
    let file = try HDF5File.create(path: path)
    let dataset = try file.createDataset("x", elementType: .float32, shape: [256])
    try dataset.writeRows([Float](repeating: 1, count: 256), start: 0)
    try dataset.close()
    try file.close()
    let whole = try Data(contentsOf: URL(fileURLWithPath: path))
    let cut = dir.path("cut.h5")
    try whole.prefix(whole.count - 100).write(to: URL(fileURLWithPath: cut))
    let truncated = HDF5Error.truncatedFile(path: cut, size: whole.count - 100, expectedSize: whole.count)
    #expect(throws: truncated, "libhdf5 refuses it, and the superblock says why") {
      _ = try HDF5File(path: cut)
    }
    #expect(
      truncated.localizedDescription
        == "\(cut): truncated HDF5 file: it has \(whole.count - 100) bytes but its superblock says "
        + "\(whole.count); the write or copy did not finish, so copy it again or rerun the tool that wrote it"
    )
    try whole.prefix(20).write(to: URL(fileURLWithPath: cut))
    #expect(
      throws: HDF5Error.truncatedFile(path: cut, size: 20, expectedSize: nil), "cut inside the superblock"
    ) {
      _ = try HDF5File(path: cut)
    }
  }

  @Test(
    "a file the system will not open is reported with the system's reason",
    .enabled(if: getuid() != 0, "root opens any file"))
  func unreadableFile() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("locked.h5")
    try HDF5File.create(path: path).close()
    try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
    #expect(throws: HDF5Error.cannotOpenFile(path: path, detail: "Permission denied")) {
      _ = try HDF5File(path: path)
    }
  }

  @Test("creating a file in a folder that cannot exist throws a named error")
  func createInImpossibleFolder() throws {
    let dir = try TemporaryDirectory()
    let blocker = dir.path("plain-file")
    try Data().write(to: URL(fileURLWithPath: blocker))
    let path = blocker + "/out.h5"
    do {
      _ = try HDF5File.create(path: path)
      Issue.record("creating under a regular file must throw")
    } catch let error as HDF5Error {
      guard case .cannotCreateFile(let failedPath, _) = error else {
        Issue.record("unexpected error \(error)")
        return
      }
      #expect(failedPath == path, "the error names the path")
      #expect(error.localizedDescription.contains("cannot create file"), "says what failed")
    }
  }
}
