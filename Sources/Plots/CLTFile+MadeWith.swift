import CLTFormat
import Foundation

/// The checks that a file read together with a clt.h5 (clt-encode lines, an attribution graph) was
/// made with that transcoder: features of another model's CLT index decoders that mean nothing, so
/// a mismatch is refused, not drawn. What the file records of its transcoder (`TranscoderIdentity`)
/// is compared where it has it; every feature must lie within the transcoder's layers × features
/// in any case, which is all an older file can be checked by.
extension CLTFile {
  /// The clt.h5 as messages name it: its path as given.
  public var name: String { url?.relativePath ?? "the clt.h5" }

  /// Throws `PlotError.madeWithAnotherTranscoder` unless line `line` of the clt-encode output `path`
  /// can come from this transcoder: the transcoder its `clt` field names, if any, is this one, and
  /// each of its features is one of this transcoder's.
  public func checkMadeWith(_ token: TokenFeatures, line: Int, path: String) throws {
    let advice = "; give the CLT the clt-encode output was made with"
    let file = line == 1 ? Self.named(path) : "\(Self.named(path)) (line \(line))"
    if let reason = token.transcoder?.mismatch(with: metadata, file: file, cltPath: name) {
      throw PlotError.madeWithAnotherTranscoder(reason + advice)
    }
    for f in token.features where !holds(layer: f.layer, feature: f.feature) {
      throw PlotError.madeWithAnotherTranscoder("\(Self.named(path)):\(line): \(outside(f.key))" + advice)
    }
  }

  /// Throws `PlotError.madeWithAnotherTranscoder` unless the graph `path` can come from this
  /// transcoder: the model and shape its metadata records, if any, are this one's, and each of its
  /// feature and error nodes is in one of this transcoder's layers (a feature node, one of its
  /// features).
  public func checkMadeWith(_ graph: AttributionGraphFile, path: String) throws {
    let advice = "; give the CLT the graph was made with"
    if let reason = graph.transcoder.mismatch(with: metadata, file: Self.named(path), cltPath: name) {
      throw PlotError.madeWithAnotherTranscoder(reason + advice)
    }
    for node in graph.nodes where node.kind == .feature || node.kind == .error {
      let feature = node.kind == .feature ? node.featureIndex ?? -1 : 0
      guard holds(layer: node.layer, feature: feature) else {
        throw PlotError.madeWithAnotherTranscoder(
          "\(Self.named(path)): node \(node.id): \(outside(FeatureKey(layer: node.layer, feature: feature)))"
            + advice)
      }
    }
  }

  /// Whether `layer` and `feature` index one of this transcoder's features.
  func holds(layer: Int, feature: Int) -> Bool {
    layer >= 0 && layer < metadata.nLayers && feature >= 0 && feature < metadata.features
  }

  /// "feature L3/F40 is not in clt.h5 (2 layers × 16 features)".
  func outside(_ key: FeatureKey) -> String {
    "feature \(key.label) is not in \(name) (\(metadata.nLayers) layers × \(metadata.features) features)"
  }

  /// A file as messages name it: `-` is stdin.
  static func named(_ path: String) -> String { path == "-" ? "stdin" : path }
}
