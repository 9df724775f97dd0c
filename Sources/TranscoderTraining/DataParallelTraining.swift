import CLTFormat
import Collectives
import Kernels
import Transcoder

/// Data parallel: each process holds the same parameters and trains on its own shards; every step
/// each takes batch/size rows, and the gradients, the loss terms, the firing counts and the
/// metrics are summed over the processes, so that every process takes the same step one process
/// would take on the union of their rows (BatchTopK selects across the global batch, clipping
/// uses the global norm). The parameters then stay identical without ever being sent; each
/// checkpoint checks that they did (`checkReplicas`) and rank 0 writes it.
struct DataParallelTraining: TrainingMode {
  let communicator: Communicator

  /// - Throws: `TrainingError.invalidConfiguration` unless `batch` divides among the processes.
  init(_ communicator: Communicator, batch: Int) throws {
    try checkDivides(batch, option: "--batch", among: communicator.size)
    self.communicator = communicator
  }

  var tokenShares: Int { communicator.size }

  func perProcess(_ configuration: TrainingConfiguration) -> TrainingConfiguration {
    configuration.perProcess(communicator.size)
  }

  /// Each process samples its own rows; rank 0 draws as a single process does.
  func samplingSeed(_ seed: UInt64) -> UInt64 {
    seed &+ UInt64(communicator.rank) &* 0x9E37_79B9_7F4A_7C15
  }

  /// Scales from every process's rows together (the same rows one process would have held, up
  /// to the fewest any process holds for the outputs, whose median needs every row's norm).
  func normalizer(_ buffer: ShuffleBuffer, outlierFactor: Double) throws -> ActivationNormalizer {
    var totals = buffer.inputSquaredNormSums() + [Double(buffer.count)]
    try communicator.sum(&totals)
    let (l, rows) = (buffer.nLayers, max(totals[buffer.nLayers], 1))
    let common = try commonRows(buffer.count)
    let local = FloatBuffer(buffer.outputRowSquares().flatMap { $0.prefix(common) })
    let all = FloatBuffer(count: local.count * communicator.size)
    try communicator.gather(local.pointer, count: local.count, into: all.pointer)
    let outputRows = (0..<l).map { layer in
      (0..<communicator.size).flatMap { rank in
        let start = (rank * l + layer) * common
        return (start..<start + common).map { all[$0] }
      }
    }
    return ActivationNormalizer(
      meanSquaredInputNorms: totals[0..<l].map { $0 / rows }, outputRowSquares: outputRows,
      dModel: buffer.dModel, outlierFactor: outlierFactor)
  }

  func commonRows(_ rows: Int) throws -> Int { Int(try communicator.minimum(Int64(rows))) }

  func gathered(_ local: [FloatBuffer], rows: Int, width: Int) throws -> [FloatBuffer] {
    try local.map { buffer in
      let all = FloatBuffer(count: rows * width * communicator.size)
      try communicator.gather(buffer.pointer, count: rows * width, into: all.pointer)
      return all
    }
  }

  /// Sums every gradient over the processes (MPI_Allreduce) and averages the loss terms; the
  /// trainer divides the gradients by the number of processes inside Adam's pass.
  ///
  /// The backward pass leaves the decoder rows of features that did not fire unwritten (stale),
  /// marked 0 in `decoderRowsActive`; a feature may fire on one process and not on another, so
  /// those rows are zeroed first, then the masks are or-ed (max of 0/1) and the whole decoder
  /// gradient summed. A row fired on no process stays masked and Adam skips it, as it would in
  /// one process. What crosses the network each step is therefore the full gradient, about the
  /// size of the parameters (`docs/BENCHMARKS.md` has the figures).
  func reduce(_ loss: CLTLoss, of trainer: CLTTrainer) throws -> (loss: CLTLoss, squaredNorm: Double) {
    let gradients = trainer.gradients
    let (f, d) = (trainer.transcoder.features, trainer.transcoder.dModel)
    for (l, rows) in gradients.decoderWeights.enumerated() {
      let mask = gradients.decoderRowsActive[l]
      for buffer in rows {
        ParallelLoop.forEachChunk(count: f, grain: 1024) { range in
          for i in range where mask[i] == 0 { (buffer.pointer + i * d).update(repeating: 0, count: d) }
        }
      }
      try communicator.maximum(mask, count: f)
    }
    for buffer in gradients.buffers { try communicator.sum(buffer.pointer, count: buffer.count) }
    gradients.decoderGradientsChanged()
    var terms = [loss.meanSquaredError, loss.sparsity, loss.preActivation, loss.auxiliary]
    try communicator.sum(&terms)
    let ranks = Double(communicator.size)
    var mean = loss
    mean.meanSquaredError = terms[0] / ranks
    mean.sparsity = terms[1] / ranks
    mean.preActivation = terms[2] / ranks
    mean.auxiliary = terms[3] / ranks
    return (mean, gradients.squaredNorm())
  }

  /// Each process's AuxK term normalises by the mean over the processes of their ‖e[l']‖², the
  /// global batch's divided by their number: with the trainer's division of the summed gradients
  /// by that number, the step is the one a single process takes on the whole batch. The dead
  /// features, and so the term's targets, are the same on every process (their firing counts are
  /// summed), so every process takes part in this collective or none.
  func shareAuxiliaryErrors(of trainer: CLTTrainer) throws {
    guard trainer.configuration.coefficients.auxiliary > 0 else { return }
    var squares = trainer.transcoder.auxiliaryErrorSquares(trainer.activations, targets: trainer.batchOutputs)
    try averageOverTokenShares(&squares)
    trainer.activations.setAuxiliaryErrorSquares(squares)
  }

  /// The processes hold equally many tokens, so the mean of their means.
  func averageOverTokenShares(_ values: inout [Double]) throws {
    try communicator.sum(&values)
    values = values.map { $0 / Double(communicator.size) }
  }

  /// Every sum and firing count, over the processes' rows.
  func combine(_ sums: inout BatchSums) throws {
    let (width, f) = (sums.layers[0].count, sums.firing[0].count)
    var flat = sums.layers.flatMap { $0 }
    try communicator.sum(&flat)
    var counts = sums.firing.flatMap { $0 }
    try communicator.sum(&counts)
    sums.layers = sums.layers.indices.map { Array(flat[($0 * width)..<(($0 + 1) * width)]) }
    sums.firing = sums.firing.indices.map { Array(counts[($0 * f)..<(($0 + 1) * f)]) }
  }

  var writesCheckpoints: Bool { communicator.isRoot }

  /// Throws `TrainingError.replicasDiverged` unless every process's parameters sum (and sum of
  /// squares) to the same bits. They should: each takes the same step from the same summed
  /// gradients, so this catches a reduction that rounds differently on different ranks, or a
  /// rank that trained on something else, before a checkpoint makes one rank's view the run's.
  func checkReplicas(of trainer: CLTTrainer) throws {
    var sums: (Double, Double) = (0, 0)
    for buffer in trainer.transcoder.parameterBuffers {
      for k in 0..<buffer.count {
        let v = Double(buffer[k])
        sums.0 += v
        sums.1 += v * v
      }
    }
    let bits = [Int64(bitPattern: sums.0.bitPattern), Int64(bitPattern: sums.1.bitPattern)]
    var low = bits
    var high = bits
    try low.withUnsafeMutableBufferPointer { try communicator.minimum($0.baseAddress!, count: 2) }
    try high.withUnsafeMutableBufferPointer { try communicator.maximum($0.baseAddress!, count: 2) }
    guard low == high else {
      throw TrainingError.replicasDiverged(step: trainer.step, rank: communicator.rank)
    }
  }
}
