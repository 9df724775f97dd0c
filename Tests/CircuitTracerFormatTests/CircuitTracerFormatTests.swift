import CLTFormat
import CircuitTracerFormat
import Foundation
import LanguageModels
import ModelFormats
import Testing
import Transcoder

/// Export to circuit-tracer's layout and import back: the same transcoder on raw activations, in
/// exactly the files circuit-tracer's loader reads (`circuit_tracer/transcoder/cross_layer_transcoder.py`).
@Suite struct CircuitTracerFormatTests {
  let dir: URL
  let file: CLTFile
  let exported: URL

  init() throws {
    dir = try RandomCLT.temporaryDirectory()
    file = RandomCLT.make()
    exported = dir.appendingPathComponent("ct")
    try CircuitTracerExporter.export(file, source: "clt.h5", to: exported, createdBy: "test")
  }

  @Test("export then import gives the same activations and reconstructions on raw inputs")
  func roundTrip() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let back = try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    #expect(back.normalizer.inputScales == [1, 1, 1] && back.normalizer.outputScales == [1, 1, 1])
    let inputs = RandomCLT.inputs(rows: 32, file: file)
    let original = RandomCLT.run(file, inputs: inputs)
    let imported = RandomCLT.run(back, inputs: inputs)
    var fired = 0
    for l in 0..<3 {
      let (a, b) = (original.activations[l], imported.activations[l])
      #expect(a.offsets == b.offsets && a.indices == b.indices, "the same features fire in layer \(l)")
      fired += a.indices.count
      for (x, y) in zip(a.values, b.values) {
        #expect(abs(x - y) <= 1e-5 * max(1, abs(x)), "activation \(x) became \(y)")
      }
      let scale = original.outputs[l].map(abs).max()!
      let worst = zip(original.outputs[l], imported.outputs[l]).map { abs($0 - $1) }.max()!
      #expect(worst <= 1e-5 * scale, "layer \(l): reconstructions differ by \(worst) of \(scale)")
    }
    #expect(fired > 20, "the comparison needs features that fire (\(fired) did)")
  }

  @Test("the import records the model's metadata and a JumpReLU; the clt.h5 it makes loads again")
  func importedMetadata() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let back = try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    let m = back.metadata
    #expect(m.architecture == "gpt2" && m.model == "tiny-gpt2" && m.modelSHA256 == RandomCLT.model.sha256)
    #expect(m.inputTap == RandomCLT.model.inputTap && m.outputTap == RandomCLT.model.outputTap)
    #expect(m.nLayers == 3 && m.dModel == 8 && m.features == 12 && m.activation == "jumprelu")
    let h5 = dir.appendingPathComponent("back.h5")
    try back.write(to: h5)
    let loaded = try CLTFile.load(url: h5)
    #expect(loaded.metadata == m)
    #expect(loaded.transcoder.logThresholds[2].array == back.transcoder.logThresholds[2].array)
  }

  @Test("the exported files hold exactly circuit-tracer's tensor names, shapes, dtypes and orientation")
  func exactLayout() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let names = try FileManager.default.contentsOfDirectory(atPath: exported.path).sorted()
    #expect(
      names == [
        "W_dec_0.safetensors", "W_dec_1.safetensors", "W_dec_2.safetensors", "W_enc_0.safetensors",
        "W_enc_1.safetensors", "W_enc_2.safetensors", "config.yaml",
      ])
    let (f, d) = (12, 8)
    for l in 0..<3 {
      let enc = try SafetensorsFile(url: exported.appendingPathComponent("W_enc_\(l).safetensors"))
      #expect(Set(enc.tensors.keys) == ["W_enc_\(l)", "b_enc_\(l)", "b_dec_\(l)", "threshold_\(l)"])
      #expect(enc.tensors["W_enc_\(l)"]?.shape == [f, d])
      #expect(enc.tensors["b_enc_\(l)"]?.shape == [f])
      #expect(enc.tensors["b_dec_\(l)"]?.shape == [d])
      #expect(enc.tensors["threshold_\(l)"]?.shape == [f])
      #expect(enc.tensors.values.allSatisfy { $0.dtype == "F32" })
      let dec = try SafetensorsFile(url: exported.appendingPathComponent("W_dec_\(l).safetensors"))
      #expect(Set(dec.tensors.keys) == ["W_dec_\(l)"])
      #expect(dec.tensors["W_dec_\(l)"]?.shape == [f, 3 - l, d])
      #expect(dec.tensors["W_dec_\(l)"]?.dtype == "F32")

      // W_enc' = s_in W_enc; θ = exp(logθ); b_dec' = b_dec / s_out.
      let t = file.transcoder
      let sIn = file.normalizer.inputScales[l]
      let wEnc = try enc.floats("W_enc_\(l)")
      #expect(abs(wEnc[5 * d + 3] - sIn * t.encoderWeights[l][5 * d + 3]) < 1e-6)
      let theta = try enc.floats("threshold_\(l)")
      #expect(abs(theta[4] - Foundation.exp(t.logThresholds[l][4])) < 1e-6)
      let bDec = try enc.floats("b_dec_\(l)")
      #expect(abs(bDec[2] - t.decoderBiases[l][2] / file.normalizer.outputScales[l]) < 1e-6)
      // W_dec_l[feature, j, k] is feature's decoder into layer l + j, over that layer's s_out.
      let wDec = try dec.floats("W_dec_\(l)")
      for j in 0..<(3 - l) {
        let feature = 7
        let k = 6
        let expected = t.decoder(from: l, to: l + j)[feature * d + k] / file.normalizer.outputScales[l + j]
        #expect(abs(wDec[(feature * (3 - l) + j) * d + k] - expected) < 1e-6)
      }
    }
    let config = try CircuitTracerConfig(url: exported.appendingPathComponent("config.yaml"))
    #expect(config["model_kind"] == "cross_layer_transcoder")
    #expect(config["feature_input_hook"] == "mlp.hook_in")
    #expect(config["feature_output_hook"] == "mlp.hook_out")
    #expect(config["model_name"] == "tiny-gpt2")
    #expect(config["cltkit_model_sha256"] == RandomCLT.model.sha256)
  }

  @Test("a transcoder with a skip connection is refused: circuit-tracer 0.5 would load it without W_skip")
  func skipConnectionRefused() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let plain = RandomCLT.make()
    let skip = CrossLayerTranscoder(
      nLayers: plain.transcoder.nLayers, dModel: plain.transcoder.dModel, features: plain.transcoder.features,
      skip: true)
    for (to, from) in zip(skip.parameterBuffers, plain.transcoder.parameterBuffers) {
      to.pointer.update(from: from.pointer, count: from.count)
    }
    var file = plain
    file.transcoder = skip
    let target = dir.appendingPathComponent("skip")
    let error = #expect(throws: ConversionError.self) {
      try CircuitTracerExporter.export(file, source: "clt.h5", to: target, createdBy: "test")
    }
    #expect(
      error?.localizedDescription.contains("clt.h5") == true
        && error?.localizedDescription.contains("W_skip") == true)
    #expect(!FileManager.default.fileExists(atPath: target.path), "nothing written")
  }

  @Test(
    "a config whose features read the residual stream is refused, naming the hook found and the one required")
  func residualStreamRefused() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let configURL = exported.appendingPathComponent("config.yaml")
    try """
    model_kind: cross_layer_transcoder
    model_name: gpt2
    feature_input_hook: hook_resid_mid
    feature_output_hook: hook_mlp_out
    """.write(to: configURL, atomically: true, encoding: .utf8)
    let error = #expect(throws: ConversionError.self) {
      try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    }
    let message = error?.localizedDescription ?? ""
    #expect(message.contains("hook_resid_mid") && message.contains("'mlp.hook_in'"), "\(message)")
    #expect(message.contains(configURL.path), "\(message)")
  }

  @Test(
    "ln2.hook_normalized is the MLP input for GPT-2 (LayerNorm's hook follows its weight) but not for Llama")
  func normalizedHookPerFamily() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = CircuitTracerConfig(values: [
      ("model_kind", "cross_layer_transcoder"), ("feature_input_hook", "ln2.hook_normalized"),
      ("feature_output_hook", "hook_mlp_out"),
    ])
    try CircuitTracerImporter.check(config, path: "config.yaml", model: RandomCLT.model)
    var llama = RandomCLT.model
    llama.architecture = "llama"
    #expect(throws: ConversionError.self) {
      try CircuitTracerImporter.check(config, path: "config.yaml", model: llama)
    }
  }

  @Test("a folder exported from another model's transcoder is refused by its recorded sha256")
  func otherModelRefused() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    var other = RandomCLT.model
    other.sha256 = String(repeating: "cd", count: 32)
    let error = #expect(throws: ConversionError.self) {
      try CircuitTracerImporter.load(directory: exported, model: other, createdBy: "test")
    }
    #expect(error?.localizedDescription.contains("cltkit_model_sha256") == true)
  }

  @Test("a truncated safetensors file gives an error naming it")
  func truncatedFile() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let victim = exported.appendingPathComponent("W_dec_1.safetensors")
    let data = try Data(contentsOf: victim)
    try data.prefix(data.count - 40).write(to: victim)
    var message = ""
    do {
      _ = try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    } catch {
      message = error.localizedDescription
    }
    #expect(message.contains(victim.path) && message.contains("truncated"), "\(message)")
  }

  @Test("a missing tensor and a wrong shape are errors naming the file and the tensor")
  func missingTensorAndShape() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let victim = exported.appendingPathComponent("W_enc_2.safetensors")
    var writer = SafetensorsWriter()
    writer.add("W_enc_2", shape: [12, 8], values: [Float](repeating: 0, count: 96))
    writer.add("b_enc_2", shape: [11], values: [Float](repeating: 0, count: 11))
    try writer.write(to: victim)
    #expect(
      throws: ConversionError.wrongShape(path: victim.path, tensor: "b_enc_2", expected: [12], found: [11])
    ) {
      try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    }
    writer = SafetensorsWriter()
    writer.add("W_enc_2", shape: [12, 8], values: [Float](repeating: 0, count: 96))
    try writer.write(to: victim)
    #expect(throws: ConversionError.missingTensor(path: victim.path, tensor: "b_enc_2")) {
      try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    }
  }

  @Test("a malformed header, a missing config.yaml and an unwritable output are errors naming the path")
  func otherErrors() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let victim = exported.appendingPathComponent("W_enc_1.safetensors")
    var bytes = Data([8, 0, 0, 0, 0, 0, 0, 0])
    bytes.append(Data("not json".utf8))
    try bytes.write(to: victim)
    var message = ""
    do {
      _ = try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    } catch {
      message = error.localizedDescription
    }
    #expect(message.contains(victim.path) && message.contains("malformed header"), "\(message)")

    let config = exported.appendingPathComponent("config.yaml")
    try FileManager.default.removeItem(at: config)
    let missing = #expect(throws: ConversionError.self) {
      try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    }
    #expect(missing?.localizedDescription.hasPrefix(config.path + ": no such file") == true)

    let nowhere = dir.appendingPathComponent("no/such/folder/ct")
    let unwritable = #expect(throws: ConversionError.self) {
      try CircuitTracerExporter.export(file, source: "clt.h5", to: nowhere, createdBy: "test")
    }
    let text = unwritable?.localizedDescription ?? ""
    #expect(text.contains(nowhere.path) && text.contains("does not exist"), "\(text)")
  }

  @Test("a folder without thresholds imports as a ReLU: every positive pre-activation fires")
  func reluImport() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    for l in 0..<3 {
      let url = exported.appendingPathComponent("W_enc_\(l).safetensors")
      let source = try SafetensorsFile(url: url)
      var writer = SafetensorsWriter()
      for name in ["W_enc_\(l)", "b_enc_\(l)", "b_dec_\(l)"] {
        writer.add(name, shape: source.tensors[name]!.shape, values: try source.floats(name))
      }
      try writer.write(to: url)
    }
    let back = try CircuitTracerImporter.load(directory: exported, model: RandomCLT.model, createdBy: "test")
    let inputs = RandomCLT.inputs(rows: 4, file: back)
    let acts = RandomCLT.run(back, inputs: inputs).activations[1]
    let t = back.transcoder
    var positive = 0
    for row in 0..<4 {
      for i in 0..<t.features {
        var h = t.encoderBiases[1][i]
        for k in 0..<t.dModel { h += inputs[1][row * t.dModel + k] * t.encoderWeights[1][i * t.dModel + k] }
        if h > 0 { positive += 1 }
      }
    }
    #expect(acts.indices.count == positive && positive > 0)
  }

  @Test("export refuses an existing folder unless replacing, and a TopK transcoder")
  func exportRefusals() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: ConversionError.outputExists(path: exported.path)) {
      try CircuitTracerExporter.export(file, source: "clt.h5", to: exported, createdBy: "test")
    }
    try CircuitTracerExporter.export(file, source: "clt.h5", to: exported, replacing: true, createdBy: "test")
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(leftovers == ["ct"], "no temporary folder is left behind: \(leftovers)")
    var topK = file
    topK.metadata.configuration.activation = .topK
    #expect(throws: ConversionError.unsupportedActivation(path: "clt.h5", activation: "topk")) {
      try CircuitTracerExporter.export(
        topK, source: "clt.h5", to: dir.appendingPathComponent("k"), createdBy: "test")
    }
  }
}

