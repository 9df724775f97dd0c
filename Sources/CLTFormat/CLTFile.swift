import Foundation
import HDF5
import Kernels
import OutputFiles
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
  /// The metrics on held-out shards (`clt-fit --eval`), when they were measured.
  public var evaluation: CLTEvaluation?
  /// Where the file was read from (`load`), for messages that name it; nil for one made in memory.
  public var url: URL?

  public init(
    transcoder: CrossLayerTranscoder, normalizer: ActivationNormalizer, frequencies: [[Float]],
    metadata: CLTFileMetadata
  ) {
    self.transcoder = transcoder
    self.normalizer = normalizer
    self.frequencies = frequencies
    self.metadata = metadata
  }

  /// Fails now, rather than after hours of training, if `url` cannot be written (a folder, a
  /// missing or read-only folder); removes what killed runs left beside it, and returns those paths.
  @discardableResult
  public static func checkWritable(_ url: URL) throws -> [String] {
    do {
      return try OutputTarget(path: url.path).removedLeftovers
    } catch let error as OutputError {
      throw CLTFileError.outputNotWritable(path: url.path, reason: error.localizedDescription)
    }
  }

  /// The temporary file a write to `url` goes through, for a signal handler to remove.
  public static func temporaryURL(for url: URL) -> URL {
    OutputTarget.temporaryURL(forWriting: url)
  }

  /// Writes the file atomically (temporary name, then rename; a special file such as /dev/null is
  /// written in place). `extra` adds datasets and attributes of its own (a checkpoint's optimizer
  /// state) before the file is closed.
  public func write(to url: URL, extra: ((HDF5File) throws -> Void)? = nil) throws {
    do {
      try OutputTarget(path: url.path).write { temporary in
        let file = try HDF5File.create(path: temporary.path)
        let t = transcoder
        var metadata = metadata
        metadata.configuration.skipConnection = t.hasSkip  // the version says whether W_skip is there
        try metadata.write(to: file)
        let (f, d) = (t.features, t.dModel)
        for l in 0..<t.nLayers {
          try Self.write(file, Self.encoderWeights(l), [f, d], t.encoderWeights[l])
          try Self.write(file, Self.encoderBiases(l), [f], t.encoderBiases[l])
          try Self.write(file, Self.logThresholds(l), [f], t.logThresholds[l])
          for target in l..<t.nLayers {
            try Self.write(
              file, Self.decoderWeights(from: l, to: target), [f, d], t.decoder(from: l, to: target))
          }
          try Self.write(file, Self.decoderBiases(l), [d], t.decoderBiases[l])
          try Self.write(file, Self.frequencies(l), [f], FloatBuffer(frequencies[l]))
          if t.hasSkip { try Self.write(file, Self.skipWeights(l), [d, d], t.skipWeights[l]) }
        }
        try Self.write(file, Self.inputScales, [t.nLayers], FloatBuffer(normalizer.inputScales))
        try Self.write(file, Self.outputScales, [t.nLayers], FloatBuffer(normalizer.outputScales))
        if let outliers = normalizer.outliers {
          try Self.write(file, Self.outlierThresholds, [t.nLayers], FloatBuffer(outliers.thresholds))
          try Self.write(file, Self.outlierWeights, [t.nLayers], FloatBuffer(outliers.weights))
        }
        try evaluation?.write(to: file)
        try extra?(file)
        try file.close()
      }
    } catch let error as OutputError {
      throw CLTFileError.outputNotWritable(path: url.path, reason: error.localizedDescription)
    }
  }

  // MARK: - Dataset names (docs/FORMATS.md, "Cross-layer transcoder"), spelled here only

  /// W_enc[l], (F, d).
  public static func encoderWeights(_ l: Int) -> String { "W_enc_\(l)" }
  /// b_enc[l], (F).
  public static func encoderBiases(_ l: Int) -> String { "b_enc_\(l)" }
  /// log θ[l], (F).
  public static func logThresholds(_ l: Int) -> String { "log_threshold_\(l)" }
  /// W_dec[s→l], (F, d): layer s's features writing into layer l ≥ s.
  public static func decoderWeights(from s: Int, to l: Int) -> String { "W_dec_\(s)_\(l)" }
  /// b_dec[l], (d).
  public static func decoderBiases(_ l: Int) -> String { "b_dec_\(l)" }
  /// W_skip[l], (d, d), input-major: the skip connection's weights (format_version 3 only).
  public static func skipWeights(_ l: Int) -> String { "W_skip_\(l)" }
  /// Firing frequency per feature of layer l, (F).
  public static func frequencies(_ l: Int) -> String { "frequency_\(l)" }
  /// Per-layer normalisation scales, (L).
  public static let inputScales = "input_scale"
  public static let outputScales = "output_scale"
  /// Per layer, the normalised squared norm above which a training target row was an outlier
  /// token, and the weight of its error, (L) each; only in files trained with outlier tokens.
  public static let outlierThresholds = "outlier_threshold"
  public static let outlierWeights = "outlier_weight"

  /// One float32 dataset of `shape` holding `buffer`.
  public static func write(_ file: HDF5File, _ name: String, _ shape: [Int], _ buffer: FloatBuffer) throws {
    let set = try file.createDataset(name, elementType: .float32, shape: shape)
    try set.writeRows(UnsafeBufferPointer(start: buffer.pointer, count: buffer.count), start: 0)
    try set.close()
  }

  /// Fills `buffer` from a float32 dataset of exactly its size (the bytes are copied as they are,
  /// so another element type is an error, not numbers reinterpreted).
  public static func read(_ file: HDF5File, _ name: String, into buffer: FloatBuffer, path: String) throws {
    let set = try file.openDataset(name)
    defer { try? set.close() }
    let rows = try set.rowCount
    let count = try set.elementCount
    guard count == buffer.count, set.elementType == .float32 else {
      throw CLTFileError.unsupportedTranscoder(
        path: path,
        reason: "'\(name)' holds \(count) \(set.elementType) values, expected \(buffer.count) float32")
    }
    try set.readRows(
      0..<rows, intoRawBytes: UnsafeMutableRawBufferPointer(start: buffer.pointer, count: buffer.count * 4))
  }

  /// A clt.h5's attributes and held-out evaluation without its weights (a report on a 2 GB
  /// transcoder need not read 2 GB).
  public static func summary(url: URL) throws -> (metadata: CLTFileMetadata, evaluation: CLTEvaluation?) {
    let file = try HDF5File(url: url)
    defer { try? file.close() }
    let metadata = try CLTFileMetadata(file: file)
    return (metadata, try CLTEvaluation(file: file, nLayers: metadata.nLayers))
  }

  /// Reads a clt.h5 written by `write(to:)`; `extra` reads more from the open file (a checkpoint's
  /// optimizer state, or the decoders in another precision). Without `decoders` the transcoder
  /// holds no decoder weights (`CrossLayerTranscoder.hasDecoders`).
  public static func load(
    url: URL, decoders: Bool = true, extra: ((HDF5File, CLTFile) throws -> Void)? = nil
  ) throws -> CLTFile {
    let file = try HDF5File(url: url)
    defer { try? file.close() }
    let metadata = try CLTFileMetadata(file: file)
    let (l, d, f) = (metadata.nLayers, metadata.dModel, metadata.features)
    func fill(_ buffer: FloatBuffer, _ name: String) throws {
      try Self.read(file, name, into: buffer, path: url.path)
    }
    func read(_ name: String, count: Int) throws -> [Float] {
      let buffer = FloatBuffer(count: count)
      try fill(buffer, name)
      return buffer.array
    }
    let skip = metadata.configuration.skipConnection
    let transcoder = CrossLayerTranscoder(nLayers: l, dModel: d, features: f, decoders: decoders, skip: skip)
    transcoder.activation = metadata.configuration.activation
    transcoder.k = metadata.configuration.k
    var frequencies: [[Float]] = []
    for layer in 0..<l {
      try fill(transcoder.encoderWeights[layer], Self.encoderWeights(layer))
      try fill(transcoder.encoderBiases[layer], Self.encoderBiases(layer))
      try fill(transcoder.logThresholds[layer], Self.logThresholds(layer))
      for target in layer..<l where decoders {
        try fill(transcoder.decoder(from: layer, to: target), Self.decoderWeights(from: layer, to: target))
      }
      try fill(transcoder.decoderBiases[layer], Self.decoderBiases(layer))
      frequencies.append(try read(Self.frequencies(layer), count: f))
      if skip { try fill(transcoder.skipWeights[layer], Self.skipWeights(layer)) }
    }
    let outliers =
      try file.contains(Self.outlierThresholds)
      ? OutlierWeights(
        thresholds: try read(Self.outlierThresholds, count: l),
        weights: try read(Self.outlierWeights, count: l))
      : nil
    let normalizer = ActivationNormalizer(
      inputScales: try read(Self.inputScales, count: l), outputScales: try read(Self.outputScales, count: l),
      outliers: outliers)
    var loaded = CLTFile(
      transcoder: transcoder, normalizer: normalizer, frequencies: frequencies, metadata: metadata)
    loaded.evaluation = try CLTEvaluation(file: file, nLayers: l)
    loaded.url = url
    try extra?(file, loaded)
    return loaded
  }
}
