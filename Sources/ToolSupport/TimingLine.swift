import Foundation
import Kernels

/// The JSON line that `--timing` prints on stderr: what `make bench` (scripts/bench/run.sh) reads
/// from each tool and sets beside the PyTorch reference's line of the same `bench` label. Every
/// line has `side`, `bench`, `tokens`, `seconds`, `tokens_per_second` and `blas_core` (OpenBLAS's
/// kernels, which set the pace of every sgemm: `BLASKernels`); a tool adds its own fields after
/// those, in the order added.
public struct TimingLine {
  private var fields: [(key: String, json: String)]

  /// `label` is the hidden `--timing-label` (the bench row); `tokens` over `seconds` is the
  /// figure compared, so both leave out what the PyTorch side leaves out (loading, warm-up).
  public init(label: String, tokens: Int, seconds: Double) {
    fields = [
      ("side", "\"swift\""), ("bench", "\"\(label)\""), ("tokens", "\(tokens)"), ("seconds", "\(seconds)"),
      ("tokens_per_second", "\(Double(tokens) / seconds)"), ("blas_core", "\"\(BLASKernels.coreName)\""),
    ]
  }

  public mutating func add(_ key: String, _ value: Double) { fields.append((key, "\(value)")) }
  public mutating func add(_ key: String, _ value: Int) { fields.append((key, "\(value)")) }
  public mutating func add(_ key: String, _ values: [Double]) {
    fields.append((key, "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"))
  }

  /// `{"side": "swift", "bench": ..., ...}` on one line.
  public var text: String {
    "{" + fields.map { "\"\($0.key)\": \($0.json)" }.joined(separator: ", ") + "}"
  }

  public func print() { StandardError.line(text) }
}
