import CLTFormat
import Foundation
import LanguageModels
import ReplacementModel
import Testing

/// The faithfulness metrics on distributions whose values can be worked out by hand.
@Suite struct MetricsTests {
  @Test("cross-entropy of a uniform distribution is log V; of a sure prediction 0")
  func crossEntropyByHand() {
    #expect(abs(crossEntropy(logits: [Float](repeating: 3, count: 8), target: 5) - log(8.0)) < 1e-12)
    #expect(crossEntropy(logits: [0, 100, 0] as [Float], target: 1) < 1e-30 + 1e-40)
    // softmax([log 1, log 3]) = (1/4, 3/4): CE of token 0 is log 4.
    #expect(abs(crossEntropy(logits: [0, Float(log(3.0))], target: 0) - log(4.0)) < 1e-6)
  }

  @Test("KL(p‖q) is 0 for equal distributions (also shifted logits) and matches a hand computation")
  func klByHand() {
    let p = logSoftmax([1, 2, 3] as [Float])
    #expect(klDivergence(p, logSoftmax([11, 12, 13] as [Float])) < 1e-12)
    // p = (1/2, 1/2), q = (1/4, 3/4): KL = ½ log 2 + ½ log(2/3).
    let q = logSoftmax([0, Float(log(3.0))])
    let expected = 0.5 * log(2.0) + 0.5 * log(2.0 / 3.0)
    #expect(abs(klDivergence(logSoftmax([0, 0] as [Float]), q) - expected) < 1e-6)
    #expect(klDivergence(q, logSoftmax([0, 0] as [Float])) > 0, "KL is not symmetric but positive both ways")
  }

  @Test("fraction of CE recovered: 1 at the original, 0 at the ablation, linear between")
  func fractionRecovered() {
    #expect(fractionOfCERecovered(original: 2, replacement: 2, ablated: 6) == 1)
    #expect(fractionOfCERecovered(original: 2, replacement: 6, ablated: 6) == 0)
    #expect(fractionOfCERecovered(original: 2, replacement: 3, ablated: 6) == 0.75)
    #expect(fractionOfCERecovered(original: 2, replacement: 7, ablated: 6) == -0.25)
    #expect(fractionOfCERecovered(original: 2, replacement: 3, ablated: 2).isNaN, "no gap, no fraction")
    #expect(
      fractionOfCERecovered(original: 2, replacement: 3, ablated: 1.5).isNaN, "ablation that helps: none")
  }

  @Test("NMSE is error over variance about the mean; L0 the mean active count")
  func reconstructionStatistics() {
    let stats = ReconstructionStatistics(nLayers: 1, dModel: 2)
    // y = (1, 0) and (3, 0): mean (2, 0), Σ‖y − ȳ‖² = 2. Errors 1 and 0 in one coordinate: Σ = 1.
    let ys: [[Float]] = [[1, 0], [3, 0]]
    let yHats: [[Float]] = [[0, 0], [3, 0]]
    for (y, yHat) in zip(ys, yHats) { stats.add(layer: 0, output: y, reconstruction: yHat, active: 3) }
    stats.add(layer: 0, output: [2, 0], reconstruction: [2, 0], active: 6)
    // Third token adds variance 0 and error 0: Σ‖y − ȳ‖² stays 2.
    #expect(abs(stats.nmse[0] - 0.5) < 1e-12, "\(stats.nmse)")
    #expect(stats.l0 == [4])
    #expect(
      normalizedMSE(squaredError: 1, squaredNorm: 4, meanTerm: 4).isNaN, "constant outputs have no NMSE")
  }

  @Test("the report's JSON parses, writes null for undefined values, and its table names every layer")
  func reportFormats() throws {
    let report = FaithfulnessReport(
      predictions: 10, ceOriginal: 2, ceReplacement: 3, ceAblated: 6, kl: 0.5, top1Agreement: 0.7,
      nmse: [0.1, .nan], l0: [12, 30])
    let object = try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as! [String: Any]
    #expect(object["fraction_ce_recovered"] as? Double == 0.75)
    #expect((object["nmse"] as? [Any])?.last is NSNull)
    #expect(object["top1_agreement"] as? Double == 0.7 && object["predictions"] as? Int == 10)
    #expect(report.table.contains("fraction of CE recovered  0.7500"))
    #expect(report.table.contains("    1  n/a  30.0"), "\(report.table)")
  }

  @Test("evaluating the replacement with its error kept: CE recovered 1, KL 0, top-1 agreement 1")
  func evaluationOfExactReplacement() throws {
    let model = try TestModels.gpt2()
    let tokens = TestModels.tokens(3 * 10, for: model)
    let file = try makeCLTFile(for: model, tokens: tokens)
    let windows = (0..<3).map { Array(tokens[$0 * 10..<($0 + 1) * 10]) }
    let exact = try FaithfulnessEvaluation(
      model: model, replacement: try CLTReplacement(file: file, keepsError: true))
    try exact.add(windows: windows)
    let report = exact.report
    #expect(report.predictions == 24, "3 windows of 10: positions 1 to 8 predict")
    #expect(abs(report.fractionOfCERecovered - 1) < 1e-5 && report.kl < 1e-6 && report.top1Agreement == 1)
    #expect(report.nmse.allSatisfy { $0 > 0 && $0.isFinite } && report.l0.allSatisfy { $0 > 0 })

    let pure = try FaithfulnessEvaluation(
      model: model, replacement: try CLTReplacement(file: file, keepsError: false))
    try pure.add(windows: windows)
    #expect(pure.report.kl > 1e-4 && pure.report.ceOriginal == report.ceOriginal)
    #expect(pure.report.nmse == report.nmse, "NMSE is measured on the original model's activations")
  }
}
