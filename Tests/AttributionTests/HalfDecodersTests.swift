import ActivationShards
import CKernels
import CLTFormat
import Foundation
import Kernels
import Testing
import Transcoder

@testable import Attribution

/// The half-precision decoders attribution reads: rounding, the F16C kernels against a portable
/// conversion, reconstruction, and loading a clt.h5 without its float32 decoders.
@Suite struct HalfDecodersTests {
  /// A random transcoder with non-zero biases, in the sizes of the tiny GPT-2.
  func transcoder() throws -> (CrossLayerTranscoder, ActivationNormalizer) {
    TinyModels.transcoder(for: try TinyModels.gpt2(), features: 24, seed: 5)
  }

  @Test("every decoder weight is held as its nearest binary16 value")
  func rounding() throws {
    let (clt, _) = try transcoder()
    let half = HalfDecoders(clt)
    for s in 0..<clt.nLayers {
      for l in s..<clt.nLayers {
        for i in [0, 7, clt.features - 1] {
          let row = half.row(from: s, to: l, feature: i)
          let original = clt.decoder(from: s, to: l).pointer + i * clt.dModel
          for j in 0..<clt.dModel { #expect(row[j] == Float(Float16(original[j]))) }
        }
      }
    }
  }

  @Test("the gather of scaled half rows equals the portable conversion bit for bit, subnormals included")
  func gatherMatchesPortable() {
    var rng = XorShiftGenerator(seed: 3)
    let (rows, d) = (40, 37)  // d not a multiple of 8: the vector loop's tail runs too
    // Every finite bit pattern class: normals, subnormals, zeros of both signs, infinities.
    var bits = (0..<rows * d).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
    for k in stride(from: 0, to: bits.count, by: 5) { bits[k] &= 0x83ff }  // subnormal or zero
    bits[1] = 0x7c00
    bits[2] = 0xfc00
    for k in bits.indices where bits[k] & 0x7c00 == 0x7c00 && bits[k] & 0x3ff != 0 { bits[k] = 0x3c00 }
    let indices: [Int32] = [3, 0, 39, 17, 17, 8]
    let scales: [Float] = [1, -0.5, 3.25, 1e-3, 2, 0]
    var fast = [Float](repeating: .nan, count: indices.count * d)
    var portable = fast
    half_rows_scaled(&fast, bits, d, indices, scales, indices.count, d)
    half_rows_scaled_reference(&portable, bits, d, indices, scales, indices.count, d)
    for k in fast.indices {
      let expected = scales[k / d] * Float(Float16(bitPattern: bits[Int(indices[k / d]) * d + k % d]))
      #expect(fast[k].bitPattern == portable[k].bitPattern || (fast[k].isNaN && portable[k].isNaN))
      #expect(portable[k] == expected || (portable[k].isNaN && expected.isNaN))
    }
  }

  @Test("a reconstruction from half decoders is the float32 one to half precision")
  func reconstruction() throws {
    let (clt, _) = try transcoder()
    let half = HalfDecoders(clt)
    let rows = 6
    var rng = XorShiftGenerator(seed: 9)
    let input = FloatBuffer((0..<rows * clt.dModel).map { _ in Float.random(in: -2...2, using: &rng) })
    let activations = (0..<clt.nLayers).map { l in
      clt.encode(layer: l, input: input.pointer, rows: rows)
    }
    #expect(activations.contains { !$0.indices.isEmpty }, "some features fire")
    for l in 0..<clt.nLayers {
      let exact = FloatBuffer(count: rows * clt.dModel)
      let rounded = FloatBuffer(count: rows * clt.dModel)
      clt.reconstruct(target: l, from: activations, into: exact.pointer)
      half.reconstruct(
        target: l, from: activations, bias: clt.decoderBiases[l].pointer, into: rounded.pointer)
      var worst: Float = 0
      var scale: Float = 0
      for k in 0..<exact.count {
        worst = max(worst, abs(exact[k] - rounded[k]))
        scale = max(scale, abs(exact[k]))
      }
      #expect(worst <= 2e-3 * max(scale, 1e-3), "layer \(l): \(worst) against |ŷ| up to \(scale)")
    }
  }

  @Test("a clt.h5 loads for attribution without its float32 decoders, and encodes as before")
  func loadsWithoutFloatDecoders() throws {
    let (clt, normalizer) = try transcoder()
    let model = try TinyModels.gpt2().description
    let shards = ShardMetadata(
      architecture: model.architecture, model: model.name, modelSHA256: model.sha256, nLayers: model.nLayers,
      dModel: model.dModel, context: model.contextLength, inputTap: model.inputTap,
      outputTap: model.outputTap, createdBy: "test")
    let file = CLTFile(
      transcoder: clt, normalizer: normalizer,
      frequencies: [[Float]](repeating: [Float](repeating: 0.1, count: clt.features), count: clt.nLayers),
      metadata: CLTFileMetadata(
        shards: shards, features: clt.features,
        configuration: TrainingConfiguration(features: clt.features, steps: 1), tokensSeen: 0, steps: 0,
        createdBy: "test"))
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("half-\(UUID().uuidString).h5")
    defer { try? FileManager.default.removeItem(at: url) }
    try file.write(to: url)
    let (loaded, half) = try HalfDecoders.loadTranscoder(url: url)
    #expect(!loaded.transcoder.hasDecoders)
    #expect(loaded.transcoder.decoderWeights.allSatisfy { $0.isEmpty })
    let reference = HalfDecoders(clt)
    for s in 0..<clt.nLayers {
      for l in s..<clt.nLayers {
        let count = clt.features * clt.dModel
        #expect(
          Array(UnsafeBufferPointer(start: half.matrix(from: s, to: l), count: count))
            == Array(UnsafeBufferPointer(start: reference.matrix(from: s, to: l), count: count)))
      }
    }
    let input = FloatBuffer((0..<4 * clt.dModel).map { Float($0 % 11) * 0.3 - 1.5 })
    for l in 0..<clt.nLayers {
      #expect(
        loaded.transcoder.encode(layer: l, input: input.pointer, rows: 4)
          == clt.encode(layer: l, input: input.pointer, rows: 4))
    }
  }
}
