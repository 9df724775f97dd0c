/// Read access to a CLT's decoder rows, whatever precision holds them. The float32 transcoder and
/// attribution's half-precision copy (`HalfDecoders`) both answer, so that a feature's summary
/// (its logit effects, say) is written once for either.
public protocol DecoderRows {
  var nLayers: Int { get }
  var dModel: Int { get }
  var features: Int { get }
  /// out (d) += scale · W_dec[source→target][feature].
  func addDecoderRow(
    from source: Int, to target: Int, feature: Int, scale: Float, into out: UnsafeMutablePointer<Float>)
}

extension CrossLayerTranscoder: DecoderRows {
  public func addDecoderRow(
    from source: Int, to target: Int, feature: Int, scale: Float, into out: UnsafeMutablePointer<Float>
  ) {
    let row = decoder(from: source, to: target).pointer + feature * dModel
    for j in 0..<dModel { out[j] += scale * row[j] }
  }
}
