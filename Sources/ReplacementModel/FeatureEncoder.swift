import CLTFormat
import LanguageModels
import Transcoder

/// The transcoder's features on every token of a text: the model runs over the text, and each
/// layer's MLP input goes through the transcoder's encoder (a[l] = JumpReLU(s_in · x[l] · W_encᵀ +
/// b_enc)). The model's own outputs are left as they are, so a[l] is read from the original model.
///
/// A document is cut as `gpt2-acts` cuts its stream: windows of `context` tokens, each the
/// end-of-text token (BOS) followed by the next `context − 1` tokens of the document; the BOS rows
/// are not reported.
public final class FeatureEncoder {
  public let model: any LanguageModel
  public let context: Int
  public let bos: Int32
  /// Windows per forward pass.
  public let batch: Int
  /// Layers reported (all when nil).
  public let layers: Set<Int>?
  /// At most this many features per token, the strongest (all when nil).
  public let top: Int?
  /// Features below this activation are not reported.
  public let minActivation: Float
  private let observer: CLTReplacement

  /// - Throws: `ReplacementError.unknownFeature` for a layer the transcoder does not have.
  public init(
    model: any LanguageModel, file: CLTFile, context: Int, bos: Int32, batch: Int = 8, layers: [Int]? = nil,
    top: Int? = nil, minActivation: Float = 0
  ) throws {
    precondition(context >= 2 && batch >= 1, "a window holds BOS and a token; a batch a window")
    if let bad = layers?.first(where: { $0 < 0 || $0 >= file.transcoder.nLayers }) {
      throw ReplacementError.unknownFeature(
        spec: "--layers", reason: "the transcoder has layers 0..\(file.transcoder.nLayers - 1), not \(bad)")
    }
    self.model = model
    self.context = min(context, model.description.contextLength)
    self.bos = bos
    self.batch = batch
    self.layers = layers.map(Set.init)
    self.top = top
    self.minActivation = minActivation
    observer = try CLTReplacement(file: file, keepsError: true)
  }

  /// The reported features of each token of `ids`, in order.
  public func encode(document ids: [Int32]) throws -> [[FeatureActivation]] {
    let chunk = context - 1
    let starts = Array(stride(from: 0, to: ids.count, by: chunk))
    var result: [[FeatureActivation]] = []
    result.reserveCapacity(ids.count)
    var k = 0
    while k < starts.count {
      // Full windows go in batches; a shorter last one alone, so each call has one length.
      let length = min(chunk, ids.count - starts[k]) + 1
      var group = [starts[k]]
      while group.count < batch, k + group.count < starts.count,
        ids.count - starts[k + group.count] >= chunk, length == chunk + 1
      {
        group.append(starts[k + group.count])
      }
      k += group.count
      let tokens = group.flatMap { [bos] + ids[$0..<$0 + length - 1] }
      _ = try model.forward(
        tokens: tokens, batch: group.count, length: length, taps: nil, computeLogits: false,
        replacement: observer)
      for w in group.indices {
        for p in 1..<length { result.append(features(row: w * length + p)) }
      }
    }
    return result
  }

  /// The reported features of one row of the latest forward pass, strongest first.
  private func features(row: Int) -> [FeatureActivation] {
    var list: [FeatureActivation] = []
    for (l, a) in observer.activations.enumerated() where layers?.contains(l) ?? true {
      let (indices, values) = a.row(row)
      for (i, v) in zip(indices, values) where v >= minActivation {
        list.append(FeatureActivation(layer: l, feature: Int(i), activation: v))
      }
    }
    list.sort { ($0.activation, -$0.layer, -$0.feature) > ($1.activation, -$1.layer, -$1.feature) }
    if let top, list.count > top { list.removeLast(list.count - top) }
    return list
  }
}

extension FeatureEncoder {
  /// Parses a layer list such as "0,3,5-7" (the `--layers` syntax); nil when malformed.
  public static func parseLayers(_ text: String) -> [Int]? {
    var layers: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds.last!), low >= 0,
        low <= high
      else { return nil }
      layers += Array(low...high)
    }
    return layers
  }
}
