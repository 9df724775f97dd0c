import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads documents, in order, from corpus inputs: plain-text files, `.jsonl` files and `-`
/// (standard input, plain text). The formats are described in docs/FORMATS.md.
///
/// Inputs are streamed in blocks (1 MiB by default): a multi-gigabyte file is never held in
/// memory, only the document being assembled. All bytes are checked to be UTF-8 first, so the
/// model never sees silently replaced characters.
///
/// Documents that are empty or only ASCII whitespace are skipped: they come from blank lines
/// around separators or empty records and carry no text to learn from.
///
/// ```swift
/// try CorpusReader(inputs: ["wiki.txt", "web.jsonl"]).forEachDocument { text in ... }
/// ```
public struct CorpusReader: Sendable {
  /// The line that separates documents in plain-text inputs (GPT-2's end-of-text token).
  public static let separator = "<|endoftext|>"

  /// Input paths, read in order; `-` is standard input.
  public let inputs: [String]
  /// Bytes read per system call.
  public let blockSize: Int

  public init(inputs: [String], blockSize: Int = 1 << 20) {
    self.inputs = inputs
    self.blockSize = max(blockSize, 16)
  }

  /// Calls `body` with each document of each input, in order; stops at the first error
  /// (from reading, or thrown by `body`).
  public func forEachDocument(_ body: (String) throws -> Void) throws {
    for input in inputs {
      if input != "-" && input.hasSuffix(".jsonl") {
        try readJSONLines(input, body)
      } else {
        try readPlainText(input, body)
      }
    }
  }

  // MARK: - Formats

  /// Plain text: documents are separated by lines that are exactly `<|endoftext|>` (a trailing
  /// "\r" is allowed for CRLF files). A document keeps its bytes, except the line break just
  /// before a separator or the end of the input.
  private func readPlainText(_ input: String, _ body: (String) throws -> Void) throws {
    let separator = Array(Self.separator.utf8)
    var document: [UInt8] = []
    func emit() throws {
      if document.last == UInt8(ascii: "\n") { document.removeLast() }
      if document.last == UInt8(ascii: "\r") { document.removeLast() }
      if !Self.isBlank(document) {
        try body(String(decoding: document, as: UTF8.self))
      }
      document.removeAll(keepingCapacity: true)
    }
    try forEachLine(of: input) { line, _ in
      if Self.isSeparator(line, separator) {
        try emit()
      } else {
        document.append(contentsOf: line)
        document.append(UInt8(ascii: "\n"))
      }
    }
    try emit()
  }

  /// JSON Lines: one object per line with a string field "text"; blank lines are skipped.
  private func readJSONLines(_ input: String, _ body: (String) throws -> Void) throws {
    struct Record: Decodable { let text: String }
    let decoder = JSONDecoder()
    try forEachLine(of: input) { line, number in
      if Self.isBlank(line) { return }
      let record: Record
      do {
        record = try decoder.decode(Record.self, from: Data(line))
      } catch DecodingError.dataCorrupted {
        throw CorpusError.invalidJSONLine(
          path: Self.displayName(input), line: number, reason: "not valid JSON")
      } catch {
        throw CorpusError.invalidJSONLine(
          path: Self.displayName(input), line: number, reason: "no \"text\" string field")
      }
      if !Self.isBlank(record.text.utf8) {
        try body(record.text)
      }
    }
  }

  // MARK: - Streaming

  /// Calls `handle` with each line (without its "\n") and its 1-based number, after checking
  /// that the line's bytes are valid UTF-8. The last line need not end with "\n".
  private func forEachLine(
    of input: String, _ handle: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
  ) throws {
    let name = Self.displayName(input)
    let fd: Int32
    if input == "-" {
      fd = STDIN_FILENO
    } else {
      fd = open(input, O_RDONLY)
      guard fd >= 0 else {
        if errno == ENOENT { throw CorpusError.fileNotFound(path: input) }
        throw CorpusError.cannotRead(path: input, reason: String(cString: strerror(errno)))
      }
    }
    defer { if fd != STDIN_FILENO { close(fd) } }

    var validator = UTF8Validator()
    var block = [UInt8](repeating: 0, count: blockSize)
    var partial: [UInt8] = []  // the start of a line that continues in the next block
    var lineNumber = 0
    while true {
      let count = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw CorpusError.cannotRead(path: name, reason: String(cString: strerror(errno)))
      }
      if count == 0 { break }
      try block.withUnsafeBufferPointer { whole in
        let bytes = UnsafeBufferPointer(rebasing: whole[0..<count])
        if let bad = validator.validate(bytes) {
          throw CorpusError.invalidUTF8(path: name, byteOffset: bad)
        }
        var lineStart = 0
        while let newline = Self.indexOfNewline(in: bytes, from: lineStart) {
          lineNumber += 1
          if partial.isEmpty {
            try handle(UnsafeBufferPointer(rebasing: bytes[lineStart..<newline]), lineNumber)
          } else {
            partial.append(contentsOf: bytes[lineStart..<newline])
            try partial.withUnsafeBufferPointer { try handle($0, lineNumber) }
            partial.removeAll(keepingCapacity: true)
          }
          lineStart = newline + 1
        }
        partial.append(contentsOf: bytes[lineStart...])
      }
    }
    if let bad = validator.finish() {
      throw CorpusError.invalidUTF8(path: name, byteOffset: bad)
    }
    if !partial.isEmpty {
      try partial.withUnsafeBufferPointer { try handle($0, lineNumber + 1) }
    }
  }

  private static func indexOfNewline(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
    guard start < bytes.count, let base = bytes.baseAddress else { return nil }
    guard let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start) else {
      return nil
    }
    return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
  }

  private static func isSeparator(_ line: UnsafeBufferPointer<UInt8>, _ separator: [UInt8]) -> Bool {
    var length = line.count
    if length == separator.count + 1 && line[length - 1] == UInt8(ascii: "\r") { length -= 1 }
    return length == separator.count && line[0..<length].elementsEqual(separator)
  }

  /// Whether `bytes` are all ASCII whitespace (or empty).
  private static func isBlank<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
    bytes.allSatisfy { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
  }

  private static func displayName(_ input: String) -> String {
    input == "-" ? "<stdin>" : input
  }
}
