import CLTFormat
import Foundation
import Kernels
import LanguageModels
import ReplacementModel
import Testing
import Transcoder

/// `--steer`: parsing, the two conventions, and what a steered feature does to the model.
@Suite struct SteeringTests {
  @Test("specs parse: =VALUE sets, *FACTOR scales, @POS limits to one position")
  func parsing() throws {
    #expect(
      try FeatureSteering(parsing: "3:17=2.5") == FeatureSteering(layer: 3, feature: 17, operation: .set(2.5))
    )
    #expect(
      try FeatureSteering(parsing: "0:4*-1@6")
        == FeatureSteering(layer: 0, feature: 4, operation: .scale(-1), position: 6))
    #expect(try FeatureSteering(parsing: "1:2=0").description == "1:2=0.0")
    for bad in ["3", "3:17", "a:1=2", "3:x=1", "3:1=abc", "3:1=2@", "3:1=2@-1", "3:1=2@0", "3:1^2", "-1:2=1"]
    {
      #expect(throws: ReplacementError.self, "\(bad) is refused") { try FeatureSteering(parsing: bad) }
    }
  }

  @Test("a layer or feature the transcoder lacks is refused, naming the range")
  func unknownFeature() throws {
    let model = try TestModels.gpt2()
    let file = try makeCLTFile(for: model, features: 24, tokens: TestModels.tokens(8, for: model))
    let layers = model.description.nLayers
    for (spec, needle) in [("\(layers):0=1", "layers 0..\(layers - 1)"), ("0:24*2", "features 0..23")] {
      do {
        _ = try CLTReplacement(file: file, keepsError: true, steerings: [try FeatureSteering(parsing: spec)])
        Issue.record("\(spec) was accepted")
      } catch {
        #expect(error.localizedDescription.contains(needle), "\(error.localizedDescription)")
      }
    }
  }

  @Test("steering a feature to its own activation changes no logit, both conventions")
  func steeringToOwnValueChangesNothing() throws {
    for model in try TestModels.both() {
      let tokens = TestModels.tokens(9, for: model)
      let file = try makeCLTFile(for: model, tokens: tokens)
      let original = try model.forward(tokens: tokens, batch: 1, length: 9, taps: nil, computeLogits: true)
      let observer = try CLTReplacement(file: file, keepsError: true)
      _ = try model.forward(
        tokens: tokens, batch: 1, length: 9, taps: nil, computeLogits: false, replacement: observer)
      // A feature of layer 0 that fires at position 5, and its activation there.
      let (indices, values) = observer.activations[0].row(5)
      let feature = Int(indices.first!)
      for steering in [
        FeatureSteering(layer: 0, feature: feature, operation: .set(values.first!), position: 5),
        FeatureSteering(layer: 0, feature: feature, operation: .scale(1)),
      ] {
        let hook = try CLTReplacement(file: file, keepsError: true, steerings: [steering])
        let steered = try model.forward(
          tokens: tokens, batch: 1, length: 9, taps: nil, computeLogits: true, replacement: hook)
        #expect(steered == original, "\(model.description.architecture) \(steering)")
      }
    }
  }

  @Test("steering adds (new − old activation) · W_dec / s_out to each later MLP output and moves the logits")
  func steeringFollowsTheDecoder() throws {
    for model in try TestModels.both() {
      let d = model.description.dModel
      let last = model.description.nLayers - 1
      let tokens = TestModels.tokens(7, for: model)
      let file = try makeCLTFile(for: model, tokens: tokens)
      let plain = RecordingHook(try CLTReplacement(file: file, keepsError: true), dModel: d)
      let original = try model.forward(
        tokens: tokens, batch: 1, length: 7, taps: nil, computeLogits: true, replacement: plain)
      // Switch on a feature of the last layer at the last position: only that MLP output changes.
      let (indices, values) = (plain.inner as! CLTReplacement).activations[last].row(6)
      let feature = (0..<file.transcoder.features).first { !indices.contains(Int32($0)) }!
      _ = values
      let value: Float = 3
      let steering = FeatureSteering(layer: last, feature: feature, operation: .set(value), position: 6)
      let steered = RecordingHook(
        try CLTReplacement(file: file, keepsError: true, steerings: [steering]), dModel: d)
      let logits = try model.forward(
        tokens: tokens, batch: 1, length: 7, taps: nil, computeLogits: true, replacement: steered)
      for l in 0..<last {
        #expect(steered.outputs[l] == plain.outputs[l], "layer \(l) is before the steering")
      }
      let decoder = file.transcoder.decoder(from: last, to: last)
      let scale = file.normalizer.outputScales[last]
      let expected = (0..<d).map { value * decoder[feature * d + $0] / scale }
      let change = (0..<d).map { steered.outputs[last][6 * d + $0] - plain.outputs[last][6 * d + $0] }
      #expect(maxRelativeError(change, expected) < 1e-4, "\(model.description.architecture)")
      #expect(Array(steered.outputs[last][0..<6 * d]) == Array(plain.outputs[last][0..<6 * d]))
      let v = model.description.vocabularySize
      #expect(Array(logits[0..<6 * v]) == Array(original[0..<6 * v]), "earlier positions are untouched")
      #expect(maxRelativeError(Array(logits[(6 * v)...]), Array(original[(6 * v)...])) > 1e-4)
    }
  }
}
