import Foundation

/// Reader for Hugging Face's GPT-2 style tokenizer files: `vocab.json` (token text -> id) and
/// `merges.txt` (one merge "left right" per line, earliest = highest priority), both writing token
/// bytes through GPT-2's byte-to-unicode map (`ByteLevel`).
enum HuggingFaceBPEFiles {
  /// Ordinary tokens as bytes with their ids, and the ids of special tokens found in the vocabulary.
  struct Vocabulary {
    var ids: [[UInt8]: Int32] = [:]
    var specialTokens: [String: Int32] = [:]
  }

  /// Names kept as special (decoded verbatim, never produced by `encode`).
  static let specialTokenNames: Set<String> = ["<|endoftext|>"]

  static func readVocabulary(_ url: URL) throws -> Vocabulary {
    let data = try RankFile.readBytes(url)
    let path = url.path
    let json: [String: Int]
    do {
      json = try JSONDecoder().decode([String: Int].self, from: Data(data))
    } catch {
      throw TokenizerError.malformedVocabulary(
        path: path,
        problem: "expected a JSON object mapping token strings to integer ids (\(error)); "
          + "is this GPT-2's vocab.json, complete?")
    }
    var vocabulary = Vocabulary()
    var tokenOfID: [Int32: String] = [:]
    for (token, id) in json.sorted(by: { $0.value < $1.value }) {
      guard let id32 = Int32(exactly: id), id32 >= 0 else {
        throw TokenizerError.malformedVocabulary(
          path: path, problem: "token \(debugQuoted(token)) has id \(id), outside 0..<2^31")
      }
      if let other = tokenOfID[id32] {
        throw TokenizerError.malformedVocabulary(
          path: path,
          problem: "tokens \(debugQuoted(other)) and \(debugQuoted(token)) share id \(id); ids must be unique"
        )
      }
      tokenOfID[id32] = token
      if specialTokenNames.contains(token) {
        vocabulary.specialTokens[token] = id32
        continue
      }
      guard let bytes = ByteLevel.decode(token) else {
        throw TokenizerError.malformedVocabulary(
          path: path,
          problem:
            "token \(debugQuoted(token)) (id \(id)) has characters outside GPT-2's byte-level alphabet; "
            + "this reader only handles byte-level BPE vocabularies")
      }
      vocabulary.ids[bytes] = id32
    }
    return vocabulary
  }

  /// Merges in priority order as the bytes each one produces, checked against the vocabulary.
  static func readMerges(_ url: URL, vocabulary: Vocabulary) throws -> [[UInt8]] {
    let data = try RankFile.readBytes(url)
    var merged: [[UInt8]] = []
    for (number, range) in RankFile.lines(of: data) {
      let text = String(decoding: data[range], as: UTF8.self)
      if text.isEmpty || (number == 1 && text.hasPrefix("#version")) { continue }
      func fail(_ problem: String) -> TokenizerError {
        .malformedLine(path: url.path, line: number, content: text, problem: problem)
      }
      let sides = text.split(separator: " ", omittingEmptySubsequences: false)
      guard sides.count == 2, !sides[0].isEmpty, !sides[1].isEmpty else {
        throw fail("expected two byte-level tokens separated by one space, e.g. \"Ġ t\"")
      }
      guard let left = ByteLevel.decode(String(sides[0])), let right = ByteLevel.decode(String(sides[1]))
      else {
        throw fail("a token has characters outside GPT-2's byte-level alphabet")
      }
      for side in [left, right] where vocabulary.ids[side] == nil {
        throw fail(
          "\(debugQuoted(ByteLevel.encode(side))) is not in vocab.json; are vocab.json and merges.txt from the same model?"
        )
      }
      guard vocabulary.ids[left + right] != nil else {
        throw fail(
          "the merge makes \(debugQuoted(ByteLevel.encode(left + right))), which vocab.json lacks; "
            + "are vocab.json and merges.txt from the same model?")
      }
      merged.append(left + right)
    }
    return merged
  }

  private static func debugQuoted(_ text: String) -> String { String(reflecting: text) }
}
