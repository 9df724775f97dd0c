import CLTFormat
import Crypto
import Foundation
import Transcoder

/// A compact summary of every feature of one CLT, computed once (`clt-encode --index TEXT`) and
/// kept beside it as `NAME.index.json` (docs/FORMATS.md): the tokens and contexts it fires on most
/// in a corpus, how often it fires, and the tokens it promotes and suppresses. With it a graph or a
/// dashboard can say what a feature is about without running the model over text again.
public struct FeatureIndex: Codable, Sendable {
  /// The format's version, `version` in the file.
  public static let currentVersion = 1

  /// One of a feature's strongest activations in the corpus.
  public struct Example: Codable, Sendable, Equatable {
    public var activation: Float
    /// The token it fired on.
    public var token: String
    /// The tokens before it in its document (at most `FeatureIndexBuilder.contextTokens`).
    public var before: String
  }

  public struct Feature: Codable, Sendable, Equatable {
    /// The fraction of the corpus's tokens it is active on.
    public var frequency: Float
    /// Its strongest activations, strongest first.
    public var examples: [Example]
    /// The tokens it promotes and suppresses most through the unembedding (`FeatureLogitEffects`),
    /// strongest first.
    public var promoted: [String]
    public var suppressed: [String]

    /// The feature's label: its top firing tokens and its top promoted token.
    public var label: FeatureLabel { FeatureLabel(firing: examples.map(\.token), promoting: promoted) }
  }

  public var version: Int
  /// The model and shape of the CLT it summarises, and a digest of its encoder (`fingerprint`),
  /// which tells two CLTs of one model and shape apart.
  public var transcoder: TranscoderIdentity
  public var fingerprint: String
  /// The text it was computed on: its files and token count.
  public var corpus: [String]
  public var tokens: Int
  /// `layers[l][i]` is feature i of layer l.
  public var layers: [[Feature]]

  /// Where the index of the clt.h5 at `transcoderPath` lives: `clt.h5` → `clt.index.json`.
  public static func path(forTranscoder transcoderPath: String) -> String {
    let url = URL(fileURLWithPath: transcoderPath)
    let stem = url.pathExtension == "h5" ? url.deletingPathExtension() : url
    let name = stem.lastPathComponent + ".index.json"
    let folder = (transcoderPath as NSString).deletingLastPathComponent
    return folder.isEmpty ? name : folder + "/" + name
  }

  /// sha256 of the encoder (weights, biases, thresholds), layer by layer: the same for the same
  /// transcoder however it is loaded, different for two trainings or seeds, and cheap (70 MB of a
  /// SmolLM2 CLT hash in about 0.05 s), since every tool that draws features loads the encoder.
  public static func fingerprint(of transcoder: CrossLayerTranscoder) -> String {
    var hash = SHA256()
    for buffers in [transcoder.encoderWeights, transcoder.encoderBiases, transcoder.logThresholds] {
      for b in buffers {
        hash.update(bufferPointer: UnsafeRawBufferPointer(start: b.pointer, count: b.count * 4))
      }
    }
    return hash.finalize().map { String(format: "%02x", $0) }.joined()
  }

  /// Why this index cannot describe `transcoder` (described by `metadata`), or nil when it does.
  public func mismatch(with transcoder: CrossLayerTranscoder, metadata: CLTFileMetadata) -> String? {
    if version != Self.currentVersion {
      return "it is version \(version); this build reads \(Self.currentVersion)"
    }
    if self.transcoder.nLayers != metadata.nLayers || self.transcoder.features != metadata.features
      || layers.count != metadata.nLayers || layers.contains(where: { $0.count != metadata.features })
    {
      return "it describes \(layers.count) layers of \(layers.first?.count ?? 0) features, the CLT has "
        + "\(metadata.nLayers) of \(metadata.features)"
    }
    if fingerprint != Self.fingerprint(of: transcoder) {
      return "it was built for another clt.h5 of this shape"
    }
    return nil
  }

  /// The index at `path`, or nil where there is no file.
  /// - Throws: `FeatureIndexError.unreadable` for a file that is not an index.
  public static func read(path: String) throws -> FeatureIndex? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do {
      return try JSONDecoder().decode(FeatureIndex.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
      throw FeatureIndexError.unreadable(path: path, reason: "\(error)")
    }
  }

  /// The file's bytes: compact JSON with sorted keys, so that two runs over the same text agree.
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }
}

public enum FeatureIndexError: Error, LocalizedError, Equatable {
  case unreadable(path: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .unreadable(let path, let reason):
      return "\(path) is not a feature index (\(reason.prefix(200))); remove it or rebuild it with "
        + "clt-encode --index TEXT"
    }
  }
}
