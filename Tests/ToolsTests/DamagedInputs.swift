import ActivationShards
import CLTFormat
import Foundation
import LanguageModels
import Testing
import Tokenizers
import Transcoder

/// Damaged copies of valid input files, the same on every run: cut at many lengths, with a few bits
/// flipped at seeded places, or with one field set to a huge value — what a failed download, a bad
/// disk or a hand edit gives a reader. Every reader must load such a copy or reject it with an error
/// naming the file; none may trap, abort or crash.
enum DamagedInputs {
  struct Variant: CustomStringConvertible {
    let description: String
    let data: Data
    /// Made for a field this format's reader must check (a huge length, a negative index), rather
    /// than at a random place.
    var isTargeted = true
  }

  /// The targeted variants and every `stride`-th other one: the sample the tools run as subprocesses.
  static func sample(_ variants: [Variant], stride: Int) -> [Variant] {
    let random = variants.filter { !$0.isTargeted }
    return variants.filter(\.isTargeted)
      + Swift.stride(from: 0, to: random.count, by: stride).map { random[$0] }
  }

  /// `cuts` prefixes of `data`, from empty to one byte short, then `flips` copies with one to four
  /// bits flipped at seeded places in `region` (the whole file by default).
  static func variants(
    of data: Data, cuts: Int, flips: Int, in region: Range<Int>? = nil, seed: UInt64 = 1
  ) -> [Variant] {
    let data = Data(data)  // indices from 0
    let lengths = Set((0..<cuts).map { data.count * $0 / cuts }).sorted()
    var variants = lengths.map {
      Variant(description: "cut to \($0) bytes", data: data.prefix($0), isTargeted: false)
    }
    let region = region ?? 0..<data.count
    var rng = SplitMix64(seed: seed)
    for _ in 0..<flips {
      var copy = data
      var places: [Int] = []
      for _ in 0...(rng.next() % 4) {
        let byte = region.lowerBound + Int(rng.next() % UInt64(region.count))
        copy[byte] ^= 1 << UInt8(rng.next() % 8)
        places.append(byte)
      }
      variants.append(Variant(description: "bits flipped at bytes \(places)", data: copy, isTargeted: false))
    }
    return variants
  }

  /// `data` with `value` written little-endian at `offset`: a length, count or size field made huge.
  static func overwriting<T: FixedWidthInteger>(_ data: Data, at offset: Int, with value: T, _ field: String)
    -> Variant
  {
    var copy = Data(data)
    withUnsafeBytes(of: value.littleEndian) { copy.replaceSubrange(offset..<(offset + $0.count), with: $0) }
    return Variant(description: "\(field) set to \(value)", data: copy)
  }

  /// `text` with its first `old` replaced by `new`: a field of a text format given a bad value.
  static func replacing(_ old: String, with new: String, in text: String) -> Variant {
    let range = text.range(of: old)!
    return Variant(
      description: "\(old) -> \(new)", data: Data(text.replacingCharacters(in: range, with: new).utf8))
  }

  // MARK: - Expectations

