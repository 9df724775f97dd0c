import ActivationShards
import Kernels
import Transcoder

/// Token-level shuffling across shards. A shard holds consecutive tokens of a few documents, so
/// batches cut from one shard in order are strongly correlated, and training on them is known to
/// be much worse than on shuffled tokens. The buffer holds up to `capacity` rows (one row is a
/// token's MLP inputs and outputs for every layer) drawn from several shards, and each batch
/// samples rows uniformly without replacement; the rows taken are replaced from the next shards.
///
/// Rows with NaN or Inf anywhere are skipped as they are loaded and counted in `skippedRows`:
/// one such row would make every parameter NaN after one step.
public final class ShuffleBuffer {
  /// Most rows held at once.
  public let capacity: Int
  /// Floats per row and tensor: nLayers · dModel.
  public let rowWidth: Int
  public let nLayers: Int
  public let dModel: Int
  /// Rows held now.
  public private(set) var count = 0
  /// Rows dropped because they held NaN or Inf.
  public private(set) var skippedRows = 0
  private let inputs: FloatBuffer
  private let outputs: FloatBuffer
  private var generator: XorShiftGenerator
  /// The shard being loaded and the next row of it to load.
  private var pending: (reader: ShardReader, row: Int)?

  /// - Parameters:
  ///   - capacity: rows held at most (memory: capacity · 2 · nLayers · dModel · 4 bytes).
  ///   - seed: the sampling order is a function of the seed and the data alone.
  public init(capacity: Int, nLayers: Int, dModel: Int, seed: UInt64) {
    precondition(capacity > 0 && nLayers > 0 && dModel > 0)
    self.capacity = capacity
    self.nLayers = nLayers
    self.dModel = dModel
    rowWidth = nLayers * dModel
    inputs = FloatBuffer(count: capacity * rowWidth)
    outputs = FloatBuffer(count: capacity * rowWidth)
    generator = XorShiftGenerator(seed: seed ^ 0x5348_5546)
  }

  /// Loads rows until the buffer holds at least `minimum` rows (at most `capacity`) or `stream`
  /// has no more shards. Returns false when the stream is exhausted and nothing is pending.
  @discardableResult
  public func fill(to minimum: Int, from stream: ShardStream) throws -> Bool {
    let target = min(minimum, capacity)
    while count < target {
      if pending == nil {
        guard let reader = try stream.next() else { return false }
        pending = (reader, 0)
      }
      let (reader, start) = pending!
      let rows = min(capacity - count, reader.rowCount - start)
      if rows > 0 {
        do {
          try load(reader, rows: start..<(start + rows))
        } catch {
          // A shard that opened but cannot be read to the end (truncated, corrupt): keep what
          // was read, report it and go on with the next one rather than lose the run.
          stream.skip(reader.url.path, reason: error.localizedDescription)
          pending = nil
          continue
        }
      }
      if start + rows < reader.rowCount {
        pending = (reader, start + rows)
      } else {
        pending = nil
        stream.finished(reader.url)
      }
    }
    return true
  }

  private func load(_ reader: ShardReader, rows: Range<Int>) throws {
    let base = count * rowWidth
    let length = rows.count * rowWidth
    try reader.readActivations(
      .mlpIn, rows: rows, into: UnsafeMutableBufferPointer(start: inputs.pointer + base, count: length))
    try reader.readActivations(
      .mlpOut, rows: rows, into: UnsafeMutableBufferPointer(start: outputs.pointer + base, count: length))
    var kept = count
    for r in 0..<rows.count {
      let slot = count + r
      let x = inputs.pointer + slot * rowWidth
      let y = outputs.pointer + slot * rowWidth
      var finite = true
      for j in 0..<rowWidth where !x[j].isFinite || !y[j].isFinite {
        finite = false
        break
      }
      guard finite else {
        skippedRows += 1
        continue
      }
      if kept != slot {
        (inputs.pointer + kept * rowWidth).update(from: x, count: rowWidth)
        (outputs.pointer + kept * rowWidth).update(from: y, count: rowWidth)
      }
      kept += 1
    }
    count = kept
  }

  /// Per layer, Σ ‖row‖² over the input rows held: the input scales' estimate (processes training
  /// together add theirs before dividing by the rows they hold together).
  public func inputSquaredNormSums() -> [Double] {
    rowSquares(inputs).map { $0.reduce(0) { $0 + Double($1) } }
  }

  /// Per layer, ‖row‖² of each output row held, in the order held (raw units): what the output
  /// scales and their outlier tokens are found from (`ActivationNormalizer`).
  public func outputRowSquares() -> [[Float]] { rowSquares(outputs) }

  private func rowSquares(_ buffer: FloatBuffer) -> [[Float]] {
    (0..<nLayers).map { l in
      (0..<count).map { r in
        let row = buffer.pointer + r * rowWidth + l * dModel
        var s: Float = 0
        for j in 0..<dModel { s += row[j] * row[j] }
        return s
      }
    }
  }

  /// Removes `n` rows chosen uniformly at random without replacement and writes them layer-major:
  /// `inputs[l]` and `outputs[l]` receive (n, dModel) each, multiplied by the layer's scale.
  /// Copies n rows spread evenly over the buffer, scaled, without taking them out (to calibrate
  /// the initial thresholds on data the training will see).
  public func peek(
    _ n: Int, inputs batchInputs: [FloatBuffer], outputs batchOutputs: [FloatBuffer],
    inputScales: [Float], outputScales: [Float]
  ) {
    precondition(n <= count, "peek at \(n) rows of a buffer of \(count)")
    for t in 0..<n { copyRow(t * count / n, to: t, batchInputs, batchOutputs, inputScales, outputScales) }
  }

  private func copyRow(
    _ index: Int, to t: Int, _ batchInputs: [FloatBuffer], _ batchOutputs: [FloatBuffer],
    _ inputScales: [Float],
    _ outputScales: [Float]
  ) {
    for l in 0..<nLayers {
      let x = inputs.pointer + index * rowWidth + l * dModel
      let y = outputs.pointer + index * rowWidth + l * dModel
      let bx = batchInputs[l].pointer + t * dModel
      let by = batchOutputs[l].pointer + t * dModel
      let (sx, sy) = (inputScales[l], outputScales[l])
      for j in 0..<dModel {
        bx[j] = x[j] * sx
        by[j] = y[j] * sy
      }
    }
  }

  /// Takes the n rows held, in the order they were loaded, scaled (for evaluation, which needs
  /// every row once and no shuffling); the buffer is left empty.
  public func takeInOrder(
    _ n: Int, inputs batchInputs: [FloatBuffer], outputs batchOutputs: [FloatBuffer],
    inputScales: [Float], outputScales: [Float]
  ) {
    precondition(n == count, "take all \(count) rows")
    for t in 0..<n { copyRow(t, to: t, batchInputs, batchOutputs, inputScales, outputScales) }
    count = 0
  }

  public func sample(
    _ n: Int, inputs batchInputs: [FloatBuffer], outputs batchOutputs: [FloatBuffer],
    inputScales: [Float], outputScales: [Float]
  ) {
    precondition(n <= count, "sample \(n) rows from a buffer of \(count)")
    for t in 0..<n {
      let index = Int(generator.next() % UInt64(count))
      copyRow(index, to: t, batchInputs, batchOutputs, inputScales, outputScales)
      count -= 1
      if index != count {
        (inputs.pointer + index * rowWidth).update(from: inputs.pointer + count * rowWidth, count: rowWidth)
        (outputs.pointer + index * rowWidth).update(from: outputs.pointer + count * rowWidth, count: rowWidth)
      }
    }
  }
}
