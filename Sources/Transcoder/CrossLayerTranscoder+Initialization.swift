import CKernels
import Foundation
import Kernels

/// How training starts each feature (`clt-fit --init`).
public enum FeatureInitialization: String, Sendable, CaseIterable {
  /// Each feature's encoder points at one token of the first batch and its own layer's decoder
  /// writes that token's output (`CrossLayerTranscoder.seedFeatures`).
  case tokens
  /// The random encoders and decoders of `CrossLayerTranscoder.init(nLayers:dModel:features:seed:)`.
  case random
}

// MARK: - Features seeded from tokens

extension CrossLayerTranscoder {
  /// Tokens of the first batch are this far apart for consecutive features: a prime, so that the
  /// features spread over the whole batch rather than its first rows.
  static let seedTokenStride = 7919

  /// Points every feature i of layer l at one token t of the given batch: W_enc[l] row i becomes
  /// c = x[l][t] − x̄[l] (the token's input from the batch's mean) at the row's present norm, and
  /// b_enc[l][i] = −W_enc[l]·x̄[l], so that h_i = a on token t and 0 on an average token. Its
  /// decoder into its own layer, W_dec[l→l] row i, becomes (y[l][t] − b_dec[l]) / (m·a): firing
  /// at a it writes 1/m of that token's output, where m is the active features per token the run
  /// aims at. Decoders into later layers and the biases of features whose token is the mean stay
  /// as they were.
  ///
  /// Why: a random W_enc's "encoder as the decoder's transpose" (the TopK SAE's initialisation)
  /// assumes that the encoder reads and the decoder writes one space, but a transcoder reads the
  /// MLP's input and writes its output. Starting each feature on a real token is the
  /// transcoder's analogue. On SmolLM2 (docs/BENCHMARKS.md) it reached held-out NMSE 0.3386 at
  /// L0 28.0 against the random start's 0.3458 at L0 32.6 after 245,760 tokens, with fewer dead
  /// features in the worst layer.
  ///
  /// Feature i of this transcoder is feature `firstFeature + i` of the whole dictionary, and the
  /// token is chosen from that global index, so slices of the features (`--shard-features`)
  /// start exactly where one process holding them all would. Call after b_dec is set, and
  /// before the JumpReLU thresholds are calibrated.
  /// inputs[l], targets[l] (N, d), scaled.
  public func seedFeatures(
    inputs: [FloatBuffer], targets: [FloatBuffer], tokens n: Int, firstFeature: Int = 0,
    activeFeatures m: Double
  ) {
    precondition(n > 0 && m > 0 && inputs.count == nLayers && targets.count == nLayers)
    let d = dModel
    for l in 0..<nLayers {
      let x = inputs[l].pointer
      let y = targets[l].pointer
      var mean = [Double](repeating: 0, count: d)
      for t in 0..<n { for j in 0..<d { mean[j] += Double(x[t * d + j]) } }
      for j in 0..<d { mean[j] /= Double(n) }
      let encoder = encoderWeights[l].pointer
      let encoderBias = encoderBiases[l].pointer
      let ownDecoder = decoder(from: l, to: l).pointer
      let decoderBias = decoderBiases[l].pointer
      mean.withUnsafeBufferPointer { mean in
        let mean = mean.baseAddress!
        ParallelLoop.forEachChunk(count: features, grain: 64) { range in
          var centred = [Double](repeating: 0, count: d)
          for i in range {
            let t = (firstFeature + i) * Self.seedTokenStride % n
            var squares: Double = 0
            for j in 0..<d {
              centred[j] = Double(x[t * d + j]) - mean[j]
              squares += centred[j] * centred[j]
            }
            guard squares > 0 else { continue }
            let w = encoder + i * d
            let scale = sum_squares(w, d).squareRoot() / squares.squareRoot()
            var offset: Double = 0
            for j in 0..<d {
              w[j] = Float(centred[j] * scale)
              offset += Double(w[j]) * mean[j]
            }
            encoderBias[i] = Float(-offset)
            let divisor = m * scale * squares
            for j in 0..<d {
              ownDecoder[i * d + j] = Float((Double(y[t * d + j]) - Double(decoderBias[j])) / divisor)
            }
          }
        }
      }
    }
  }
}

// MARK: - Initial thresholds

extension CrossLayerTranscoder {
  /// Sets every JumpReLU threshold so that its feature fires on about `fraction` of the given
  /// tokens: θ_i lies halfway between the ⌈fraction·N⌉-th and the next largest h_i over them (at
  /// least `minimum`, as θ > 0). Halfway, not at the value itself: a threshold equal to a token's
  /// h is a tie that the last bit of rounding decides, and processes computing h in blocks of
  /// other sizes (data-parallel training) would then disagree on whether it fires.
  /// With random encoders a single initial θ fires a large, arbitrary share of features (43% for
  /// θ = 0.1 on GPT-2-sized inputs), which makes the first steps dense and slow; calibrating on
  /// the first batch starts every feature at the same firing rate (as Anthropic's January 2025
  /// update initialises encoder biases), so training starts at a chosen L0 = fraction·F.
  /// inputs[l] (N, d), scaled.
  public func calibrateThresholds(
    inputs: [FloatBuffer], tokens n: Int, fraction: Double, minimum: Float = 1e-3
  ) {
    precondition(n > 0 && fraction > 0 && fraction <= 1)
    let rank = max(1, min(n, Int((fraction * Double(n)).rounded(.up))))
    let h = FloatBuffer(count: n * features)
    for l in 0..<nLayers {
      linearTransposedForward(
        out: h.pointer, inp: inputs[l].pointer, weight: encoderWeights[l].pointer,
        bias: encoderBiases[l].pointer,
        rows: n, inDim: dModel, outDim: features)
      let out = logThresholds[l].pointer
      let f = features
      ParallelLoop.forEachChunk(count: f, grain: 64) { range in
        var column = [Float](repeating: 0, count: n)
        var scratch = [Float](repeating: 0, count: n)
        for i in range {
          for t in 0..<n { column[t] = h[t * f + i] }
          let kth = scratch.withUnsafeMutableBufferPointer { kth_largest(column, n, rank, $0.baseAddress!) }
          let next =
            rank < n
            ? scratch.withUnsafeMutableBufferPointer { kth_largest(column, n, rank + 1, $0.baseAddress!) }
            : kth
          out[i] = Foundation.log(max(kth / 2 + next / 2, minimum))
        }
      }
    }
  }
}
