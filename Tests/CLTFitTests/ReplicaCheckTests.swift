import CLTFormat
import Collectives
import Foundation
import Testing
import Transcoder
import TranscoderTraining

/// A stand-in for rank 0 of two data-parallel processes whose partner mirrors it exactly (every
/// sum doubles, every gather repeats), except that with `diverged` its parameters' checksum
/// differs: the reductions a checkpoint makes without running mpirun.
final class MirroredPair: Communicator {
  let diverged: Bool
  init(diverged: Bool) { self.diverged = diverged }

  var rank: Int { 0 }
  var size: Int { 2 }
  func sum(_ values: UnsafeMutablePointer<Float>, count: Int) { for i in 0..<count { values[i] *= 2 } }
  func sum(_ values: UnsafeMutablePointer<Double>, count: Int) { for i in 0..<count { values[i] *= 2 } }
  func sum(_ values: UnsafeMutablePointer<Int64>, count: Int) { for i in 0..<count { values[i] *= 2 } }
  func minimum(_ values: UnsafeMutablePointer<Int64>, count: Int) {}
  func maximum(_ values: UnsafeMutablePointer<Int64>, count: Int) {
    if diverged && count == 2 { values[0] += 1 }  // only the replica check reduces two values
  }
  func maximum(_ values: UnsafeMutablePointer<UInt8>, count: Int) {}
  func gather(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>) {
    gathered.update(from: local, count: count)
    (gathered + count).update(from: local, count: count)
  }
  func collect(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>?) {
    gather(local, count: count, into: gathered!)
  }
  func abort(code: Int32) -> Never { fatalError("abort \(code)") }
}

@Suite(.serialized) struct ReplicaCheckTests {
  @Test("A data-parallel checkpoint is refused when the ranks' parameters differ, written when they agree")
  func replicasMustAgree() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-replicas-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    var dictionary = SyntheticDictionary(seed: 2)
    let urls = try dictionary.writeShards(to: dir, shards: 2, rows: 128)
    let configuration = TrainingConfiguration(features: 8, batch: 32, steps: 3, shuffleRows: 128, seed: 1)
    for diverged in [false, true] {
      let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false, share: (0, 2))
      let trainer = try CLTTrainer(
        configuration: configuration, stream: stream, communicator: MirroredPair(diverged: diverged))
      #expect(trainer.localBatch == 16)
      _ = try trainer.trainStep()
      let url = dir.appendingPathComponent("ckpt-\(diverged).h5")
      if diverged {
        #expect(throws: TrainingError.replicasDiverged(step: 1, rank: 0)) {
          try trainer.checkpoint(to: url, createdBy: "test")
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
      } else {
        try trainer.checkpoint(to: url, createdBy: "test")
        #expect(try CLTFile.load(url: url).metadata.steps == 1)
      }
    }
  }
}
