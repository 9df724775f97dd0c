import Testing

/// Each tool explains itself: `--help` names its options and exits 0; `--version` prints the version.
@Suite struct HelpTests {
  @Test(
    "--help lists each tool's options",
    arguments: [
      (
        "gpt2-acts",
        [
          "--model", "--tokenizer", "--out-dir", "--context", "--batch", "--shard-tokens", "--dtype",
          "--max-tokens",
          "--max-pending", "--keep-bos", "--print-tokens", "--threads",
        ]
      ),
      (
        "clt-replace",
        [
          "--model", "--tokenizer", "--max-new-tokens", "--temperature", "--top-k", "--seed", "--json",
          "--threads", "--clt", "--keep-error", "--compare", "--eval", "--steer", "LAYER:FEATURE=VALUE",
          "LAYER:FEATURE*FACTOR", "@POS", "--context",
        ]
      ),
      (
        "clt-encode",
        [
          "--model", "--tokenizer", "--clt", "--top", "--layers", "--min-activation", "--context", "--batch",
          "--progress", "--threads",
        ]
      ),
    ])
  func helpListsOptions(tool: String, options: [String]) throws {
    let r = try ToolHarness.run(tool, ["--help"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("USAGE: \(tool)"), "\(r.stdout)")
    for option in options { #expect(r.stdout.contains(option), "\(tool) --help lacks \(option)") }
    #expect(!r.stdout.contains("timing-label"), "internal options stay hidden")
  }

  @Test("--version prints the tool's version", arguments: ["gpt2-acts", "clt-replace", "clt-encode"])
  func version(tool: String) throws {
    let r = try ToolHarness.run(tool, ["--version"])
    #expect(r.status == 0 && r.stdout == "0.1.0\n", "\(r.stdout)")
  }
}
