import Foundation
import Testing

@testable import Tokenizers

/// Both file formats load GPT-2 identically, and broken files say where and what is wrong.
@Suite("GPT-2 tokenizer loaders")
struct LoaderTests {
  @Test("GPT-2's byte-to-unicode map writes bytes as the Hugging Face files do")
  func byteLevelMap() {
    #expect(ByteLevel.scalarForByte[0x20] == "Ġ" && ByteLevel.scalarForByte[0x0A] == "Ċ")
    #expect(ByteLevel.scalarForByte[0x00] == "\u{0100}" && ByteLevel.scalarForByte[0xAD] == "\u{0143}")
    #expect(ByteLevel.scalarForByte[0x21] == "!" && ByteLevel.scalarForByte[0xFF] == "ÿ")
    #expect(Set(ByteLevel.scalarForByte).count == 256, "the map must be one-to-one")
    let all = (0...255).map { UInt8($0) }
    #expect(ByteLevel.decode(ByteLevel.encode(all)) == all)
    #expect(ByteLevel.decode("a b") == nil, "a plain space is not in the alphabet")
  }

  @Test("vocab.json + merges.txt derived from the rank file give the rank file's ids on the whole fixture")
  func huggingFaceFilesAgreeWithRankFile() throws {
    let rankTokenizer = try TestAssets.gpt2()
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (vocab, merges) = try writeHuggingFaceFiles(from: TestAssets.rankFileURL(), into: folder)
    let mergeLines = try String(contentsOf: merges, encoding: .utf8).split(separator: "\n")
    #expect(
      Array(mergeLines.prefix(7)) == ["#version: 0.2", "Ġ t", "Ġ a", "h e", "i n", "r e", "o n"],
      "GPT-2's merges.txt starts this way; the derivation from ranks is wrong otherwise")
    let hfTokenizer = try BPETokenizer.gpt2(vocabJSON: vocab, merges: merges)

    #expect(hfTokenizer.vocabularySize == rankTokenizer.vocabularySize)
    #expect(hfTokenizer.endOfTextID == rankTokenizer.endOfTextID)
    let differentBytes = (0..<Int32(rankTokenizer.vocabularySize)).filter {
      hfTokenizer.tokenBytes($0) != rankTokenizer.tokenBytes($0)
    }
    let differentCount = differentBytes.count
    #expect(differentCount == 0, "ids whose bytes differ: \(differentBytes.prefix(10))")

