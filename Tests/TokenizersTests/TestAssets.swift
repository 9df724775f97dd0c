import Foundation
import ModelFormats
import Tokenizers

/// A test input that is not there; its description says how to get it.
struct MissingAsset: Error, CustomStringConvertible {
  let description: String
}

/// Where the tests find GPT-2's rank file and the tiktoken fixture, loaded once per test process.
enum TestAssets {
  /// `$CLTKIT_ASSETS/gpt2.tiktoken`, else `<package root>/assets/gpt2.tiktoken`.
  static func rankFileURL() throws -> URL {
    let folder: URL
    if let assets = ProcessInfo.processInfo.environment["CLTKIT_ASSETS"], !assets.isEmpty {
      folder = URL(fileURLWithPath: assets, isDirectory: true)
    } else {
      folder = packageRoot().appendingPathComponent("assets", isDirectory: true)
    }
    let file = folder.appendingPathComponent("gpt2.tiktoken")
    guard FileManager.default.fileExists(atPath: file.path) else {
      throw MissingAsset(
        description: "GPT-2's rank file is missing at \(file.path); run `make assets` in the package root "
          + "(or point CLTKIT_ASSETS at a folder holding gpt2.tiktoken)")
    }
    return file
  }

  /// The folder holding Package.swift, found by walking up from this source file.
  static func packageRoot() -> URL {
    var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while folder.path != "/" {
      if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
        return folder
      }
      folder.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
  }

  static func fixtureURL(_ name: String, _ ext: String) throws -> URL {
    if let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures") {
      return url
    }
    throw MissingAsset(
      description:
        "fixture Fixtures/\(name).\(ext) is missing; regenerate it with scripts/make_tokenizer_fixture.py")
  }

  private static let loadedTokenizer = Result { try BPETokenizer.gpt2(rankFile: try rankFileURL()) }
  private static let loadedFixture = Result { try TiktokenFixture.load() }

  /// GPT-2 from the rank file, shared by all tests (loading it is the slow part in debug builds).
  static func gpt2() throws -> BPETokenizer { try loadedTokenizer.get() }

  static func fixture() throws -> TiktokenFixture { try loadedFixture.get() }

  /// `<package root>/models/SmolLM2-135M-Instruct.Q4_1.gguf`, which `make models` fetches.
  static let smolLMModelURL = packageRoot().appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
  static var hasSmolLMModel: Bool { FileManager.default.fileExists(atPath: smolLMModelURL.path) }

  private static let loadedSmolLM = Result { try BPETokenizer.fromGGUF(GGUFFile(url: smolLMModelURL)) }
  private static let loadedSmolLMFixture = Result { try TiktokenFixture.load(prefix: "smollm-") }

  /// SmolLM2's tokenizer from the GGUF's metadata, shared by all tests.
  static func smolLM() throws -> BPETokenizer { try loadedSmolLM.get() }

  /// The reference ids of Hugging Face `tokenizers` (scripts/make_smollm_tokenizer_fixture.py).
  static func smolLMFixture() throws -> TiktokenFixture { try loadedSmolLMFixture.get() }
}

/// The texts and reference ids written by scripts/make_tokenizer_fixture.py (tiktoken, GPT-2) and
/// scripts/make_smollm_tokenizer_fixture.py (Hugging Face `tokenizers`, SmolLM2, files prefixed
/// "smollm-"); the first script's header documents the layout.
struct TiktokenFixture {
  struct Metadata: Decodable {
    var encoding: String
    var tiktokenVersion: String?
    var rankFileSHA256: String?
    var tokenizersVersion: String?
    var ggufSHA256: String?
    var textBytes: Int
    var idCount: Int
    var documents: [Document]
  }

  struct Document: Decodable {
    var name: String
    var textOffset: Int
    var textLength: Int
    var idOffset: Int
    var idCount: Int
  }

  var metadata: Metadata
  var textBytes: [UInt8]
  var ids: [Int32]

  static func load(prefix: String = "") throws -> TiktokenFixture {
    let metadata = try JSONDecoder().decode(
      Metadata.self, from: Data(contentsOf: TestAssets.fixtureURL(prefix + "tokenizer-fixture", "json")))
    let text = [UInt8](try Data(contentsOf: TestAssets.fixtureURL(prefix + "tokenizer-text", "txt")))
    let raw = [UInt8](try Data(contentsOf: TestAssets.fixtureURL(prefix + "tokenizer-ids", "u16")))
    let ids = (0..<raw.count / 2).map { Int32(UInt16(raw[2 * $0]) | UInt16(raw[2 * $0 + 1]) << 8) }
    return TiktokenFixture(metadata: metadata, textBytes: text, ids: ids)
  }

  func text(_ document: Document) -> String {
    String(
      decoding: textBytes[document.textOffset..<document.textOffset + document.textLength], as: UTF8.self)
  }

  func ids(_ document: Document) -> [Int32] {
    Array(ids[document.idOffset..<document.idOffset + document.idCount])
  }
}

extension TiktokenFixture {
  /// Encodes every document with `tokenizer` and compares with the fixture's ids: the number of
  /// documents that differ, and a sentence on all of them with the first mismatch in context.
  func mismatches(of tokenizer: BPETokenizer, reference: String) -> (count: Int, report: String) {
    var mismatched: [String] = []
    var firstReport = ""
    for document in metadata.documents {
      let expected = ids(document)
      let actual = tokenizer.encode(text(document))
      guard actual != expected else { continue }
      if mismatched.isEmpty {
        firstReport = describeMismatch(
          document: document, expected: expected, actual: actual, tokenizer: tokenizer, reference: reference)
      }
      mismatched.append(document.name)
    }
    let names = mismatched.prefix(10).joined(separator: ", ")
    return (
      mismatched.count,
      "\(mismatched.count) of \(metadata.documents.count) documents differ from \(reference) (\(names)); first: \(firstReport)"
    )
  }

  /// Where `actual` first differs from the reference's `expected` ids for `document`, with the tokens
  /// around it and the text they cover, so a failure says what to look at.
  func describeMismatch(
    document: Document, expected: [Int32], actual: [Int32], tokenizer: BPETokenizer, reference: String
  ) -> String {
    let common = min(expected.count, actual.count)
    let position = (0..<common).first { expected[$0] != actual[$0] } ?? common
    let byteOffset = expected[..<position].reduce(0) { $0 + tokenizer.tokenBytes($1).count }
    func show(_ ids: [Int32]) -> String {
      let window = ids[max(0, position - 3)..<min(ids.count, position + 5)]
      return window.map {
        "\($0) \(String(reflecting: String(decoding: tokenizer.tokenBytes($0), as: UTF8.self)))"
      }
      .joined(separator: ", ")
    }
    return "document \(document.name), token \(position) (byte \(byteOffset) of the document): "
      + "\(reference) [\(show(expected))] vs ours [\(show(actual))]"
  }
}
