import CLTFormat

extension ActivationNormalizer {
  /// Estimated from the rows a shuffle buffer holds now, with the outlier tokens above
  /// `outlierFactor` × each layer's median squared norm set apart (0: none).
  public init(buffer: ShuffleBuffer, outlierFactor: Double) {
    let rows = Double(max(buffer.count, 1))
    self.init(
      meanSquaredInputNorms: buffer.inputSquaredNormSums().map { $0 / rows },
      outputRowSquares: buffer.outputRowSquares(), dModel: buffer.dModel, outlierFactor: outlierFactor)
  }
}
