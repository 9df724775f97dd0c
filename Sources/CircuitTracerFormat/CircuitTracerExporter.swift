import CLTFormat
import Foundation
import Kernels
import ModelFormats
import Transcoder

/// Writes a clt.h5 as a circuit-tracer CLT folder (`CircuitTracerLayout`) that works on raw
/// activations.
///
/// clt.h5 holds a transcoder trained on normalised activations: x[l] is multiplied by s_in[l]
/// before the encoder and the reconstruction of layer l is divided by s_out[l]. circuit-tracer has
/// no such scales, so they are folded into the weights:
///   W_enc'[l] = s_in[l] · W_enc[l]            (h = (s_in x) W_encᵀ + b = x W_enc'ᵀ + b: the same h)
///   b_enc'[l] = b_enc[l],  θ'[l] = exp(logθ[l])   (activations are unchanged, so are the thresholds)
///   W_dec'[l→l'] = W_dec[l→l'] / s_out[l'],  b_dec'[l'] = b_dec[l'] / s_out[l']
/// which gives the same feature activations and the reconstruction in the model's units.
public enum CircuitTracerExporter {
  /// Writes `file` as a folder at `directory`, atomically: the files go into a hidden sibling
  /// folder that is renamed into place once complete, so a crash never leaves a partial transcoder
  /// under the final name.
  /// - Parameters:
  ///   - source: the clt.h5 path, named in errors and recorded in config.yaml.
  ///   - modelName: `model_name` in config.yaml (what circuit-tracer's CLI loads); default the
  ///     clt.h5's model name.
  ///   - replacing: replace an existing `directory` (it is removed only after the new one is in place).
  public static func export(
    _ file: CLTFile, source: String, to directory: URL, modelName: String? = nil, replacing: Bool = false,
    createdBy: String
  ) throws {
    let t = file.transcoder
    let activation = file.metadata.configuration.activation
    guard activation != .topK else {
      throw ConversionError.unsupportedActivation(path: source, activation: activation.rawValue)
    }
    guard !t.hasSkip else { throw ConversionError.skipConnection(path: source) }
    let fm = FileManager.default
    if fm.fileExists(atPath: directory.path) && !replacing {
      throw ConversionError.outputExists(path: directory.path)
    }
    let pid = ProcessInfo.processInfo.processIdentifier
    let parent = directory.deletingLastPathComponent()
    let temporary = parent.appendingPathComponent(".\(directory.lastPathComponent).tmp-\(pid)")
    try? fm.removeItem(at: temporary)
    do {
      try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
    } catch {
      let reason =
        fm.fileExists(atPath: parent.path)
        ? "the folder \(parent.path) is not writable" : "the folder \(parent.path) does not exist"
      throw ConversionError.outputNotWritable(path: directory.path, reason: reason)
    }
    do {
      for l in 0..<t.nLayers {
        try encoderTensors(file, layer: l).write(
          to: temporary.appendingPathComponent(CircuitTracerLayout.encoderFile(l)))
        try decoderTensors(file, layer: l).write(
          to: temporary.appendingPathComponent(CircuitTracerLayout.decoderFile(l)))
      }
      let config = configuration(file, source: source, modelName: modelName, createdBy: createdBy)
      try Data(config.yaml(comment: "circuit-tracer cross-layer transcoder written by \(createdBy)").utf8)
        .write(to: temporary.appendingPathComponent(CircuitTracerLayout.configFile))
      try moveIntoPlace(temporary, directory)
    } catch {
      try? fm.removeItem(at: temporary)
      if error is ConversionError { throw error }
      throw ConversionError.outputNotWritable(path: directory.path, reason: error.localizedDescription)
    }
  }

  /// Renames `temporary` to `directory`; an existing `directory` is moved aside first and removed
  /// once the new folder is in place.
  static func moveIntoPlace(_ temporary: URL, _ directory: URL) throws {
    let fm = FileManager.default
    var old: URL?
    if fm.fileExists(atPath: directory.path) {
      let aside = directory.deletingLastPathComponent().appendingPathComponent(
        ".\(directory.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
      try? fm.removeItem(at: aside)
      guard rename(directory.path, aside.path) == 0 else {
        throw ConversionError.outputNotWritable(
          path: directory.path, reason: String(cString: strerror(errno)))
      }
      old = aside
    }
    guard rename(temporary.path, directory.path) == 0 else {
      let reason = String(cString: strerror(errno))
      if let old { _ = rename(old.path, directory.path) }
      throw ConversionError.outputNotWritable(path: directory.path, reason: reason)
    }
    if let old { try? fm.removeItem(at: old) }
  }

  /// `W_enc_{l}`, `b_enc_{l}`, `b_dec_{l}` and `threshold_{l}`, the scales folded in.
  public static func encoderTensors(_ file: CLTFile, layer l: Int) -> SafetensorsWriter {
    let t = file.transcoder
    let (f, d) = (t.features, t.dModel)
    let sIn = file.normalizer.inputScales[l]
    let sOut = file.normalizer.outputScales[l]
    var writer = SafetensorsWriter()
    writer.add("W_enc_\(l)", shape: [f, d], values: t.encoderWeights[l].array.map { $0 * sIn })
    writer.add("b_enc_\(l)", shape: [f], values: t.encoderBiases[l].array)
    writer.add("b_dec_\(l)", shape: [d], values: t.decoderBiases[l].array.map { $0 / sOut })
    writer.add("threshold_\(l)", shape: [f], values: t.logThresholds[l].array.map { Foundation.exp($0) })
    return writer
  }

  /// `W_dec_{l}` (F, L − l, d): row f holds feature f's decoder into layers l, l + 1, …, L − 1,
  /// each divided by its target layer's output scale.
  public static func decoderTensors(_ file: CLTFile, layer l: Int) -> SafetensorsWriter {
    let t = file.transcoder
    let (f, d, targets) = (t.features, t.dModel, t.nLayers - l)
    var values = [Float](repeating: 0, count: f * targets * d)
    values.withUnsafeMutableBufferPointer { out in
      for j in 0..<targets {
        let decoder = t.decoder(from: l, to: l + j).pointer
        let inverse = 1 / file.normalizer.outputScales[l + j]
        for feature in 0..<f {
          let from = decoder + feature * d
          let to = out.baseAddress! + (feature * targets + j) * d
          for k in 0..<d { to[k] = from[k] * inverse }
        }
      }
    }
    var writer = SafetensorsWriter()
    writer.add("W_dec_\(l)", shape: [f, targets, d], values: values)
    return writer
  }

  /// config.yaml: what circuit-tracer reads, then where the transcoder came from.
  public static func configuration(_ file: CLTFile, source: String, modelName: String?, createdBy: String)
    -> CircuitTracerConfig
  {
    let m = file.metadata
    return CircuitTracerConfig(values: [
      ("model_kind", CircuitTracerConfig.crossLayerTranscoder),
      ("model_name", modelName ?? m.model),
      ("feature_input_hook", CircuitTracerLayout.mlpInputHook),
      ("feature_output_hook", CircuitTracerLayout.mlpOutputHook),
      ("cltkit_source", URL(fileURLWithPath: source).lastPathComponent),
      ("cltkit_architecture", m.architecture),
      ("cltkit_model", m.model),
      ("cltkit_model_sha256", m.modelSHA256),
      ("cltkit_input_tap", m.inputTap),
      ("cltkit_output_tap", m.outputTap),
      ("cltkit_activation", m.activation),
      ("cltkit_created_by", createdBy),
    ])
  }
}
