import Foundation
import ModelFormats
import Testing

@testable import Tokenizers

/// SmolLM2's tokenizer, read from the real GGUF's metadata, against Hugging Face `tokenizers` on
/// about 200 KB of varied text (scripts/make_smollm_tokenizer_fixture.py) and on hand-checked cases.
@Suite(
  "SmolLM2 tokenizer from GGUF metadata",
  .enabled(
    if: TestAssets.hasSmolLMModel,
    "models/SmolLM2-135M-Instruct.Q4_1.gguf is absent; `make models` fetches it (CI does)"))
struct SmolLMTokenizerTests {
  @Test("the fixture was made from this GGUF, and is complete")
  func fixtureMatchesModel() throws {
    let fixture = try TestAssets.smolLMFixture()
    #expect(
      try FileHash.sha256Hex(fileAt: TestAssets.smolLMModelURL) == fixture.metadata.ggufSHA256,
      "models/SmolLM2-135M-Instruct.Q4_1.gguf differs from the file the fixture was made from; `make models`")
    #expect(fixture.metadata.encoding == "smollm2")
    #expect(fixture.textBytes.count == fixture.metadata.textBytes, "smollm-tokenizer-text.txt is truncated")
    #expect(fixture.ids.count == fixture.metadata.idCount, "smollm-tokenizer-ids.u16 is truncated")
    #expect(fixture.textBytes.count >= 150_000, "the fixture should hold about 200 KB of text")
  }

  @Test("encode gives exactly Hugging Face tokenizers' ids for every fixture document")
  func idsMatchReference() throws {
    let tokenizer = try TestAssets.smolLM()
    let fixture = try TestAssets.smolLMFixture()
    let (count, report) = fixture.mismatches(of: tokenizer, reference: "tokenizers")
    #expect(count == 0, "\(report)")
  }

  @Test("decoding gives the text back, less the few control bytes the vocabulary has no token for")
  func roundTrip() throws {
    let tokenizer = try TestAssets.smolLM()
    let fixture = try TestAssets.smolLMFixture()
    let tokenless = Set(
      (0..<0x80).map(UInt8.init).filter { tokenizer.encode(String(UnicodeScalar($0))).isEmpty })
    #expect(tokenless == [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D], "SmolLM2 has no token for these ASCII bytes")
    for document in fixture.metadata.documents {
      let text = fixture.text(document)
      let expected = String(decoding: text.utf8.filter { !tokenless.contains($0) }, as: UTF8.self)
      #expect(tokenizer.decode(tokenizer.encode(text)) == expected, "round trip changed \(document.name)")
      #expect(
        tokenizer.decode(fixture.ids(document)) == expected, "decoding the reference ids: \(document.name)")
    }
  }

  @Test(
    "known strings give the reference ids",
    arguments: [
      ("The capital of France is", [504, 3575, 282, 4649, 314]),
      ("12345", [33, 34, 35, 36, 37]),
      ("a  1", [81, 256, 33]),
      ("I'M don't", [57, 23, 61, 1326, 982]),
      ("<|endoftext|>", [44, 108, 486, 1714, 2692, 108, 46]),
      ("..\u{04}..", [5592]),
      ("", []),
    ] as [(String, [Int32])])
  func knownIDs(text: String, ids: [Int32]) throws {
    let tokenizer = try TestAssets.smolLM()
    #expect(tokenizer.encode(text) == ids, "encode(\(String(reflecting: text)))")
  }

  @Test("the vocabulary, special tokens, document separator and stop tokens are SmolLM2's")
  func specialTokens() throws {
    let tokenizer = try TestAssets.smolLM()
    #expect(tokenizer.vocabularySize == 49152)
    #expect(tokenizer.preTokenizer == .smolLM)
    #expect(tokenizer.endOfTextID == 0, "<|endoftext|> separated pretraining documents")
    #expect(
      tokenizer.stopIDs == [2, 0], "<|im_end|> (the GGUF's EOS) ends a chat turn; <|endoftext|> a document")
    #expect(tokenizer.decode([0, 1, 2]) == "<|endoftext|><|im_start|><|im_end|>")
    #expect(
      tokenizer.tokenBytes(504) == Array("The".utf8) && tokenizer.tokenBytes(3575) == Array(" capital".utf8))
  }

  @Test("special-token names in the text are ordinary text: no control token is ever produced")
  func noControlTokensFromText() throws {
    let tokenizer = try TestAssets.smolLM()
    let fixture = try TestAssets.smolLMFixture()
    var text = ""
    for document in fixture.metadata.documents
    where document.name.contains("special") || document.name.contains("chat") {
      text += fixture.text(document)
    }
    #expect(
      text.contains("<|im_start|>") && text.contains("<|endoftext|>"), "the fixture should contain the names")
    let control = tokenizer.encode(text).filter { $0 < 17 }
    #expect(control.isEmpty, "control ids produced: \(control.prefix(10))")
  }
}
