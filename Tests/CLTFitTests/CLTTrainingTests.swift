import ActivationShards
import CLTFormat
import Foundation
import HDF5
import Kernels
import Testing
import Transcoder
import TranscoderTraining

/// The training library on synthetic shards: recovery of a known dictionary, determinism, the
/// clt.h5 round trip and mismatched shards.
@Suite(.serialized) struct CLTFitTrainingTests {
  let dir: URL

  init() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("cltkit-fit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  func shards(_ name: String, count: Int = 2, rows: Int = 2048, seed: UInt64 = 1) throws -> [URL] {
    var dictionary = SyntheticDictionary(seed: seed)
    return try dictionary.writeShards(to: dir.appendingPathComponent(name), shards: count, rows: rows)
  }

  func train(_ urls: [URL], configuration: TrainingConfiguration) throws -> (CLTTrainer, StepMetrics) {
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    let trainer = try CLTTrainer(configuration: configuration, stream: stream)
    var last: StepMetrics?
    while !trainer.isFinished { last = try trainer.trainStep() }
    return (trainer, last!)
  }

  @Test(
    "training recovers a known sparse cross-layer dictionary: NMSE < 0.02, L0 near the true 1.5, 80% of features at cosine > 0.9"
  )
  func syntheticRecovery() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data")
    var configuration = TrainingConfiguration(
      features: 64, batch: 128, steps: 1500, learningRate: 1e-2, shuffleRows: 4096, initialL0: 4, seed: 3)
    configuration.coefficients.sparsity = 3e-2
    let (trainer, last) = try train(urls, configuration: configuration)
    let (nmse, l0) = (last.meanNMSE, last.meanL0)
    print("synthetic recovery: mean NMSE \(nmse), mean L0 \(l0), per-layer NMSE \(last.nmse)")
    #expect(nmse < 0.02, "mean NMSE \(nmse)")
    #expect(l0 < 3, "mean L0 \(l0) (1.5 true features per layer and token)")
    // Each true feature's decoders (to its layer and every later one, concatenated, in model units)
    // should have a learned feature pointing the same way.
    let truth = SyntheticDictionary(seed: 1)
    let clt = trainer.transcoder
    let scales = trainer.normalizer.outputScales
    var matched = 0
    for l in 0..<truth.nLayers {
      for i in 0..<truth.perLayer {
        let want = (l..<truth.nLayers).flatMap { truth.decoders[l][$0 - l][i] }
        var best: Float = -1
        for j in 0..<clt.features {
          let got = (l..<truth.nLayers).flatMap { target in
            (0..<truth.dModel).map {
              clt.decoder(from: l, to: target)[j * truth.dModel + $0] / scales[target]
            }
          }
          let dot = zip(want, got).reduce(0) { $0 + $1.0 * $1.1 }
          let norms = (want.reduce(0) { $0 + $1 * $1 } * got.reduce(0) { $0 + $1 * $1 }).squareRoot()
          if norms > 0 { best = max(best, dot / norms) }
        }
        if best > 0.9 { matched += 1 }
      }
    }
    let total = truth.nLayers * truth.perLayer
    print("synthetic recovery: \(matched) of \(total) true features matched with cosine > 0.9")
    #expect(matched * 10 >= total * 8, "\(matched) of \(total) true features recovered")
  }

  @Test("at the end of the shards the next pass starts at once: the buffer never falls below half full")
  func epochsKeepTheBufferMixed() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("epochs", count: 4, rows: 512)
    let configuration = TrainingConfiguration(
      features: 16, batch: 256, steps: 20, learningRate: 1e-3, shuffleRows: 1024, initialL0: 4, seed: 5)
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    let trainer = try CLTTrainer(configuration: configuration, stream: stream)
    // 20 steps of 256 rows are 2.5 passes over 2048 rows.
    while !trainer.isFinished {
      _ = try trainer.trainStep()
      // Each step samples from at least half the buffer, so at least that less a batch is left.
      #expect(trainer.bufferedRows >= 1024 / 2 - 256, "\(trainer.bufferedRows) rows left")
    }
    #expect(trainer.passes >= 2, "\(trainer.passes) passes begun after the first")
  }

  @Test(
    "reading each batch ahead, on a thread of its own, trains bit for bit the run that reads it in its step")
  func readingAheadChangesNothing() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("ahead", count: 4, rows: 512)
    // 2.5 passes over the shards, so the read-ahead also starts the later passes.
    let configuration = TrainingConfiguration(
      features: 16, batch: 256, steps: 20, learningRate: 1e-3, shuffleRows: 1024, initialL0: 4, seed: 9)
    func run(readingAhead: Bool) throws -> CLTTrainer {
      let trainer = try CLTTrainer(
        configuration: configuration,
        stream: try ShardStream(arguments: urls.map(\.path), readStandardInput: false))
      trainer.readsAhead = readingAhead
      while !trainer.isFinished { _ = try trainer.trainStep() }
      return trainer
    }
    let (ahead, inStep) = (try run(readingAhead: true), try run(readingAhead: false))
    #expect(ahead.passes == inStep.passes && ahead.passes >= 2, "\(ahead.passes) and \(inStep.passes) passes")
    for (q, (a, b)) in zip(ahead.transcoder.parameterBuffers, inStep.transcoder.parameterBuffers).enumerated()
    {
      let same = a.array == b.array
      #expect(same, "parameter buffer \(q) differs")
    }
  }

  @Test("a rewound stream with a seed visits the same shards in an order drawn from the seed")
  func shuffledRewind() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("order", count: 6, rows: 64)
    func order(_ seed: UInt64?) throws -> [String] {
      let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
      while try stream.next() != nil {}
      stream.rewind(shufflingWith: seed)
      var names: [String] = []
      while let reader = try stream.next() { names.append(reader.url.lastPathComponent) }
      return names
    }
    let plain = try order(nil)
    #expect(plain == urls.map(\.lastPathComponent))
    let orders = try (1...4).map { try order(UInt64($0)) }
    #expect(orders.allSatisfy { $0.sorted() == plain.sorted() }, "every shard once")
    #expect(orders.contains { $0 != plain }, "some seed changes the order")
    #expect(try order(3) == orders[2], "the order is a function of the seed")
  }

  @Test("same seed, one thread: identical weights in clt.h5")
  func determinism() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    BLASThreads.set(1)
    let urls = try shards("data", count: 1, rows: 512)
    let configuration = TrainingConfiguration(
      features: 32, batch: 64, steps: 20, learningRate: 1e-2, shuffleRows: 256, seed: 5)
    var files: [Data] = []
    for run in 0..<2 {
      let (trainer, _) = try train(urls, configuration: configuration)
      let url = dir.appendingPathComponent("clt-\(run).h5")
      try trainer.file(createdBy: "test").write(to: url)
      let loaded = try CLTFile.load(url: url)
      files.append(Data(loaded.transcoder.parameterBuffers.flatMap(\.array).withUnsafeBytes { Array($0) }))
    }
    #expect(files[0] == files[1])
    // A different seed gives different weights, so the comparison above can fail.
    var other = configuration
    other.seed = 6
    let (trainer, _) = try train(urls, configuration: other)
    let weights = Data(trainer.transcoder.parameterBuffers.flatMap(\.array).withUnsafeBytes { Array($0) })
    #expect(weights != files[0])
  }

  @Test("clt.h5 round trip: parameters, scales, frequencies and attributes")
  func roundTrip() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data", count: 1, rows: 256)
    var configuration = TrainingConfiguration(
      features: 8, batch: 32, steps: 3, shuffleRows: 128, seed: 9, auxK: 5)
    configuration.coefficients.auxiliary = 0.125
    let (trainer, _) = try train(urls, configuration: configuration)
    let file = trainer.file(createdBy: "test 1")
    let url = dir.appendingPathComponent("clt.h5")
    try file.write(to: url)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
      $0.contains(".tmp-")
    }
    #expect(leftovers.isEmpty)
    let loaded = try CLTFile.load(url: url)
    #expect(loaded.metadata == file.metadata)
    #expect(
      loaded.metadata.configuration.auxK == 5 && loaded.metadata.configuration.coefficients.auxiliary == 0.125
    )
    #expect(loaded.normalizer == file.normalizer)
    #expect(loaded.frequencies == file.frequencies)
    #expect(
      loaded.transcoder.parameterBuffers.map(\.array) == file.transcoder.parameterBuffers.map(\.array))
    #expect(
      loaded.metadata.tokensSeen == 96 && loaded.metadata.modelSHA256 == String(repeating: "a", count: 64))
    #expect(loaded.normalizer.inputScales.allSatisfy { $0 > 0 && $0.isFinite })
  }

  @Test("AuxK is refused up front with sharded features, whose selection it would have to span")
  func auxKRefusedWithShardedFeatures() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let urls = try shards("data", count: 1, rows: 64)
    var configuration = TrainingConfiguration(features: 8, batch: 32, steps: 1, shuffleRows: 64, auxK: 4)
    configuration.coefficients.auxiliary = 0.1
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    do {
      _ = try CLTTrainer(configuration: configuration, stream: stream, shardFeatures: true)
      Issue.record("AuxK with sharded features was not refused")
    } catch TrainingError.invalidConfiguration(let message) {
      #expect(message.contains("--auxk-coefficient") && message.contains("--shard-features"), "\(message)")
    }
  }

  @Test("shards of two different models: the error names the shard and the field")
  func mismatchedShards() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = try shards("a", count: 1, rows: 64)
    var other = SyntheticDictionary(seed: 2)
    let b = try other.writeShards(
      to: dir.appendingPathComponent("b"), shards: 1, rows: 64, model: "other",
      sha: String(repeating: "b", count: 64))
    let configuration = TrainingConfiguration(features: 8, batch: 32, steps: 2, shuffleRows: 256)
    let stream = try ShardStream(arguments: (a + b).map(\.path), readStandardInput: false)
    do {
      _ = try CLTTrainer(configuration: configuration, stream: stream)
      Issue.record("mixing two models must fail")
    } catch let error as TrainingError {
      let message = error.localizedDescription
      #expect(message.contains(b[0].path) && message.contains("model_sha256"), "\(message)")
    }
  }

  @Test("no shards and unwritable outputs give clear errors")
  func badInputs() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let stream = try ShardStream(arguments: [], readStandardInput: false)
    #expect(throws: TrainingError.self) {
      _ = try CLTTrainer(configuration: TrainingConfiguration(features: 8, steps: 1), stream: stream)
    }
    #expect(throws: CLTFileError.self) {
      try CLTFile.checkWritable(URL(fileURLWithPath: "/nonexistent-folder/clt.h5"))
    }
    #expect(throws: TrainingError.self) {
      _ = try ShardStream(arguments: ["/nonexistent.h5"], readStandardInput: false)
    }
  }
}
