import Foundation

/// `config.yaml` of a circuit-tracer transcoder folder: the keys its loader reads
/// (`circuit_tracer/utils/hf_utils.py`, `load_transcoders`: `model_kind`, `feature_input_hook`,
/// `feature_output_hook`; the CLI takes `model_name` as the model when `--model` is not given),
/// plus CLTKit's provenance under `cltkit_*` keys, which circuit-tracer ignores.
///
/// Only top-level `key: value` scalars are read: that is all a CLT's config holds (lists such as a
/// transcoder set's `transcoders:` are skipped), so a full YAML parser is not needed.
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

  /// Reads `url`; `ConversionError.missingFile` when it is not there.
  public init(url: URL) throws {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw ConversionError.missingFile(
        path: url.path, hint: "a circuit-tracer CLT folder holds config.yaml next to W_enc_*.safetensors")
    }
    self.init(yaml: String(decoding: data, as: UTF8.self))
  }

  /// Parses the top-level scalar keys of a YAML document: plain, 'single-' or "double-quoted" values,
  /// `#` comments; indented lines, list items and document markers are skipped.
  public init(yaml: String) {
    var values: [(key: String, value: String)] = []
    for raw in yaml.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
      let line = String(raw)
      guard let first = line.first, !first.isWhitespace, first != "#", first != "-" else { continue }
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmingCharacters(in: .whitespaces)
      let rest = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      guard !key.isEmpty, !rest.isEmpty else { continue }
      values.append((key: Self.unquote(key), value: Self.scalar(rest)))
    }
    self.values = values
  }

  /// The value of a scalar: a quoted string's contents, or a plain value without its comment.
  static func scalar(_ text: String) -> String {
    if text.hasPrefix("\"") {
      var out = ""
      var escaped = false
      for c in text.dropFirst() {
        if escaped {
          switch c {
          case "n": out.append("\n")
          case "t": out.append("\t")
          default: out.append(c)
          }
          escaped = false
        } else if c == "\\" {
          escaped = true
        } else if c == "\"" {
          return out
        } else {
          out.append(c)
        }
      }
      return out
    }
    if text.hasPrefix("'") {
      let body = text.dropFirst()
      var out = ""
      var index = body.startIndex
      while index < body.endIndex {
        let c = body[index]
        let next = body.index(after: index)
        if c == "'" {
          guard next < body.endIndex, body[next] == "'" else { return out }
          out.append("'")
          index = body.index(after: next)
          continue
        }
        out.append(c)
        index = next
      }
      return out
    }
    let plain = text.range(of: " #").map { String(text[..<$0.lowerBound]) } ?? text
    return plain.trimmingCharacters(in: .whitespaces)
  }

  static func unquote(_ key: String) -> String {
    key.hasPrefix("\"") || key.hasPrefix("'") ? scalar(key) : key
  }

  /// The document: a comment line, then each key with its value double-quoted (JSON string syntax,
  /// which YAML reads as a double-quoted scalar), except `model_kind`, written plain.
  public func yaml(comment: String) -> String {
    var text = "# \(comment)\n"
    for (key, value) in values {
      text += "\(key): \(key == "model_kind" ? value : Self.quoted(value))\n"
    }
    return text
  }

  static func quoted(_ value: String) -> String {
    let data = try? JSONSerialization.data(
      withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes])
    return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
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