  /// Writes each variant to `url` and reads it with `read`, which must return or throw an error whose
  /// message names the file (or `partner`, a file read with it that the damage contradicts).
  /// - Returns: how many variants loaded, so that a test can check it tried both outcomes.
  @discardableResult
  static func expectLoadedOrNamed(
    _ variants: [Variant], at url: URL, partner: URL? = nil, read: (URL) throws -> Void
  ) throws -> Int {
    var loaded = 0
    for variant in variants {
      try variant.data.write(to: url)
      do {
        try read(url)
        loaded += 1
      } catch {
        let message = error.localizedDescription
        #expect(
          [url, partner].contains { $0.map { message.contains($0.path) } == true },
          "\(variant): the message does not name the file: \(message)")
      }
    }
    return loaded
  }

  /// Runs `tool` on each variant written to `url`: it must exit 0, or 1 or 2 with stderr ending in one
  /// line `TOOL...: error: ...` that names the file (ToolHarness records a signal as a crash). Only
  /// with `notices` may other lines (a skipped shard) come first.
  static func expectToolLoadsOrNames(
    _ variants: [Variant], at url: URL, tool: String, notices: Bool = false, arguments: (Int) -> [String]
  ) throws {
    for (i, variant) in variants.enumerated() {
      try variant.data.write(to: url)
      let result = try ToolHarness.run(tool, arguments(i))
      guard result.status != 0 else { continue }
      let lines = result.stderr.split(separator: "\n")
      #expect([1, 2].contains(result.status), "\(tool) on \(variant): exit status \(result.status)")
      #expect(notices || lines.count == 1, "\(tool) on \(variant): \(lines.count) lines: \(result.stderr)")
      #expect(
        lines.last.map { $0.hasPrefix(tool) && $0.contains(": error: ") && $0.contains(url.path) } == true,
        "\(tool) on \(variant): \(result.stderr)")
    }
  }

  // MARK: - Small valid inputs

  /// A made-up byte-level vocabulary: the 256 bytes, "th", "he", "the", then <|endoftext|>.
  static let merges = ["t h", "h e", "th e"]

  /// A tiktoken rank file of the vocabulary (ranks: bytes first, then the merges in order).
  static func rankFile() -> Data {
    var tokens = (0..<256).map { [UInt8($0)] }
    tokens += merges.map { Array($0.replacingOccurrences(of: " ", with: "").utf8) }
    let lines = tokens.enumerated().map { "\(Data($1).base64EncodedString()) \($0)" }
    return Data((lines.joined(separator: "\n") + "\n").utf8)
  }

  /// vocab.json and merges.txt of the same vocabulary, in `folder`; the ids run to 259 (<|endoftext|>).
  static func writeHuggingFaceTokenizer(in folder: URL) throws {
    var ids = [String: Int]()
    for byte in 0..<256 { ids[ByteLevel.encode([UInt8(byte)])] = byte }
    for (i, merge) in merges.enumerated() { ids[merge.replacingOccurrences(of: " ", with: "")] = 256 + i }
    ids["<|endoftext|>"] = 256 + merges.count
    try JSONSerialization.data(withJSONObject: ids, options: [.sortedKeys])
      .write(to: folder.appendingPathComponent("vocab.json"))
    try Data((["#version: 0.2"] + merges).joined(separator: "\n").utf8)
      .write(to: folder.appendingPathComponent("merges.txt"))
  }

  /// A GPT-2 checkpoint small enough to load in milliseconds, for the tokenizer above.
  static func writeCheckpoint(in folder: URL) throws {
    try ToolHarness.makeCheckpoint(in: folder, layers: 1, width: 8, heads: 2, positions: 16, vocabulary: 260)
  }

  /// llama.cpp's `gguf` package wrote this one: every metadata type and five tensor types.
  static let ggufFixture = ToolHarness.packageRoot.appendingPathComponent(
    "Tests/ModelFormatsTests/Fixtures/types.gguf")

  /// A corpus of a few JSON lines.
  static func corpusJSONL() -> Data {
    let lines = (0..<6).map { #"{"text": "the \#($0)th line, then the next", "source": "test"}"# }
    return Data(lines.joined(separator: "\n").utf8)
  }

  /// One f16 shard of 24 rows of 2 layers x 4, in `folder`.
  static func writeShard(in folder: URL) throws -> URL {
    let metadata = ShardMetadata(
      architecture: "gpt2", model: "damaged-inputs", modelSHA256: String(repeating: "0", count: 64),
      nLayers: 2, dModel: 4, context: 8, dtype: .f16, inputTap: "ln_2 output (MLP input)",
      outputTap: "MLP output before the residual add", createdBy: "damaged inputs")
    let writer = try ShardWriter(directory: folder, metadata: metadata, rowsPerShard: 24)
    let rows = 24
    let ids = (0..<rows).map { Int32($0 % 8) }
    let values = (0..<(2 * rows * 4)).map { Float($0 % 13) * 0.25 - 1 }
    let completed = try ids.withUnsafeBufferPointer { id in
      try writer.append(
        tokens: id, positions: id, windows: id, mlpIn: values, mlpOut: Array(values.reversed()))
    }
    return try #require((completed + (try writer.finish())).first)
  }

  /// A random clt.h5 of 2 layers, width 4 and 8 features, in `folder`.
  static func writeCLT(in folder: URL) throws -> URL {
    let (layers, width, features) = (2, 4, 8)
    let shards = ShardMetadata(
      architecture: "gpt2", model: "damaged-inputs", modelSHA256: String(repeating: "0", count: 64),
      nLayers: layers, dModel: width, context: 8, inputTap: "in", outputTap: "out", createdBy: "test")
    let file = CLTFile(
      transcoder: CrossLayerTranscoder(nLayers: layers, dModel: width, features: features, seed: 3),
      normalizer: ActivationNormalizer(inputScales: [1, 2], outputScales: [0.5, 1]),
      frequencies: [[Float]](repeating: [Float](repeating: 0.1, count: features), count: layers),
      metadata: CLTFileMetadata(
        shards: shards, features: features,
        configuration: TrainingConfiguration(features: features, steps: 1),
        tokensSeen: 0, steps: 0, createdBy: "damaged inputs"))
    let url = folder.appendingPathComponent("clt.h5")
    try file.write(to: url)
    return url
  }

  /// An attribution graph of each node kind over 2 layers and 3 positions, as clt-attrib writes it.
  static func graphJSON() throws -> String {
    func node(_ id: String, _ type: String, _ layer: String, _ position: Int, index: Int? = nil) -> [String:
      Any]
    {
      var node: [String: Any] = [
        "node_id": id, "feature_type": type, "layer": layer, "ctx_idx": position, "influence": 0.25,
        "activation": 1.5, "token_prob": 0.5, "clerp": id,
      ]
      if let index { node["feature_index"] = index }
      return node
    }
    let nodes = [
      node("E_1_0", "embedding", "E", 0), node("0_3_1", "cross layer transcoder", "0", 1, index: 3),
      node("1_5_2", "cross layer transcoder", "1", 2, index: 5),
      node("err_1_2", "mlp reconstruction error", "1", 2),
      node("L_7_2", "logit", "2", 2),
    ]
    let links = zip(nodes.dropLast(), nodes.dropFirst()).map {
      ["source": $0["node_id"]!, "target": $1["node_id"]!, "weight": 0.5] as [String: Any]
    }
    let metadata: [String: Any] = [
      "prompt_tokens": ["a", "b", "c"], "n_layers": 2, "replacement_score": 0.5,
    ]
    let graph: [String: Any] = ["metadata": metadata, "nodes": nodes, "links": links]
    return String(
      decoding: try JSONSerialization.data(withJSONObject: graph, options: [.sortedKeys]), as: UTF8.self)
  }
}
