import CLTFormat
import Kernels
import LanguageModels
import Transcoder

/// The replacement model of Ameisen et al. 2025 ("Circuit Tracing", §2): each MLP's output is
/// replaced by the cross-layer transcoder's reconstruction. At layer l the transcoder reads the
/// MLP input x[l] of the model being run (attention is recomputed normally), its features a[l]
/// are kept, and layer l's output becomes
///   ŷ[l] = (b_dec[l] + Σ_{l' ≤ l} a[l'] · W_dec[l'→l]) / s_out[l],   a[l] = JumpReLU(s_in[l] · x[l] · W_encᵀ + b_enc)
/// (the s are the clt.h5's normalisation scales).
///
/// With `keepsError` the reconstruction error e[l] = y[l] − ŷ[l] is added back, so the output is the
/// MLP's own and the model is the original one exactly; steering (`steerings`) then changes only
/// what the steered features write: y[l] + (ŷ_steered[l] − ŷ[l]). This is the paper's local
/// replacement model with its error nodes, used for interventions.
///
/// Rows at position 0 keep the model's own MLP output in every mode: that row is the attention sink
/// (the BOS every activation-dump window starts with), which `gpt2-acts` leaves out of the shards,
/// so the transcoder never learnt it.
public final class CLTReplacement: MLPReplacement {
  public let transcoder: CrossLayerTranscoder
  public let normalizer: ActivationNormalizer
  /// Add the reconstruction error back (the output then equals the model's unless steered).
  public let keepsError: Bool
  /// Interventions on features; checked against the transcoder at init.
  public let steerings: [FeatureSteering]
  /// When set, every layer's reconstruction of the unsteered features is compared with the MLP
  /// output it replaces (rows at position 0 left out).
  public var statistics: ReconstructionStatistics?
  /// a[l] of the latest forward or decode call, one entry per layer run so far, before steering.
  public private(set) var activations: [SparseActivations] = []
  private var steered: [SparseActivations] = []
  private var isSteered: [Bool] = []
  private var scaled = FloatBuffer(count: 0)
  private var reconstruction = FloatBuffer(count: 0)

  /// - Throws: `ReplacementError.unknownFeature` if a steering names a layer or feature the
  ///   transcoder lacks.
  public init(
    transcoder: CrossLayerTranscoder, normalizer: ActivationNormalizer, keepsError: Bool,
    steerings: [FeatureSteering] = []
  ) throws {
    for s in steerings { try s.check(against: transcoder) }
    self.transcoder = transcoder
    self.normalizer = normalizer
    self.keepsError = keepsError
    self.steerings = steerings
  }

  public convenience init(file: CLTFile, keepsError: Bool, steerings: [FeatureSteering] = []) throws {
    try self.init(
      transcoder: file.transcoder, normalizer: file.normalizer, keepsError: keepsError, steerings: steerings)
  }

  public func replace(
    layer l: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int,
    positions: RowPositions
  ) {
    let d = transcoder.dModel
    if l == 0 {
      activations.removeAll(keepingCapacity: true)
      steered.removeAll(keepingCapacity: true)
      isSteered.removeAll(keepingCapacity: true)
    }
    precondition(activations.count == l, "layers must be run in order from 0")
    if scaled.count < rows * d {
      scaled = FloatBuffer(count: rows * d)
      reconstruction = FloatBuffer(count: rows * d)
    }
    let inputScale = normalizer.inputScales[l]
    for k in 0..<rows * d { scaled[k] = input[k] * inputScale }
    let a = transcoder.encode(layer: l, input: scaled.pointer, rows: rows)
    activations.append(a)
    let steering = steerings.filter { $0.layer == l }
    steered.append(steering.isEmpty ? a : Self.steer(a, with: steering, positions: positions))
    isSteered.append(!steering.isEmpty)

    let outputScale = 1 / normalizer.outputScales[l]
    if let statistics {
      transcoder.reconstruct(target: l, from: activations, into: reconstruction.pointer)
      transcoder.addSkip(layer: l, input: scaled.pointer, rows: rows, into: reconstruction.pointer)
      for t in 0..<rows where positions.position(ofRow: t) != 0 {
        let row = reconstruction.pointer + t * d
        for j in 0..<d { row[j] *= outputScale }
        statistics.add(
          layer: l, output: output + t * d, reconstruction: row, active: a.offsets[t + 1] - a.offsets[t])
      }
    }
    if keepsError {
      addSteeringEffect(target: l, to: output, rows: rows, positions: positions, scale: outputScale)
    } else {
      transcoder.reconstruct(target: l, from: steered, into: reconstruction.pointer)
      transcoder.addSkip(layer: l, input: scaled.pointer, rows: rows, into: reconstruction.pointer)
      for t in 0..<rows where positions.position(ofRow: t) != 0 {
        let (out, row) = (output + t * d, reconstruction.pointer + t * d)
        for j in 0..<d { out[j] = row[j] * outputScale }
      }
    }
  }

  /// The MLP's output is read for the error (`keepsError`), the statistics, and the rows at
  /// position 0, which keep it; a cached decode call past the prompt needs none of them.
  public func needsMLPOutput(positions: RowPositions) -> Bool {
    keepsError || statistics != nil || positions.firstPosition == 0
  }

  /// output += (Σ_{source ≤ target} (a_steered[source] − a[source]) · W_dec[source→target]) / s_out,
  /// summed over the steered rows only, so an unsteered model is left bit for bit as it was.
  private func addSteeringEffect(
    target: Int, to output: UnsafeMutablePointer<Float>, rows: Int, positions: RowPositions, scale: Float
  ) {
    let sources = (0...target).filter { isSteered[$0] }
    guard !sources.isEmpty else { return }
    let d = transcoder.dModel
    let delta = reconstruction.pointer
    for t in 0..<rows where positions.position(ofRow: t) != 0 {
      let row = delta + t * d
      row.update(repeating: 0, count: d)
      var changed = false
      for source in sources where steered[source].row(t) != activations[source].row(t) {
        let decoder = transcoder.decoder(from: source, to: target).pointer
        let new = steered[source].row(t)
        let old = activations[source].row(t)
        sparseRowsAccumulate(out: row, indices: new.indices, values: new.values, decoder: decoder, dModel: d)
        sparseRowsAccumulate(
          out: row, indices: old.indices, values: ArraySlice(old.values.map { -$0 }), decoder: decoder,
          dModel: d)
        changed = true
      }
      if changed {
        let out = output + t * d
        for j in 0..<d { out[j] += row[j] * scale }
      }
    }
  }

  /// The activations with `steerings` (all of one layer) applied at each row's position.
  static func steer(
    _ a: SparseActivations, with steerings: [FeatureSteering], positions: RowPositions
  ) -> SparseActivations {
    var offsets = [0]
    var indices: [Int32] = []
    var values: [Float] = []
    for t in 0..<a.rows {
      let row = a.row(t)
      let new = FeatureSteering.apply(
        steerings, indices: row.indices, values: row.values, position: positions.position(ofRow: t))
      indices += new.indices
      values += new.values
      offsets.append(indices.count)
    }
    return SparseActivations(offsets: offsets, indices: indices, values: values)
  }
}
