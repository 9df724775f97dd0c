import ActivationShards
import Foundation

/// Deterministic rows for shard tests: every value encodes its row, layer and column, so a
/// transposition or offset mistake changes the values read back.
struct SyntheticRows {
  let layers: Int
  let width: Int

  static func metadata(_ dtype: ShardDType, layers: Int = 3, width: Int = 5) -> ShardMetadata {
    ShardMetadata(
      architecture: "gpt2", model: "gpt2-test", modelSHA256: String(repeating: "ab", count: 32),
      nLayers: layers, dModel: width, context: 16, dtype: dtype,
      inputTap: "ln_2 output (MLP input)", outputTap: "MLP output before the residual add",
      createdBy: "shard tests")
  }

  func mlpIn(row: Int, layer: Int, column: Int) -> Float {
    Float(row) * 0.37 + Float(layer) * 11 + Float(column) * 0.013 - 3
  }

  func mlpOut(row: Int, layer: Int, column: Int) -> Float {
    -Float(row) * 1.7 + Float(layer) * 0.5 - Float(column) * 100
  }

  func token(row: Int) -> Int32 { Int32(50_000 - row) }
  func position(row: Int) -> Int32 { Int32(row % 16) }
  func window(row: Int) -> Int32 { Int32(row / 16) }

  /// Appends rows `rows` (global row numbers) as the forward pass would: layer-major.
  @discardableResult
  func append(_ rows: Range<Int>, to writer: ShardWriter) throws -> [URL] {
    let n = rows.count
    var inputs = [Float](repeating: 0, count: layers * n * width)
    var outputs = inputs
    for layer in 0..<layers {
      for (r, row) in rows.enumerated() {
        for column in 0..<width {
          let index = (layer * n + r) * width + column
          inputs[index] = mlpIn(row: row, layer: layer, column: column)
          outputs[index] = mlpOut(row: row, layer: layer, column: column)
        }
      }
    }
    let tokens = rows.map(token)
    let positions = rows.map(position)
    let windows = rows.map(window)
    return try tokens.withUnsafeBufferPointer { t in
      try positions.withUnsafeBufferPointer { p in
        try windows.withUnsafeBufferPointer { w in
          try writer.append(tokens: t, positions: p, windows: w, mlpIn: inputs, mlpOut: outputs)
        }
      }
    }
  }

  /// The expected row-major [rows, layers, width] values, as stored in `dtype`.
  func expected(_ tensor: ShardTensor, rows: Range<Int>, dtype: ShardDType) -> [Float] {
    var values: [Float] = []
    for row in rows {
      for layer in 0..<layers {
        for column in 0..<width {
          let value =
            tensor == .mlpIn
            ? mlpIn(row: row, layer: layer, column: column)
            : mlpOut(row: row, layer: layer, column: column)
          values.append(dtype == .f16 ? Float(Float16(value)) : value)
        }
      }
    }
    return values
  }
}
