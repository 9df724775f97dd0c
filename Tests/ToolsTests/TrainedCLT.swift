import Foundation
import Testing

/// A tiny random GPT-2 and a transcoder trained on its activations by `gpt2-acts | clt-fit`, as a
/// user makes one: built once per test run and shared by the tests of the tools that read a clt.h5.
enum TrainedCLT {
  struct Fixture {
    let dir: URL
    let model: URL
    let rankFile: URL
    let clt: URL
    let corpus: URL
    /// The model and tokenizer arguments every call needs.
    var modelArguments: [String] { ["--model", model.path, "--tokenizer", rankFile.path] }
  }

  static func get() throws -> Fixture { try shared.get() }

  private static let shared = Result { try make() }

  private static func make() throws -> Fixture {
    let (dir, model, rankFile) = try ToolHarness.makeWorkspace("trained-clt")
    let corpus = dir.appendingPathComponent("corpus.txt")
    let text = (0..<24).map { "Document \($0): the quick brown fox jumps over the lazy dog, then sleeps." }
      .joined(separator: "\n<|endoftext|>\n")
    try text.write(to: corpus, atomically: true, encoding: .utf8)
    let shards = dir.appendingPathComponent("shards").path
    let acts = try ToolHarness.run(
      "gpt2-acts",
      [
        "--model", model.path, "--tokenizer", rankFile.path, "--quiet", "--out-dir", shards, "--context",
        "16",
        "--shard-tokens", "128", corpus.path,
      ])
    guard acts.status == 0 else { throw ToolHarness.HarnessError("gpt2-acts failed: \(acts.stderr)") }
    let clt = dir.appendingPathComponent("clt.h5")
    let fit = try ToolHarness.run(
      "clt-fit", ["-o", clt.path, "--features", "16", "--batch", "32", "--steps", "40", "--quiet", shards])
    guard fit.status == 0 else { throw ToolHarness.HarnessError("clt-fit failed: \(fit.stderr)") }
    return Fixture(dir: dir, model: model, rankFile: rankFile, clt: clt, corpus: corpus)
  }

  /// A second checkpoint, like the fixture's but for its position table, so it has another sha256.
  static func otherModel(in dir: URL) throws -> URL {
    let other = dir.appendingPathComponent("other-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
    try ToolHarness.makeCheckpoint(in: other, positions: 32)
    return other
  }

  /// Each stdout line parsed as a JSON object.
  static func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
  }
}
