import Foundation
import HDF5
import Kernels

/// A transcoder's metrics on held-out shards (`clt-fit --eval`): what the training batches
/// report, measured on tokens it never trained on, and stored in clt.h5 (`eval_*` datasets).
public struct CLTEvaluation: Sendable, Equatable {
  /// Tokens evaluated.
  public var tokens: Int
  /// Per layer ‖y − ŷ‖² / ‖y − ȳ‖² over all evaluated tokens (ȳ their mean).
  public var nmse: [Double]
  /// Per layer 1 − Var(y − ŷ) / Var(y).
  public var explainedVariance: [Double]
  /// Per layer, mean active features per token.
  public var l0: [Double]
  /// Per layer, the fraction of features that fired on none of the evaluated tokens.
  public var deadFraction: [Double]
  /// Per layer, the NMSE over the typical tokens alone: those whose target's squared norm is at
  /// most `typicalTokenFactor` × the layer's median over the first batch measured (ȳ their mean).
  /// Where a few tokens carry massive outputs (SmolLM2's layers 2, 11 and 28) the all-token NMSE
  /// is theirs: a CLT scored 0.007 on layer 11 while reconstructing the other 99.8% of its tokens
  /// worse than their mean. Nil in files written before it was measured.
  public var typicalNMSE: [Double]?

  /// How many times a layer's median squared norm a typical token's target may be.
  public static let typicalTokenFactor: Double = 50

  public var meanNMSE: Double { nmse.reduce(0, +) / Double(max(nmse.count, 1)) }
  public var meanL0: Double { l0.reduce(0, +) / Double(max(l0.count, 1)) }
  public var meanDeadFraction: Double { deadFraction.reduce(0, +) / Double(max(deadFraction.count, 1)) }
  public var meanTypicalNMSE: Double? { typicalNMSE.map { $0.reduce(0, +) / Double(max($0.count, 1)) } }

  public init(
    tokens: Int, nmse: [Double], explainedVariance: [Double], l0: [Double], deadFraction: [Double],
    typicalNMSE: [Double]? = nil
  ) {
    self.tokens = tokens
    self.nmse = nmse
    self.explainedVariance = explainedVariance
    self.l0 = l0
    self.deadFraction = deadFraction
    self.typicalNMSE = typicalNMSE
  }

  // MARK: - clt.h5

  func write(to file: HDF5File) throws {
    try file.setAttribute("eval_tokens", Int64(tokens))
    let nL = nmse.count
    try CLTFile.write(file, "eval_nmse", [nL], FloatBuffer(nmse.map(Float.init)))
    try CLTFile.write(file, "eval_explained_variance", [nL], FloatBuffer(explainedVariance.map(Float.init)))
    try CLTFile.write(file, "eval_l0", [nL], FloatBuffer(l0.map(Float.init)))
    try CLTFile.write(file, "eval_dead_fraction", [nL], FloatBuffer(deadFraction.map(Float.init)))
    if let typicalNMSE {
      try CLTFile.write(file, "eval_nmse_typical", [nL], FloatBuffer(typicalNMSE.map(Float.init)))
    }
  }

  /// The evaluation stored in `file`, or nil when it has none.
  init?(file: HDF5File, nLayers: Int) throws {
    guard try file.hasAttribute("eval_tokens") else { return nil }
    func read(_ name: String) throws -> [Double] {
      let buffer = FloatBuffer(count: nLayers)
      try CLTFile.read(file, name, into: buffer, path: file.filePath)
      return buffer.array.map(Double.init)
    }
    self.init(
      tokens: Int(try file.int64Attribute("eval_tokens")), nmse: try read("eval_nmse"),
      explainedVariance: try read("eval_explained_variance"), l0: try read("eval_l0"),
      deadFraction: try read("eval_dead_fraction"),
      typicalNMSE: try file.contains("eval_nmse_typical") ? try read("eval_nmse_typical") : nil)
  }
}
