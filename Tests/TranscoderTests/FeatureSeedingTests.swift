import Foundation
import Kernels
import Testing

@testable import Transcoder

/// `CrossLayerTranscoder.seedFeatures`: what each seeded feature computes on its own token and
/// on the batch's mean, what it leaves alone, and that slices of the features start as the whole.
@Suite struct FeatureSeedingTests {
  static let (nLayers, dModel, features, tokens) = (3, 8, 12, 20)

  /// N tokens per layer, uniform around a non-zero offset so that centring on the mean matters.
  static func batch(seed: UInt64, tokens n: Int = tokens) -> [FloatBuffer] {
    var rng = XorShiftGenerator(seed: seed)
    return (0..<nLayers).map { l in
      FloatBuffer((0..<(n * dModel)).map { _ in Float(l + 1) + Float.random(in: -1...1, using: &rng) })
    }
  }

  static func transcoder(slice: Range<Int> = 0..<features) -> CrossLayerTranscoder {
    let clt = CrossLayerTranscoder(
      nLayers: nLayers, dModel: dModel, features: features, seed: 5, slice: slice)
    for l in 0..<nLayers { for j in 0..<dModel { clt.decoderBiases[l][j] = 0.1 * Float(j - l) } }
    return clt
  }

  static func norm(_ w: UnsafePointer<Float>) -> Double {
    (0..<dModel).reduce(0.0) { $0 + Double(w[$1]) * Double(w[$1]) }.squareRoot()
  }

  static func dot(_ a: UnsafePointer<Float>, _ b: [Double]) -> Double {
    b.indices.reduce(0) { $0 + Double(a[$1]) * b[$1] }
  }

  @Test(
    "a seeded feature is a·1 at its token and 0 at the batch's mean, and m firings at a write the token's output"
  )
  func seededFeatureReproducesItsToken() {
    let (d, n, m) = (Self.dModel, Self.tokens, 4.0)
    let clt = Self.transcoder()
    let (x, y) = (Self.batch(seed: 1), Self.batch(seed: 2))
    let normsBefore = (0..<Self.nLayers).map { l in
      (0..<Self.features).map { Self.norm(clt.encoderWeights[l].pointer + $0 * d) }
    }
    let laterDecoders = (0..<Self.nLayers).map { l in
      (l + 1..<Self.nLayers).map { clt.decoder(from: l, to: $0).array }
    }
    clt.seedFeatures(inputs: x, targets: y, tokens: n, activeFeatures: m)
    for l in 0..<Self.nLayers {
      let mean = (0..<d).map { j in (0..<n).reduce(0.0) { $0 + Double(x[l][$1 * d + j]) } / Double(n) }
      for i in 0..<Self.features {
        let t = i * CrossLayerTranscoder.seedTokenStride % n
        let w = clt.encoderWeights[l].pointer + i * d
        let b = Double(clt.encoderBiases[l][i])
        let token = (0..<d).map { Double(x[l][t * d + $0]) }
        let a = Self.dot(w, token) + b
        #expect(a > 0.1, "layer \(l) feature \(i): h = \(a) at its token")
        #expect(abs(Self.dot(w, mean) + b) < 1e-4, "layer \(l) feature \(i): h at the mean")
        let norm = Self.norm(w)
        #expect(abs(norm - normsBefore[l][i]) < 1e-5 * normsBefore[l][i], "the encoder row keeps its norm")
        for j in 0..<d {
          let written =
            m * a * Double(clt.decoder(from: l, to: l)[i * d + j]) + Double(clt.decoderBiases[l][j])
          #expect(abs(written - Double(y[l][t * d + j])) < 1e-4, "layer \(l) feature \(i) column \(j)")
        }
      }
      #expect((l + 1..<Self.nLayers).map { clt.decoder(from: l, to: $0).array } == laterDecoders[l])
    }
  }

  @Test("features seeded in slices, each with its offset, start as the same features seeded whole")
  func slicesMatchTheWhole() {
    let (d, n) = (Self.dModel, Self.tokens)
    let (x, y) = (Self.batch(seed: 1), Self.batch(seed: 2))
    let whole = Self.transcoder()
    whole.seedFeatures(inputs: x, targets: y, tokens: n, activeFeatures: 3)
    for slice in [0..<4, 4..<8, 8..<12] {
      let part = Self.transcoder(slice: slice)
      part.seedFeatures(inputs: x, targets: y, tokens: n, firstFeature: slice.lowerBound, activeFeatures: 3)
      let rows = (slice.lowerBound * d)..<(slice.upperBound * d)
      for l in 0..<Self.nLayers {
        #expect(part.encoderWeights[l].array == Array(whole.encoderWeights[l].array[rows]))
        #expect(part.encoderBiases[l].array == Array(whole.encoderBiases[l].array[slice]))
        #expect(part.decoder(from: l, to: l).array == Array(whole.decoder(from: l, to: l).array[rows]))
      }
    }
  }

  @Test("with one token every input is the mean: no feature has a direction, and none changes")
  func singleTokenChangesNothing() {
    let untouched = Self.transcoder()
    let clt = Self.transcoder()
    clt.seedFeatures(
      inputs: Self.batch(seed: 1, tokens: 1), targets: Self.batch(seed: 2, tokens: 1), tokens: 1,
      activeFeatures: 2)
    #expect(clt.parameterBuffers.map(\.array) == untouched.parameterBuffers.map(\.array))
  }
}
