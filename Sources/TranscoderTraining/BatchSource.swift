import Foundation
import Kernels

/// One training batch, layer-major: `inputs[l]` and `outputs[l]` are (rows, dModel) each, scaled.
struct TrainingBatch: Sendable {
  let inputs: [FloatBuffer]
  let outputs: [FloatBuffer]

  init(rows: Int, nLayers: Int, dModel: Int) {
    inputs = (0..<nLayers).map { _ in FloatBuffer(count: rows * dModel) }
    outputs = (0..<nLayers).map { _ in FloatBuffer(count: rows * dModel) }
  }
}

/// Where a run's batches come from: the shard stream, the shuffle buffer that mixes its rows, and
/// the passes over the shards. `CLTTrainer` asks for the next batch on a thread of its own while
/// a step computes (`BatchReadAhead`), so the source is used by one thread at a time, never two:
/// the trainer waits for the read-ahead before it touches the source again, which is what
/// `@unchecked Sendable` stands for here.
final class BatchSource: @unchecked Sendable {
  let stream: ShardStream
  let buffer: ShuffleBuffer
  /// Each pass after the first visits the shards in an order drawn from this seed and its number.
  private let seed: UInt64
  /// Passes over the shards begun after the first.
  private(set) var passes = 0

  init(stream: ShardStream, buffer: ShuffleBuffer, seed: UInt64) {
    self.stream = stream
    self.buffer = buffer
    self.seed = seed
  }

  /// Samples `rows` rows into `batch`, scaled, after topping up the buffer. Returns false when
  /// consumed shards have run out and no batch is left.
  ///
  /// The buffer is kept well mixed: it is refilled whenever it is half empty. When the shards run
  /// out the next pass starts at once, its shards in another order, so the buffer never drains:
  /// refilled only once empty, it held the first shards alone for many steps, and the training
  /// NMSE jumped at every epoch boundary (0.19 to 0.46 at 512k tokens on SmolLM2).
  func next(_ rows: Int, into batch: TrainingBatch, inputScales: [Float], outputScales: [Float]) throws
    -> Bool
  {
    let wanted = max(rows, buffer.capacity / 2)
    if try !buffer.fill(to: wanted, from: stream) {
      passes += 1
      stream.rewind(shufflingWith: seed &+ UInt64(passes))
      try buffer.fill(to: wanted, from: stream)
      guard buffer.count >= rows else {
        if stream.consume || stream.consumeStandardInput { return false }
        throw TrainingError.noShards(
          "the shards hold \(buffer.count) usable rows, fewer than one batch of \(rows); lower --batch")
      }
    }
    buffer.sample(
      rows, inputs: batch.inputs, outputs: batch.outputs, inputScales: inputScales, outputScales: outputScales
    )
    return true
  }
}

/// The next batch, read on a thread of its own while the current step computes. The shard reads,
/// the float16 conversion and the sampling (5% of a whole step at the demo's shape,
/// docs/BENCHMARKS.md) then overlap the step's arithmetic instead of adding to it. The batch is
/// the one the step would have read itself: the source does the same things in the same order,
/// so a run is bit-identical with or without reading ahead.
final class BatchReadAhead: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  /// Written once by the reading thread before it signals `done`, read only after waiting on it.
  private var result: Result<Bool, Error>?

  init(_ read: @escaping @Sendable () throws -> Bool) {
    let thread = Thread { [self] in
      result = Result { try read() }
      done.signal()
    }
    thread.name = "clt-fit batch read-ahead"
    thread.start()
  }

  /// Waits for the batch; true when it was read, false when the consumed shards ran out, and the
  /// reading's error, if any. May be called again: each call returns the same.
  func wait() throws -> Bool {
    done.wait()
    done.signal()
    return try result!.get()
  }
}
