import CLTFormat
import Foundation
import HDF5
import Kernels
import Transcoder

/// Checkpoints: a clt.h5 (usable as it is by every other tool) plus what training needs to go
/// on: Adam's moments (`adam_m_<q>`, `adam_v_<q>` for the q-th parameter buffer in
/// `CrossLayerTranscoder.parameterBuffers` order) and step, each feature's firing count and last
/// firing, and the running thresholds of rank-selected activations (layout in docs/FORMATS.md).
/// Written atomically like clt.h5, so a crash while writing keeps the previous checkpoint.
///
/// With sharded features every rank writes its own slice (`FeatureShardedTraining.sliceURL`): a
/// clt.h5 of its features alone plus `feature_offset` and `feature_ranks`, so that no process
/// ever holds more than its slice; the run resumes on as many ranks, each reading its own file.
extension CLTTrainer {
  /// Whether this process writes checkpoints: rank 0, or every rank when the features are
  /// sharded.
  public var writesCheckpoints: Bool { mode.writesCheckpoints }

  /// Where this process's part of the checkpoint `url` goes: `url` itself, or for rank r > 0 of
  /// a feature-sharded run `url` + ".rank" + r.
  public func sliceURL(_ url: URL) -> URL { mode.sliceURL(url) }

  /// Saves the run so far, collectively: every process calls it at the same step. Data-parallel
  /// processes first check that they still hold the same parameters (the checkpoint, written by
  /// rank 0, stands for all of them), then the processes that write checkpoints write.
  public func checkpoint(to url: URL, createdBy: String) throws {
    try mode.checkReplicas(of: self)
    if writesCheckpoints { try writeCheckpoint(to: url, createdBy: createdBy) }
  }

  /// Saves the run so far to `url` (this process's slice to `sliceURL(url)`), without the replica
  /// check: only through `checkpoint(to:createdBy:)`, which every process calls.
  func writeCheckpoint(to url: URL, createdBy: String) throws {
    var saved = file(createdBy: createdBy)
    saved.metadata.features = transcoder.features
    try saved.write(to: sliceURL(url)) { file in
      try file.setAttribute("checkpoint", Int64(1))
      if let slice = self.mode.featureSlice {
        try file.setAttribute("feature_offset", Int64(slice.lowerBound))
        try file.setAttribute("feature_ranks", Int64(self.communicator.size))
      }
      try file.setAttribute("adam_step", Int64(self.optimizer.step))
      if let norm = self.previousGradientNorm {
        try file.setAttribute("previous_gradient_norm", Double(norm))
      }
      for (q, (m, v)) in zip(self.optimizer.firstMoments, self.optimizer.secondMoments).enumerated() {
        try CLTFile.write(file, "adam_m_\(q)", [m.count], m)
        try CLTFile.write(file, "adam_v_\(q)", [v.count], v)
      }
      for l in 0..<self.transcoder.nLayers {
        try Self.writeCounts(file, "fire_count_\(l)", self.fireCounts[l])
        try Self.writeCounts(file, "last_fired_\(l)", self.lastFired[l])
      }
      try CLTFile.write(
        file, "running_threshold", [self.transcoder.nLayers], FloatBuffer(self.runningThresholds))
    }
  }

