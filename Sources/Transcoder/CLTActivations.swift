import Kernels

/// What a forward pass over N tokens keeps for the loss and the backward pass, and the scratch it
/// reuses from one training step to the next (a step at GPT-2-small sizes would otherwise map and
/// fault in hundreds of megabytes).
///
/// Per layer the encoder's output is kept sparse, twice:
/// - by token (compressed rows, CSR): which features each token has, as `SparseActivations`;
/// - by feature (compressed columns, CSC): which tokens each feature has. The decoder and the
///   gradients run feature by feature, so each decoder row is read once per batch and applied to
///   all of its tokens, instead of once per token: at N = 4096 and 64 of 6144 features firing a
///   feature serves about 40 tokens, and the decoder (1.4 GB at GPT-2-small sizes) is the memory
///   traffic that bounds a step.
/// Both hold the active features (a = h) and, for the JumpReLU threshold's pseudo-gradient, the
/// "near misses" within ε/2 below θ (a = 0, h kept).
public final class CLTActivations {
  /// Number of tokens N.
  public let tokens: Int
  public let nLayers: Int
  public let features: Int
  /// θ[l] per feature at the time of the forward pass (for rank-selected activations, the
  /// per-layer reference threshold repeated; see `CLTActivationFunction`).
  public internal(set) var thresholds: [[Float]]
  /// ŷ[l'] in normalised units, per layer (N, d).
  public let reconstructions: [FloatBuffer]

  // MARK: - Per layer, by feature (CSC)

  /// F + 1 offsets into the entry arrays: feature i's entries are featureOffsets[i] ..< [i + 1].
  var featureOffsets: [[Int]]
  /// The token of each entry, in increasing order within a feature.
  var entryTokens: [[Int32]]
  /// a of each entry (0 for a near miss).
  var entryValues: [[Float]]
  /// h of each entry.
  var entryPre: [[Float]]
  /// Number of tokens feature i fired on in this batch.
  public internal(set) var firingCounts: [[Int32]]
  /// Per layer, (token, feature) pairs that fired.
  public internal(set) var activeCounts: [Int]

  // MARK: - Per layer, by token (CSR)

  /// The active features of each token (near misses left out).
  public internal(set) var active: [SparseActivations]

  // MARK: - Dead features (the pre-activation term)

  /// Per layer, the features the pre-activation term applies to; nil: none.
  var dead: [[Int32]]
  /// Per layer, Σ over dead features i and tokens with h ≤ θref_i of (θref_i − h).
  var deadPreActivationSum: [Double]
  /// Per layer and dead feature (same order as `dead`), the number of tokens with h ≤ θref.
  var deadBelowCounts: [[Int32]]
  /// Per layer, (dead feature position in `dead[l]`, token) where h > θref: the exceptions to
  /// "every token pulls the feature up", subtracted from a column sum in the encoder gradient.
  var deadAbove: [[(slot: Int32, token: Int32)]]

  /// The AuxK term's selection and scratch (`CrossLayerTranscoder+AuxK`).
  lazy var auxiliary = AuxiliaryActivations(nLayers: nLayers)

  /// For rank-selected activations: per layer, the smallest activation that was selected in this
  /// batch (BatchTopK's batch threshold; for TopK the mean over tokens of each token's k-th value).
  public internal(set) var selectedMinimum: [Float]

  // MARK: - Filled by the loss

  /// Per layer, Σ_n ‖ŷ[l]_n − y[l]_n‖² (normalised units).
  public internal(set) var squaredErrors: [Double]
  /// Per layer, Σ_n (ŷ[l]_n − y[l]_n), (d) each: with `squaredErrors` it gives the residual's
  /// variance, for the explained variance.
  public internal(set) var residualSums: [[Double]]

  /// ‖W_dec[l→l']_i‖² at `[l'][l]`, (F) each, for the features with entries (others are stale):
  /// the decoder pass reads those rows anyway, and the sparsity penalty needs ‖W_dec,i‖, which
  /// would otherwise cost another pass over the whole decoder.
  let decoderRowSquares: [[FloatBuffer]]
  /// The transcoder whose decoder rows, as they are now, `decoderRowSquares` measures, set by a
  /// backward pass that took Adam's step on every row (`backward(…, decoderStep:)`, which has
  /// each new row in registers). The next forward pass of that transcoder into these activations
  /// then takes the squares instead of reading the whole decoder again (9% of a step at the demo's
  /// shape), and clears it. Whatever else changes the decoder in between must clear it too;
  /// `CLTTrainer` changes nothing else.
  var decoderRowSquaresAreCurrent: ObjectIdentifier?

  /// h of one layer at a time, (N, F).
  let preActivationScratch: FloatBuffer
  /// What choosing one layer's features needs besides h.
  let selectionScratch = SelectionScratch()

  /// Empty activations for `tokens` tokens of a transcoder of this shape.
  public init(tokens: Int, nLayers: Int, dModel: Int, features: Int) {
    self.tokens = tokens
    self.nLayers = nLayers
    self.features = features
    thresholds = Array(repeating: [], count: nLayers)
    reconstructions = (0..<nLayers).map { _ in FloatBuffer(count: tokens * dModel) }
    featureOffsets = Array(repeating: [], count: nLayers)
    entryTokens = Array(repeating: [], count: nLayers)
    entryValues = Array(repeating: [], count: nLayers)
    entryPre = Array(repeating: [], count: nLayers)
    firingCounts = Array(repeating: [], count: nLayers)
    activeCounts = Array(repeating: 0, count: nLayers)
    active = Array(
      repeating: SparseActivations(offsets: [Int](repeating: 0, count: tokens + 1), indices: [], values: []),
      count: nLayers)
    dead = Array(repeating: [], count: nLayers)
    deadPreActivationSum = Array(repeating: 0, count: nLayers)
    deadBelowCounts = Array(repeating: [], count: nLayers)
    deadAbove = Array(repeating: [], count: nLayers)
    selectedMinimum = Array(repeating: 0, count: nLayers)
    squaredErrors = Array(repeating: 0, count: nLayers)
    residualSums = Array(repeating: [], count: nLayers)
    decoderRowSquares = (0..<nLayers).map { target in (0...target).map { _ in FloatBuffer(count: features) } }
    preActivationScratch = FloatBuffer(count: tokens * features)
  }

  /// ‖W_dec,i^(l)‖ (over every target layer) of each feature i of layer l that has entries, as
  /// the forward pass found them; 0 for the others.
  func decoderNorms(layer l: Int) -> [Float] {
    var norms = [Float](repeating: 0, count: features)
    for i in 0..<features where featureOffsets[l][i] < featureOffsets[l][i + 1] {
      var s: Float = 0
      for target in l..<nLayers { s += decoderRowSquares[target][l][i] }
      norms[i] = s.squareRoot()
    }
    return norms
  }

  /// Number of (token, feature) pairs active in layer `layer`.
  public func activeCount(layer: Int) -> Int { activeCounts[layer] }

  /// Number of entries (active features and near misses) in layer `layer`.
  var entryCount: [Int] { entryTokens.map(\.count) }
}
