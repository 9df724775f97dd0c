import CLTFormat
import Foundation
import LanguageModels
import ReplacementModel
import Testing
import Transcoder

/// The replacement model run through the MLP hook of both families, in window forwards and in
/// cached decoding.
@Suite struct ReplacementTests {
  @Test("with the error kept, the replacement model's logits are the original model's (1e-4), both families")
  func keepErrorReproducesOriginal() throws {
    for model in try TestModels.both() {
      let tokens = TestModels.tokens(2 * 12, for: model)
      let file = try makeCLTFile(for: model, tokens: tokens)
      let original = try model.forward(tokens: tokens, batch: 2, length: 12, taps: nil, computeLogits: true)
      let hook = try CLTReplacement(file: file, keepsError: true)
      let replaced = try model.forward(
        tokens: tokens, batch: 2, length: 12, taps: nil, computeLogits: true, replacement: hook)
      let error = maxRelativeError(replaced, original)
      #expect(error < 1e-4, "\(model.description.architecture): logits differ by \(error)")
      #expect(hook.activations.count == model.description.nLayers, "one a[l] per layer")
      #expect(hook.activations.allSatisfy { !$0.values.isEmpty }, "the random transcoder's features fire")
    }
  }

  @Test("with the error kept, cached generation is the original model's, token for token")
  func keepErrorGeneratesTheSame() throws {
    for model in try TestModels.both() {
      let prompt = TestModels.tokens(5, for: model)
      let file = try makeCLTFile(for: model, tokens: TestModels.tokens(16, for: model, salt: 1))
      let expected = try Generator(model: model).generate(
        prompt: prompt, maxNewTokens: 10, sampling: .greedy, stopAt: [])
      let replaced = try Generator(
        model: model, replacement: try CLTReplacement(file: file, keepsError: true)
      )
      .generate(prompt: prompt, maxNewTokens: 10, sampling: .greedy, stopAt: [])
      #expect(replaced == expected, "\(model.description.architecture)")
    }
  }

  @Test(
    "the pure replacement writes (b_dec + Σ a·W_dec + s_in·x·W_skip) / s_out into every MLP output but position 0's",
    arguments: [false, true])
  func replacementWritesTheReconstruction(skip: Bool) throws {
    let model = try TestModels.gpt2()
    let d = model.description.dModel
    let tokens = TestModels.tokens(8, for: model)
    let file = try makeCLTFile(for: model, tokens: tokens, skip: skip)
    let clt = try CLTReplacement(file: file, keepsError: false)
    let recorder = RecordingHook(clt, dModel: d)
    let original = try model.forward(tokens: tokens, batch: 1, length: 8, taps: nil, computeLogits: true)
    let replaced = try model.forward(
      tokens: tokens, batch: 1, length: 8, taps: nil, computeLogits: true, replacement: recorder)
    #expect(maxRelativeError(replaced, original) > 1e-3, "a random transcoder changes the logits")
    let originalOutputs = RecordingHook(nil, dModel: d)
    _ = try model.forward(
      tokens: tokens, batch: 1, length: 8, taps: nil, computeLogits: false, replacement: originalOutputs)
    for l in 0..<model.description.nLayers {
      var expected = [Float](repeating: 0, count: 8 * d)
      file.transcoder.reconstruct(target: l, from: clt.activations, into: &expected)
      if skip {  // the skip term from the input this run gave the MLP, in the transcoder's units
        let x = recorder.inputs[l].map { $0 * file.normalizer.inputScales[l] }
        for t in 0..<8 {
          for j in 0..<d {
            for i in 0..<d { expected[t * d + j] += x[t * d + i] * file.transcoder.skipWeights[l][i * d + j] }
          }
        }
      }
      let scale = file.normalizer.outputScales[l]
      let got = recorder.outputs[l]
      #expect(Array(got[0..<d]) == Array(originalOutputs.outputs[l][0..<d]), "position 0 keeps the MLP")
      let error = maxRelativeError(Array(got[d...]), expected[d...].map { $0 / scale })
      #expect(error < 1e-5, "layer \(l): output differs from the reconstruction by \(error)")
    }
  }

  @Test("the replacement model decodes with the KV cache as its window forward computes, both families")
  func cachedReplacementMatchesWindow() throws {
    for model in try TestModels.both() {
      let tokens = TestModels.tokens(10, for: model, salt: 2)
      let file = try makeCLTFile(for: model, tokens: tokens)
      let hook = try CLTReplacement(file: file, keepsError: false)
      // Decoding past the prompt skips the MLPs; the window forward (position 0 inside) runs them.
      #expect(!hook.needsMLPOutput(positions: RowPositions(firstPosition: 4, period: 1)))
      #expect(hook.needsMLPOutput(positions: RowPositions(firstPosition: 0, period: 4)))
      #expect(
        try CLTReplacement(file: file, keepsError: true).needsMLPOutput(
          positions: RowPositions(firstPosition: 4, period: 1)))
      let v = model.description.vocabularySize
      let full = try model.forward(
        tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true, replacement: hook)
      let cache = model.makeCache(capacity: tokens.count)
      _ = try model.decode(tokens: Array(tokens[0..<4]), cache: cache, replacement: hook)
      for i in 4..<tokens.count {
        let step = try model.decode(tokens: [tokens[i]], cache: cache, replacement: hook)
        let error = maxRelativeError(step, Array(full[i * v..<(i + 1) * v]))
        #expect(error < 1e-4, "\(model.description.architecture) position \(i): \(error)")
      }
    }
  }

  @Test("zero ablation sets every MLP output to zero")
  func zeroAblation() throws {
    let model = try TestModels.llama()
    let d = model.description.dModel
    let recorder = RecordingHook(ZeroAblation(dModel: d), dModel: d)
    _ = try model.forward(
      tokens: TestModels.tokens(6, for: model), batch: 1, length: 6, taps: nil, computeLogits: true,
      replacement: recorder)
    #expect(recorder.outputs.count == model.description.nLayers)
    #expect(recorder.outputs.allSatisfy { $0.allSatisfy { $0 == 0 } })
  }
}
