import CKernels
import Foundation
import Kernels
import Testing

@testable import Transcoder

/// The decoder-row kernels that the training passes spend most of their time in, against plain
/// loops. The transcoder tests use d = 8, which only reaches the kernels' tail columns; these use a
/// d with two whole 32-column chunks and a tail, and more entries than one block of 64.
@Suite struct DecoderRowKernelTests {
  static let d = 70
  static let tokens = 300

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
    "decoder_row_backward: ∂a = w·g[token] accumulated, ∂w = scale·w + Σ a·g[token], |∂w|² returned",
    arguments: [0, 1, 63, 64, 65, 150])
  func backwardMatchesDefinition(count: Int) {
    let d = Self.d
    var rng = XorShiftGenerator(seed: UInt64(100 + count))
    let w = Self.random(d, &rng)
    let g = Self.random(Self.tokens * d, &rng)
    let (tokens, values) = Self.entries(count, &rng)
    let before = Self.random(count, &rng)
    let scale: Float = 0.37
    var gradA = before
    var gradRow = [Float](repeating: .nan, count: d)
    let squares = decoder_row_backward(w, g, tokens, values, count, d, scale, &gradRow, &gradA)
    var referenceA = before
    var referenceRow = [Float](repeating: .nan, count: d)
    let referenceSquares = decoder_row_backward_reference(
      w, g, tokens, values, count, d, scale, &referenceRow, &referenceA)
    var expectedSquares = 0.0
    for j in 0..<d {
      var row = Double(scale) * Double(w[j])
      for e in 0..<count { row += Double(values[e]) * Double(g[Int(tokens[e]) * d + j]) }
      #expect(abs(Double(gradRow[j]) - row) < 1e-4, "∂w[\(j)]")
      #expect(abs(Double(referenceRow[j]) - row) < 1e-4, "reference ∂w[\(j)]")
      expectedSquares += row * row
    }
    for e in 0..<count {
      var dot = Double(before[e])
      for j in 0..<d { dot += Double(w[j]) * Double(g[Int(tokens[e]) * d + j]) }
      #expect(abs(Double(gradA[e]) - dot) < 1e-4, "∂a[\(e)]")
      #expect(abs(Double(referenceA[e]) - dot) < 1e-4, "reference ∂a[\(e)]")
    }
    #expect(abs(squares - expectedSquares) <= 1e-5 * max(1, expectedSquares))
    #expect(abs(referenceSquares - expectedSquares) <= 1e-5 * max(1, expectedSquares))
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
