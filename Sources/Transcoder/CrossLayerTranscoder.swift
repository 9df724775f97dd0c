import CKernels
import Foundation
import Kernels

/// A cross-layer transcoder (CLT; Ameisen et al. 2025, "Circuit Tracing"): L layers of F features
/// each. Features of layer l read the residual stream's MLP input x[l] and write to the MLP outputs
/// of layer l and every later layer, so that the sum over source layers replaces each MLP.
///
/// Parameters (all `FloatBuffer`s, row-major):
/// - `encoderWeights[l]` W_enc[l] (F, d) and `encoderBiases[l]` b_enc[l] (F);
/// - `logThresholds[l]` logθ[l] (F): the JumpReLU threshold θ = exp(logθ) stays positive;
/// - `decoderWeights[l][l' − l]` W_dec[l→l'] (F, d) for l' ≥ l: row i is feature i's vector in layer l';
/// - `decoderBiases[l']` b_dec[l'] (d);
/// - `skipWeights[l]` W_skip[l] (d, d), input-major, when the transcoder has a skip connection
///   (Paulo et al. 2025, "Transcoders beat sparse autoencoders"; circuit-tracer's `W_skip`): a
///   linear map from the MLP's input to its output that takes the MLP's linear part off the
///   features, which then spend their budget on what is not linear.
///
/// The forward pass is
///   h[l] = x[l] · W_enc[l]ᵀ + b_enc[l]                          (dense, sgemm)
///   a[l] = h[l] ⊙ 1[h[l] > θ[l]]                                 (JumpReLU)
///   ŷ[l'] = b_dec[l'] + Σ_{l ≤ l'} a[l] · W_dec[l→l']            (sparse)
///           + x[l'] · W_skip[l']                                   (dense, sgemm; with a skip)
/// The decoder sum is computed from the active features only: with k active features a token costs
/// O(k · L · d) instead of the O(F · L² · d) of a dense product. On a CPU this is where training
/// wins: a GPU pays the dense product because gathers are slow there, a CPU's gathers are cheap
/// rows of memory, and for L = 12 the decoder holds L(L+1)/2 = 78 matrices against 12 encoders.
public final class CrossLayerTranscoder {
  public let nLayers: Int
  public let dModel: Int
  public let features: Int
  public let encoderWeights: [FloatBuffer]
  public let encoderBiases: [FloatBuffer]
  public let logThresholds: [FloatBuffer]
  public let decoderWeights: [[FloatBuffer]]
  public let decoderBiases: [FloatBuffer]
  /// W_skip[l] (d, d) per layer, or empty: the transcoder has no skip connection.
  public let skipWeights: [FloatBuffer]
  /// Whether ŷ includes the linear skip term x · W_skip.
  public var hasSkip: Bool { !skipWeights.isEmpty }
  /// How pre-activations become activations; JumpReLU unless set.
  public var activation: CLTActivationFunction = .jumpReLU
  /// k for the rank-selected activations (active features per token, on average for BatchTopK).
  public var k: Int = 64

  /// Whether the float32 decoders are held. Attribution loads a transcoder without them and keeps
  /// its own half-precision copy (`HalfDecoders`), since a SmolLM2 CLT's decoders are 2.2 GB.
  public let hasDecoders: Bool

