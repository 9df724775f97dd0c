import Foundation

/// Byte-level BPE: GPT-2's, giving exactly tiktoken's `r50k_base` / `gpt2` ids, and vocabularies
/// read from GGUF metadata (SmolLM2; see `fromGGUF`), giving Hugging Face `tokenizers`' ids.
///
/// Encoding splits text with the vocabulary's `PreTokenizer`, then for each piece: a piece that is a
/// token itself gives that id; otherwise its UTF-8 bytes are merged by priority (see
/// `bytePairEncode`). Results for pieces that needed merging are cached, since corpora repeat words.
/// The two merge rules (`MergeRule`) differ only in corners that the loaders check or document.
///
/// Thread safety: everything is immutable after loading except the piece cache, which is only
/// touched under `cacheLock`; so one instance may be shared by threads (hence `@unchecked Sendable`).
public final class BPETokenizer: Tokenizer, @unchecked Sendable {
  /// What the vocabulary knows about a byte string: its id, and the priority (lower merges first)
  /// with which two adjacent parts whose concatenation it is may merge into it.
  struct Entry {
    var id: Int32
    var priority: Int32
    /// Under `MergeRule.huggingFace`, the byte length of the left part of the one merge that makes
    /// this token; 0 where any two parts concatenating to it may merge (tiktoken).
    var leftLength: Int32 = 0
  }

  /// How parts merge; the references differ, and each loader picks its reference's rule.
  enum MergeRule {
    /// tiktoken's `byte_pair_merge`: any adjacent parts whose bytes concatenate to a token merge,
    /// with the token's rank; a piece that is a token is that token; every byte must be a token.
    case tiktoken
    /// Hugging Face `tokenizers`' BPE model (`ignore_merges: false`, `unk_token: null`,
    /// `byte_fallback: false`), as in SmolLM2's tokenizer.json: only the two parts a merge names
    /// merge; a piece is a token only if merging its bytes leads there (checked per token at load,
    /// so the whole-piece shortcut stays exact); bytes the vocabulary lacks are dropped before merging.
    case huggingFace
  }

  public let vocabularySize: Int
  /// The most ids a vocabulary may span (2^24; the largest published vocabularies hold about 2^18).
  static let maximumVocabularySize = 1 << 24
  public let endOfTextID: Int32
  public let stopIDs: [Int32]
  /// How text is cut into pieces before merging.
  public let preTokenizer: PreTokenizer

  private let table: ByteStringTable<Entry>
  /// id of each single byte, so one-byte pieces skip the table.
  private let byteIDs: [Int32]
  /// Bytes of every id (special tokens included): id i is decoderBytes[decoderOffsets[i]..<decoderOffsets[i+1]].
  private let decoderBytes: [UInt8]
  private let decoderOffsets: [Int]
  /// Whether some byte has no token (`byteIDs` holds -1 for it); only under `MergeRule.huggingFace`.
  private let hasMissingBytes: Bool
  /// Tokens that merging their own bytes does not reach: a piece equal to one is merged, not looked
  /// up. Filled once in `init` (hence `var`), empty for SmolLM2 and under `MergeRule.tiktoken`.
  private var tokensNotReachedByMerging: Set<Int32> = []

  private let cacheLock = NSLock()
  private var cache = ByteStringTable<[Int32]>(minimumCapacity: 1 << 14)
  /// The cache is emptied when it passes either limit, bounding its memory (about 100 MB at most)
  /// on corpora with endless distinct words.
  private static let cacheKeyByteLimit = 32 << 20
  private static let cacheEntryLimit = 1 << 20

  /// GPT-2 from tiktoken's rank file (`gpt2.tiktoken`); `<|endoftext|>` is added as id 50256.
  public static func gpt2(rankFile: URL) throws -> BPETokenizer {
    let entries = try RankFile.read(rankFile)
    let endOfText: Int32 = 50256
    if entries.contains(where: { $0.rank == endOfText }) {
      throw TokenizerError.malformedVocabulary(
        path: rankFile.path,
        problem: "rank \(endOfText) is GPT-2's <|endoftext|>, but the file gives it to a token")
    }
    return try BPETokenizer(
      tokens: entries.map { ($0.bytes, $0.rank, $0.rank, 0) }, specialTokens: ["<|endoftext|>": endOfText],
      endOfTextID: endOfText, path: rankFile.path)
  }

