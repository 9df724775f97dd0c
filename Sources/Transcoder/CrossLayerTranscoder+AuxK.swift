import CKernels
import Foundation
import Kernels

/// The AuxK auxiliary loss (Gao et al. 2024, "Scaling and evaluating sparse autoencoders", A.2),
/// adapted to a CLT: the dead features of each layer are made to model what the live ones miss,
/// so that they get a gradient again and the useful ones start firing.
///
/// For each source layer l, per token, the `auxiliaryK` largest positive pre-activations h among
/// the layer's dead features (`dead` in `forward`) are the auxiliary activations a_aux[l] (a_aux = h
/// there, 0 elsewhere; the main selection is not consulted). With e[l'] = y[l'] − ŷ[l'] the main
/// reconstruction error, a constant (stop-gradient), and ê[l'] = Σ_{l ≤ l'} a_aux[l] · W_dec[l→l']
/// (no bias), the term is
///
///   auxk = α · d · Σ_{l' ∈ T} ‖e[l'] − ê[l']‖² / ‖e[l']‖²        (norms over the whole batch)
///
/// over T, the targets at or after the first layer with a dead feature (none: the term is 0 and
/// costs nothing). Normalising by ‖e‖² follows Gao: the term is the NMSE of the error's
/// reconstruction, so its pull does not fade as the main error shrinks during training. The factor
/// d (= d_model) puts it in the units of the main MSE, which sums over layers the squared error of
/// targets scaled to a mean squared norm of d, i.e. d × NMSE per layer: α then weighs the
/// auxiliary NMSE against the main NMSE as Gao's α = 1/32 does. The norms are ratios of sums over
/// the batch, not means of per-token ratios, so that a token the CLT already reconstructs well
/// does not dominate through its tiny ‖e‖²; the processes of a data-parallel run use the same,
/// global, ‖e‖² (`auxiliaryErrorSquares`).
///
/// Gradients (G[l'] = ∂auxk/∂ê[l'] = −2αd (e[l'] − ê[l']) / ‖e[l']‖²):
///   ∂auxk/∂W_dec[l→l']_i = Σ_n a_aux[l]_{n,i} G[l']_n,
///   ∂auxk/∂h[l]_{n,i} = Σ_{l' ≥ l} W_dec[l→l']_i · G[l']_n on the selected entries (∂a_aux/∂h = 1),
/// which enter W_enc[l]_i and b_enc[l]_i as the main term's do. Nothing reaches ŷ, b_dec or θ.
///
/// Cost: selecting reads each dead feature's h once per token, in the forward's layer loop while h
/// is still in its scratch; decoding and its gradients run over the selected entries only, at most
/// N·k_aux per layer with dead features, i.e. O(N · k_aux · (L − l) · d) for a layer l with dead
/// features: dead features of the last layers, where they gather, are cheap.
extension CrossLayerTranscoder {
  /// Keeps layer l's auxiliary activations from its pre-activations h (N, F), while they are in
  /// the forward's scratch; `act.dead[l]` must hold the layer's dead features.
  func selectAuxiliary(
    layer l: Int, preActivations h: UnsafePointer<Float>, rows n: Int, into act: CLTActivations
  ) {
    let aux = act.auxiliary
    if l == 0 {
      aux.firstLayer = nil
      aux.errorSquares = nil
    }
    let dead = act.dead[l]
    let kAux = min(aux.k, dead.count)
    aux.offsets[l].refill(count: dead.count + 1, with: 0)
    aux.tokens[l].removeAll(keepingCapacity: true)
    aux.values[l].removeAll(keepingCapacity: true)
    guard kAux > 0 else { return }
    if aux.firstLayer == nil { aux.firstLayer = l }
    let f = features
    let blocks = max(1, min(BLASThreads.current, n / 32))
    let blockSize = (n + blocks - 1) / blocks
    var picked = [[(slot: Int32, token: Int32, value: Float)]](repeating: [], count: blocks)
    picked.withUnsafeMutableBufferPointer { out in
      let out = out.baseAddress!
      ParallelLoop.forEachIndex(count: blocks) { b in
        var values = [Float](repeating: 0, count: dead.count)
        var slots = [Int32](repeating: 0, count: dead.count)
        var scratch = [Float](repeating: 0, count: dead.count)
        for t in (b * blockSize)..<min(n, (b + 1) * blockSize) {
          let row = h + t * f
          var c = 0
          for (s, i) in dead.enumerated() where row[Int(i)] > 0 {
            values[c] = row[Int(i)]
            slots[c] = Int32(s)
            c += 1
          }
          guard c > kAux else {
            for q in 0..<c { out[b].append((slots[q], Int32(t), values[q])) }
            continue
          }
          // The kAux largest: those above the kAux-th value, then ties with it until kAux are kept.
          let kth = scratch.withUnsafeMutableBufferPointer { kth_largest(values, c, kAux, $0.baseAddress!) }
          var ties = kAux - (0..<c).filter { values[$0] > kth }.count
          for q in 0..<c where values[q] >= kth {
            if values[q] == kth {
              guard ties > 0 else { continue }
              ties -= 1
            }
            out[b].append((slots[q], Int32(t), values[q]))
          }
        }
      }
    }
    // By dead feature (CSC), tokens in increasing order: the blocks are in token order.
    var offsets = aux.offsets[l]
    for block in picked { for entry in block { offsets[Int(entry.slot) + 1] += 1 } }
    for s in 0..<dead.count { offsets[s + 1] += offsets[s] }
    let total = offsets[dead.count]
    var next = offsets
    var tokens = [Int32](repeating: 0, count: total)
    var values = [Float](repeating: 0, count: total)
    for block in picked {
      for entry in block {
        let e = next[Int(entry.slot)]
        next[Int(entry.slot)] += 1
        tokens[e] = entry.token
        values[e] = entry.value
      }
    }
    aux.offsets[l] = offsets
    aux.tokens[l] = tokens
    aux.values[l] = values
  }

