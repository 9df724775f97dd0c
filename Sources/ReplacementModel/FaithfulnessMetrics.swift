import Foundation

// How faithful a replacement model is to the original, as plain functions on logits, so each can
// be checked on hand-made distributions. Natural logarithms throughout (nats).

/// log softmax(logits), computed in Double with the maximum subtracted first.
/// logits (V) -> (V).
public func logSoftmax<C: Collection>(_ logits: C) -> [Double] where C.Element == Float {
  let top = Double(logits.max() ?? 0)
  let shifted = logits.map { Double($0) - top }
  let logSum = Foundation.log(shifted.reduce(0) { $0 + Foundation.exp($1) })
  return shifted.map { $0 - logSum }
}

/// −log softmax(logits)[target]: the cross-entropy of the next token `target`.
public func crossEntropy<C: Collection>(logits: C, target: Int) -> Double where C.Element == Float {
  -logSoftmax(logits)[target]
}

/// KL(p ‖ q) = Σ_i p_i (log p_i − log q_i) between the distributions softmax(p) and softmax(q),
/// given as log-probabilities (`logSoftmax`): how much worse q predicts samples of p. 0 iff equal.
public func klDivergence(_ logP: [Double], _ logQ: [Double]) -> Double {
  precondition(logP.count == logQ.count, "distributions over different vocabularies")
  var sum = 0.0
  for i in logP.indices where logP[i] > -Double.infinity {
    sum += Foundation.exp(logP[i]) * (logP[i] - logQ[i])
  }
  return max(sum, 0)
}

/// Fraction of cross-entropy recovered, (CE_ablated − CE_replacement) / (CE_ablated − CE_original):
/// 1 when the replacement predicts as well as the original model, 0 when it is no better than
/// removing every MLP (it can fall below 0, or rise above 1 by chance). NaN when ablating changes
/// nothing.
public func fractionOfCERecovered(original: Double, replacement: Double, ablated: Double) -> Double {
  let gap = ablated - original
  // Without a gap there is nothing to recover: a fraction of it would mean nothing.
  return gap > 0 ? (ablated - replacement) / gap : .nan
}

/// Index of the largest value (the first among ties), as the greedy next token.
func argmaxIndex<C: Collection>(_ values: C) -> Int where C.Element == Float, C.Index == Int {
  var best = values.startIndex
  for i in values.indices where values[i] > values[best] { best = i }
  return best - values.startIndex
}
