import Foundation
import ModelFormats
import Testing

@testable import Tokenizers

/// `BPETokenizer.fromGGUF` on small made-up GGUF files: what it refuses and why, and the merge rule
/// of Hugging Face's BPE model, which differs from tiktoken's. Needs no model file.
@Suite("Tokenizer from GGUF metadata, on made-up files")
struct GGUFLoaderTests {
  private func load(_ metadata: [(String, TinyGGUF.Value)]) throws -> BPETokenizer {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-\(UUID().uuidString).gguf")
    defer { try? FileManager.default.removeItem(at: url) }
    try TinyGGUF.write(metadata, to: url)
    return try BPETokenizer.fromGGUF(GGUFFile(url: url))
  }

  @Test(
    "an unsupported tokenizer model or pre-tokenizer is named, with the supported ones",
    arguments: [
      ("llama", "smollm", "tokenizer.ggml.model is \"llama\"", "\"gpt2\""),
      ("gpt2", "qwen2", "tokenizer.ggml.pre is \"qwen2\"", "\"smollm\""),
    ])
  func unsupported(model: String, pre: String, named: String, supported: String) throws {
    do {
      _ = try load(TinyGGUF.byteLevel(model: model, pre: pre, merges: []))
      Issue.record("model \(model) with pre \(pre) should be refused")
    } catch let error as TokenizerError {
      let message = error.localizedDescription
      #expect(message.contains(named) && message.contains(supported), "\(message)")
    }
  }

  @Test("only the two parts a merge names may merge, unlike tiktoken's rule")
  func pairExactMerges() throws {
    // "bc" merges first, so "abc" is a + bc; the only merge making "abc" joins "ab" and "c", so
    // Hugging Face stops at [a, bc], where tiktoken's rule would make "abc".
    let tokenizer = try load(TinyGGUF.byteLevel(merges: ["b c", "a b", "ab c"]))
    let a = Int32(UInt8(ascii: "a"))  // the made-up vocabulary gives byte b the id b
    let bc = tokenizer.encode("bc")
    #expect(bc.count == 1, "\"bc\" is one token")
    #expect(tokenizer.encode("abc") == [a] + bc)
    #expect(tokenizer.encode("ab").count == 1)
    #expect(tokenizer.encode("abx").count == 2)
  }

  @Test("the control token is special: decoded by name, never made from text, the document separator")
  func controlToken() throws {
    let tokenizer = try load(TinyGGUF.byteLevel(merges: ["< |"]))
    let endOfText = Int32(tokenizer.vocabularySize - 1)
    #expect(tokenizer.endOfTextID == endOfText && tokenizer.stopIDs == [endOfText])
    #expect(tokenizer.decode([endOfText]) == "<|endoftext|>")
    #expect(!tokenizer.encode("<|endoftext|>").contains(endOfText))
    #expect(tokenizer.decode(tokenizer.encode("<|endoftext|> 123")) == "<|endoftext|> 123")
  }
}
