import Foundation
import LanguageModels
import ModelFormats
import Testing

/// Compares the Swift GPT-2 with `transformers.GPT2LMHeadModel` on a small checkpoint whose every
/// parameter is random (scripts/make_gpt2_fixture.py writes both the checkpoint and the reference).
@Suite struct GPT2GoldenTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "Fixtures")
  let model: GPT2Model
  let golden: SafetensorsFile

  init() throws {
    model = try GPT2Model(directory: Self.fixtures.appendingPathComponent("gpt2-tiny"))
    golden = try SafetensorsFile(url: Self.fixtures.appendingPathComponent("gpt2-tiny-golden.safetensors"))
  }

  func ids(_ name: String) throws -> [Int32] { try golden.floats(name).map { Int32($0) } }

  @Test("logits and every layer's MLP input and output match transformers to 1e-4 relative")
  func forwardMatchesTransformers() throws {
    try expectForwardMatchesGolden(model, golden: golden)
  }

  @Test("KV-cached decoding one token at a time gives the same logits as the whole window")
  func cachedDecodingMatchesWindow() throws {
    let tokens = Array(try ids("input_ids").prefix(golden.tensors["input_ids"]!.shape[1]))
    try expectCachedDecodingMatchesWindow(model, tokens: tokens, prefill: 5)
  }

  @Test("greedy generation with the KV cache reproduces transformers' generate()")
  func greedyGenerationMatches() throws {
    let prompt = try ids("prompt_ids")
    let expected = try ids("greedy_ids")
    let generator = Generator(model: model)
    let result = try generator.generate(
      prompt: prompt, maxNewTokens: expected.count, sampling: .greedy, stopAt: [])
    #expect(result == expected)
  }

  @Test("generation stops before the stop token and does not return it")
  func generationStopsAtStopToken() throws {
    let prompt = try ids("prompt_ids")
    let expected = try ids("greedy_ids")
    let stop = expected[3]
    let firstStop = expected.firstIndex(of: stop)!
    let result = try Generator(model: model).generate(
      prompt: prompt, maxNewTokens: expected.count, sampling: .greedy, stopAt: [stop])
    #expect(result == Array(expected[..<firstStop]))
  }

  @Test("a window longer than n_positions is refused with a clear error")
  func tooLongIsRefused() {
    let n = model.config.nPositions + 1
    #expect(throws: LanguageModelError.sequenceTooLong(tokens: n, context: model.config.nPositions)) {
      _ = try model.forward(
        tokens: Array(repeating: 0, count: n), batch: 1, length: n, taps: nil, computeLogits: false)
    }
  }

  @Test("float16 and bfloat16 checkpoints load and agree with float32 within their precision")
  func halfPrecisionCheckpointsLoad() throws {
    let tokens = Array(try ids("input_ids").prefix(golden.tensors["input_ids"]!.shape[1]))
    let reference = try model.forward(
      tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
    for (suffix, tolerance) in [("f16", Float(5e-3)), ("bf16", Float(5e-2))] {
      let half = try GPT2Model(directory: Self.fixtures.appendingPathComponent("gpt2-tiny-\(suffix)"))
      let logits = try half.forward(
        tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
      let error = maxRelativeError(logits, reference)
      #expect(error < tolerance, "\(suffix) logits differ from f32 by \(error)")
      #expect(error > 0, "\(suffix) weights should not be bit-identical to f32")
    }
  }

  @Test("every GPT-2 size's config.json decodes to the right dimensions")
  func familyConfigsDecode() throws {
    let sizes: [(String, Int, Int, Int)] = [
      ("gpt2", 768, 12, 12), ("gpt2-medium", 1024, 24, 16), ("gpt2-large", 1280, 36, 20),
      ("gpt2-xl", 1600, 48, 25), ("distilgpt2", 768, 6, 12),
    ]
    for (name, embd, layers, heads) in sizes {
      let json = """
        {"activation_function": "gelu_new", "model_type": "gpt2", "n_ctx": 1024, "n_embd": \(embd),
         "n_head": \(heads), "n_layer": \(layers), "n_positions": 1024, "vocab_size": 50257,
         "layer_norm_epsilon": 1e-05, "_name_or_path": "\(name)"}
        """
      let config = try JSONDecoder().decode(GPT2Config.self, from: Data(json.utf8))
      try config.validate(path: name)
      #expect(
        config.nEmbd == embd && config.nLayer == layers && config.nHead == heads
          && config.mlpWidth == 4 * embd)
      #expect(config.headDim == 64, "\(name) has 64-dimensional heads")
    }
  }

  @Test("a safetensors file whose shapes disagree with config.json is rejected, naming the tensor")
  func shapeMismatchIsRejected() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cltkit-mismatch-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let source = Self.fixtures.appendingPathComponent("gpt2-tiny")
    try FileManager.default.copyItem(
      at: source.appendingPathComponent("model.safetensors"),
      to: dir.appendingPathComponent("model.safetensors"))
    var config = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
    config = config.replacingOccurrences(of: "\"n_positions\": 40", with: "\"n_positions\": 64")
    try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    do {
      _ = try GPT2Model(directory: dir)
      Issue.record("a mismatched checkpoint loaded")
    } catch let error as ModelFormatError {
      #expect(error.localizedDescription.contains("wpe.weight"), "\(error.localizedDescription)")
    }
  }
}
