import LanguageModels
import ModelFormats
import Testing

// Checks both model families' golden tests share.

/// Runs `model` on the golden file's `input_ids` windows and checks its logits and every layer's MLP
/// input and output against the reference's `logits`, `mlp_in.{l}` and `mlp_out.{l}` (1e-4 relative).
func expectForwardMatchesGolden(_ model: any LanguageModel, golden: SafetensorsFile) throws {
  let shape = golden.tensors["input_ids"]!.shape
  let (batch, length) = (shape[0], shape[1])
  let info = model.description
  let taps = MLPTaps(nLayers: info.nLayers, rows: batch * length, dModel: info.dModel)
  let tokens = try golden.floats("input_ids").map { Int32($0) }
  let logits = try model.forward(
    tokens: tokens, batch: batch, length: length, taps: taps, computeLogits: true)
  let logitsError = maxRelativeError(logits, try golden.floats("logits"))
  #expect(logitsError < 1e-4, "logits differ from transformers by \(logitsError) relative")
  let block = batch * length * info.dModel
  for l in 0..<info.nLayers {
    let mlpIn = Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpIn, layer: l), count: block))
    let mlpOut = Array(UnsafeBufferPointer(start: taps.pointer(taps.mlpOut, layer: l), count: block))
    let inError = maxRelativeError(mlpIn, try golden.floats("mlp_in.\(l)"))
    let outError = maxRelativeError(mlpOut, try golden.floats("mlp_out.\(l)"))
    #expect(inError < 1e-4, "layer \(l) MLP input differs by \(inError) relative")
    #expect(outError < 1e-4, "layer \(l) MLP output differs by \(outError) relative")
  }
}

/// Prefills `prefill` tokens, then decodes one at a time: every step's logits must equal the
/// window forward's at that position (1e-4 relative).
/// Prefills `prefill` tokens in one decode call, then steps one token at a time, checking each
/// step's logits against the window forward's logits at that position.
func expectCachedDecodingMatchesWindow(_ model: any LanguageModel, tokens: [Int32], prefill: Int) throws {
  let full = try model.forward(tokens: tokens, batch: 1, length: tokens.count, taps: nil, computeLogits: true)
  let cache = model.makeCache(capacity: tokens.count)
  let v = model.description.vocabularySize
  var stepped = try model.decode(tokens: Array(tokens[0..<prefill]), cache: cache)
  let prefillError = maxRelativeError(stepped, Array(full[(prefill - 1) * v..<prefill * v]))
  #expect(prefillError < 1e-4, "prefill's last logits differ by \(prefillError)")
  for i in prefill..<tokens.count {
    stepped = try model.decode(tokens: [tokens[i]], cache: cache)
    let error = maxRelativeError(stepped, Array(full[i * v..<(i + 1) * v]))
    #expect(error < 1e-4, "position \(i): cached logits differ by \(error)")
  }
  #expect(cache.count == tokens.count)
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
