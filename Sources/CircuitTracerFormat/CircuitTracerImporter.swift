import ActivationShards
import CLTFormat
import Foundation
import Kernels
import LanguageModels
import ModelFormats
import Transcoder

/// Reads a circuit-tracer CLT folder (`CircuitTracerLayout`) into a `CLTFile`, so that a CLT
/// trained elsewhere runs in CLTKit's tools.
///
/// The weights work on raw activations, so the scales are 1; thresholds θ become logθ (a file
/// without thresholds is a ReLU: logθ = −∞, i.e. θ = 0). The model metadata (architecture, name,
/// sha256, taps) comes from the model the transcoder is declared for, since that is what every
/// tool checks a clt.h5 against; firing frequencies are unknown and written as 0.
public enum CircuitTracerImporter {
  /// Loads `directory` as a transcoder of `model`.
  /// - Throws: `ConversionError` naming the file: config.yaml with another `model_kind` or hooks
  ///   that are not the MLP input and output, a missing file or tensor, a shape that disagrees with
  ///   `W_enc_0` or with `model`, a negative threshold; `ModelFormatError` for a damaged file.
  public static func load(directory: URL, model: ModelDescription, createdBy: String) throws -> CLTFile {
    let configURL = directory.appendingPathComponent(CircuitTracerLayout.configFile)
    let config = try CircuitTracerConfig(url: configURL)
    try check(config, path: configURL.path, model: model)

    let fm = FileManager.default
    var nLayers = 0
    while fm.fileExists(
      atPath: directory.appendingPathComponent(CircuitTracerLayout.encoderFile(nLayers)).path)
    {
      nLayers += 1
    }
    let first = directory.appendingPathComponent(CircuitTracerLayout.encoderFile(0))
    guard nLayers > 0 else {
      throw ConversionError.missingFile(
        path: first.path, hint: "a circuit-tracer CLT folder holds W_enc_{layer}.safetensors for every layer")
    }
    guard nLayers == model.nLayers else {
      throw ConversionError.modelMismatch(
        path: directory.path, field: "n_layers", transcoder: "\(nLayers) (W_enc_*.safetensors files)",
        model: "\(model.nLayers)")
    }
    let firstFile = try SafetensorsFile(url: first)
    guard let encoder0 = firstFile.tensors["W_enc_0"] else {
      throw ConversionError.missingTensor(path: first.path, tensor: "W_enc_0")
    }
    guard encoder0.shape.count == 2 else {
      throw ConversionError.wrongShape(
        path: first.path, tensor: "W_enc_0", expected: [-1, model.dModel], found: encoder0.shape)
    }
    let (features, d) = (encoder0.shape[0], encoder0.shape[1])
    guard d == model.dModel else {
      throw ConversionError.modelMismatch(
        path: first.path, field: "d_model", transcoder: "\(d) (W_enc_0 is \(encoder0.shape))",
        model: "\(model.dModel)")
    }
    guard features > 0 else {
      throw ConversionError.wrongShape(
        path: first.path, tensor: "W_enc_0", expected: [1, d], found: encoder0.shape)
    }
    let hasThresholds = firstFile.tensors["threshold_0"] != nil

    let transcoder = CrossLayerTranscoder(nLayers: nLayers, dModel: d, features: features)
    for l in 0..<nLayers {
      let url = directory.appendingPathComponent(CircuitTracerLayout.encoderFile(l))
      let file = try l == 0 ? firstFile : open(url, hint: "every layer needs W_enc_{layer}.safetensors")
      try fill(transcoder.encoderWeights[l], from: file, "W_enc_\(l)", shape: [features, d])
      try fill(transcoder.encoderBiases[l], from: file, "b_enc_\(l)", shape: [features])
      try fill(transcoder.decoderBiases[l], from: file, "b_dec_\(l)", shape: [d])
      let logThresholds = transcoder.logThresholds[l]
      if hasThresholds {
        let theta = try floats(file, "threshold_\(l)", shape: [features])
        if let bad = theta.first(where: { !($0 >= 0) || !$0.isFinite }) {
          throw ConversionError.unsupportedValues(
            path: file.file.path, tensor: "threshold_\(l)",
            detail: "threshold \(bad): CLTKit's JumpReLU thresholds are exp(log θ), finite and at least 0")
        }
        for i in 0..<features { logThresholds[i] = Foundation.log(theta[i]) }
      } else {
        logThresholds.pointer.update(repeating: -.infinity, count: features)
      }

      let decoderURL = directory.appendingPathComponent(CircuitTracerLayout.decoderFile(l))
      let decoderFile = try open(decoderURL, hint: "every layer needs W_dec_{layer}.safetensors")
      let targets = nLayers - l
      let values = try floats(decoderFile, "W_dec_\(l)", shape: [features, targets, d])
      values.withUnsafeBufferPointer { source in
        for j in 0..<targets {
          let decoder = transcoder.decoder(from: l, to: l + j).pointer
          for feature in 0..<features {
            (decoder + feature * d).update(from: source.baseAddress! + (feature * targets + j) * d, count: d)
          }
        }
      }
    }
    transcoder.activation = .jumpReLU

    let shards = ShardMetadata(
      architecture: model.architecture, model: model.name, modelSHA256: model.sha256, nLayers: nLayers,
      dModel: d, context: model.contextLength, dtype: .f32, inputTap: model.inputTap,
      outputTap: model.outputTap,
      createdBy: createdBy)
    let metadata = CLTFileMetadata(
      shards: shards, features: features, configuration: TrainingConfiguration(features: features, steps: 0),
      tokensSeen: 0, steps: 0, createdBy: createdBy)
    return CLTFile(
      transcoder: transcoder,
      normalizer: ActivationNormalizer(
        inputScales: [Float](repeating: 1, count: nLayers),
        outputScales: [Float](repeating: 1, count: nLayers)),
      frequencies: [[Float]](repeating: [Float](repeating: 0, count: features), count: nLayers),
      metadata: metadata)
  }

