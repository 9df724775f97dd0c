import CKernels
import CLTFormat
import Collectives
import Foundation
import Kernels
import Transcoder

/// Feature sharding (`clt-fit --shard-features`): each process holds a contiguous slice of every
/// layer's features (their encoder and decoder rows, thresholds and Adam moments) and trains on
/// the same rows as the others; the forward pass selects across the slices and sums the partial
/// reconstructions (`BatchSharing.features`), after which each process's gradients are already
/// those of its own slice. The memory of the parameters and optimizer state divides by the
/// number of processes. Every rank checkpoints its own slice (`sliceURL`), and `assembledFile`
/// gathers one ordinary clt.h5 at rank 0.
struct FeatureShardedTraining: TrainingMode {
  let communicator: Communicator
  /// The features of each layer over every process.
  let totalFeatures: Int
  let featureSlice: Range<Int>?

  /// - Throws: `TrainingError.invalidConfiguration` unless `features` divides among the processes.
  init(_ communicator: Communicator, features: Int) throws {
    try checkDivides(features, option: "--features", among: communicator.size)
    self.communicator = communicator
    totalFeatures = features
    let local = features / communicator.size
    featureSlice = (communicator.rank * local)..<((communicator.rank + 1) * local)
  }

  func perProcess(_ configuration: TrainingConfiguration) -> TrainingConfiguration {
    configuration.perProcess(communicator.size, shardingFeatures: true)
  }

  func sharing(features: Int) -> BatchSharing { .features(communicator, total: features) }

  /// The loss terms and the gradients' squared global norm over every process's slice. The MSE
  /// is already whole (every process holds the full ŷ); the sparsity and pre-activation terms
  /// are sums over features, so the slices' add up. b_dec's gradient depends on ŷ alone and is
  /// the same on every process, so it is counted once.
  func reduce(_ loss: CLTLoss, of trainer: CLTTrainer) throws -> (loss: CLTLoss, squaredNorm: Double) {
    let gradients = trainer.gradients
    var bias: Double = 0
    for buffer in gradients.decoderBiases { bias += sum_squares(buffer.pointer, buffer.count) }
    var terms = [
      loss.sparsity, loss.preActivation, gradients.squaredNorm() - (communicator.isRoot ? 0 : bias),
    ]
    try communicator.sum(&terms)
    var total = loss
    total.sparsity = terms[0]
    total.preActivation = terms[1]
    return (total, terms[2])
  }

  /// Every process holds the whole ŷ and y; only the active pairs are counted in slices.
  func combine(_ sums: inout BatchSums) throws {
    let index = sums.activePairsIndex
    var active = sums.layers.map { Int64($0[index]) }
    try communicator.sum(&active)
    for l in sums.layers.indices { sums.layers[l][index] = Double(active[l]) }
  }

  func totalOverFeatureSlices(_ counts: inout [Int64]) throws { try communicator.sum(&counts) }

  /// `url` for rank 0, `url` + ".rank" + r for rank r > 0.
  func sliceURL(_ url: URL) -> URL {
    communicator.rank > 0 ? URL(fileURLWithPath: url.path + ".rank\(communicator.rank)") : url
  }

  /// A rank killed while the others wrote leaves slices of different steps.
  func checkSavedSteps(_ steps: Int, path: String) throws {
    let steps = Int64(steps)
    if try communicator.minimum(steps) != communicator.maximum(steps) {
      throw TrainingError.checkpointMismatch(
        path: path, reason: "the ranks' slices were saved at different steps (a rank died while writing)")
    }
  }

  /// The slices gathered (MPI_Gather, one parameter buffer at a time) into a whole transcoder at
  /// rank 0, which then holds the parameters once (not the optimizer state, the gradients or the
  /// activations that training needs).
  func assembledFile(of trainer: CLTTrainer, createdBy: String) throws -> CLTFile? {
    let transcoder = trainer.transcoder
    let root = communicator.isRoot
    let whole =
      root
      ? CrossLayerTranscoder(nLayers: transcoder.nLayers, dModel: transcoder.dModel, features: totalFeatures)
      : nil
    whole?.activation = transcoder.activation
    whole?.k = transcoder.k
    let parts = transcoder.parameterBuffers
    let wholes = whole?.parameterBuffers
    let shared = parts.count - transcoder.nLayers  // b_dec, last, is the same everywhere
    for q in parts.indices {
      if q >= shared {
        wholes?[q].pointer.update(from: parts[q].pointer, count: parts[q].count)
      } else {
        try communicator.collect(parts[q].pointer, count: parts[q].count, into: wholes?[q].pointer)
      }
    }
    var frequencies: [[Float]] = []
    for layer in trainer.frequencies {
      let all = FloatBuffer(count: root ? totalFeatures : 1)
      try layer.withUnsafeBufferPointer { local in
        try communicator.collect(local.baseAddress!, count: layer.count, into: root ? all.pointer : nil)
      }
      frequencies.append(all.array)
    }
    guard let whole else { return nil }
    return trainer.file(whole, frequencies: frequencies, createdBy: createdBy)
  }
}
