import Foundation
import LanguageModels
import Testing

/// The MLP hook both families call: where, in what order, with which rows, and that it can
/// replace an MLP.
@Suite struct MLPReplacementTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "Fixtures")

  static func models() throws -> [any LanguageModel] {
    [
      try GPT2Model(directory: fixtures.appendingPathComponent("gpt2-tiny")),
      try LlamaModel(gguf: fixtures.appendingPathComponent("llama-tiny.gguf")),
    ]
  }

  /// Records each call and leaves the output alone, or adds `shift` to layer `layer`'s output.
  final class Probe: MLPReplacement {
    var calls: [(layer: Int, rows: Int, positions: RowPositions)] = []
    var inputs: [[Float]] = []
    var outputs: [[Float]] = []
    let dModel: Int
    var shift: (layer: Int, value: Float)?

    init(dModel: Int) { self.dModel = dModel }

    func replace(
      layer: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int,
      positions: RowPositions
    ) {
      calls.append((layer, rows, positions))
      inputs.append(Array(UnsafeBufferPointer(start: input, count: rows * dModel)))
      outputs.append(Array(UnsafeBufferPointer(start: output, count: rows * dModel)))
      if let shift, shift.layer == layer {
        for k in 0..<rows * dModel { output[k] += shift.value }
      }
    }
  }

  @Test("a hook that changes nothing leaves the logits bit for bit, and sees each layer's taps in order")
  func passThroughSeesTheTaps() throws {
    for model in try Self.models() {
      let info = model.description
      let tokens = (0..<12).map { Int32(($0 * 5 + 1) % info.vocabularySize) }
      let taps = MLPTaps(nLayers: info.nLayers, rows: 12, dModel: info.dModel)
      let plain = try model.forward(tokens: tokens, batch: 2, length: 6, taps: taps, computeLogits: true)
      let probe = Probe(dModel: info.dModel)
      let hooked = try model.forward(
        tokens: tokens, batch: 2, length: 6, taps: nil, computeLogits: true, replacement: probe)
      #expect(hooked == plain, "\(info.architecture)")
      #expect(probe.calls.map(\.layer) == Array(0..<info.nLayers))
      #expect(
        probe.calls.allSatisfy { $0.rows == 12 && $0.positions == RowPositions(firstPosition: 0, period: 6) })
      #expect(probe.calls[0].positions.position(ofRow: 7) == 1, "row 7 is position 1 of the second window")
      for l in 0..<info.nLayers {
        let block = 12 * info.dModel
        #expect(
          probe.inputs[l]
            == Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpIn, layer: l), count: block)))
        #expect(
          probe.outputs[l]
            == Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpOut, layer: l), count: block)))
      }
    }
  }

  @Test("cached decoding calls the hook with the new rows at their positions, and what it writes is kept")
  func decodingAndReplacing() throws {
    for model in try Self.models() {
      let info = model.description
      let tokens = (0..<7).map { Int32(($0 * 3 + 2) % info.vocabularySize) }
      let probe = Probe(dModel: info.dModel)
      probe.shift = (layer: info.nLayers - 1, value: 0.5)
      let window = try model.forward(
        tokens: tokens, batch: 1, length: 7, taps: nil, computeLogits: true, replacement: probe)
      let plain = try model.forward(tokens: tokens, batch: 1, length: 7, taps: nil, computeLogits: true)
      #expect(window != plain, "a shifted MLP output changes the logits")
      let cache = model.makeCache(capacity: 7)
      _ = try model.decode(tokens: Array(tokens[0..<5]), cache: cache, replacement: probe)
      #expect(probe.calls.last!.positions == RowPositions(firstPosition: 0, period: 5))
      _ = try model.decode(tokens: [tokens[5]], cache: cache, replacement: probe)
      #expect(probe.calls.last!.rows == 1 && probe.calls.last!.positions.position(ofRow: 0) == 5)
      let last = try model.decode(tokens: [tokens[6]], cache: cache, replacement: probe)
      let v = info.vocabularySize
      let error = maxRelativeError(last, Array(window[6 * v..<7 * v]))
      #expect(error < 1e-4, "\(info.architecture): cached and window replacement differ by \(error)")
    }
  }
}