  /// Refuses a config that is not a CLT of `model`'s MLPs: the input hook must be the MLP input,
  /// the output hook the MLP output, and recorded provenance (clt-convert's `cltkit_*` keys) must
  /// agree with `model`.
  public static func check(_ config: CircuitTracerConfig, path: String, model: ModelDescription) throws {
    let kind = try config.required("model_kind", path: path)
    guard kind == CircuitTracerConfig.crossLayerTranscoder else {
      throw ConversionError.badConfig(
        path: path,
        detail:
          "model_kind is '\(kind)'; clt-convert imports '\(CircuitTracerConfig.crossLayerTranscoder)' folders only"
      )
    }
    let input = try config.required("feature_input_hook", path: path)
    let inputs = CircuitTracerLayout.inputHooks(architecture: model.architecture)
    guard inputs.contains(input) else {
      throw ConversionError.inputHookMismatch(
        path: path, found: input, required: inputs, architecture: model.architecture)
    }
    let output = try config.required("feature_output_hook", path: path)
    guard CircuitTracerLayout.outputHooks.contains(output) else {
      throw ConversionError.outputHookMismatch(
        path: path, found: output, required: CircuitTracerLayout.outputHooks)
    }
    let recorded: [(String, String)] = [
      ("cltkit_architecture", model.architecture), ("cltkit_model_sha256", model.sha256),
    ]
    for (key, expected) in recorded {
      if let value = config[key], !value.isEmpty, !expected.isEmpty, value != expected {
        throw ConversionError.modelMismatch(path: path, field: key, transcoder: value, model: expected)
      }
    }
  }

  static func open(_ url: URL, hint: String) throws -> SafetensorsFile {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw ConversionError.missingFile(path: url.path, hint: hint)
    }
    return try SafetensorsFile(url: url)
  }

  /// The tensor `name` of `file`, checked to have `shape`.
  static func floats(_ file: SafetensorsFile, _ name: String, shape: [Int]) throws -> [Float] {
    guard let info = file.tensors[name] else {
      throw ConversionError.missingTensor(path: file.file.path, tensor: name)
    }
    guard info.shape == shape else {
      throw ConversionError.wrongShape(path: file.file.path, tensor: name, expected: shape, found: info.shape)
    }
    return try file.floats(name)
  }

  static func fill(_ buffer: FloatBuffer, from file: SafetensorsFile, _ name: String, shape: [Int]) throws {
    let values = try floats(file, name, shape: shape)
    values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: buffer.count) }
  }
}