    let fixture = try TestAssets.fixture()
    let differing = fixture.metadata.documents.filter {
      hfTokenizer.encode(fixture.text($0)) != fixture.ids($0)
    }
    let differingCount = differing.count
    #expect(
      differingCount == 0,
      "documents where vocab.json+merges.txt differ from tiktoken: \(differing.prefix(10).map(\.name))")
  }

  @Test("a malformed rank file names the file and the bad line")
  func malformedRankFile() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let cases: [(String, Int, String)] = [
      ("IQ== 0\nIg== 1\n@@@@ 2\n", 3, "base64"),
      ("IQ== 0\nIg==\n", 2, "separated by one space"),
      ("IQ== 0\nIg== one\n", 2, "rank"),
      ("IQ== 0\nIg== 0\n", 2, "line 1"),
      ("IQ== 0\nIQ== 1\n", 2, "appeared on line 1"),
    ]
    for (index, (contents, line, hint)) in cases.enumerated() {
      let file = folder.appendingPathComponent("bad\(index).tiktoken")
      try Data(contents.utf8).write(to: file)
      do {
        _ = try BPETokenizer.gpt2(rankFile: file)
        Issue.record("loading \(String(reflecting: contents)) should fail")
      } catch let error as TokenizerError {
        let message = error.localizedDescription
        #expect(message.contains("\(file.path):\(line):"), "message should name file and line: \(message)")
        #expect(message.contains(hint), "message should say what is wrong: \(message)")
      }
    }
  }

  @Test("a rank file missing some bytes, or a missing file, is reported with what to do")
  func incompleteOrMissingRankFile() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("short.tiktoken")
    try Data("IQ== 0\nIg== 1\n".utf8).write(to: file)
    do {
      _ = try BPETokenizer.gpt2(rankFile: file)
      Issue.record("a rank file without every byte should fail")
    } catch let error as TokenizerError {
      #expect(error.localizedDescription.contains("byte 0x00 has no token"), "\(error.localizedDescription)")
    }
    do {
      _ = try BPETokenizer.gpt2(rankFile: folder.appendingPathComponent("absent.tiktoken"))
      Issue.record("a missing file should fail")
    } catch let error as TokenizerError {
      #expect(error.localizedDescription.contains("absent.tiktoken"))
      #expect(error.localizedDescription.contains("make assets"))
    }
  }

  @Test("a merges.txt line that does not fit vocab.json is reported by line")
  func malformedMerges() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    var vocabulary: [String: Int] = [:]
    for byte in 0..<256 { vocabulary[ByteLevel.encode([UInt8(byte)])] = byte }
    vocabulary["Ġt"] = 256
    vocabulary["<|endoftext|>"] = 257
    let vocab = folder.appendingPathComponent("vocab.json")
    try JSONEncoder().encode(vocabulary).write(to: vocab)
    for (contents, line) in [("#version: 0.2\nĠ t\nh e\n", 3), ("Ġ t\nĠt\n", 2), ("Ġ t\nĠ  t\n", 2)] {
      let merges = folder.appendingPathComponent("merges.txt")
      try Data(contents.utf8).write(to: merges)
      do {
        _ = try BPETokenizer.gpt2(vocabJSON: vocab, merges: merges)
        Issue.record("loading merges \(String(reflecting: contents)) should fail")
      } catch let error as TokenizerError {
        #expect(error.localizedDescription.contains("merges.txt:\(line):"), "\(error.localizedDescription)")
      }
    }
    let merges = folder.appendingPathComponent("merges.txt")
    try Data("#version: 0.2\nĠ t\n".utf8).write(to: merges)
    let tokenizer = try BPETokenizer.gpt2(vocabJSON: vocab, merges: merges)
    #expect(tokenizer.encode(" tt") == [256, Int32(UInt8(ascii: "t"))])
    #expect(tokenizer.endOfTextID == 257)
  }

  private func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-tokenizers-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
  }

  /// Writes vocab.json and merges.txt equivalent to a tiktoken rank file, independently of the
  /// library's BPE: each token of rank r >= 256 is the merge of the two parts that BPE with only the
  /// ranks below r leaves of its bytes (GPT-2's merges are exactly these, in rank order).
  private func writeHuggingFaceFiles(from rankFile: URL, into folder: URL) throws -> (URL, URL) {
    var ranks: [[UInt8]: Int] = [:]
    var tokens: [[UInt8]] = []
    for line in try String(contentsOf: rankFile, encoding: .utf8).split(separator: "\n") {
      let fields = line.split(separator: " ")
      let bytes = [UInt8](try #require(Data(base64Encoded: String(fields[0]))))
      let rank = try #require(Int(fields[1]))
      try #require(rank == tokens.count, "GPT-2's ranks are 0, 1, 2, ... in file order")
      ranks[bytes] = rank
      tokens.append(bytes)
    }
    var vocabulary: [String: Int] = ["<|endoftext|>": tokens.count]
    var merges = "#version: 0.2\n"
    for (rank, bytes) in tokens.enumerated() {
      vocabulary[ByteLevel.encode(bytes)] = rank
      guard bytes.count > 1 else { continue }
      var parts = bytes.map { [$0] }
      while parts.count > 2 {
        var best: (rank: Int, index: Int)?
        for i in 0..<parts.count - 1 {
          if let r = ranks[parts[i] + parts[i + 1]], r < rank, r < best?.rank ?? Int.max { best = (r, i) }
        }
        guard let best else { break }
        parts[best.index] += parts[best.index + 1]
        parts.remove(at: best.index + 1)
      }
      try #require(parts.count == 2, "token of rank \(rank) is not one merge of earlier tokens")
      merges += ByteLevel.encode(parts[0]) + " " + ByteLevel.encode(parts[1]) + "\n"
    }
    let vocab = folder.appendingPathComponent("vocab.json")
    let mergesFile = folder.appendingPathComponent("merges.txt")
    try JSONEncoder().encode(vocabulary).write(to: vocab)
    try Data(merges.utf8).write(to: mergesFile)
    return (vocab, mergesFile)
  }
}
