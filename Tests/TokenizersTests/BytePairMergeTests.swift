import Testing

@testable import Tokenizers

/// The heap merge used for long pieces must pick exactly the pairs tiktoken's scan picks.
@Suite("GPT-2 byte pair merging")
struct BytePairMergeTests {
  @Test("the heap merge and the scanning merge split every piece the same way")
  func heapAgreesWithScan() throws {
    let tokenizer = try TestAssets.gpt2()
    let fixture = try TestAssets.fixture()
    var pieces: [String] = [
      "ab", "aaaa", String(repeating: "a", count: 301), String(repeating: "ab", count: 150),
    ]
    var generator = SplitMix64(seed: 7)
    let alphabet = Array("abcdeéßxyz0123456789 ".utf8)
    for _ in 0..<200 {
      let length = Int(generator.next() % 400) + 2
      pieces.append(
        String(
          decoding: (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] },
          as: UTF8.self))
    }
    for document in fixture.metadata.documents
    where document.name.hasPrefix("random/") || document.name.hasPrefix("long/") {
      pieces += GPT2PreTokenizer().pieces(fixture.text(document)).filter { $0.utf8.count > 1 }
    }
    var differing: [String] = []
    for piece in pieces {
      let bytes = Array(piece.utf8)
      let (scanned, heaped) = bytes.withUnsafeBufferPointer {
        (tokenizer.mergeBoundsByScanning($0), tokenizer.mergeBoundsWithHeap($0))
      }
      if scanned != heaped { differing.append(String(piece.prefix(40))) }
    }
    let differingCount = differing.count
    #expect(
      differingCount == 0, "pieces merged differently: \(differing.prefix(5).map { String(reflecting: $0) })")
  }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
