import ArgumentParser
import Testing
import ToolSupport

/// The options every model-running tool shares mean one thing: what they parse to, and the
/// messages the option checks give.
@Suite struct CommonOptionsTests {
  @Test(
    "progress is on by default; -q turns it off, --progress back on, the last one wins",
    arguments: [
      ([], false), (["-q"], true), (["--quiet"], true), (["--progress"], false),
      (["-q", "--progress"], false),
      (["--progress", "-q"], true),
    ])
  func reporting(_ arguments: [String], quiet: Bool) throws {
    #expect(try CommonOptions.parse(arguments).quiet == quiet)
  }

  @Test("--timing-label falls back to the tool's own label")
  func timingLabel() throws {
    #expect(try CommonOptions.parse([]).timingLabel(default: "dump") == "dump")
    #expect(try CommonOptions.parse(["--timing-label", "x"]).timingLabel(default: "dump") == "x")
  }

  @Test("--threads takes a negative number as its value, to refuse it by name")
  func negativeThreads() throws {
    let error = try #require(failure { _ = try CommonOptions.parse(["--threads", "-2"]) })
    #expect(CommonOptions.message(for: error) == "--threads must be at least 1, got -2")
  }

  @Test(
    "each check names the option, the bound and the value given",
    arguments: [
      (failure { try require(-5, atLeast: 1, "--features") }, "--features must be at least 1, got -5"),
      (
        failure { try require(1, atLeast: 2, "--context", because: "BOS and one token") },
        "--context must be at least 2 (BOS and one token), got 1"
      ),
      (
        failure { try require(100, atMost: 10, "--k", because: "--features") },
        "--k must be at most 10 (--features), got 100"
      ),
      (
        failure { try requireFinite(Float.infinity, "--lambda", atLeast: 0) },
        "--lambda must be a finite number, got inf"
      ),
      (failure { try requireFinite(Float.nan, "--lr", above: 0) }, "--lr must be a finite number, got nan"),
      (failure { try requireFinite(Float(0), "--lr", above: 0) }, "--lr must be greater than 0, got 0.0"),
      (
        failure { try requireFinite(Double(1.5), "--node-threshold", above: 0, atMost: 1) },
        "--node-threshold must be at most 1, got 1.5"
      ),
    ])
  func checkMessages(_ error: (any Error)?, message: String) {
    #expect((error as? ValidationError)?.message == message)
  }

  @Test("a value within the bounds, or an option not given, passes")
  func passes() throws {
    try require(1, atLeast: 1, "--batch")
    try require(Int?.none, atLeast: 1, "--max-tokens")
    try requireFinite(Float(-3), "--min-activation")
    try requireFinite(Double(1), "--edge-threshold", above: 0, atMost: 1)
  }
}

/// The error `body` throws, nil when it throws none.
private func failure(_ body: () throws -> Void) -> (any Error)? {
  do { try body() } catch { return error }
  return nil
}
