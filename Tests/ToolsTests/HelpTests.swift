import Foundation
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

/// Each tool's whole `--help`, pinned: a change to an option, a default or a description shows in
/// the diff of Tests/ToolsTests/Fixtures/help/, where it can be read as the user will see it.
@Suite struct HelpGoldenTests {
  /// Every tool, and every subcommand of those that have them.
  static let commands: [[String]] =
    [
      ["gpt2-acts"], ["clt-fit"], ["clt-encode"], ["clt-attrib"], ["clt-replace"], ["clt-report"],
      ["clt-convert"], ["clt-convert", "export"], ["clt-convert", "import"], ["clt-plot"],
    ]
    + [
      "heatmap", "top-features", "curves", "decoder-norms", "correlations", "pca", "importance",
      "graph-html", "dashboard",
    ].map { ["clt-plot", $0] }

  static let folder = ToolHarness.packageRoot.appendingPathComponent("Tests/ToolsTests/Fixtures/help")

  /// Set to 1 to rewrite the golden files from the tools' current help instead of comparing.
  static let updateVariable = "CLTKIT_UPDATE_GOLDENS"

  @Test("--help prints exactly the pinned text", arguments: commands)
  func helpMatchesGolden(_ command: [String]) throws {
    // ArgumentParser wraps at $COLUMNS (else the terminal's width, else 80): fixed, the text is too.
    let r = try ToolHarness.run(
      command[0], Array(command.dropFirst()) + ["--help"], environment: ["COLUMNS": "100"])
    #expect(r.status == 0, "\(r.stderr)")
    let golden = Self.folder.appendingPathComponent(command.joined(separator: "-") + ".txt")
    if ProcessInfo.processInfo.environment[Self.updateVariable] == "1" {
      try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
      try Data(r.stdout.utf8).write(to: golden)
      return
    }
    let update = "\(Self.updateVariable)=1 swift test --filter HelpGoldenTests"
    guard let expected = try? String(contentsOf: golden, encoding: .utf8) else {
      Issue.record("no pinned help at \(golden.path): write it with \(update) and commit it")
      return
    }
    let got = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let line =
      zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
    let matches = r.stdout == expected  // not inside #expect, which would print both whole texts
    #expect(
      matches,
      """
      `\(command.joined(separator: " ")) --help` differs from \(golden.path) at line \(line + 1):
        now:    \(line < got.count ? got[line] : "(end)")
        pinned: \(line < want.count ? want[line] : "(end)")
      If the change is meant, rewrite the golden files with
        \(update)
      and commit them with the change.
      """)
  }
}
