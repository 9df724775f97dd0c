import CLTFormat
import Foundation
import LanguageModels
import ReplacementModel
import Transcoder

/// The labels of some features of one CLT, and where they came from (a graph records which).
public struct FeatureLabels: Sendable {
  public enum Source: String, Sendable {
    /// The CLT's feature index (`clt-encode --index`): firing tokens and the top promoted token.
    case index
    /// The logit effects alone, which need no corpus.
    case logitEffects = "logit effects"
  }

  public var source: Source?
  private var labels: [[Int]: FeatureLabel]

  /// No labels.
  public static let none = FeatureLabels(source: nil, labels: [:])

  public subscript(layer: Int, feature: Int) -> FeatureLabel? { labels[[layer, feature]] }

  /// Labels of `features` (layer, index): from `index` where there is one (already checked against
  /// the CLT), else from their logit effects through `readout`, computed 128 features at a time so
  /// that a graph's two thousand features never hold more than 128 rows of logits.
  public init(
    for features: [(layer: Int, feature: Int)], index: FeatureIndex?, decoders: some DecoderRows,
    outputScales: [Float], readout: LogitReadout, tokenText: (Int32) -> String
  ) throws {
    // A feature can be a node at several positions.
    var seen = Set<[Int]>()
    let features = features.filter { seen.insert([$0.layer, $0.feature]).inserted }
    if let index {
      source = .index
      labels = Dictionary(
        uniqueKeysWithValues: features.map {
          ([$0.layer, $0.feature], index.layers[$0.layer][$0.feature].label)
        })
      return
    }
    source = .logitEffects
    labels = [:]
    for start in stride(from: 0, to: features.count, by: 128) {
      let block = Array(features[start..<min(start + 128, features.count)])
      for e in try FeatureLogitEffects.compute(
        decoders: decoders, outputScales: outputScales, readout: readout, features: block, top: 2)
      {
        labels[[e.layer, e.feature]] = FeatureLabel(
          firing: [], promoting: e.promoted.map { tokenText(Int32($0.tokenID)) })
      }
    }
  }

  private init(source: Source?, labels: [[Int]: FeatureLabel]) {
    self.source = source
    self.labels = labels
  }
}
