import Foundation
import HDF5
import Kernels
import Transcoder

/// Checkpoints: a clt.h5 (usable as it is by every other tool) plus what training needs to go
/// on: Adam's moments (`adam_m_<q>`, `adam_v_<q>` for the q-th parameter buffer in
/// `CrossLayerTranscoder.parameterBuffers` order) and step, each feature's firing count and last
/// firing, and the running thresholds of rank-selected activations (layout in docs/FORMATS.md).
/// Written atomically like clt.h5, so a crash while writing keeps the previous checkpoint.
extension CLTTrainer {
  /// Saves the run so far to `url`.
  public func writeCheckpoint(to url: URL, createdBy: String) throws {
    try file(createdBy: createdBy).write(to: url) { file in
      try file.setAttribute("checkpoint", Int64(1))
      try file.setAttribute("adam_step", Int64(self.optimizer.step))
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
  func restore(from url: URL) throws {
    let path = url.path
    func mismatch(_ reason: String) -> TrainingError { .checkpointMismatch(path: path, reason: reason) }
    var counts: (fire: [[Int]], last: [[Int]], running: [Float], adamStep: Int) = ([], [], [], 0)
    let saved = try CLTFile.load(url: url) { file, loaded in
      guard try file.hasAttribute("checkpoint") else {
        throw mismatch("it is a finished clt.h5 without optimizer state, not a checkpoint")
      }
      let m = loaded.metadata
      let checks: [(String, String, String)] = [
        ("model_sha256", m.modelSHA256, self.metadata.modelSHA256),
        ("n_layers", "\(m.nLayers)", "\(self.metadata.nLayers)"),
        ("d_model", "\(m.dModel)", "\(self.metadata.dModel)"),
        ("features", "\(m.features)", "\(self.configuration.features)"),
        ("activation", m.activation, self.configuration.activation.rawValue),
      ]
      for (field, saved, now) in checks where saved != now {
        throw mismatch("its \(field) is '\(saved)' but this run's is '\(now)'")
      }
      for (q, (first, second)) in zip(self.optimizer.firstMoments, self.optimizer.secondMoments).enumerated()
      {
        try CLTFile.read(file, "adam_m_\(q)", into: first, path: path)
        try CLTFile.read(file, "adam_v_\(q)", into: second, path: path)
      }
      let f = self.configuration.features
      for l in 0..<m.nLayers {
        counts.fire.append(try Self.readCounts(file, "fire_count_\(l)", count: f, path: path))
        counts.last.append(try Self.readCounts(file, "last_fired_\(l)", count: f, path: path))
      }
      let running = FloatBuffer(count: m.nLayers)
      try CLTFile.read(file, "running_threshold", into: running, path: path)
      counts.running = running.array
      counts.adamStep = Int(try file.int64Attribute("adam_step"))
    }
    for (to, from) in zip(transcoder.parameterBuffers, saved.transcoder.parameterBuffers) {
      to.pointer.update(from: from.pointer, count: to.count)
    }
    normalizer = saved.normalizer
    step = saved.metadata.steps
    tokensSeen = saved.metadata.tokensSeen
    fireCounts = counts.fire
    lastFired = counts.last
    runningThresholds = counts.running
    optimizer.restore(step: counts.adamStep)
  }

  private static func writeCounts(_ file: HDF5File, _ name: String, _ values: [Int]) throws {
    let set = try file.createDataset(name, elementType: .int32, shape: [values.count])
    try set.writeRows(values.map { Int32(clamping: $0) }, start: 0)
    try set.close()
  }

  private static func readCounts(_ file: HDF5File, _ name: String, count: Int, path: String) throws -> [Int] {
    let set = try file.openDataset(name)
    defer { try? set.close() }
    let values = try set.readAll(as: Int32.self)
    guard values.count == count else {
      throw TrainingError.unsupportedTranscoder(
        path: path, reason: "'\(name)' holds \(values.count) values, expected \(count)")
    }
    return values.map(Int.init)
  }
}
