import CKernels
import Foundation
import Kernels
import Testing

@testable import Transcoder

/// The decoder-row kernels that the training passes spend most of their time in, against plain
/// loops, at every vector width this CPU has (AVX-512, AVX2, plain C). The transcoder tests use
/// d = 8, which only reaches the kernels' tail columns; these use a d with whole chunks of columns
/// (one of 64 at AVX-512's width, two of 32 at AVX2's) and a tail, and more entries than one
/// block of 64.
@Suite struct DecoderRowKernelTests {
  static let d = 70
  static let tokens = 300
  /// The vector widths in floats the kernels can be run at here, widest first.
  static let widths = [16, 8, 1].filter { $0 <= decoder_widest_vector() }

  static func random(_ count: Int, _ rng: inout XorShiftGenerator) -> [Float] {
    (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
  }

  /// `count` distinct increasing tokens, every third entry a near miss (a = 0).
  static func entries(_ count: Int, _ rng: inout XorShiftGenerator) -> (tokens: [Int32], values: [Float]) {
    var chosen = Set<Int32>()
    while chosen.count < count { chosen.insert(Int32.random(in: 0..<Int32(tokens), using: &rng)) }
    let values = (0..<count).map { $0 % 3 == 2 ? 0 : Float.random(in: 0.1...3, using: &rng) }
    return (chosen.sorted(), values)
  }

  @Test(
    "decoder_row_backward: ∂a = w·g[token] accumulated, ∂w = [∂w] + scale·w + Σ a·g[token], |∂w|² returned",
    arguments: [0, 1, 63, 64, 65, 150], [false, true])
  func backwardMatchesDefinition(count: Int, accumulate: Bool) {
    let d = Self.d
    var rng = XorShiftGenerator(seed: UInt64(100 + count))
    let (w, g, tokens, values, before, prior) = Self.rowInputs(count, accumulate, &rng)
    let scale: Float = 0.37
    let expected = Self.expected(w, g, tokens, values, scale, accumulate ? prior : nil, before)
    for floats in Self.widths {
      var (row, gradA, gradRow) = (w, before, prior)
      let squares = decoder_row_backward_at(
        Int32(floats), &row, g, tokens, values, count, d, scale, accumulate ? 1 : 0, &gradRow, &gradA, nil,
        nil, nil, nil)
      for j in 0..<d {
        #expect(abs(Double(gradRow[j]) - expected.row[j]) < 1e-4, "\(floats) floats: ∂w[\(j)]")
      }
      #expect(row == w, "\(floats) floats: without Adam the row is only read")
      for e in 0..<count {
        #expect(abs(Double(gradA[e]) - expected.gradA[e]) < 1e-4, "\(floats) floats: ∂a[\(e)]")
      }
      #expect(abs(squares - expected.squares) <= 1e-5 * max(1, expected.squares), "\(floats) floats: |∂w|²")
    }
    var gradA = before
    var gradRow = prior
    decoder_row_backward(w, g, tokens, values, count, d, scale, accumulate ? 1 : 0, &gradRow, &gradA)
    for e in 0..<count {
      #expect(
        abs(Double(gradA[e]) - expected.gradA[e]) < 1e-4, "the widest path, as training calls it: ∂a[\(e)]")
    }
  }