  /// GPT-2 from Hugging Face's `vocab.json` (ids) and `merges.txt` (merge priority by line).
  ///
  /// The merge "a b" on line k lets adjacent parts whose bytes concatenate to ab merge with
  /// priority k, as in tiktoken, rather than only the parts a and b; the two agree whenever each
  /// merged token comes from one merge only, which holds for GPT-2 (the tests check both loaders).
  public static func gpt2(vocabJSON: URL, merges: URL) throws -> BPETokenizer {
    let vocabulary = try HuggingFaceBPEFiles.readVocabulary(vocabJSON)
    let merged = try HuggingFaceBPEFiles.readMerges(merges, vocabulary: vocabulary)
    var priority: [[UInt8]: Int32] = [:]
    for (line, bytes) in merged.enumerated() where priority[bytes] == nil { priority[bytes] = Int32(line) }
    guard let endOfText = vocabulary.specialTokens["<|endoftext|>"] else {
      throw TokenizerError.malformedVocabulary(
        path: vocabJSON.path, problem: "there is no \"<|endoftext|>\" token; is this GPT-2's vocab.json?")
    }
    let tokens = vocabulary.ids.map { bytes, id in (bytes, id, priority[bytes] ?? Int32.max, Int32(0)) }
    return try BPETokenizer(
      tokens: tokens, specialTokens: vocabulary.specialTokens, endOfTextID: endOfText, path: vocabJSON.path)
  }

  /// - Parameters:
  ///   - tokens: ordinary tokens as (bytes, id, merge priority, left part length); priority
  ///     `Int32.max` for tokens no merge makes, left length 0 unless `rule` is `.huggingFace`.
  ///   - specialTokens: decoded verbatim, never produced by `encode`.
  ///   - stopIDs: `[endOfTextID]` when nil.
  init(
    tokens: [(bytes: [UInt8], id: Int32, priority: Int32, leftLength: Int32)], specialTokens: [String: Int32],
    endOfTextID: Int32, stopIDs: [Int32]? = nil, preTokenizer: PreTokenizer = .gpt2,
    rule: MergeRule = .tiktoken, path: String
  ) throws {
    var table = ByteStringTable<Entry>(minimumCapacity: tokens.count)
    var bytesOfID: [Int32: [UInt8]] = [:]
    for token in tokens {
      table.insert(token.bytes, Entry(id: token.id, priority: token.priority, leftLength: token.leftLength))
      bytesOfID[token.id] = token.bytes
    }
    var byteIDs = [Int32](repeating: -1, count: 256)
    for byte in 0..<256 {
      guard let entry = table.value(for: [UInt8(byte)]) else {
        if rule == .huggingFace { continue }
        throw TokenizerError.malformedVocabulary(
          path: path,
          problem: String(
            format: "byte 0x%02X has no token; a byte-level BPE vocabulary needs all 256 bytes", byte))
      }
      byteIDs[byte] = entry.id
    }
    for (name, id) in specialTokens { bytesOfID[id] = Array(name.utf8) }
    let size = Int(bytesOfID.keys.max() ?? -1) + 1
    // The decoder table has a slot per id up to the largest, so a damaged id (a rank of 2^31 - 1)
    // would ask for gigabytes; real vocabularies have a few hundred thousand ids at most.
    guard size <= Self.maximumVocabularySize else {
      throw TokenizerError.malformedVocabulary(
        path: path,
        problem: "the largest token id is \(size - 1), beyond the \(Self.maximumVocabularySize) ids this "
          + "reader accepts; the file is damaged, fetch it again")
    }
    var decoderBytes: [UInt8] = []
    var decoderOffsets = [0]
    decoderOffsets.reserveCapacity(size + 1)
    for id in 0..<size {
      decoderBytes.append(contentsOf: bytesOfID[Int32(id)] ?? [])
      decoderOffsets.append(decoderBytes.count)
    }
    self.table = table
    self.byteIDs = byteIDs
    self.decoderBytes = decoderBytes
    self.decoderOffsets = decoderOffsets
    self.vocabularySize = size
    self.endOfTextID = endOfTextID
    self.stopIDs = stopIDs ?? [endOfTextID]
    self.preTokenizer = preTokenizer
    self.hasMissingBytes = byteIDs.contains(-1)
    if rule == .huggingFace {
      var unreached: Set<Int32> = []
      for token in tokens where token.bytes.count > 1 {
        let merged = token.bytes.withUnsafeBufferPointer { bytePairEncode($0) }
        if merged != [token.id] { unreached.insert(token.id) }
      }
      tokensNotReachedByMerging = unreached
    }
  }

