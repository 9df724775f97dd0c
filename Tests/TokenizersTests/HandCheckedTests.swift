import Testing

@testable import Tokenizers

/// Small cases whose ids were checked by hand against tiktoken's gpt2 encoding.
@Suite("GPT-2 tokenizer on hand-checked cases")
struct HandCheckedTests {
  @Test(
    "known strings give tiktoken's ids",
    arguments: [
      ("Hello world", [15496, 995]),
      ("<|endoftext|>", [27, 91, 437, 1659, 5239, 91, 29]),
      ("   ", [220, 220, 220]),
      ("a   b", [64, 220, 220, 275]),
      ("a \n\nb", [64, 220, 198, 198, 65]),
      (" \u{00A0}x", [220, 1849, 87]),
      ("I'M don't it'S we'RE", [40, 6, 44, 836, 470, 340, 6, 50, 356, 6, 2200]),
      ("x\u{3000}\u{3000}y", [87, 5099, 222, 5099, 222, 88]),
      ("123456 3.14", [10163, 29228, 513, 13, 1415]),
      ("\tfoo", [197, 21943]),
      ("Ωμέγα 😀", [138, 102, 34703, 138, 255, 42063, 17394, 30325, 222]),
      ("hello  ", [31373, 220, 220]),
      ("'s'S", [338, 6, 50]),
      ("", []),
    ] as [(String, [Int32])])
  func knownIDs(text: String, ids: [Int32]) throws {
    let tokenizer = try TestAssets.gpt2()
    #expect(tokenizer.encode(text) == ids, "encode(\(String(reflecting: text)))")
    #expect(tokenizer.decode(ids) == text, "decode of \(ids)")
  }

  @Test("<|endoftext|> is id 50256, the last of 50257 ids, and decodes to its name")
  func endOfText() throws {
    let tokenizer = try TestAssets.gpt2()
    #expect(tokenizer.endOfTextID == 50256)
    #expect(tokenizer.vocabularySize == 50257)
    #expect(tokenizer.tokenBytes(50256) == Array("<|endoftext|>".utf8))
    #expect(tokenizer.decode([15496, 50256, 995]) == "Hello<|endoftext|> world")
  }

  @Test("token bytes are the raw bytes, and broken UTF-8 decodes to U+FFFD")
  func bytesAndReplacement() throws {
    let tokenizer = try TestAssets.gpt2()
    #expect(tokenizer.tokenBytes(995) == Array(" world".utf8))
    #expect(tokenizer.tokenBytes(172) == [0xF0], "id 172 is the lone byte 0xF0")
    #expect(
      tokenizer.tokenBytes(-1).isEmpty && tokenizer.tokenBytes(50257).isEmpty, "ids outside the vocabulary")
    #expect(tokenizer.decode([172]) == "\u{FFFD}", "a lone lead byte is invalid UTF-8")
    #expect(tokenizer.decode([30325]) == " \u{FFFD}", "' \\xf0\\x9f\\x98' is a truncated emoji")
    #expect(tokenizer.decode([30325, 222]) == " 😀")
  }

  @Test("one tokenizer may be used from several threads at once")
  func concurrentUse() async throws {
    let tokenizer = try TestAssets.gpt2()
    let text = "Concurrent tokenization: Ωμέγα, привет, 東京, naïve coöperation 1234567 😀👩🏽‍💻"
    let expected = tokenizer.encode(text)
    let results = await withTaskGroup(of: [Int32].self) { group in
      for i in 0..<8 { group.addTask { tokenizer.encode(String(repeating: text + " \(i)", count: 20)) } }
      return await group.reduce(into: [[Int32]]()) { $0.append($1) }
    }
    for ids in results { #expect(Array(ids.prefix(expected.count)) == expected) }
  }
}