  /// ê[l'] = Σ_{l ≤ l'} a_aux[l] · W_dec[l→l'] for the targets of the term, each dead feature's
  /// decoder row read once and added to the rows of its tokens (as `decodeAll`).
  func decodeAuxiliary(_ act: CLTActivations) {
    let aux = act.auxiliary
    guard let first = aux.firstLayer else { return }
    let (n, d) = (act.tokens, dModel)
    let outputs = (first..<nLayers).map { aux.reconstruction(target: $0, count: n * d).pointer }
    ParallelLoop.forEachIndex(count: nLayers - first) { q in
      let target = self.nLayers - 1 - q
      let out = outputs[target - first]
      out.update(repeating: 0, count: n * d)
      for source in first...target {
        let w = self.decoder(from: source, to: target).pointer
        let (dead, offsets) = (act.dead[source], aux.offsets[source])
        aux.tokens[source].withUnsafeBufferPointer { tokens in
          aux.values[source].withUnsafeBufferPointer { values in
            for (slot, i) in dead.enumerated() where offsets[slot] < offsets[slot + 1] {
              let first = offsets[slot]
              _ = decoder_row_scatter(
                out, w + Int(i) * d, tokens.baseAddress! + first, values.baseAddress! + first,
                offsets[slot + 1] - first, d)
            }
          }
        }
      }
    }
  }

  /// Per target layer, ‖e[l']‖² = Σ_n ‖y[l']_n − ŷ[l']_n‖² over this process's tokens (0 outside the
  /// term's targets), from a forward pass's ŷ and `targets` y (N, d): what processes sharing a
  /// batch average and hand back through `setAuxiliaryErrorSquares`, so that every one of them
  /// normalises by the whole batch's error. One process needs neither: the loss uses the squared
  /// errors it computes anyway.
  public func auxiliaryErrorSquares(_ act: CLTActivations, targets: [FloatBuffer]) -> [Double] {
    var squares = [Double](repeating: 0, count: nLayers)
    guard let first = act.auxiliary.firstLayer else { return squares }
    let count = act.tokens * dModel
    for target in first..<nLayers {
      let (y, yHat) = (targets[target].pointer, act.reconstructions[target].pointer)
      var s: Double = 0
      for m in 0..<count {
        let r = Double(y[m] - yHat[m])
        s += r * r
      }
      squares[target] = s
    }
    return squares
  }

