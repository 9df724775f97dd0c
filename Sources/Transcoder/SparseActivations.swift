/// One layer's feature activations for a run of tokens, kept as compressed rows (CSR): token n's
/// active features are `indices[offsets[n] ..< offsets[n + 1]]` in increasing order, with their
/// activations at the same positions of `values`. A trained transcoder keeps a few dozen of F
/// features active per token, so everything downstream of the encoder costs that, not F.
public struct SparseActivations: Sendable, Equatable {
  /// rows + 1 offsets into `indices` and `values`.
  public var offsets: [Int]
  public var indices: [Int32]
  public var values: [Float]

  public init(offsets: [Int], indices: [Int32], values: [Float]) {
    precondition(offsets.first == 0 && offsets.last == indices.count && indices.count == values.count)
    self.offsets = offsets
    self.indices = indices
    self.values = values
  }

  /// Number of tokens.
  public var rows: Int { offsets.count - 1 }

  /// Token `row`'s active features and their activations.
  public func row(_ row: Int) -> (indices: ArraySlice<Int32>, values: ArraySlice<Float>) {
    let span = offsets[row]..<offsets[row + 1]
    return (indices[span], values[span])
  }
}
