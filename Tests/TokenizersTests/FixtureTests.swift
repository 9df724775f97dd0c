import Foundation
import ModelFormats
import Testing

@testable import Tokenizers

/// The Swift tokenizer against tiktoken's own output on about 1 MB of varied text.
@Suite("GPT-2 tokenizer against the tiktoken fixture")
struct FixtureTests {
  @Test("the fixture was made from the same rank file the tests load")
  func rankFileMatchesFixture() throws {
    let fixture = try TestAssets.fixture()
    let data = [UInt8](try Data(contentsOf: try TestAssets.rankFileURL()))
    #expect(
      data.withUnsafeBytes { FileHash.sha256Hex($0) } == fixture.metadata.rankFileSHA256,
      "assets/gpt2.tiktoken differs from the file the fixture was made from; fetch it again with `make assets`"
    )
    #expect(fixture.metadata.encoding == "gpt2")
    #expect(
      fixture.textBytes.count == fixture.metadata.textBytes, "tokenizer-text.txt is truncated or edited")
    #expect(fixture.ids.count == fixture.metadata.idCount, "tokenizer-ids.u16 is truncated or edited")
    #expect(fixture.textBytes.count >= 1_000_000, "the fixture should hold at least 1 MB of text")
  }

  @Test("encode gives exactly tiktoken's ids for every fixture document")
  func idsMatchTiktoken() throws {
    let tokenizer = try TestAssets.gpt2()
    let fixture = try TestAssets.fixture()
    let (count, report) = fixture.mismatches(of: tokenizer, reference: "tiktoken")
    #expect(count == 0, "\(report)")
  }

  @Test("decode(encode(text)) gives the text back for every fixture document")
  func roundTrip() throws {
    let tokenizer = try TestAssets.gpt2()
    let fixture = try TestAssets.fixture()
    for document in fixture.metadata.documents {
      let text = fixture.text(document)
      let back = tokenizer.decode(tokenizer.encode(text))
      #expect(back == text, "round trip changed document \(document.name)")
      #expect(
        tokenizer.decode(fixture.ids(document)) == text, "decoding tiktoken's ids changed \(document.name)")
    }
  }
}
