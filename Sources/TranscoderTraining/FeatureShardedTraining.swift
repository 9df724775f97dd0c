import CKernels
import Collectives
import Kernels
import Transcoder

/// The reductions of a feature-sharded step and the assembly of its result (see `CLTTrainer`).
extension CLTTrainer {
  /// The loss terms and the gradients' squared global norm over every process's slice. The MSE
  /// is already whole (every process holds the full ŷ); the sparsity and pre-activation terms
  /// are sums over features, so the slices' add up. b_dec's gradient depends on ŷ alone and is
  /// the same on every process, so it is counted once.
  func shardedLossAndNorm(_ loss: CLTLoss) throws -> (CLTLoss, Double) {
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

  /// The trained transcoder as one ordinary clt.h5, at rank 0 (nil elsewhere). With sharded
  /// features the slices are gathered (MPI_Gather, one parameter buffer at a time) into a whole
  /// transcoder at rank 0, which then holds the parameters once (not the optimizer state, the
  /// gradients or the activations that training needs).
  public func assembledFile(createdBy: String) throws -> CLTFile? {
    guard shardsFeatures else { return communicator.isRoot ? file(createdBy: createdBy) : nil }
    let root = communicator.isRoot
    let whole =
      root
      ? CrossLayerTranscoder(
        nLayers: transcoder.nLayers, dModel: transcoder.dModel, features: configuration.features) : nil
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
    for layer in self.frequencies {
      let all = FloatBuffer(count: root ? configuration.features : 1)
      try layer.withUnsafeBufferPointer { local in
        try communicator.collect(local.baseAddress!, count: layer.count, into: root ? all.pointer : nil)
      }
      frequencies.append(all.array)
    }
    guard let whole else { return nil }
    return file(whole, frequencies: frequencies, createdBy: createdBy)
  }
}
