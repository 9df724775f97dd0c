import CLTFormat
import Foundation
import LanguageModels
import ReplacementModel
import Transcoder

/// Builds a `FeatureIndex` from encoded text in one streaming pass: memory is a few examples per
/// feature, whatever the text's length, and each document is forgotten once it is added.
public final class FeatureIndexBuilder {
  /// Tokens of context kept before each example's token.
  public static let contextTokens = 8

  public let nLayers: Int
  public let features: Int
  public let examplesPerFeature: Int
  /// Per feature (layer-major): how many tokens it was active on, and its strongest examples,
  /// strongest first.
  private var counts: [Int]
  private var examples: [[FeatureIndex.Example]]
  /// Tokens added so far.
  public private(set) var tokens = 0

  public init(nLayers: Int, features: Int, examplesPerFeature: Int = 6) {
    self.nLayers = nLayers
    self.features = features
    self.examplesPerFeature = examplesPerFeature
    counts = [Int](repeating: 0, count: nLayers * features)
    examples = [[FeatureIndex.Example]](repeating: [], count: nLayers * features)
  }

  /// Adds one document: its tokens' text and, per token, the features active on it.
  public func add(tokens text: [String], active: [[FeatureActivation]]) {
    precondition(text.count == active.count, "one list of active features per token")
    for (p, features) in active.enumerated() {
      for a in features where a.activation > 0 {
        let f = a.layer * self.features + a.feature
        counts[f] += 1
        if examples[f].count == examplesPerFeature, let weakest = examples[f].last,
          a.activation <= weakest.activation
        {
          continue
        }
        let before = text[max(0, p - Self.contextTokens)..<p].joined()
        let example = FeatureIndex.Example(activation: a.activation, token: text[p], before: before)
        let at = examples[f].firstIndex { $0.activation < a.activation } ?? examples[f].count
        examples[f].insert(example, at: at)
        if examples[f].count > examplesPerFeature { examples[f].removeLast() }
      }
    }
    tokens += text.count
  }

  /// The index: what was added, with every feature's logit effects through `readout` (computed
  /// here, a block of features at a time, since one (F, V) block of logits is 200 MB for a layer of
  /// 1024 features and a 49k vocabulary).
  public func index(
    transcoder: CrossLayerTranscoder, metadata: CLTFileMetadata, outputScales: [Float], readout: LogitReadout,
    corpus: [String], tokenText: (Int32) -> String, logitTokens: Int = 5,
    progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }
  ) throws -> FeatureIndex {
    var layers: [[FeatureIndex.Feature]] = []
    let block = 128
    for layer in 0..<nLayers {
      var row: [FeatureIndex.Feature] = []
      for start in stride(from: 0, to: features, by: block) {
        let ids = (start..<min(start + block, features)).map { (layer: layer, feature: $0) }
        let effects = try FeatureLogitEffects.compute(
          decoders: transcoder, outputScales: outputScales, readout: readout, features: ids, top: logitTokens)
        for e in effects {
          let f = layer * features + e.feature
          row.append(
            FeatureIndex.Feature(
              frequency: Float(counts[f]) / Float(max(tokens, 1)), examples: examples[f],
              promoted: e.promoted.map { tokenText(Int32($0.tokenID)) },
              suppressed: e.suppressed.map { tokenText(Int32($0.tokenID)) }))
        }
        progress(layer * features + row.count, nLayers * features)
      }
      layers.append(row)
    }
    return FeatureIndex(
      version: FeatureIndex.currentVersion, transcoder: TranscoderIdentity(metadata),
      fingerprint: FeatureIndex.fingerprint(of: transcoder), corpus: corpus, tokens: tokens, layers: layers)
  }
}
