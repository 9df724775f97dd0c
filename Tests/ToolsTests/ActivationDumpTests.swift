import ActivationDump
import Foundation
import Testing
import Tokenizers

/// How a corpus becomes the windows a dump runs: the plan every shard's `planned_rows` comes from.
@Suite struct ActivationDumpTests {
  @Test(
    "Windows start with <|endoftext|>, hold context tokens, and --max-tokens trims whole windows then one")
  func plannedWindows() throws {
    let dir = try ToolHarness.temporaryDirectory("dump-plan")
    defer { try? FileManager.default.removeItem(at: dir) }
    let corpus = dir.appendingPathComponent("corpus.txt")
    let text = (0..<30).map { "Sentence \($0) has a few words in it." }.joined(separator: " ")
    try text.write(to: corpus, atomically: true, encoding: .utf8)
    let tokenizer = try BPETokenizer.gpt2(rankFile: try ToolHarness.rankFile)
    let all = try ActivationDump.plannedWindows(
      corpus: [corpus.path], tokenizer: tokenizer, context: 16, maxTokens: nil)
    let stream = tokenizer.encode(text) + [tokenizer.endOfTextID]
    #expect(all.allSatisfy { $0.first == tokenizer.endOfTextID && $0.count <= 16 })
    #expect(all.dropLast().allSatisfy { $0.count == 16 }, "only the last window is short")
    #expect(all.flatMap { $0.dropFirst() } == stream, "every token once, in order")
    let trimmed = try ActivationDump.plannedWindows(
      corpus: [corpus.path], tokenizer: tokenizer, context: 16, maxTokens: 40)
    #expect(trimmed.map(\.count) == [16, 16, 8], "two whole windows, then the 8 tokens left of 40")
  }
}
