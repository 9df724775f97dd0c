import Foundation
import LanguageModels
import ModelFormats
import Testing

/// Compares the Swift Llama with `transformers.LlamaForCausalLM` on a small GGUF whose every
/// parameter is random (scripts/make_llama_fixture.py writes both the GGUF, with llama.cpp's q/k
/// row permutation, and the reference computed on the unpermuted Hugging Face weights).
@Suite struct LlamaGoldenTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "Fixtures")
  let model: LlamaModel
  let golden: SafetensorsFile

  init() throws {
    model = try LlamaModel(gguf: Self.fixtures.appendingPathComponent("llama-tiny.gguf"))
    golden = try SafetensorsFile(url: Self.fixtures.appendingPathComponent("llama-tiny-golden.safetensors"))
  }

  func ids(_ name: String) throws -> [Int32] { try golden.floats(name).map { Int32($0) } }

  @Test("the config is read from the GGUF's llama.* metadata")
  func configFromMetadata() {
    let c = model.config
    #expect(c.nLayers == 3 && c.dModel == 64 && c.mlpWidth == 96 && c.vocabSize == 128)
    #expect(c.nHeads == 4 && c.nKVHeads == 2 && c.headDim == 16 && c.ropeDim == 16)
    #expect(c.ropeBase == 100000 && c.contextLength == 48)
    #expect(abs(c.rmsNormEpsilon - 1e-5) < 1e-10)
    #expect(model.description.architecture == "llama" && model.description.sha256.count == 64)
    #expect(model.weights.output == nil, "the fixture's LM head is tied to the embedding")
  }

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
    let result = try Generator(model: model).generate(
      prompt: prompt, maxNewTokens: expected.count, sampling: .greedy, stopAt: [])
    #expect(result == expected)
  }

  @Test("a float16 GGUF loads and agrees with the float32 one within half precision")
  func halfPrecisionGGUFLoads() throws {
    let tokens = Array(try ids("input_ids").prefix(golden.tensors["input_ids"]!.shape[1]))
    let reference = try model.forward(
      tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
    let half = try LlamaModel(gguf: Self.fixtures.appendingPathComponent("llama-tiny-f16.gguf"))
    let logits = try half.forward(
      tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
    let error = maxRelativeError(logits, reference)
    #expect(error < 5e-3 && error > 0, "f16 logits differ from f32 by \(error)")
  }

  @Test("a window longer than the context and an out-of-vocabulary id are refused with clear errors")
  func badInputsAreRefused() {
    let n = model.config.contextLength + 1
    #expect(throws: LanguageModelError.sequenceTooLong(tokens: n, context: model.config.contextLength)) {
      _ = try model.forward(
        tokens: Array(repeating: 0, count: n), batch: 1, length: n, taps: nil, computeLogits: false)
    }
    #expect(throws: LanguageModelError.tokenOutOfRange(token: 128, vocabularySize: 128)) {
      _ = try model.forward(tokens: [1, 128], batch: 1, length: 2, taps: nil, computeLogits: true)
    }
  }

  @Test("a GGUF missing a llama.* key is refused, naming the key and the file")
  func missingKeyIsNamed() throws {
    let url = Self.fixtures.appendingPathComponent("llama-no-head-count.gguf")
    do {
      _ = try LlamaModel(gguf: url)
      Issue.record("a GGUF without llama.attention.head_count loaded")
    } catch let error as LanguageModelError {
      let message = error.localizedDescription
      #expect(message.contains("llama.attention.head_count") && message.contains(url.path), "\(message)")
    }
  }

  @Test("a GGUF of another architecture is refused, naming it")
  func otherArchitectureIsRefused() throws {
    // A GPT-2 fixture is not GGUF at all; a GGUF with another architecture comes from the ModelFormats fixtures.
    let formats = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("ModelFormatsTests/Fixtures")
    let others =
      (try? FileManager.default.contentsOfDirectory(atPath: formats.path))?
      .filter { $0.hasSuffix(".gguf") } ?? []
    for name in others {
      let file = try GGUFFile(url: formats.appendingPathComponent(name))
      guard let arch = file.metadata["general.architecture"]?.stringValue, arch != "llama" else { continue }
      do {
        _ = try LlamaConfig(gguf: file)
        Issue.record("\(name) with architecture \(arch) loaded as llama")
      } catch let error as LanguageModelError {
        #expect(error.localizedDescription.contains("'\(arch)'"), "\(error.localizedDescription)")
      }
    }
  }
}

// MARK: - The real model

/// SmolLM2-135M-Instruct (Q4_1), where `make models` puts it; the tests below are skipped without it.
private let smolLM2 = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent().appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")

/// One load shared by the real-model tests (dequantising 135M parameters takes a moment); the suite
/// is serialized because a model reuses its scratch buffers and so runs one call at a time, which
/// is also why sharing it unchecked is safe.
nonisolated(unsafe) private let smolLM2Model = Result { try LlamaModel(gguf: smolLM2, hashWeights: false) }

@Suite(
  .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: smolLM2.path), "`make models` fetches SmolLM2"))
struct SmolLM2Tests {
  @Test("SmolLM2-135M's config: 30 layers, 576 wide, 9 query and 3 key/value heads, SwiGLU 1536")
  func config() throws {
    let c = try smolLM2Model.get().config
    #expect(c.nLayers == 30 && c.dModel == 576 && c.nHeads == 9 && c.nKVHeads == 3 && c.headDim == 64)
    #expect(c.mlpWidth == 1536 && c.vocabSize == 49152 && c.ropeBase == 100000)
    #expect(try smolLM2Model.get().weights.output == nil, "SmolLM2 ties its LM head to the embedding")
  }

  @Test("a forward pass gives finite logits, and the KV cache reproduces them")
  func forwardAndCache() throws {
    let model = try smolLM2Model.get()
    let tokens: [Int32] = [504, 3575, 282, 4649, 314, 7042, 30, 378]
    let logits = try model.forward(
      tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
    #expect(logits.allSatisfy { $0.isFinite })
    try expectCachedDecodingMatchesWindow(model, tokens: tokens, prefill: 3)
  }

  @Test("greedy decoding continues \"The capital of France is\" with \" Paris\"")
  func capitalOfFrance() throws {
    // The tokenizer's ids of "The capital of France is" (checked with transformers' GGUF tokenizer);
    // 7042 is "ĠParis" in tokenizer.ggml.tokens.
    let prompt: [Int32] = [504, 3575, 282, 4649, 314]
    let generated = try Generator(model: smolLM2Model.get()).generate(
      prompt: prompt, maxNewTokens: 3, sampling: .greedy, stopAt: [])
    #expect(generated.first == 7042, "generated \(generated)")
  }
}
