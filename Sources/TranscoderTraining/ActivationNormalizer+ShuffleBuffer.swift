import CLTFormat

extension ActivationNormalizer {
  /// Estimated from the rows a shuffle buffer holds now.
  public init(buffer: ShuffleBuffer) {
    let norms = buffer.meanSquaredNorms()
    self.init(
      meanSquaredInputNorms: norms.inputs, meanSquaredOutputNorms: norms.outputs, dModel: buffer.dModel)
  }
}
