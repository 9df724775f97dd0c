import CLTFormat
import Collectives
import Foundation
import Kernels
import Transcoder

/// How the processes of a run divide the work of a training step: the points where `CLTTrainer`
/// differs between one process, data parallelism (`DataParallelTraining`) and sharded features
/// (`FeatureShardedTraining`).
///
/// The trainer is written once, for one process, and asks its mode at each of these points; so
/// that it reads straight through for the single-process case (as llm.c keeps `train_gpt2.c`
/// beside its multi-GPU version), every default below is what one process does, which holds every
/// feature and every row and has nothing to reduce: `SingleProcessTraining` takes them all, and
/// the other modes override what they change, each in its own file. Every method a mode runs
/// collectives in is called by every process at the same point of the step.
protocol TrainingMode {
  /// The processes training together (one when launched without mpirun).
  var communicator: Communicator { get }
  /// Processes the batch's rows are divided among: more than one only when data parallel.
  var tokenShares: Int { get }
  /// This process's features of each layer when it holds a slice of them; nil when it holds all.
  var featureSlice: Range<Int>? { get }

  // MARK: Setting up

  /// What this process holds of a run of `configuration` (see `TrainingConfiguration.perProcess`).
  func perProcess(_ configuration: TrainingConfiguration) -> TrainingConfiguration
  /// The seed of this process's sampling order: processes sampling their own rows draw apart.
  func samplingSeed(_ seed: UInt64) -> UInt64
  /// The scales, estimated from the rows the processes hold together.
  func normalizer(_ buffer: ShuffleBuffer, outlierFactor: Double) throws -> ActivationNormalizer
  /// The rows of the first batch each process takes, the same number on each: `rows` or fewer.
  func commonRows(_ rows: Int) throws -> Int
  /// The first batch over every process: per layer, the processes' `rows` rows of `width` each,
  /// one after another.
  func gathered(_ local: [FloatBuffer], rows: Int, width: Int) throws -> [FloatBuffer]

  // MARK: A step

  /// How the forward pass divides the step, for a transcoder of `features` per layer in all.
  func sharing(features: Int) -> BatchSharing
  /// Hands the forward pass the whole batch's ‖e[l']‖² for the AuxK term to normalise by, where
  /// the processes divide the batch's tokens (one process has it already).
  func shareAuxiliaryErrors(of trainer: CLTTrainer) throws
  /// The global batch's loss terms and the squared norm of the gradients over every process's
  /// share, from this process's loss and `trainer.gradients` (which it may reduce in place).
  func reduce(_ loss: CLTLoss, of trainer: CLTTrainer) throws -> (loss: CLTLoss, squaredNorm: Double)
  /// Per layer, a mean over the tokens of every share from the means of each.
  func averageOverTokenShares(_ values: inout [Double]) throws
  /// The step's metric sums over the global batch and every feature, from this process's.
  func combine(_ sums: inout BatchSums) throws
  /// Per layer, the dead features over every process's slice, from this process's count.
  func totalOverFeatureSlices(_ counts: inout [Int64]) throws

  // MARK: Checkpoints and the result

  /// Whether this process writes checkpoints.
  var writesCheckpoints: Bool { get }
  /// Where this process's part of the checkpoint `url` goes.
  func sliceURL(_ url: URL) -> URL
  /// Throws `TrainingError.replicasDiverged` where processes that should hold the same
  /// parameters do not; called before every checkpoint.
  func checkReplicas(of trainer: CLTTrainer) throws
  /// Throws where the parts of a checkpoint being resumed were saved at different steps.
  func checkSavedSteps(_ steps: Int, path: String) throws
  /// The trained transcoder as one ordinary clt.h5 at rank 0, nil elsewhere.
  func assembledFile(of trainer: CLTTrainer, createdBy: String) throws -> CLTFile?
}

/// What one process does, which holds everything and reduces nothing.
extension TrainingMode {
  var tokenShares: Int { 1 }
  var featureSlice: Range<Int>? { nil }
  func perProcess(_ configuration: TrainingConfiguration) -> TrainingConfiguration { configuration }
  func samplingSeed(_ seed: UInt64) -> UInt64 { seed }
  func normalizer(_ buffer: ShuffleBuffer, outlierFactor: Double) throws -> ActivationNormalizer {
    ActivationNormalizer(buffer: buffer, outlierFactor: outlierFactor)
  }
  func commonRows(_ rows: Int) throws -> Int { rows }
  func gathered(_ local: [FloatBuffer], rows: Int, width: Int) throws -> [FloatBuffer] { local }
  func sharing(features: Int) -> BatchSharing { .tokens(communicator) }
  func shareAuxiliaryErrors(of trainer: CLTTrainer) throws {}
  func reduce(_ loss: CLTLoss, of trainer: CLTTrainer) throws -> (loss: CLTLoss, squaredNorm: Double) {
    (loss, trainer.gradients.squaredNorm())
  }
  func averageOverTokenShares(_ values: inout [Double]) throws {}
  func combine(_ sums: inout BatchSums) throws {}
  func totalOverFeatureSlices(_ counts: inout [Int64]) throws {}
  var writesCheckpoints: Bool { true }
  func sliceURL(_ url: URL) -> URL { url }
  func checkReplicas(of trainer: CLTTrainer) throws {}
  func checkSavedSteps(_ steps: Int, path: String) throws {}
  func assembledFile(of trainer: CLTTrainer, createdBy: String) throws -> CLTFile? {
    communicator.isRoot ? trainer.file(createdBy: createdBy) : nil
  }
}

/// One process, launched without mpirun: the defaults of `TrainingMode`.
struct SingleProcessTraining: TrainingMode {
  let communicator: Communicator
}

/// The mode of a run on `communicator`: feature-sharded when asked (on any number of processes),
/// data parallel on several, else one process.
/// - Throws: `TrainingError.invalidConfiguration` when the batch (data parallel) or the features
///   (sharded) do not divide evenly among the processes.
func trainingMode(
  _ communicator: Communicator, shardFeatures: Bool, configuration: TrainingConfiguration
) throws -> any TrainingMode {
  if shardFeatures {
    // Its top k_aux of each token would span every process's dead features and ê would need a
    // sum over them, as ŷ does; neither is written yet.
    guard configuration.coefficients.auxiliary == 0 else {
      throw TrainingError.invalidConfiguration(
        "--auxk-coefficient does not combine with --shard-features yet; give --auxk-coefficient 0, "
          + "or train data parallel (without --shard-features)")
    }
    // Every process would add the whole skip term to its partial ŷ, which the sum over
    // processes would then count once per process.
    guard !configuration.skipConnection else {
      throw TrainingError.invalidConfiguration(
        "the skip connection (--skip) does not combine with --shard-features yet; add --no-skip, or "
          + "train data parallel (without --shard-features)")
    }
    return try FeatureShardedTraining(communicator, features: configuration.features)
  }
  if communicator.isDistributed {
    return try DataParallelTraining(communicator, batch: configuration.batch)
  }
  return SingleProcessTraining(communicator: communicator)
}

/// Throws unless `value` of `option` divides among `processes`.
func checkDivides(_ value: Int, option: String, among processes: Int) throws {
  guard value % processes == 0 else {
    throw TrainingError.invalidConfiguration(
      "\(option) \(value) does not divide among \(processes) processes; give a multiple of \(processes)")
  }
}
