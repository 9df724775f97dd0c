import CLTFormat
import Foundation
import LanguageModels
import ReplacementModel
import Testing

/// What `clt-encode` prints: per-token features, their filters, windows, and the JSON line.
@Suite struct EncodingTests {
  @Test("a JSON line parses back to the same record, special characters included")
  func jsonRoundTrip() throws {
    let record = TokenFeatures(
      doc: 3, pos: 17, tokenID: 42, token: " \"quoted\"\n\\ é\u{1}",
      features: [
        FeatureActivation(layer: 1, feature: 5, activation: 2.5),
        FeatureActivation(layer: 0, feature: 9, activation: 1e-5),
      ])
    let line = record.jsonLine
    #expect(!line.contains("\n"), "one record, one line")
    #expect(line.hasPrefix("{\"doc\": 3, \"pos\": 17, \"token_id\": 42, \"token\": "))
    #expect(try JSONDecoder().decode(TokenFeatures.self, from: Data(line.utf8)) == record)
    #expect(!line.contains("\"clt\""), "only a line given the transcoder names it")
    var first = record
    first.transcoder = TranscoderIdentity(model: "gpt2", modelSHA256: "ab12", nLayers: 12, features: 6144)
    #expect(
      first.jsonLine.hasSuffix(
        ", \"clt\": {\"model\": \"gpt2\", \"model_sha256\": \"ab12\", \"n_layers\": 12, \"features\": 6144}}"),
      "the transcoder comes last, with clt.h5's attribute names")
    #expect(try JSONDecoder().decode(TokenFeatures.self, from: Data(first.jsonLine.utf8)) == first)
  }

  @Test(
    "features are the encoder's on the original model, strongest first; --top, --layers and --min-activation filter"
  )
  func featuresAndFilters() throws {
    let model = try TestModels.llama()
    let ids = TestModels.tokens(12, for: model)
    let file = try makeCLTFile(for: model, tokens: ids)
    let all = try FeatureEncoder(model: model, file: file, context: 48, bos: 0).encode(document: ids)
    #expect(all.count == ids.count)
    // The same as the observer sees on [BOS] + ids.
    let observer = try CLTReplacement(file: file, keepsError: true)
    _ = try model.forward(
      tokens: [0] + ids, batch: 1, length: ids.count + 1, taps: nil, computeLogits: false,
      replacement: observer)
    let expectedCount = observer.activations.reduce(0) { $0 + $1.row(4).indices.count }
    #expect(all[3].count == expectedCount)
    for token in all {
      #expect(zip(token, token.dropFirst()).allSatisfy { $0.activation >= $1.activation }, "sorted")
    }
    let filtered = try FeatureEncoder(
      model: model, file: file, context: 48, bos: 0, layers: [1], top: 3, minActivation: 0.3
    ).encode(document: ids)
    for (token, full) in zip(filtered, all) {
      let expected = Array(full.filter { $0.layer == 1 && $0.activation >= 0.3 }.prefix(3))
      #expect(token == expected)
    }
    #expect(throws: ReplacementError.self) {
      _ = try FeatureEncoder(model: model, file: file, context: 48, bos: 0, layers: [9])
    }
  }

  @Test("a document longer than a window is cut into windows that each start from BOS")
  func longDocuments() throws {
    let model = try TestModels.gpt2()
    let ids = TestModels.tokens(23, for: model)
    let file = try makeCLTFile(for: model, tokens: ids)
    let bos = Int32(model.description.vocabularySize - 1)
    let windowed = try FeatureEncoder(model: model, file: file, context: 8, bos: bos, batch: 2)
      .encode(document: ids)
    #expect(windowed.count == 23)
    // Tokens 7..13 form the second window: the same as encoding them as a document of their own.
    let alone = try FeatureEncoder(model: model, file: file, context: 8, bos: bos).encode(
      document: Array(ids[7..<14]))
    #expect(sameFeatures(Array(windowed[7..<14]), alone))
    let last = try FeatureEncoder(model: model, file: file, context: 8, bos: bos).encode(
      document: Array(ids[21...]))
    #expect(sameFeatures(Array(windowed[21...]), last), "the shorter last window")
  }

  @Test("a transcoder of another model is refused, naming the file, the field and what to do")
  func mismatchedModel() throws {
    let gpt2 = try TestModels.gpt2()
    let file = try makeCLTFile(for: gpt2, tokens: TestModels.tokens(8, for: gpt2))
    try file.metadata.checkMatches(gpt2.description, path: "clt.h5")
    var other = gpt2.description
    other.sha256 = String(repeating: "0", count: 64)
    do {
      try file.metadata.checkMatches(other, path: "/tmp/clt.h5")
      Issue.record("a different sha256 was accepted")
    } catch {
      let message = error.localizedDescription
      #expect(
        message.contains("/tmp/clt.h5") && message.contains("model_sha256") && message.contains("--model"))
    }
    #expect(throws: ReplacementError.self) {
      try file.metadata.checkMatches(try TestModels.llama().description, path: "clt.h5")
    }
    var tap = gpt2.description
    tap.outputTap = "residual stream"
    #expect(
      throws: ReplacementError.mismatchedModel(
        path: "x", trainedOn: "\(file.metadata.model) (gpt2)", field: "output_tap",
        transcoder: gpt2.description.outputTap, model: "residual stream")
    ) { try file.metadata.checkMatches(tap, path: "x") }
  }
}

/// The same features on each token, activations equal to 1e-5 (a batch of windows sums in
/// another order than one window).
func sameFeatures(_ a: [[FeatureActivation]], _ b: [[FeatureActivation]]) -> Bool {
  a.count == b.count
    && zip(a, b).allSatisfy { x, y in
      Set(x.map { [$0.layer, $0.feature] }) == Set(y.map { [$0.layer, $0.feature] })
        && zip(x.map(\.activation).sorted(), y.map(\.activation).sorted()).allSatisfy { abs($0 - $1) < 1e-5 }
    }
}