  /// tiktoken's `encode_ordinary`: `<|endoftext|>` in the text is tokenized as the characters it
  /// is made of, so corpus text can never inject a document boundary. Safe to call from several
  /// threads at once.
  public func encode(_ text: String) -> [Int32] {
    var text = text
    var ids: [Int32] = []
    ids.reserveCapacity(text.utf8.count / 3 + 1)
    text.withUTF8 { bytes in
      GPT2PreTokenizer.bmpClasses.withUnsafeBufferPointer { classes in
        preTokenizer.forEachPiece(of: bytes, classes: classes) { start, end in
          encodePiece(UnsafeBufferPointer(rebasing: bytes[start..<end]), into: &ids)
        }
      }
    }
    return ids
  }

  /// Bytes of `id`; empty for ids outside the vocabulary.
  public func tokenBytes(_ id: Int32) -> [UInt8] {
    guard id >= 0, Int(id) < vocabularySize else { return [] }
    return Array(decoderBytes[decoderOffsets[Int(id)]..<decoderOffsets[Int(id) + 1]])
  }

  /// Concatenated token bytes read as UTF-8; ids outside the vocabulary contribute nothing.
  public func decode(_ ids: [Int32]) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(ids.count * 4)
    for id in ids where id >= 0 && Int(id) < vocabularySize {
      bytes.append(contentsOf: decoderBytes[decoderOffsets[Int(id)]..<decoderOffsets[Int(id) + 1]])
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  @inline(__always)
  private func encodePiece(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int32]) {
    if piece.count == 1 {
      let id = byteIDs[Int(piece[0])]
      if id >= 0 { ids.append(id) }
      return
    }
    if let entry = table[piece],
      tokensNotReachedByMerging.isEmpty || !tokensNotReachedByMerging.contains(entry.id)
    {
      ids.append(entry.id)
      return
    }
    if hasMissingBytes, piece.contains(where: { byteIDs[Int($0)] < 0 }) {
      // Hugging Face's BPE drops characters it has no token for before merging (unk_token null).
      let kept = piece.filter { byteIDs[Int($0)] >= 0 }
      if !kept.isEmpty { kept.withUnsafeBufferPointer { encodePiece($0, into: &ids) } }
      return
    }
    cacheLock.lock()
    let cached = cache[piece]
    cacheLock.unlock()
    if let cached {
      ids.append(contentsOf: cached)
      return
    }
    let merged = bytePairEncode(piece)
    ids.append(contentsOf: merged)
    cacheLock.lock()
    if cache.keyBytes > Self.cacheKeyByteLimit || cache.count > Self.cacheEntryLimit { cache.removeAll() }
    cache.insert(piece, merged)
    cacheLock.unlock()
  }

  /// Merge priority of the parts `piece[start..<middle]` and `piece[middle..<end]` into one token,
  /// `Int32.max` if they may not merge: their bytes are not a token, or (Hugging Face rule) the
  /// token's merge joins other parts.
  @inline(__always)
  private func priority(_ piece: UnsafeBufferPointer<UInt8>, _ start: Int, _ middle: Int, _ end: Int) -> Int32
  {
    guard let entry = table[UnsafeBufferPointer(rebasing: piece[start..<end])] else { return Int32.max }
    return entry.leftLength == 0 || Int(entry.leftLength) == middle - start ? entry.priority : Int32.max
  }

  /// Pieces longer than this many bytes are merged with a heap: scanning for the best pair is
  /// quadratic, which a long run of letters (a base64 blob, a DNA string) would make take seconds.
  static let heapMergeThreshold = 128

  /// BPE of one piece, following tiktoken's `byte_pair_merge` (openai/tiktoken, src/lib.rs):
  /// start from single bytes and repeatedly merge the adjacent pair whose concatenation has the
  /// lowest rank (the leftmost such pair on ties) until no adjacent pair concatenates to a token;
  /// then each part's id is looked up.
  func bytePairEncode(_ piece: UnsafeBufferPointer<UInt8>) -> [Int32] {
    let bounds =
      piece.count > Self.heapMergeThreshold ? mergeBoundsWithHeap(piece) : mergeBoundsByScanning(piece)
    var ids: [Int32] = []
    ids.reserveCapacity(bounds.count - 1)
    for k in 0..<bounds.count - 1 {
      let part = UnsafeBufferPointer(rebasing: piece[bounds[k]..<bounds[k + 1]])
      ids.append(part.count == 1 ? byteIDs[Int(part[0])] : table[part]!.id)
    }
    return ids
  }