/// The writer behind the export and the reader behind the import agree.
@Suite struct SafetensorsRoundTripTests {
  @Test(
    "the safetensors writer's file reads back with the same names, shapes and values, data 8-byte aligned")
  func writerReaderRoundTrip() throws {
    let dir = try RandomCLT.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var writer = SafetensorsWriter()
    let a: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
    let b: [Float] = [.pi, -0, 1e-30, -7.25, 3e20]
    writer.add("W_dec_0", shape: [2, 3, 4], values: a)
    writer.add("b", shape: [5], values: b)
    let url = dir.appendingPathComponent("t.safetensors")
    try writer.write(to: url)
    let file = try SafetensorsFile(url: url)
    #expect(file.tensors["W_dec_0"]?.shape == [2, 3, 4] && file.tensors["b"]?.shape == [5])
    #expect(try file.floats("W_dec_0") == a)
    #expect(try file.floats("b").map(\.bitPattern) == b.map(\.bitPattern))
    let data = try Data(contentsOf: url)
    let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect((8 + headerLength) % 8 == 0, "the data section starts 8-byte aligned")
  }

  @Test("config.yaml's scalars parse whether plain, quoted or commented, and what is written reads back")
  func configParsing() throws {
    let config = try CircuitTracerConfig(
      yaml: """
        # a comment
        model_kind: cross_layer_transcoder  # trailing comment
        model_name: 'it''s'
        feature_input_hook: "mlp.hook_in"
        transcoders:
          - hf://a/b
        feature_output_hook: hook_mlp_out
        """)
    #expect(config["model_kind"] == "cross_layer_transcoder")
    #expect(config["model_name"] == "it's")
    #expect(config["feature_input_hook"] == "mlp.hook_in")
    #expect(config["feature_output_hook"] == "hook_mlp_out")
    #expect(config["transcoders"] == nil)
    let written = CircuitTracerConfig(values: [
      ("model_kind", "cross_layer_transcoder"), ("model_name", "a \"b\" #c"),
    ])
    #expect(try CircuitTracerConfig(yaml: written.yaml(comment: "test")) == written)
    #expect(
      written.yaml(comment: "c")
        == "# c\nmodel_kind: cross_layer_transcoder\nmodel_name: \"a \\\"b\\\" #c\"\n")
    #expect(throws: ConversionError.self) { try CircuitTracerConfig(yaml: "model_kind: [unclosed") }
    #expect(throws: ConversionError.self) { try CircuitTracerConfig(yaml: "- a list, not a mapping") }
  }
}
