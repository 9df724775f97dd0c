import Foundation
import Yams

/// `config.yaml` of a circuit-tracer transcoder folder: the keys its loader reads
/// (`circuit_tracer/utils/hf_utils.py`, `load_transcoders`: `model_kind`, `feature_input_hook`,
/// `feature_output_hook`; the CLI takes `model_name` as the model when `--model` is not given),
/// plus CLTKit's provenance under `cltkit_*` keys, which circuit-tracer ignores.
///
/// Only top-level `key: value` scalars are kept: that is all a CLT's config holds (lists such as a
/// transcoder set's `transcoders:` are skipped). Yams parses and writes the YAML.
public struct CircuitTracerConfig: Sendable, Equatable {
  /// The value circuit-tracer dispatches on for a single-folder CLT.
  public static let crossLayerTranscoder = "cross_layer_transcoder"

  /// Every key in file order, values unquoted.
  public var values: [(key: String, value: String)]

  public init(values: [(key: String, value: String)]) { self.values = values }

  public static func == (a: Self, b: Self) -> Bool {
    a.values.map(\.key) == b.values.map(\.key) && a.values.map(\.value) == b.values.map(\.value)
  }

  public subscript(key: String) -> String? { values.last { $0.key == key }?.value }

  /// Reads `url`; `ConversionError.missingFile` when it is not there, `.badConfig` when it is not
  /// a YAML mapping.
  public init(url: URL) throws {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw ConversionError.missingFile(
        path: url.path, hint: "a circuit-tracer CLT folder holds config.yaml next to W_enc_*.safetensors")
    }
    try self.init(yaml: String(decoding: data, as: UTF8.self), path: url.path)
  }

  /// The top-level keys of a YAML document (parsed by Yams) whose values are scalars, as text, in
  /// file order; other values (a transcoder set's lists) are skipped.
  public init(yaml: String, path: String = CircuitTracerLayout.configFile) throws {
    let root: Node?
    do {
      root = try Yams.compose(yaml: yaml)
    } catch {
      throw ConversionError.badConfig(path: path, detail: "not valid YAML (\(error))")
    }
    guard let root else {
      self.values = []
      return
    }
    guard let mapping = root.mapping else {
      throw ConversionError.badConfig(path: path, detail: "the document is not a mapping of keys to values")
    }
    values = mapping.compactMap { key, value in
      guard let key = key.string, let value = value.scalar?.string else { return nil }
      return (key: key, value: value)
    }
  }

  /// The document: a comment line, then each key with its value double-quoted, except
  /// `model_kind`, written plain as circuit-tracer's own configs do.
  public func yaml(comment: String) -> String {
    let pairs = values.map { key, value in
      (Node(key), Node.scalar(.init(value, .implicit, key == "model_kind" ? .plain : .doubleQuoted)))
    }
    let body = (try? Yams.serialize(node: .mapping(.init(pairs)), width: -1, allowUnicode: true)) ?? ""
    return "# \(comment)\n" + body
  }

  /// A key circuit-tracer needs, or `ConversionError.badConfig` naming it.
  public func required(_ key: String, path: String) throws -> String {
    guard let value = self[key], !value.isEmpty else {
      throw ConversionError.badConfig(
        path: path, detail: "the key '\(key)' is missing; circuit-tracer needs it too")
    }
    return value
  }
}
