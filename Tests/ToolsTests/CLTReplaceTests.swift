import Foundation
import LanguageModels
import Testing
import Tokenizers

/// `clt-replace` in its baseline mode: generation with the original model.
@Suite struct CLTReplaceTests {
  let dir: URL
  let model: URL
  let rankFile: URL

  init() throws { (dir, model, rankFile) = try ToolHarness.makeWorkspace("replace") }

  @Test("--json reports the prompt's ids and the greedy continuation the model itself produces")
  func jsonMatchesInProcessGeneration() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let prompt = "The capital of France is"
    let r = try ToolHarness.run(
      "clt-replace",
      ["--model", model.path, "--tokenizer", rankFile.path, "--json", "--max-new-tokens", "12", "-"],
      stdin: prompt)
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    let tokenizer = try BPETokenizer.gpt2(rankFile: rankFile)
    let promptIDs = tokenizer.encode(prompt)
    #expect((object["prompt_ids"] as? [Int])?.map(Int32.init) == promptIDs)
    let expected = try Generator(model: try GPT2Model(directory: model)).generate(
      prompt: promptIDs, maxNewTokens: 12, sampling: .greedy, stopAt: [50256])
    let newIDs = (object["new_ids"] as? [Int])?.map(Int32.init)
    #expect(newIDs == expected)
    #expect(object["text"] as? String == tokenizer.decode(expected))
  }

  @Test("streamed text equals the decoded ids, and sampling with a seed is reproducible")
  func streamingAndSeededSampling() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let promptFile = dir.appendingPathComponent("prompt.txt")
    try "Once upon a time\n".write(to: promptFile, atomically: true, encoding: .utf8)
    let base = ["--model", model.path, "--tokenizer", rankFile.path, "--max-new-tokens", "10"]
    let json = try ToolHarness.run("clt-replace", base + ["--json", promptFile.path])
    let text = try ToolHarness.run("clt-replace", base + [promptFile.path])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
    #expect(text.stdout == (object["text"] as! String) + "\n")
    let sampled = base + ["--temperature", "1.5", "--top-k", "50", "--seed", "9", "--json", promptFile.path]
    let a = try ToolHarness.run("clt-replace", sampled)
    let b = try ToolHarness.run("clt-replace", sampled)
    #expect(a.status == 0 && a.stdout == b.stdout, "same seed, same sample")
  }

  @Test("an empty prompt, a prompt longer than the context and a missing prompt file are refused clearly")
  func badPrompts() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = ["--model", model.path, "--tokenizer", rankFile.path, "-"]
    var r = try ToolHarness.run("clt-replace", base, stdin: "")
    #expect(r.status != 0 && r.stderr.contains("empty"), "\(r.stderr)")
    r = try ToolHarness.run("clt-replace", base, stdin: String(repeating: "word ", count: 100))
    #expect(r.status != 0 && r.stderr.contains("context of 64"), "\(r.stderr)")
    r = try ToolHarness.run(
      "clt-replace", ["--model", model.path, "--tokenizer", "/nonexistent/ranks", "-"], stdin: "x")
    #expect(r.status != 0 && r.stderr.contains("--tokenizer"), "\(r.stderr)")
    // The prompt's text given where its file belongs: refused before the model is loaded.
    r = try ToolHarness.run("clt-replace", ["--model", "/nonexistent/model", "The capital of France is"])
    #expect(r.status == 1 && r.stderr.contains("no such file") && r.stderr.contains("echo"), "\(r.stderr)")
  }

  static let smolLM2 = ToolHarness.packageRoot.appendingPathComponent(
    "models/SmolLM2-135M-Instruct.Q4_1.gguf")

  @Test(
    "SmolLM2 continues \"The capital of France is\" with \" Paris\" greedily, through the tool",
    .enabled(
      if: FileManager.default.fileExists(atPath: smolLM2.path), "`make models` fetches SmolLM2 (CI does)"))
  func smolLM2SaysParis() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run(
      "clt-replace", ["--model", Self.smolLM2.path, "--max-new-tokens", "3", "--json", "-"],
      stdin: "The capital of France is")
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    #expect((object["prompt_ids"] as? [Int]) == [504, 3575, 282, 4649, 314])
    #expect((object["text"] as? String)?.hasPrefix(" Paris") == true, "got \(object["text"] ?? "nothing")")
  }
}