  /// The AuxK term (see above) of a forward pass whose main loss terms have been computed (its
  /// `squaredErrors` are ‖e‖² unless `setAuxiliaryErrorSquares` gave others); with `gradients`,
  /// also G[l'] = ∂auxk/∂ê[l'] into the scratch of the auxiliary activations.
  func auxiliaryTerm(
    _ act: CLTActivations, targets: [FloatBuffer], coefficient alpha: Float, gradients: Bool
  ) -> Double {
    let aux = act.auxiliary
    guard alpha > 0, let first = aux.firstLayer else { return 0 }
    let (n, d) = (act.tokens, dModel)
    let squares = aux.errorSquares ?? act.squaredErrors
    let errorGradients = (first..<nLayers).map {
      gradients ? aux.errorGradient(target: $0, count: n * d).pointer : nil
    }
    let reconstructions = (first..<nLayers).map { aux.reconstruction(target: $0, count: n * d).pointer }
    var terms = [Double](repeating: 0, count: nLayers - first)
    terms.withUnsafeMutableBufferPointer { terms in
      let terms = terms.baseAddress!
      ParallelLoop.forEachIndex(count: nLayers - first) { q in
        let target = first + q
        guard squares[target] > 0 else { return }
        let eHat = reconstructions[q]
        let (y, yHat) = (targets[target].pointer, act.reconstructions[target].pointer)
        let scale = Double(alpha) * Double(d) / squares[target]
        let gScale = Float(-2 * scale)
        var s: Double = 0
        for m in 0..<(n * d) {
          let r = (y[m] - yHat[m]) - eHat[m]
          s += Double(r * r)
          errorGradients[q]?[m] = gScale * r
        }
        terms[q] = scale * s
      }
    }
    return terms.reduce(0, +)
  }

  /// The AuxK term's decoder gradients, before the main backward pass's decoder rows (which add
  /// theirs to these): each selected dead feature's rows of ∂W_dec are written into `grads` and
  /// marked in `grads.auxiliaryRows`, and ∂auxk/∂a of its entries kept for
  /// `auxiliaryEncoderGradient`. Every row reads W_dec before any is updated, as the main pass's
  /// own rows do. Returns the term.
  func auxiliaryDecoderBackward(
    _ act: CLTActivations, targets: [FloatBuffer], coefficient alpha: Float, into grads: CLTGradients
  ) -> Double {
    for marks in grads.auxiliaryRows { marks.update(repeating: 0, count: features) }
    let value = auxiliaryTerm(act, targets: targets, coefficient: alpha, gradients: true)
    let aux = act.auxiliary
    aux.clearEntryGradients()
    guard alpha > 0, let first = aux.firstLayer else { return value }
    let d = dModel
    let errorGradients = (first..<nLayers).map {
      aux.errorGradient(target: $0, count: act.tokens * d).pointer
    }
    aux.allocateEntryGradients()
    for l in first..<nLayers where !aux.tokens[l].isEmpty {
      let (dead, offsets, marks) = (act.dead[l], aux.offsets[l], grads.auxiliaryRows[l])
      let gradA = aux.entryGradients(layer: l)!
      aux.tokens[l].withUnsafeBufferPointer { tokens in
        aux.values[l].withUnsafeBufferPointer { values in
          let (tokens, values) = (tokens.baseAddress!, values.baseAddress!)
          ParallelLoop.forEachChunk(count: dead.count, grain: 8) { slots in
            for slot in slots where offsets[slot] < offsets[slot + 1] {
              let i = Int(dead[slot])
              let (start, count) = (offsets[slot], offsets[slot + 1] - offsets[slot])
              (gradA + start).update(repeating: 0, count: count)
              for target in l..<self.nLayers {
                _ = decoder_row_backward(
                  self.decoder(from: l, to: target).pointer + i * d, errorGradients[target - first],
                  tokens + start, values + start, count, d, 0, 0,
                  grads.decoderWeights[l][target - l].pointer + i * d, gradA + start)
              }
              marks[i] = 1
            }
          }
        }
      }
    }
    return value
  }

  /// Adds the AuxK term's gradients of layer l's encoder, after the main pass has written them:
  /// ∂auxk/∂h = ∂auxk/∂a on the selected entries.
  func auxiliaryEncoderGradient(
    _ act: CLTActivations, layer l: Int, input: FloatBuffer, into grads: CLTGradients
  ) {
    let aux = act.auxiliary
    guard !aux.tokens[l].isEmpty, let gradA = aux.entryGradients(layer: l) else { return }
    let (dead, offsets, marks) = (act.dead[l], aux.offsets[l], grads.auxiliaryRows[l])
    let (tokens, d) = (aux.tokens[l], dModel)
    let x = input.pointer
    let (gw, gb) = (grads.encoderWeights[l].pointer, grads.encoderBiases[l].pointer)
    ParallelLoop.forEachChunk(count: dead.count, grain: 8) { slots in
      for slot in slots where marks[Int(dead[slot])] != 0 {
        let i = Int(dead[slot])
        for e in offsets[slot]..<offsets[slot + 1] {
          row_axpy(gw + i * d, x + Int(tokens[e]) * d, gradA[e], d)
          gb[i] += gradA[e]
        }
      }
    }
  }
}

