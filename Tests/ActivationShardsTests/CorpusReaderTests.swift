import ActivationShards
import Foundation
import Testing

@Suite struct CorpusReaderTests {
  private func write(_ bytes: [UInt8], _ name: String, in dir: TemporaryDirectory) throws -> String {
    let path = dir.url.appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  private func write(_ text: String, _ name: String, in dir: TemporaryDirectory) throws -> String {
    try write(Array(text.utf8), name, in: dir)
  }

  private func documents(_ inputs: [String], blockSize: Int = 1 << 20) throws -> [String] {
    var documents: [String] = []
    try CorpusReader(inputs: inputs, blockSize: blockSize).forEachDocument { documents.append($0) }
    return documents
  }

  @Test(
    "plain text splits on exact <|endoftext|> lines, drops the line break before them and skips blank documents",
    arguments: [3, 1 << 20])
  func separators(blockSize: Int) throws {
    let dir = try TemporaryDirectory()
    let text =
      "<|endoftext|>\nfirst line\nsecond <|endoftext|> inline\n<|endoftext|>\n"
      + "  \n\t\n<|endoftext|>\r\n\n\nthird, with leading blank lines\n<|endoftext|>\n"
      + "<|endoftext|>\nlast, no trailing newline"
    let path = try write(text, "corpus.txt", in: dir)
    let single = try write("one document\nno separator\n", "single.txt", in: dir)
    #expect(
      try documents([path, single], blockSize: blockSize) == [
        "first line\nsecond <|endoftext|> inline",
        "\n\nthird, with leading blank lines",
        "last, no trailing newline",
        "one document\nno separator",
      ], "documents in order, across files, whatever the block size")
  }

  @Test("jsonl yields each line's text, skipping blank lines and empty texts")
  func jsonLines() throws {
    let dir = try TemporaryDirectory()
    let path = try write(
      "{\"text\": \"héllo\\nworld\", \"id\": 1}\n\n   \n{\"text\": \"\"}\n{\"text\":\"second\"}",
      "data.jsonl", in: dir)
    #expect(try documents([path]) == ["héllo\nworld", "second"], "one document per line")
  }

  @Test("a bad jsonl line is an error naming the file and its line number")
  func badJSONLine() throws {
    let dir = try TemporaryDirectory()
    let path = try write(
      "{\"text\": \"ok\"}\n\n{\"text\": 3}\n{broken\n", "bad.jsonl", in: dir)
    #expect(
      throws: CorpusError.invalidJSONLine(path: path, line: 3, reason: "no \"text\" string field"),
      "line 3 has no string text (line 2 is blank but still counted)"
    ) {
      _ = try documents([path])
    }
    let broken = try write("{\"text\": \"ok\"}\n{broken\n", "broken.jsonl", in: dir)
    do {
      _ = try documents([broken])
      Issue.record("invalid JSON must throw")
    } catch let error as CorpusError {
      #expect(
        error == .invalidJSONLine(path: broken, line: 2, reason: "not valid JSON"), "line 2")
      #expect(error.localizedDescription.hasPrefix("\(broken):2: "), "file:line in the message")
    }
  }

  @Test(
    "invalid UTF-8 is reported at the byte offset of the first bad sequence",
    arguments: [
      ([0x61, 0x62, 0xFF, 0x63], 2),  // invalid byte
      ([0x61, 0xC3, 0xA9, 0x80], 3),  // stray continuation after a valid é
      ([0x61, 0xE2, 0x82, 0x41], 1),  // truncated 3-byte sequence: the sequence start
      ([0x61, 0xC0, 0xAF], 1),  // overlong "/"
      ([0xED, 0xA0, 0x80], 0),  // UTF-16 surrogate
      ([0x61, 0x62, 0xF0, 0x9F, 0x98], 2),  // truncated at end of file
    ] as [([UInt8], Int)])
  func invalidUTF8(bytes: [UInt8], offset: Int) throws {
    let dir = try TemporaryDirectory()
    // Padding puts the bad bytes past a block boundary to test absolute offsets.
    let padding = [UInt8](repeating: UInt8(ascii: "x"), count: 21) + [UInt8(ascii: "\n")]
    let path = try write(padding + bytes, "bad.txt", in: dir)
    #expect(
      throws: CorpusError.invalidUTF8(path: path, byteOffset: padding.count + offset),
      "the offset counts bytes from the start of the file"
    ) {
      _ = try documents([path], blockSize: 16)
    }
  }

  @Test("valid multi-byte UTF-8 split across blocks is accepted")
  func multibyteAcrossBlocks() throws {
    let dir = try TemporaryDirectory()
    let text = String(repeating: "añ€😀", count: 50)
    let path = try write(text, "ok.txt", in: dir)
    #expect(try documents([path], blockSize: 17) == [text], "no false UTF-8 errors")
  }

  @Test("a missing input is an error naming it")
  func missingFile() throws {
    #expect(
      throws: CorpusError.fileNotFound(path: "/nonexistent/corpus.txt"), "named in the error"
    ) {
      _ = try documents(["/nonexistent/corpus.txt"])
    }
  }

  @Test("a 20 MB generated corpus is streamed in blocks without error")
  func bigInputStreams() throws {
    let dir = try TemporaryDirectory()
    let path = dir.url.appendingPathComponent("big.txt").path
    #expect(FileManager.default.createFile(atPath: path, contents: nil), "created")
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    let document = Data(
      (String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 400) + "\n"
        + "<|endoftext|>\n").utf8)
    let copies = 20_000_000 / document.count + 1
    var chunk = Data()
    for _ in 0..<100 { chunk.append(document) }
    for _ in 0..<(copies / 100 + 1) { handle.write(chunk) }
    try handle.close()
    var count = 0
    var bytes = 0
    try CorpusReader(inputs: [path]).forEachDocument { text in
      count += 1
      bytes += text.utf8.count
    }
    let expectedCount = (copies / 100 + 1) * 100
    #expect(count == expectedCount, "every document is yielded")
    #expect(bytes == expectedCount * 400 * 45, "each document holds exactly its text")
  }
}
