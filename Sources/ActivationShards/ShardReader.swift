import Foundation
import HDF5

/// Reads a shard (for tests, and for the training tool later): metadata, row count, and rows
/// [start, start+count) of tokens/positions/windows and of mlp_in/mlp_out as float32
/// [count, nLayers, dModel] (converting from f16).
///
/// Opening checks the format version, the dtype and that every dataset has the same number of
/// rows and the shape the metadata promises, so a damaged shard fails here with its name rather
/// than as wrong numbers later.
public final class ShardReader {
  /// The shard's file.
  public let url: URL
  /// The shard's root attributes.
  public let metadata: ShardMetadata
  /// Tokens (rows) in this shard.
  public let rowCount: Int

  private let file: HDF5File
  private let tokens: HDF5Dataset
  private let positions: HDF5Dataset
  private let windows: HDF5Dataset
  private let mlpIn: HDF5Dataset
  private let mlpOut: HDF5Dataset
  /// Reused binary16 buffer for f16 shards.
  private var scratch: [UInt16] = []

  /// Opens a shard read-only and validates its layout.
  public init(url: URL) throws {
    self.url = url
    file = try HDF5File(url: url)
    metadata = try ShardMetadata(file: file)
    tokens = try file.openDataset(ShardLayout.tokens)
    positions = try file.openDataset(ShardLayout.positions)
    windows = try file.openDataset(ShardLayout.windows)
    mlpIn = try file.openDataset(ShardTensor.mlpIn.datasetName)
    mlpOut = try file.openDataset(ShardTensor.mlpOut.datasetName)
    rowCount = try tokens.rowCount
    let path = url.path
    for dataset in [tokens, positions, windows] {
      guard dataset.elementType == .int32, try dataset.shape == [rowCount] else {
        throw ShardError.unsupportedFormat(
          path: path,
          reason: "'\(dataset.objectName)' is \(dataset.elementType) \(try dataset.shape), "
            + "expected int32 [\(rowCount)]")
      }
    }
    let expectedShape = [rowCount, metadata.nLayers, metadata.dModel]
    let expectedType: HDF5ElementType = metadata.dtype == .f16 ? .float16 : .float32
    for dataset in [mlpIn, mlpOut] {
      guard dataset.elementType == expectedType, try dataset.shape == expectedShape else {
        throw ShardError.unsupportedFormat(
          path: path,
          reason: "'\(dataset.objectName)' is \(dataset.elementType) \(try dataset.shape), "
            + "expected \(expectedType) \(expectedShape)")
      }
    }
    // Shards are written uncompressed, so every activation byte is in the file: a shape that
    // promises more is damage, caught here before it sizes a buffer.
    let activationBytes = try mlpIn.elementCount.multipliedReportingOverflow(by: 2 * expectedType.size)
    if let fileBytes = file.sizeOnDisk, activationBytes.overflow || activationBytes.partialValue > fileBytes {
      throw ShardError.unsupportedFormat(
        path: path,
        reason: "mlp_in and mlp_out of shape \(expectedShape) need more bytes than the file's "
          + "\(fileBytes); the file is damaged")
    }
  }

  /// Token ids of rows `rows`.
  public func readTokens(rows: Range<Int>) throws -> [Int32] {
    try tokens.readRows(rows, as: Int32.self)
  }

  /// Positions (index within the window) of rows `rows`.
  public func readPositions(rows: Range<Int>) throws -> [Int32] {
    try positions.readRows(rows, as: Int32.self)
  }

  /// Window indices (over the whole run) of rows `rows`.
  public func readWindows(rows: Range<Int>) throws -> [Int32] {
    try windows.readRows(rows, as: Int32.self)
  }

  /// Activations of rows `rows` as float32, row-major [rows.count, nLayers, dModel].
  public func readActivations(_ which: ShardTensor, rows: Range<Int>) throws -> [Float] {
    let count = rows.count * metadata.nLayers * metadata.dModel
    return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      try readActivations(which, rows: rows, into: buffer)
      initialized = count
    }
  }

  /// Activations of rows `rows` into `buffer` (exactly rows.count * nLayers * dModel floats),
  /// so that a training loop can reuse one buffer.
  public func readActivations(
    _ which: ShardTensor, rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>
  ) throws {
    let dataset = which == .mlpIn ? mlpIn : mlpOut
    let count = rows.count * metadata.nLayers * metadata.dModel
    guard buffer.count == count else {
      throw ShardError.invalidArgument(
        "\(url.path): a buffer of \(buffer.count) floats cannot hold \(rows.count) rows "
          + "of \(metadata.nLayers) x \(metadata.dModel)")
    }
    switch metadata.dtype {
    case .f32:
      try dataset.readRows(rows, into: buffer)
    case .f16:
      if scratch.count < count { scratch = [UInt16](repeating: 0, count: count) }
      try scratch.withUnsafeMutableBufferPointer { scratch in
        let half = UnsafeMutableBufferPointer(rebasing: scratch[0..<count])
        try dataset.readRows(rows, intoRawBytes: UnsafeMutableRawBufferPointer(half))
        Float16Conversion.convert(UnsafeBufferPointer(half), to: buffer)
      }
    }
  }
}
