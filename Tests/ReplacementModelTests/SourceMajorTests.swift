import LanguageModels
import Testing
import Transcoder

@testable import ReplacementModel

/// The replacement's source-major reconstruction is the transcoder's own, bit for bit.
@Suite struct SourceMajorTests {
  @Test("source by source over chunks of rows gives exactly reconstruct(target:from:into:)")
  func sameAsTokenByToken() {
    let t = CrossLayerTranscoder(nLayers: 3, dModel: 8, features: 20, seed: 5, initialThreshold: 0.05)
    for l in 0..<3 {
      for j in 0..<8 { t.decoderBiases[l][j] = Float(j) * 0.1 - Float(l) }
    }
    let rows = 37
    var rng = SplitMix64(seed: 3)
    let inputs = (0..<rows * 8).map { _ in Float(rng.nextUnitDouble() * 4 - 2) }
    let activations = (0..<3).map { l in
      inputs.withUnsafeBufferPointer { t.encode(layer: l, input: $0.baseAddress!, rows: rows) }
    }
    #expect(activations.allSatisfy { !$0.values.isEmpty })
    for target in 0..<3 {
      var expected = [Float](repeating: 0, count: rows * 8)
      var got = [Float](repeating: 1, count: rows * 8)
      t.reconstruct(target: target, from: activations, into: &expected)
      t.reconstructSourceMajor(target: target, from: activations, into: &got)
      #expect(got == expected, "layer \(target)")
    }
  }
}
