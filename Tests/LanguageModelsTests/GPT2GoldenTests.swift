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
    let shape = golden.tensors["input_ids"]!.shape
    let (batch, length) = (shape[0], shape[1])
    let c = model.config.nEmbd
    let taps = MLPTaps(nLayers: model.config.nLayer, rows: batch * length, dModel: c)
    let logits = try model.forward(
      tokens: try ids("input_ids"), batch: batch, length: length, taps: taps, computeLogits: true)
    let logitsError = maxRelativeError(logits, try golden.floats("logits"))
    #expect(logitsError < 1e-4, "logits differ from transformers by \(logitsError) relative")
    for l in 0..<model.config.nLayer {
      let block = batch * length * c
      let mlpIn = Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpIn, layer: l), count: block))
      let mlpOut = Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpOut, layer: l), count: block))
      let inError = maxRelativeError(mlpIn, try golden.floats("mlp_in.\(l)"))
      let outError = maxRelativeError(mlpOut, try golden.floats("mlp_out.\(l)"))
      #expect(inError < 1e-4, "layer \(l) MLP input differs by \(inError) relative")
      #expect(outError < 1e-4, "layer \(l) MLP output differs by \(outError) relative")
    }
  }

  @Test("KV-cached decoding one token at a time gives the same logits as the whole window")
  func cachedDecodingMatchesWindow() throws {
    let tokens = Array(try ids("input_ids").prefix(golden.tensors["input_ids"]!.shape[1]))
    let full = try model.forward(
      tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
    let cache = model.makeCache(capacity: tokens.count)
    let v = model.config.vocabSize
    // Prefill the first 5 tokens in one call, then step one at a time.
    var stepped = try model.decode(tokens: Array(tokens[0..<5]), cache: cache)
    #expect(maxRelativeError(stepped, Array(full[4 * v..<5 * v])) < 1e-4, "prefill's last logits")
    for i in 5..<tokens.count {
      stepped = try model.decode(tokens: [tokens[i]], cache: cache)
      let error = maxRelativeError(stepped, Array(full[i * v..<(i + 1) * v]))
      #expect(error < 1e-4, "position \(i): cached logits differ by \(error)")
    }
    #expect(cache.count == tokens.count)
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

/// max |a - b| / max |b|: the error relative to the reference tensor's scale.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
  var diff: Float = 0
  var scale: Float = 0
  for i in 0..<a.count {
    diff = max(diff, abs(a[i] - b[i]))
    scale = max(scale, abs(b[i]))
  }
  return diff.isNaN ? .infinity : diff / max(scale, 1e-30)
}
