import ActivationShards
import CLTFormat
import Foundation
import HDF5
import Testing
import Transcoder
import TranscoderTraining

/// `clt-fit --skip` on synthetic shards: W_skip trains, clt.h5 keeps it under format_version 3,
/// a checkpoint resumes with it, and the held-out figures count it.
@Suite(.serialized) struct SkipConnectionTrainingTests {
  let dir: URL

  init() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("cltkit-skip-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  static func configuration(skip: Bool) -> TrainingConfiguration {
    var c = TrainingConfiguration(
      features: 16, batch: 64, steps: 6, learningRate: 1e-2, shuffleRows: 256, seed: 4)
    c.skipConnection = skip
    return c
  }

  func trainer(_ urls: [URL], skip: Bool, resume: URL? = nil) throws -> CLTTrainer {
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    return try CLTTrainer(configuration: Self.configuration(skip: skip), stream: stream, resumingFrom: resume)
  }

  @Test(
    "W_skip trains from zero, clt.h5 keeps it (format_version 3) and loads it back; a file without says 2")
  func trainsAndRoundTrips() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    var dictionary = SyntheticDictionary(seed: 1)
    let urls = try dictionary.writeShards(to: dir.appendingPathComponent("data"), shards: 1, rows: 512)
    let run = try trainer(urls, skip: true)
    #expect(run.transcoder.skipWeights.allSatisfy { $0.array.allSatisfy { $0 == 0 } })
    while !run.isFinished { _ = try run.trainStep() }
    #expect(run.transcoder.skipWeights.allSatisfy { $0.array.contains { $0 != 0 } })
    let url = dir.appendingPathComponent("clt.h5")
    try run.file(createdBy: "test").write(to: url)
    #expect(try HDF5File(url: url).int64Attribute("format_version") == CLTFileMetadata.skipFormatVersion)
    let loaded = try CLTFile.load(url: url)
    #expect(loaded.metadata.configuration.skipConnection)
    #expect(loaded.transcoder.parameterBuffers.map(\.array) == run.transcoder.parameterBuffers.map(\.array))
    // Without its decoders (as clt-attrib loads it) the skip is still read.
    #expect(
      try CLTFile.load(url: url, decoders: false).transcoder.skipWeights.map(\.array)
        == run.transcoder.skipWeights.map(\.array))

    let plain = try trainer(urls, skip: false)
    _ = try plain.trainStep()
    let plainURL = dir.appendingPathComponent("plain.h5")
    try plain.file(createdBy: "test").write(to: plainURL)
    #expect(try HDF5File(url: plainURL).int64Attribute("format_version") == CLTFileMetadata.formatVersion)
    #expect(!(try CLTFile.load(url: plainURL)).transcoder.hasSkip)

    // The held-out NMSE counts the skip term: without it the same CLT reconstructs worse.
    let stream = { try ShardStream(arguments: urls.map(\.path), readStandardInput: false) }
    let with = try CLTEvaluation.measure(
      run.transcoder, normalizer: run.normalizer, stream: stream(), maxTokens: 256)
    for w in run.transcoder.skipWeights { w.zero() }
    let without = try CLTEvaluation.measure(
      run.transcoder, normalizer: run.normalizer, stream: stream(), maxTokens: 256)
    #expect(with.nmse != without.nmse)
  }

  @Test("a checkpoint with W_skip resumes with its Adam moments; one without, or a run without, is refused")
  func resumes() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    var dictionary = SyntheticDictionary(seed: 1)
    let urls = try dictionary.writeShards(to: dir.appendingPathComponent("data"), shards: 1, rows: 512)
    let first = try trainer(urls, skip: true)
    for _ in 0..<3 { _ = try first.trainStep() }
    let checkpoint = dir.appendingPathComponent("run.ckpt")
    try first.checkpoint(to: checkpoint, createdBy: "test")
    let resumed = try trainer(urls, skip: true, resume: checkpoint)
    #expect(
      resumed.transcoder.parameterBuffers.map(\.array) == first.transcoder.parameterBuffers.map(\.array))
    // W_skip's moments are the last parameter buffers'; saving the resumed run gives them back.
    let last = first.transcoder.parameterBuffers.count - 1
    let again = dir.appendingPathComponent("again.ckpt")
    try resumed.checkpoint(to: again, createdBy: "test")
    let moments = try [checkpoint, again].map { url in
      let file = try HDF5File(url: url)
      defer { try? file.close() }
      return try file.openDataset("adam_v_\(last)").readAll(as: Float.self)
    }
    #expect(moments[0].count == 16 * 16 && moments[0].contains { $0 != 0 })
    #expect(moments[0] == moments[1])
    #expect {
      _ = try trainer(urls, skip: false, resume: checkpoint)
    } throws: { error in
      let message = error.localizedDescription
      return message.contains(checkpoint.path) && message.contains("--skip")
    }
  }
}