  /// Part boundaries after merging, by scanning all pairs for the best one each step, as tiktoken
  /// does: quadratic, but the fastest for the short pieces that make up almost all text.
  func mergeBoundsByScanning(_ piece: UnsafeBufferPointer<UInt8>) -> [Int] {
    let count = piece.count
    // Part k is piece[bounds[k]..<bounds[k + 1]]; pair k (parts k and k+1) may merge with priorities[k].
    var bounds = Array(0...count)
    var priorities = (0..<max(0, count - 1)).map { priority(piece, $0, $0 + 1, $0 + 2) }
    while !priorities.isEmpty {
      var best = 0
      var bestPriority = priorities[0]
      for k in 1..<priorities.count where priorities[k] < bestPriority {
        best = k
        bestPriority = priorities[k]
      }
      if bestPriority == Int32.max { break }
      bounds.remove(at: best + 1)
      priorities.remove(at: best)
      if best < priorities.count {
        priorities[best] = priority(piece, bounds[best], bounds[best + 1], bounds[best + 2])
      }
      if best > 0 { priorities[best - 1] = priority(piece, bounds[best - 1], bounds[best], bounds[best + 1]) }
    }
    return bounds
  }

  /// The same merges in O(n log n): candidate pairs wait in a min-heap ordered by (priority, start
  /// of the left part), which picks the same pair as the scan (lowest rank, leftmost on ties).
  /// Parts form a linked list over their start offsets; a popped pair whose parts have changed
  /// since it was pushed is stale and skipped, since its bytes (and so its priority) are not the same.
  func mergeBoundsWithHeap(_ piece: UnsafeBufferPointer<UInt8>) -> [Int] {
    let count = piece.count
    var next = Array(1...count + 1)  // next[start] = start of the following part (count = end)
    var previous = Array(-1..<count)
    var isPartStart = [Bool](repeating: true, count: count + 1)
    var heap = PairHeap()
    func push(_ left: Int, _ right: Int, _ end: Int) {
      let rank = priority(piece, left, right, end)
      if rank != Int32.max {
        heap.push(.init(priority: rank, left: Int32(left), right: Int32(right), end: Int32(end)))
      }
    }
    for start in 0..<max(0, count - 1) { push(start, start + 1, start + 2) }
    while let pair = heap.pop() {
      let left = Int(pair.left)
      let right = Int(pair.right)
      let end = Int(pair.end)
      guard isPartStart[left], next[left] == right, next[right] == end else { continue }
      isPartStart[right] = false
      next[left] = end
      previous[end] = left
      if end < count { push(left, end, next[end]) }
      if left > 0 { push(previous[left], left, end) }
    }
    var bounds: [Int] = []
    var start = 0
    while start < count {
      bounds.append(start)
      start = next[start]
    }
    bounds.append(count)
    return bounds
  }
}

/// A binary min-heap of candidate merges for `BPETokenizer.mergeBoundsWithHeap`.
struct PairHeap {
  struct Pair {
    var priority: Int32
    var left: Int32
    var right: Int32
    var end: Int32

    /// Lower priority first, then the leftmost pair.
    @inline(__always)
    func precedes(_ other: Pair) -> Bool {
      priority != other.priority ? priority < other.priority : left < other.left
    }
  }

  private var items: [Pair] = []

  mutating func push(_ pair: Pair) {
    items.append(pair)
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      if !items[child].precedes(items[parent]) { break }
      items.swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> Pair? {
    guard let top = items.first else { return nil }
    let last = items.removeLast()
    if !items.isEmpty {
      items[0] = last
      var parent = 0
      while true {
        let left = 2 * parent + 1
        if left >= items.count { break }
        let right = left + 1
        let child = right < items.count && items[right].precedes(items[left]) ? right : left
        if items[child].precedes(items[parent]) {
          items.swapAt(parent, child)
          parent = child
        } else {
          break
        }
      }
    }
    return top
  }
}
