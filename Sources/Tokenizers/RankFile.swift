import Foundation

/// Reader for tiktoken's rank files (`gpt2.tiktoken`, `r50k_base.tiktoken`): one token per line,
/// the base64 of its bytes, a space, and its rank, which is both its id and its merge priority.
enum RankFile {
  /// One parsed line.
  struct Entry {
    var bytes: [UInt8]
    var rank: Int32
  }

  static func read(_ url: URL) throws -> [Entry] {
    try parse(readBytes(url), path: url.path)
  }

  static func parse(_ data: [UInt8], path: String) throws -> [Entry] {
    var entries: [Entry] = []
    entries.reserveCapacity(data.count / 14)
    var lineOfRank: [Int32: Int] = [:]
    var lineOfToken: [[UInt8]: Int] = [:]
    for (number, range) in lines(of: data) {
      let line = data[range]
      if line.isEmpty { continue }
      func fail(_ problem: String) -> TokenizerError {
        .malformedLine(
          path: path, line: number, content: String(decoding: line, as: UTF8.self), problem: problem)
      }
      let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
      guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else {
        throw fail(
          "expected \"<base64 of the token's bytes> <rank>\" separated by one space; "
            + "is this really a tiktoken rank file, complete and unedited?")
      }
      guard let bytes = decodeBase64(fields[0]), !bytes.isEmpty else {
        throw fail(
          "the token is not valid base64 of one or more bytes; the file may be corrupted, fetch it again")
      }
      guard let rankText = String(bytes: fields[1], encoding: .ascii), let rank = Int32(rankText), rank >= 0
      else {
        throw fail("the rank is not a non-negative decimal integer below 2^31; the file may be corrupted")
      }
      if let earlier = lineOfRank[rank] {
        throw fail("rank \(rank) was already given to the token on line \(earlier); ranks must be unique")
      }
      if let earlier = lineOfToken[bytes] {
        throw fail("this token already appeared on line \(earlier); every token must appear once")
      }
      lineOfRank[rank] = number
      lineOfToken[bytes] = number
      entries.append(Entry(bytes: bytes, rank: rank))
    }
    return entries
  }

  /// The file's bytes, with the reason in a `TokenizerError` if it cannot be read.
  static func readBytes(_ url: URL) throws -> [UInt8] {
    do {
      return [UInt8](try Data(contentsOf: url))
    } catch {
      throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
    }
  }

  /// Lines split at "\n" with a trailing "\r" dropped, numbered from 1.
  static func lines(of data: [UInt8]) -> [(number: Int, range: Range<Int>)] {
    var result: [(number: Int, range: Range<Int>)] = []
    var start = 0
    var number = 1
    while start < data.count {
      var end = data[start...].firstIndex(of: UInt8(ascii: "\n")) ?? data.count
      let next = end + 1
      if end > start && data[end - 1] == UInt8(ascii: "\r") { end -= 1 }
      result.append((number, start..<end))
      start = next
      number += 1
    }
    return result
  }

  /// Standard base64 (with or without "=" padding); nil if any character is not in the alphabet.
  static func decodeBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(text.count * 3 / 4)
    var accumulator: UInt32 = 0
    var bits = 0
    var padding = 0
    for char in text {
      let value: UInt32
      switch char {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(char - UInt8(ascii: "A"))
      case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(char - UInt8(ascii: "a")) + 26
      case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(char - UInt8(ascii: "0")) + 52
      case UInt8(ascii: "+"): value = 62
      case UInt8(ascii: "/"): value = 63
      case UInt8(ascii: "="):
        padding += 1
        continue
      default: return nil
      }
      if padding > 0 { return nil }  // data after padding
      accumulator = accumulator << 6 | value
      bits += 6
      if bits >= 8 {
        bits -= 8
        out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
      }
    }
    guard padding <= 2, bits < 6 else { return nil }
    return out
  }
}