  /// Loads a checkpoint into this freshly made trainer (see `init(resumingFrom:)`).
  func restore(from checkpoint: URL) throws {
    let url = sliceURL(checkpoint)
    let path = url.path
    func mismatch(_ reason: String) -> TrainingError { .checkpointMismatch(path: path, reason: reason) }
    var counts: (fire: [[Int]], last: [[Int]], running: [Float], adamStep: Int, previousNorm: Float?) = (
      [], [], [], 0, nil
    )
    let saved = try CLTFile.load(url: url) { file, loaded in
      guard try file.hasAttribute("checkpoint") else {
        throw mismatch("it is a finished clt.h5 without optimizer state, not a checkpoint")
      }
      let m = loaded.metadata
      // Shards of another model: named with both models, the usual mistake.
      guard m.modelSHA256 == self.metadata.modelSHA256 else {
        let shards = self.stream.seen.first.map { " (\($0.path), ...)" } ?? ""
        throw mismatch(
          "it was trained on \(TranscoderIdentity.modelLabel(name: m.model, sha256: m.modelSHA256)), "
            + "the shards\(shards) come from "
            + TranscoderIdentity.modelLabel(name: self.metadata.model, sha256: self.metadata.modelSHA256))
      }
      // A feature-sharded checkpoint resumes only as one, on as many ranks (--shard-features).
      let slice = self.mode.featureSlice
      let checks: [(String, String, String)] = [
        (
          "feature_ranks (--shard-features ranks)", try Self.attribute(file, "feature_ranks"),
          slice.map { _ in "\(self.communicator.size)" } ?? "none"
        ),
        (
          "feature_offset", try Self.attribute(file, "feature_offset"),
          slice.map { "\($0.lowerBound)" } ?? "none"
        ),
        ("n_layers", "\(m.nLayers)", "\(self.metadata.nLayers)"),
        ("d_model", "\(m.dModel)", "\(self.metadata.dModel)"),
        ("features", "\(m.features)", "\(self.transcoder.features)"),
        ("activation (--activation)", m.activation, self.configuration.activation.rawValue),
        (
          "layer_weight_exponent (--layer-weight-exponent)", "\(m.configuration.layerWeightExponent)",
          "\(self.configuration.layerWeightExponent)"
        ),
        (
          "outlier_factor (--outlier-factor)", "\(m.configuration.outlierFactor)",
          "\(self.configuration.outlierFactor)"
        ),
        (
          "skip connection (--skip or --no-skip)", m.configuration.skipConnection ? "on" : "off",
          self.configuration.skipConnection ? "on" : "off"
        ),
      ]
      for (field, saved, now) in checks where saved != now {
        throw mismatch("its \(field) is '\(saved)' but this run's is '\(now)'")
      }
      for (q, (first, second)) in zip(self.optimizer.firstMoments, self.optimizer.secondMoments).enumerated()
      {
        try CLTFile.read(file, "adam_m_\(q)", into: first, path: path)
        try CLTFile.read(file, "adam_v_\(q)", into: second, path: path)
      }
      let f = self.transcoder.features
      for l in 0..<m.nLayers {
        counts.fire.append(try Self.readCounts(file, "fire_count_\(l)", count: f, path: path))
        counts.last.append(try Self.readCounts(file, "last_fired_\(l)", count: f, path: path))
      }
      let running = FloatBuffer(count: m.nLayers)
      try CLTFile.read(file, "running_threshold", into: running, path: path)
      counts.running = running.array
      counts.adamStep = Int(try file.int64Attribute("adam_step"))
      if try file.hasAttribute("previous_gradient_norm") {
        counts.previousNorm = Float(try file.doubleAttribute("previous_gradient_norm"))
      }
    }
    for (to, from) in zip(transcoder.parameterBuffers, saved.transcoder.parameterBuffers) {
      to.pointer.update(from: from.pointer, count: to.count)
    }
    try mode.checkSavedSteps(saved.metadata.steps, path: path)
    normalizer = saved.normalizer
    step = saved.metadata.steps
    tokensSeen = saved.metadata.tokensSeen
    fireCounts = counts.fire
    lastFired = counts.last
    runningThresholds = counts.running
    optimizer.restore(step: counts.adamStep)
    previousGradientNorm = counts.previousNorm
  }

  /// An integer attribute as text, "none" when the file has none.
  private static func attribute(_ file: HDF5File, _ name: String) throws -> String {
    try file.hasAttribute(name) ? "\(try file.int64Attribute(name))" : "none"
  }

  private static func writeCounts(_ file: HDF5File, _ name: String, _ values: [Int]) throws {
    let set = try file.createDataset(name, elementType: .int32, shape: [values.count])
    try set.writeRows(values.map { Int32(clamping: $0) }, start: 0)
    try set.close()
  }

  private static func readCounts(_ file: HDF5File, _ name: String, count: Int, path: String) throws -> [Int] {
    let set = try file.openDataset(name)
    defer { try? set.close() }
    let found = try set.elementCount
    guard found == count else {
      throw TrainingError.unsupportedTranscoder(
        path: path, reason: "'\(name)' holds \(found) values, expected \(count)")
    }
    return try set.readAll(as: Int32.self).map(Int.init)
  }
}