  @Test(
    "decoder_row_backward_adam: the same ∂a and |∂w|², and Adam's step on w, m and v from clip·∂w",
    arguments: [0, 1, 64, 65, 150], [false, true])
  func backwardWithAdamMatchesDefinition(count: Int, accumulate: Bool) {
    let d = Self.d
    var rng = XorShiftGenerator(seed: UInt64(200 + count))
    let (w, g, tokens, values, before, prior) = Self.rowInputs(count, accumulate, &rng)
    let m0 = Self.random(d, &rng).map { $0 * 0.1 }
    let v0 = Self.random(d, &rng).map { $0 * $0 * 0.01 }
    var step = adam_step(scale: 0.3, b1: 0.9, b2: 0.999, lr: 0.01, inv_c2: 1 / (1 - 0.999 * 0.999), eps: 1e-8)
    let scale: Float = 0.37
    let expected = Self.expected(w, g, tokens, values, scale, accumulate ? prior : nil, before)
    for floats in Self.widths + [0] {
      var (row, m, v, gradA, scratch) = (w, m0, v0, before, prior)
      var newSquares: Float = .nan
      let squares =
        floats == 0
        ? decoder_row_backward_adam(
          &row, g, tokens, values, count, d, scale, accumulate ? 1 : 0, &scratch, &gradA, &step, &m, &v,
          &newSquares)
        : decoder_row_backward_at(
          Int32(floats), &row, g, tokens, values, count, d, scale, accumulate ? 1 : 0, &scratch, &gradA,
          &step,
          &m, &v, &newSquares)
      let name = floats == 0 ? "the widest path" : "\(floats) floats"
      var stepped = 0.0
      for j in 0..<d {
        let grad = Double(step.scale) * expected.row[j]
        let m1 = 0.9 * Double(m0[j]) + 0.1 * grad
        let v1 = 0.999 * Double(v0[j]) + 0.001 * grad * grad
        let w1 = Double(w[j]) - 0.01 * m1 / ((v1 * Double(step.inv_c2)).squareRoot() + 1e-8)
        #expect(abs(Double(m[j]) - m1) < 1e-5, "\(name) m[\(j)]")
        #expect(abs(Double(v[j]) - v1) < 1e-6, "\(name) v[\(j)]")
        #expect(abs(Double(row[j]) - w1) < 1e-5, "\(name) w[\(j)]")
        stepped += w1 * w1
      }
      #expect(abs(Double(newSquares) - stepped) <= 1e-5 * max(1, stepped), "\(name) |w after the step|²")
      for e in 0..<count { #expect(abs(Double(gradA[e]) - expected.gradA[e]) < 1e-4, "\(name) ∂a[\(e)]") }
      #expect(abs(squares - expected.squares) <= 1e-5 * max(1, expected.squares), "\(name) |∂w|²")
    }
  }

  /// A decoder row, the output gradients g (tokens, d), `count` entries, their ∂a so far and (with
  /// `accumulate`) a gradient row to add to, else NaNs that must not be read.
  static func rowInputs(_ count: Int, _ accumulate: Bool, _ rng: inout XorShiftGenerator) -> (
    w: [Float], g: [Float], tokens: [Int32], values: [Float], before: [Float], prior: [Float]
  ) {
    let w = random(d, &rng)
    let g = random(tokens * d, &rng)
    let (entryTokens, values) = entries(count, &rng)
    let before = random(count, &rng)
    let prior = accumulate ? random(d, &rng) : [Float](repeating: .nan, count: d)
    return (w, g, entryTokens, values, before, prior)
  }

  /// The backward pass's results in double precision, from their definitions.
  static func expected(
    _ w: [Float], _ g: [Float], _ tokens: [Int32], _ values: [Float], _ scale: Float, _ prior: [Float]?,
    _ before: [Float]
  ) -> (row: [Double], gradA: [Double], squares: Double) {
    let d = w.count
    let row = (0..<d).map { j in
      tokens.indices.reduce(Double(prior?[j] ?? 0) + Double(scale) * Double(w[j])) {
        $0 + Double(values[$1]) * Double(g[Int(tokens[$1]) * d + j])
      }
    }
    let gradA = tokens.indices.map { e in
      (0..<d).reduce(Double(before[e])) { $0 + Double(w[$1]) * Double(g[Int(tokens[e]) * d + $1]) }
    }
    return (row, gradA, row.reduce(0) { $0 + $1 * $1 })
  }

  @Test("decoder_row_scatter adds a·w to each entry's token row, leaves the others, and returns |w|²")
  func scatterMatchesDefinition() {
    let d = Self.d
    var rng = XorShiftGenerator(seed: 5)
    let w = Self.random(d, &rng)
    let (tokens, values) = Self.entries(90, &rng)
    let start = Self.random(Self.tokens * d, &rng)
    var out = start
    let squares = decoder_row_scatter(&out, w, tokens, values, tokens.count, d)
    var expected = start
    for (e, t) in tokens.enumerated() {
      for j in 0..<d { expected[Int(t) * d + j] += values[e] * w[j] }
    }
    for k in out.indices { #expect(abs(out[k] - expected[k]) < 1e-5, "out[\(k)]") }
    let norm = w.reduce(0) { $0 + Double($1) * Double($1) }
    #expect(abs(Double(squares) - norm) < 1e-4)
  }

  @Test("decoder_rows_gather adds Σ a·w[feature] to each token's block of columns and nothing else")
  func gatherMatchesDefinition() {
    // A block of 246 columns inside wider rows, at other column offsets in w and out: blocks of 8,
    // 4, 2 and 1 vectors and a tail at AVX-512's width (128 + 64 + 32 + 16 + 6), of 8, 4 and 2 at
    // AVX2's; tokens with no entries, fewer than 64 and more.
    let (features, ldw, ldo, width, wColumn, oColumn, tokens) = (200, 256, 260, 246, 5, 7, 40)
    var rng = XorShiftGenerator(seed: 9)
    let w = Self.random(features * ldw, &rng)
    var offsets = [0]
    var chosen: [Int32] = []
    var values: [Float] = []
    for t in 0..<tokens {
      let count = [0, 1, 31, 64, 65, 120][t % 6]
      var set = Set<Int32>()
      while set.count < count { set.insert(Int32.random(in: 0..<Int32(features), using: &rng)) }
      chosen += set.sorted()
      values += (0..<count).map { _ in Float.random(in: 0.1...3, using: &rng) }
      offsets.append(chosen.count)
    }
    let start = Self.random(tokens * ldo, &rng)
    var expected = start.map(Double.init)
    for t in 0..<tokens {
      for e in offsets[t]..<offsets[t + 1] {
        for j in 0..<width {
          expected[t * ldo + oColumn + j] += Double(values[e]) * Double(w[Int(chosen[e]) * ldw + wColumn + j])
        }
      }
    }
    for floats in Self.widths + [0] {
      var out = start
      out.withUnsafeMutableBufferPointer { o in
        w.withUnsafeBufferPointer { w in
          let (o, w) = (o.baseAddress! + oColumn, w.baseAddress! + wColumn)
          if floats == 0 {
            decoder_rows_gather(o, ldo, w, ldw, offsets, chosen, values, tokens, width)
          } else {
            decoder_rows_gather_at(Int32(floats), o, ldo, w, ldw, offsets, chosen, values, tokens, width)
          }
        }
      }
      for k in out.indices {
        #expect(abs(Double(out[k]) - expected[k]) < 1e-4, "\(floats) floats: out[\(k)]")
      }
    }
  }

  @Test("row_block_squares adds each row's squared norm over a block of columns")
  func blockSquaresMatchDefinition() {
    let (rows, ld, column, width) = (13, 90, 4, Self.d)
    var rng = XorShiftGenerator(seed: 10)
    let w = Self.random(rows * ld, &rng)
    var squares = (0..<rows).map { Float($0) }
    w.withUnsafeBufferPointer { row_block_squares($0.baseAddress! + column, rows, width, ld, &squares) }
    for r in 0..<rows {
      let expected =
        Double(r) + (0..<width).reduce(0) { $0 + Double(w[r * ld + column + $1] * w[r * ld + column + $1]) }
      #expect(abs(Double(squares[r]) - expected) < 1e-4, "row \(r)")
    }
  }

  /// A transcoder of 3 layers, d = 70 and 24 features whose positive encoder biases make many of
  /// them fire, with random inputs and targets for 50 tokens.
  static func firingTranscoder(seed: UInt64) -> (
    clt: CrossLayerTranscoder, inputs: [FloatBuffer], targets: [FloatBuffer]
  ) {
    let (layers, features, tokens) = (3, 24, 50)
    let clt = CrossLayerTranscoder(nLayers: layers, dModel: d, features: features, seed: 3)
    var rng = XorShiftGenerator(seed: seed)
    for l in 0..<layers {
      for i in 0..<features { clt.encoderBiases[l][i] = Float.random(in: 0...0.3, using: &rng) }
    }
    let inputs = (0..<layers).map { _ in FloatBuffer(Self.random(tokens * d, &rng)) }
    let targets = (0..<layers).map { _ in FloatBuffer(Self.random(tokens * d, &rng)) }
    return (clt, inputs, targets)
  }

  @Test("The decoder's forward over blocks of 32 columns equals one block of every column")
  func decoderBlocksAgree() {
    let (clt, inputs, _) = Self.firingTranscoder(seed: 4)
    let (layers, tokens) = (clt.nLayers, inputs[0].count / Self.d)
    let act = clt.forward(inputs: inputs, tokens: tokens, dead: nil, bandwidth: 0.2)
    #expect(act.activeCount(layer: 0) > tokens)
    let whole = act.reconstructions.map(\.array)
    let squares = act.decoderRowSquares.map { $0.map(\.array) }
    clt.decodeAll(act, columnBlock: 32)
    for target in 0..<layers {
      for (k, value) in act.reconstructions[target].array.enumerated() {
        #expect(abs(value - whole[target][k]) < 1e-5, "ŷ[\(target)][\(k)]")
      }
      for source in 0...target {
        for (i, square) in act.decoderRowSquares[target][source].array.enumerated() {
          #expect(abs(square - squares[target][source][i]) < 1e-4 * max(1, square))
        }
      }
    }
  }

  @Test("After Adam's step in the backward pass, the next forward takes the new rows' norms it left")
  func forwardTakesNormsLeftByBackward() {
    let (clt, inputs, targets) = Self.firingTranscoder(seed: 5)
    let (layers, d, features, tokens) = (clt.nLayers, Self.d, clt.features, inputs[0].count / Self.d)
    let k = CLTLossCoefficients(sparsity: 0.5, tanhScale: 2, preActivation: 0.3, bandwidth: 0.2)
    let optimizer = AdamOptimizer(parameters: clt.parameterBuffers, learningRate: 0.05)
    let act = clt.forward(inputs: inputs, tokens: tokens, dead: nil, bandwidth: 0.2)
    let before = act.decoderRowSquares.map { $0.map(\.array) }
    clt.backward(
      act, inputs: inputs, targets: targets, coefficients: k,
      into: CLTGradients(nLayers: layers, dModel: d, features: features),
      decoderStep: optimizer.decoderStep(optimizer.nextStep(gradientScale: 1), of: clt))
    #expect(act.decoderRowSquaresAreCurrent == ObjectIdentifier(clt))
    let other = CrossLayerTranscoder(nLayers: layers, dModel: d, features: features, seed: 3)
    var changed = 0
    for target in 0..<layers {
      for source in 0...target {
        let w = clt.decoder(from: source, to: target).array
        for i in 0..<features {
          let expected = (0..<d).reduce(0.0) { $0 + Double(w[i * d + $1]) * Double(w[i * d + $1]) }
          let left = Double(act.decoderRowSquares[target][source][i])
          #expect(abs(left - expected) <= 1e-5 * max(1, expected), "‖W_dec[\(source)→\(target)]_\(i)‖²")
          if abs(left - Double(before[target][source][i])) > 1e-4 * expected { changed += 1 }
        }
      }
    }
    #expect(changed > features, "the step moved the rows")
    // The same activations, into which the next forward pass goes, against fresh ones.
    clt.forward(inputs: inputs, tokens: tokens, into: act, dead: nil, bandwidth: 0.2)
    #expect(act.decoderRowSquaresAreCurrent == nil)
    let fresh = clt.forward(inputs: inputs, tokens: tokens, dead: nil, bandwidth: 0.2)
    for l in 0..<layers {
      for (a, b) in zip(act.decoderNorms(layer: l), fresh.decoderNorms(layer: l)) {
        #expect(abs(a - b) <= 1e-5 * max(1, b))
      }
      for (a, b) in zip(act.reconstructions[l].array, fresh.reconstructions[l].array) { #expect(a == b) }
    }
    // Another transcoder does not take them.
    clt.backward(
      act, inputs: inputs, targets: targets, coefficients: k,
      into: CLTGradients(nLayers: layers, dModel: d, features: features),
      decoderStep: optimizer.decoderStep(optimizer.nextStep(gradientScale: 1), of: clt))
    other.forward(inputs: inputs, tokens: tokens, into: act, dead: nil, bandwidth: 0.2)
    let otherFresh = other.forward(inputs: inputs, tokens: tokens, dead: nil, bandwidth: 0.2)
    for l in 0..<layers { #expect(act.decoderNorms(layer: l) == otherFresh.decoderNorms(layer: l)) }
  }

  @Test("The gradient norm the backward pass records equals the one read back from the gradients")
  func recordedNormEqualsRecomputed() {
    let clt = TranscoderTests.makeTranscoder()
    let x = TranscoderTests.makeData(seed: 11, scale: 1)
    let y = TranscoderTests.makeData(seed: 12, scale: 0.5)
    let k = TranscoderTests.coefficientSets[3]
    let act = TranscoderTests.trainingForward(clt, x, k)
    let grads = clt.gradients(act, inputs: x, targets: y, coefficients: k)
    let recorded = grads.squaredNorm()
    grads.decoderGradientsChanged()
    let recomputed = grads.squaredNorm()
    #expect(recomputed > 0)
    #expect(abs(recorded - recomputed) <= 1e-5 * recomputed)
  }
}
