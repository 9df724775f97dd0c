/// Where the rows of one forward call sit in their sequences: row r is at position
/// `firstPosition + r % period`. A window call has firstPosition 0 and period = window length; a
/// cached decode call has firstPosition = tokens already cached and period = new tokens.
public struct RowPositions: Sendable, Equatable {
  public var firstPosition: Int
  public var period: Int

  public init(firstPosition: Int, period: Int) {
    precondition(period > 0, "a period of at least one row")
    self.firstPosition = firstPosition
    self.period = period
  }

  /// Position of row `row` in its sequence.
  @inline(__always)
  public func position(ofRow row: Int) -> Int { firstPosition + row % period }
}

/// A hook into every MLP of a forward pass: the mechanism a replacement model (Ameisen et al.
/// 2025, "the local replacement model") uses to substitute a cross-layer transcoder's
/// reconstruction for the model's MLP outputs, and the one zero-ablation, steering and
/// measurements use too. Both model families call it in the same place, in window forwards and in
/// KV-cached decoding alike.
///
/// For each call of `forward` or `decode`, `replace` runs once per layer, in increasing layer
/// order, after that layer's MLP has written its output and before the output is added to the
/// residual stream: so what it writes to `output` is what every later layer sees, and a hook that
/// keeps state across layers (a CLT's features of earlier layers) can reset it at layer 0.
public protocol MLPReplacement: AnyObject {
  /// - Parameters:
  ///   - layer: 0-based layer index.
  ///   - input: the MLP's input (the `inputTap`), (rows, dModel).
  ///   - output: the MLP's output (the `outputTap`), (rows, dModel); overwrite it to replace the MLP.
  ///   - rows: tokens in this call.
  ///   - positions: where each row sits in its sequence.
  func replace(
    layer: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int,
    positions: RowPositions)

  /// Whether `replace` reads the MLP's own output for a call at `positions`. When it does not (it
  /// overwrites every row), the model skips the MLP: in KV-cached decoding the MLPs are over half
  /// the weights read per token, so a replacement model that computed them anyway would be slower
  /// than the model it replaces. The default is true.
  func needsMLPOutput(positions: RowPositions) -> Bool
}

extension MLPReplacement {
  public func needsMLPOutput(positions: RowPositions) -> Bool { true }
}

/// Every MLP's output set to zero: the "MLPs ablated" baseline of the fraction of CE recovered.
public final class ZeroAblation: MLPReplacement {
  public let dModel: Int

  public init(dModel: Int) { self.dModel = dModel }

  public func replace(
    layer: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int,
    positions: RowPositions
  ) {
    output.update(repeating: 0, count: rows * dModel)
  }

  public func needsMLPOutput(positions: RowPositions) -> Bool { false }
}
