import Testing

/// Nonsense option values (a negative count, 0 where nothing would be done, inf or nan, --k above
/// --features, a choice that is not one) are refused by `validate()` before any work starts: exit
/// status 64, and one line naming the option and the value given. Every case names a model and
/// files that do not exist, so a tool that went on to load them would fail differently.
@Suite struct OptionValidationTests {
  /// One refused command line: `words` split at spaces; the option is the first word starting
  /// with --, the value given the word after it.
  struct Nonsense: Sendable, CustomTestStringConvertible {
    let words: [String]
    let option: String
    let given: String

    init(_ text: String) {
      words = text.split(separator: " ").map(String.init)
      let at = words.firstIndex { $0.hasPrefix("--") }!
      option = words[at]
      given = words[at + 1]
    }

    var testDescription: String { words.joined(separator: " ") }
  }

  /// What the shared options (`CommonOptions`) refuse in every tool that has them.
  static let common = ["--threads 0", "--threads -2"]

  /// Runs `tool` with the case's words before `arguments` and checks the refusal.
  func expectRefused(_ tool: String, _ nonsense: Nonsense, _ arguments: [String]) throws {
    let r = try ToolHarness.run(tool, nonsense.words + arguments, stdin: "")
    let first = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
    #expect(r.status == 64, "\(tool) \(nonsense): status \(r.status), stderr: \(r.stderr)")
    #expect(
      first.hasPrefix("Error: ") && first.contains(nonsense.option) && first.contains(nonsense.given),
      "the first line names the option and the value: \(r.stderr)")
    #expect(r.stdout.isEmpty, "nothing is done: \(r.stdout)")
  }

  static let missingModel = ["--model", "/nonexistent/model"]

  @Test(
    "gpt2-acts refuses nonsense numbers and choices",
    arguments: [
      "--context -5", "--context 1", "--batch 0", "--batch -1", "--shard-tokens 0", "--max-tokens -3",
      "--max-pending 0", "--dtype f64",
    ] + common)
  func gpt2Acts(_ text: String) throws {
    try expectRefused("gpt2-acts", Nonsense(text), Self.missingModel + ["/nonexistent/corpus.txt"])
  }

  @Test(
    "clt-fit refuses nonsense numbers and choices",
    arguments: [
      "--features -5", "--features 0", "--k 0", "--k 100 --features 10 --activation topk",
      "--k 11 --features 10 --activation batchtopk", "--initial-l0 0", "--initial-l0 inf",
      "--lambda inf", "--lambda nan", "--lambda -1", "--tanh-scale 0", "--tanh-scale nan", "--lr 0",
      "--lr -0.5", "--lr inf", "--batch 0", "--tokens -5", "--steps 0", "--shuffle-tokens 10",
      "--seed -1", "--log-every 0", "--dead-window -1", "--preact-lambda -1", "--preact-lambda inf",
      "--auxk-coefficient -1", "--auxk-coefficient nan", "--auxk-k 0",
      "--auxk-coefficient 0.5 --shard-features",
      "--layer-weight-exponent -0.5", "--layer-weight-exponent nan",
      "--eval-tokens 0", "--checkpoint-every 0", "--time-limit -5", "--time-limit nan",
      "--activation relu",
    ] + common)
  func cltFit(_ text: String) throws {
    // clt-fit needs one of --steps and --tokens; a case that gives neither gets --steps 1.
    let length = text.contains("--steps") || text.contains("--tokens") ? [] : ["--steps", "1"]
    try expectRefused(
      "clt-fit", Nonsense(text), length + ["-o", "/nonexistent/clt.h5", "/nonexistent/shards"])
  }

  @Test(
    "clt-encode refuses nonsense numbers",
    arguments: [
      "--top 0", "--top -3", "--min-activation nan", "--min-activation inf", "--context 1", "--batch 0",
      "--max-tokens -1",
    ] + common)
  func cltEncode(_ text: String) throws {
    try expectRefused("clt-encode", Nonsense(text), Self.missingModel + ["--clt", "/nonexistent/clt.h5"])
  }

  @Test(
    "clt-replace refuses nonsense numbers",
    arguments: [
      "--max-new-tokens -1", "--temperature -1", "--temperature inf", "--temperature nan", "--top-k 0",
      "--seed -1", "--context 1", "--batch 0", "--max-tokens -5",
    ] + common)
  func cltReplace(_ text: String) throws {
    try expectRefused("clt-replace", Nonsense(text), Self.missingModel)
  }

  @Test(
    "clt-attrib refuses nonsense numbers and choices",
    arguments: [
      "--max-feature-nodes -1", "--node-threshold 0", "--node-threshold 1.5", "--node-threshold nan",
      "--edge-threshold -0.5", "--edge-threshold inf", "--row-feature-budget 0", "--batch-size 0",
      "--dot-max-edges -1", "--format svg",
    ] + common)
  func cltAttrib(_ text: String) throws {
    try expectRefused("clt-attrib", Nonsense(text), Self.missingModel + ["--clt", "/nonexistent/clt.h5"])
  }

  @Test(
    "clt-plot's subcommands refuse nonsense numbers",
    arguments: [
      "heatmap --doc -1", "heatmap --features 0", "heatmap --max-tokens -2", "top-features --doc -1",
      "top-features --pos -1", "top-features --top 0", "top-features --max-tokens 0",
      "correlations --layers 0", "decoder-norms --layer -1", "decoder-norms --top 0 --layer 1",
      "pca --layer -1", "importance --top -4", "dashboard --top-features 0", "dashboard --contexts 0",
      "dashboard --window -1", "dashboard --logits 0", "dashboard --threads 0",
    ])
  func cltPlot(_ text: String) throws {
    // clt-plot's subcommands read a file named last; dashboard also needs --clt.
    let extra = text.hasPrefix("dashboard") ? ["--clt", "/nonexistent/clt.h5"] + Self.missingModel : []
    try expectRefused("clt-plot", Nonsense(text), extra + ["/nonexistent/input"])
  }
}
