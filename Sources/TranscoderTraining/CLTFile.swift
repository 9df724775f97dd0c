import Foundation
import HDF5
import Kernels
import Transcoder

/// clt.h5: a trained cross-layer transcoder with its normalisation scales, firing frequencies and
/// the attributes of `CLTFileMetadata` (layout in docs/FORMATS.md, "Cross-layer transcoder").
///
/// Written under a temporary name in the same folder and renamed into place, so that a crash or a
/// signal never leaves a broken clt.h5: the old file, if any, stays until the new one is complete.
public struct CLTFile {
  public var transcoder: CrossLayerTranscoder
  public var normalizer: ActivationNormalizer
  /// Per layer, the fraction of training tokens each feature fired on.
  public var frequencies: [[Float]]
  public var metadata: CLTFileMetadata

  public init(
    transcoder: CrossLayerTranscoder, normalizer: ActivationNormalizer, frequencies: [[Float]],
    metadata: CLTFileMetadata
  ) {
    self.transcoder = transcoder
    self.normalizer = normalizer
    self.frequencies = frequencies
    self.metadata = metadata
  }

  /// The temporary name a write to `url` goes through.
  public static func temporaryURL(for url: URL) -> URL {
    url.deletingLastPathComponent().appendingPathComponent(
      ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
  }

  /// Fails now, rather than after hours of training, if `url` cannot be written.
  public static func checkWritable(_ url: URL) throws {
    let probe = temporaryURL(for: url)
    guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
      let folder = url.deletingLastPathComponent().path
      let reason =
        FileManager.default.fileExists(atPath: folder)
        ? "the folder \(folder) is not writable" : "the folder \(folder) does not exist"
      throw TrainingError.outputNotWritable(path: url.path, reason: reason)
    }
    try? FileManager.default.removeItem(at: probe)
  }

  /// Writes the file atomically (temporary name, then rename).
  public func write(to url: URL) throws {
    let temporary = Self.temporaryURL(for: url)
    do {
      let file = try HDF5File.create(path: temporary.path)
      try metadata.write(to: file)
      let t = transcoder
      let (f, d) = (t.features, t.dModel)
      func dataset(_ name: String, _ shape: [Int], _ values: [Float]) throws {
        let set = try file.createDataset(name, elementType: .float32, shape: shape)
        try set.writeRows(values, start: 0)
        try set.close()
      }
      for l in 0..<t.nLayers {
        try dataset("W_enc_\(l)", [f, d], t.encoderWeights[l].array)
        try dataset("b_enc_\(l)", [f], t.encoderBiases[l].array)
        try dataset("log_threshold_\(l)", [f], t.logThresholds[l].array)
        for target in l..<t.nLayers {
          try dataset("W_dec_\(l)_\(target)", [f, d], t.decoder(from: l, to: target).array)
        }
        try dataset("b_dec_\(l)", [d], t.decoderBiases[l].array)
        try dataset("frequency_\(l)", [f], frequencies[l])
      }
      try dataset("input_scale", [t.nLayers], normalizer.inputScales)
      try dataset("output_scale", [t.nLayers], normalizer.outputScales)
      try file.close()
      guard rename(temporary.path, url.path) == 0 else {
        throw TrainingError.outputNotWritable(
          path: url.path, reason: String(cString: strerror(errno)))
      }
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      if error is TrainingError { throw error }
      throw TrainingError.outputNotWritable(path: url.path, reason: error.localizedDescription)
    }
  }

  /// Reads a clt.h5 written by `write(to:)`.
  public static func load(url: URL) throws -> CLTFile {
    let file = try HDF5File(url: url)
    defer { try? file.close() }
    let metadata = try CLTFileMetadata(file: file)
    let (l, d, f) = (metadata.nLayers, metadata.dModel, metadata.features)
    func read(_ name: String, count: Int) throws -> [Float] {
      let set = try file.openDataset(name)
      let values = try set.readAll(as: Float.self)
      try set.close()
      guard values.count == count else {
        throw TrainingError.unsupportedTranscoder(
          path: url.path, reason: "'\(name)' holds \(values.count) values, expected \(count)")
      }
      return values
    }
    func fill(_ buffer: FloatBuffer, _ name: String) throws {
      let values = try read(name, count: buffer.count)
      values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: buffer.count) }
    }
    let transcoder = CrossLayerTranscoder(nLayers: l, dModel: d, features: f, seed: 0)
    transcoder.activation = metadata.configuration.activation
    transcoder.k = metadata.configuration.k
    var frequencies: [[Float]] = []
    for layer in 0..<l {
      try fill(transcoder.encoderWeights[layer], "W_enc_\(layer)")
      try fill(transcoder.encoderBiases[layer], "b_enc_\(layer)")
      try fill(transcoder.logThresholds[layer], "log_threshold_\(layer)")
      for target in layer..<l {
        try fill(transcoder.decoder(from: layer, to: target), "W_dec_\(layer)_\(target)")
      }
      try fill(transcoder.decoderBiases[layer], "b_dec_\(layer)")
      frequencies.append(try read("frequency_\(layer)", count: f))
    }
    let normalizer = ActivationNormalizer(
      inputScales: try read("input_scale", count: l), outputScales: try read("output_scale", count: l))
    return CLTFile(
      transcoder: transcoder, normalizer: normalizer, frequencies: frequencies, metadata: metadata)
  }
}
