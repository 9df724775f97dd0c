import ActivationShards
import CLTFormat
import Foundation
import HDF5
import Testing
import Transcoder
import TranscoderTraining

/// Outlier tokens (`--outlier-factor`): the output scales come from the other tokens, the
/// outliers' errors are weighted as the all-token scale weighed them, clt.h5 records both, and the
/// held-out figures say how the typical tokens fare.
@Suite(.serialized) struct OutlierTokenTests {
  let dir: URL

  init() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-outliers-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  @Test("a layer's scale comes from the rows up to κ × its median; an outlier weighs E_typical / E_all")
  func scalesAndWeightsFromRowNorms() throws {
    // d = 4. Layer 0 has no outlier; layer 1's last row is 500 times its median (2).
    let rows: [[Float]] = [[1, 3, 2, 2, 2], [1, 2, 1, 2, 1000]]
    let normalizer = ActivationNormalizer(
      meanSquaredInputNorms: [4, 4], outputRowSquares: rows, dModel: 4, outlierFactor: 50)
    let plain = ActivationNormalizer(
      meanSquaredInputNorms: [4, 4], meanSquaredOutputNorms: [2, 201.2], dModel: 4)
    #expect(normalizer.inputScales == plain.inputScales)
    #expect(normalizer.outputScales[0] == plain.outputScales[0])  // no outlier: the scale it always had
    let typical = 1.5  // the mean of 1, 2, 1, 2
    #expect(abs(Double(normalizer.outputScales[1]) - (4 / typical).squareRoot()) < 1e-6)
    let outliers = try #require(normalizer.outliers)
    #expect(outliers.thresholds[0] == .infinity && outliers.weights[0] == 1)
    // 50 × the median, in the normalised units the loss sees (× s_out²).
    #expect(abs(Double(outliers.thresholds[1]) - 50 * 2 * 4 / typical) < 1e-3)
    #expect(abs(Double(outliers.weights[1]) - typical / 201.2) < 1e-6)
    // An outlier's normalised squared error weighted so is its all-token normalised error.
    let (robust, all) = (Double(normalizer.outputScales[1]), Double(plain.outputScales[1]))
    #expect(abs(robust * robust * Double(outliers.weights[1]) - all * all) < 1e-6)

    let off = ActivationNormalizer(
      meanSquaredInputNorms: [4, 4], outputRowSquares: rows, dModel: 4, outlierFactor: 0)
    #expect(off == plain)
  }

  func train(factor: Double, outlierRows: Int, name: String) throws -> (CLTTrainer, URL, [URL]) {
    var dictionary = SyntheticDictionary(seed: 4)
    let urls = try dictionary.writeShards(
      to: dir.appendingPathComponent("data-\(name)"), shards: 1, rows: 256, outlierRows: outlierRows)
    var configuration = TrainingConfiguration(features: 8, batch: 32, steps: 3, shuffleRows: 128, seed: 9)
    configuration.outlierFactor = factor
    let stream = try ShardStream(arguments: urls.map(\.path), readStandardInput: false)
    let trainer = try CLTTrainer(configuration: configuration, stream: stream)
    while !trainer.isFinished { _ = try trainer.trainStep() }
    let url = dir.appendingPathComponent(name)
    try trainer.file(createdBy: "test").write(to: url)
    return (trainer, url, urls)
  }

  @Test("without outlier tokens in the data, training is bit for bit what it was without the option")
  func noOutliersNoChange() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let (with, _, _) = try train(factor: 50, outlierRows: 0, name: "with.h5")
    let (without, _, _) = try train(factor: 0, outlierRows: 0, name: "without.h5")
    #expect(with.normalizer.outliers == nil)
    #expect(with.normalizer == without.normalizer)
    #expect(with.transcoder.parameterBuffers.map(\.array) == without.transcoder.parameterBuffers.map(\.array))
  }

  @Test("outlier rows are set apart from the last layer's scale, change training, and clt.h5 keeps them")
  func outliersSetApartAndStored() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let (with, url, shards) = try train(factor: 50, outlierRows: 4, name: "with.h5")
    let (without, old, _) = try train(factor: 0, outlierRows: 4, name: "without.h5")
    let outliers = try #require(with.normalizer.outliers)
    #expect(outliers.thresholds[0] == .infinity)
    #expect(outliers.thresholds[1].isFinite && outliers.weights[1] < 0.01)
    // The scale from the typical rows is larger: the outliers no longer set it.
    #expect(with.normalizer.outputScales[1] > 10 * without.normalizer.outputScales[1])
    #expect(with.normalizer.outputScales[0] == without.normalizer.outputScales[0])
    #expect(with.transcoder.parameterBuffers.map(\.array) != without.transcoder.parameterBuffers.map(\.array))

    let loaded = try CLTFile.load(url: url)
    #expect(loaded.normalizer == with.normalizer)
    #expect(loaded.metadata.configuration.outlierFactor == 50)
    // A file written before the option existed: no attribute, no datasets.
    let file = try HDF5File(url: old, mode: .readWrite)
    try file.removeAttribute("outlier_factor")
    try file.close()
    let older = try CLTFile.load(url: old)
    #expect(older.metadata.configuration.outlierFactor == 0 && older.normalizer.outliers == nil)

    // Held out: the typical tokens' NMSE leaves out the massive rows, and is the NMSE elsewhere.
    let evaluation = try CLTEvaluation.measure(
      with.transcoder, normalizer: with.normalizer,
      stream: try ShardStream(arguments: shards.map(\.path), readStandardInput: false), maxTokens: 256,
      batch: 64)
    let typical = try #require(evaluation.typicalNMSE)
    #expect(typical[0] == evaluation.nmse[0])
    #expect(typical[1] != evaluation.nmse[1])
  }

  @Test("a factor between 0 and 1 is refused before training, naming the option")
  func invalidFactor() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect {
      _ = try train(factor: 0.5, outlierRows: 0, name: "bad.h5")
    } throws: { error in
      "\(error.localizedDescription)".contains("--outlier-factor")
    }
  }
}