extension CLTActivations {
  /// k_aux: per layer and token, how many of the dead features' largest positive pre-activations
  /// the AuxK term reconstructs the error with (0: no term). Set before `forward`.
  public var auxiliaryK: Int {
    get { auxiliary.k }
    set { auxiliary.k = newValue }
  }

  /// ‖e[l']‖² per target over the whole batch (`CrossLayerTranscoder.auxiliaryErrorSquares` summed
  /// or averaged over the processes sharing it), for the AuxK term of this forward pass to
  /// normalise by instead of this process's own. The next forward pass forgets it.
  public func setAuxiliaryErrorSquares(_ squares: [Double]) { auxiliary.errorSquares = squares }

  /// Per layer, the (token, dead feature) pairs the AuxK term selected in the last forward pass.
  public func auxiliaryCount(layer: Int) -> Int { auxiliary.tokens[layer].count }
}

/// What the AuxK term keeps of a forward pass for its loss and backward pass, and its scratch,
/// reused from step to step like the rest of `CLTActivations`.
final class AuxiliaryActivations {
  var k = 0
  /// Per layer, dead.count + 1 offsets into `tokens` and `values`: the entries of the dead feature
  /// at position s of `dead[l]` are offsets[s] ..< offsets[s + 1], tokens increasing.
  var offsets: [[Int]]
  var tokens: [[Int32]]
  /// a_aux = h of each entry.
  var values: [[Float]]
  /// The first layer with dead features in the last forward pass; nil: no term.
  var firstLayer: Int?
  /// Per target, ‖e‖² to normalise by when the processes sharing the batch supplied it.
  var errorSquares: [Double]?
  /// ê[l'] and G[l'] = ∂auxk/∂ê[l'], (N, d) each, made for the targets that need them.
  private var reconstructions: [FloatBuffer?]
  private var errorGradients: [FloatBuffer?]
  private var entryGradientBuffer = FloatBuffer(count: 0)
  private var entryGradientStarts: [Int] = []

  init(nLayers: Int) {
    offsets = Array(repeating: [0], count: nLayers)
    tokens = Array(repeating: [], count: nLayers)
    values = Array(repeating: [], count: nLayers)
    reconstructions = Array(repeating: nil, count: nLayers)
    errorGradients = Array(repeating: nil, count: nLayers)
  }

  func reconstruction(target: Int, count: Int) -> FloatBuffer { Self.buffer(&reconstructions[target], count) }

  func errorGradient(target: Int, count: Int) -> FloatBuffer { Self.buffer(&errorGradients[target], count) }

  /// Sizes the scratch of ∂auxk/∂a for this forward pass's entries, every layer's at once (the
  /// decoder's part of the backward pass fills them all before the encoders' part reads them).
  func allocateEntryGradients() {
    entryGradientStarts = [0]
    for layer in tokens { entryGradientStarts.append(entryGradientStarts.last! + layer.count) }
    let total = entryGradientStarts.last!
    if entryGradientBuffer.count < total { entryGradientBuffer = FloatBuffer(count: total) }
  }

  /// Forgets the last step's ∂auxk/∂a: until `allocateEntryGradients`, there are none.
  func clearEntryGradients() { entryGradientStarts = [] }

  /// ∂auxk/∂a of each entry of layer l (after `allocateEntryGradients`; nil before), not cleared.
  func entryGradients(layer l: Int) -> UnsafeMutablePointer<Float>? {
    entryGradientStarts.isEmpty ? nil : entryGradientBuffer.pointer + entryGradientStarts[l]
  }

  private static func buffer(_ slot: inout FloatBuffer?, _ count: Int) -> FloatBuffer {
    if let buffer = slot, buffer.count == count { return buffer }
    let made = FloatBuffer(count: count)
    slot = made
    return made
  }
}