  /// A transcoder whose parameters are all zero (θ = 1), to be filled from a file: drawing random
  /// values only to overwrite them was a seventh of the time of loading a SmolLM2 CLT. Without
  /// `decoders` it holds no decoder weights: it can encode but not reconstruct. With `skip` it
  /// holds W_skip (zero).
  public init(nLayers: Int, dModel: Int, features: Int, decoders: Bool = true, skip: Bool = false) {
    precondition(nLayers > 0 && dModel > 0 && features > 0, "a transcoder needs positive sizes")
    self.nLayers = nLayers
    self.dModel = dModel
    self.features = features
    hasDecoders = decoders
    encoderWeights = (0..<nLayers).map { _ in FloatBuffer(count: features * dModel) }
    encoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: features) }
    logThresholds = (0..<nLayers).map { _ in FloatBuffer(count: features) }
    decoderWeights = (0..<nLayers).map { l in
      decoders ? (l..<nLayers).map { _ in FloatBuffer(count: features * dModel) } : []
    }
    decoderBiases = (0..<nLayers).map { _ in FloatBuffer(count: dModel) }
    skipWeights = skip ? (0..<nLayers).map { _ in FloatBuffer(count: dModel * dModel) } : []
  }

  /// A transcoder with parameters drawn from `seed` alone, so a run is reproducible.
  /// W_enc ~ U(−1/√d, 1/√d) keeps h of order |x|; W_dec ~ U(−1/√(L·F), 1/√(L·F)) keeps the
  /// summed contributions of up to L source layers small at the start (as the paper's
  /// initialisation scales decoders by the number of layers); biases start at zero and every
  /// threshold at `initialThreshold` (training then calibrates the thresholds on the data).
  /// W_skip, with `skip`, starts at zero (as circuit-tracer's and sparsify's do).
  public convenience init(
    nLayers: Int, dModel: Int, features: Int, seed: UInt64, initialThreshold: Float = 0.1, skip: Bool = false
  ) {
    self.init(
      nLayers: nLayers, dModel: dModel, features: features, seed: seed, slice: 0..<features,
      initialThreshold: initialThreshold, skip: skip)
  }

  /// Features `slice` of each layer of the transcoder `init(nLayers:dModel:features:seed:)` makes
  /// with `features` = `total`: the same values, drawn from the same sequence, but only the
  /// slice's rows kept, so that processes sharing the features out start exactly where one
  /// process would, without any of them holding the whole.
  public convenience init(
    nLayers: Int, dModel: Int, features total: Int, seed: UInt64, slice: Range<Int>,
    initialThreshold: Float = 0.1, skip: Bool = false
  ) {
    precondition(initialThreshold > 0 && slice.lowerBound >= 0 && slice.upperBound <= total)
    self.init(nLayers: nLayers, dModel: dModel, features: slice.count, skip: skip)
    var rng = XorShiftGenerator(seed: seed)
    let kept = (slice.lowerBound * dModel)..<(slice.upperBound * dModel)
    func fillUniform(_ buffer: FloatBuffer, bound: Float) {
      for k in 0..<(total * dModel) {
        let value = Float.random(in: -bound...bound, using: &rng)
        if kept.contains(k) { buffer[k - kept.lowerBound] = value }
      }
    }
    let decoderBound = 1 / Float(nLayers * total).squareRoot()
    for weights in encoderWeights { fillUniform(weights, bound: 1 / Float(dModel).squareRoot()) }
    for thresholds in logThresholds {
      thresholds.pointer.update(repeating: Foundation.log(initialThreshold), count: slice.count)
    }
    for row in decoderWeights { for weights in row { fillUniform(weights, bound: decoderBound) } }
  }

  /// Every parameter buffer in one fixed order (per layer W_enc, b_enc, logθ; then W_dec[l→l'] for
  /// l ≤ l'; then b_dec per layer; then W_skip per layer, if any), matching `CLTGradients.buffers`,
  /// so an optimizer can pair them. W_skip comes last so that the other buffers keep the positions
  /// that checkpoints written before it number their Adam moments by.
  public var parameterBuffers: [FloatBuffer] {
    (0..<nLayers).flatMap { [encoderWeights[$0], encoderBiases[$0], logThresholds[$0]] }
      + decoderWeights.flatMap { $0 } + decoderBiases + skipWeights
  }

  /// The positions of the decoder weights in `parameterBuffers`.
  public var decoderBufferIndices: Range<Int> { (3 * nLayers)..<(3 * nLayers + nLayers * (nLayers + 1) / 2) }

  /// W_dec[source→target], (F, d); target ≥ source.
  public func decoder(from source: Int, to target: Int) -> FloatBuffer {
    precondition(source <= target && target < nLayers, "features decode only to their layer and later ones")
    precondition(hasDecoders, "this transcoder was loaded without its decoders")
    return decoderWeights[source][target - source]
  }

  /// ‖W_dec,i^(l)‖ for every feature i of layer l: the norm of its decoder rows into all target
  /// layers l' ≥ l, concatenated. It scales the sparsity penalty so that shrinking a_i while
  /// growing the decoder cannot dodge it (Ameisen et al. 2025, the sparsity term).
  public func decoderNorms(layer l: Int) -> [Float] {
    var norms = [Float](repeating: 0, count: features)
    let d = dModel
    norms.withUnsafeMutableBufferPointer { norms in
      let norms = norms.baseAddress!
      ParallelLoop.forEachChunk(count: features, grain: 512) { range in
        for i in range {
          var s: Double = 0
          for target in l..<self.nLayers {
            s += sum_squares(self.decoder(from: l, to: target).pointer + i * d, d)
          }
          norms[i] = Float(s.squareRoot())
        }
      }
    }
    return norms
  }
}
