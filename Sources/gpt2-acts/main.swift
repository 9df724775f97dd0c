import ActivationDump
import ActivationShards
import ArgumentParser
import Foundation
import Kernels
import LanguageModels
import ModelLoading
import Tokenizers
import ToolSupport

/// Runs a language model over a corpus and writes every layer's MLP input and output to HDF5 shards.
struct GPT2Acts: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gpt2-acts",
    abstract: "Dump a language model's MLP inputs and outputs to HDF5 activation shards.",
    discussion: """
      CORPUS is plain text (documents separated by a line that is exactly <|endoftext|>), .jsonl \
      (one {"text": ...} per line), or - for stdin. Documents are joined with <|endoftext|> and cut \
      into windows of --context tokens, each starting with <|endoftext|>; the BOS row of each window \
      is not written unless --keep-bos. Each shard is written under a temporary name and renamed when \
      complete; only then is its path printed on stdout, so that `gpt2-acts corpus.txt | clt-fit` \
      can start training while later shards are still being written. On a pipe, gpt2-acts takes \
      half the cores unless --threads says otherwise: the reader bounds the pipeline and needs the \
      rest. Progress goes to stderr.

      The shard schema is in docs/FORMATS.md.
      """,
    version: "0.1.0")

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .long, help: "Folder for the shards (created if missing).")
  var outDir: String = "shards"

  @Option(name: .long, parsing: .unconditional, help: "Tokens per window, <|endoftext|> included.")
  var context: Int = 128

  @Option(name: .long, parsing: .unconditional, help: "Windows per forward pass.")
  var batch: Int = 8

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "Rows (tokens) per shard (default: \(shardRows), or \(shardRowsOnPipe) when stdout is a pipe).",
      discussion: """
        A reader on the pipe starts when the first shard is finished and trains the last one after \
        gpt2-acts has stopped: smaller shards on a pipe shorten both waits.
        """))
  var shardTokens: Int?

  @Option(name: .long, help: "Element type of mlp_in/mlp_out.")
  var dtype: ShardDType = .f16

  @Option(
    name: .long, parsing: .unconditional, help: "Stop after this many tokens have gone through the model.")
  var maxTokens: Int?

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "Before starting a shard, wait while this many shards exist in --out-dir "
        + "(default: \(pendingOnPipe) when stdout is a pipe, else no limit).",
      discussion: """
        The reader deletes the shards it has loaded (clt-fit does, when it reads shard paths from \
        a pipe), which bounds the disk a run takes. With no reader holding the folder's consumer \
        lock for 10 s the limit is given up, with a message, rather than waited on for ever.
        """))
  var maxPending: Int?

  @Flag(name: .long, help: "Also write the row of each window's <|endoftext|> position.")
  var keepBos = false

  @Flag(name: .long, help: "Print {\"doc\": i, \"tokens\": [ids]} per document and run no model.")
  var printTokens = false

  @OptionGroup var common: CommonOptions

  @Argument(help: "Corpus files (.txt or .jsonl), or - for stdin.")
  var corpus: [String] = []

  func validate() throws {
    guard !corpus.isEmpty else { throw ValidationError("give at least one CORPUS file, or - for stdin") }
    try require(context, atLeast: 2, "--context", because: "BOS and one token")
    try require(batch, atLeast: 1, "--batch")
    try require(shardTokens, atLeast: 1, "--shard-tokens")
    try require(maxTokens, atLeast: 1, "--max-tokens")
    try require(maxPending, atLeast: 1, "--max-pending")
  }

  func run() throws {
    try runReportingErrors(tool: "gpt2-acts") {
      // Shards printed to a pipe feed a reader (clt-fit) that is slower and wants the cores too:
      // with both tools on all of them, the demo-shape pipeline ran 0.9x as fast (BENCHMARKS.md).
      common.applyThreads(default: StandardOutput.isPipe && !printTokens ? Self.threadsOnPipe : nil)
      let tokenizer = try modelOptions.loadTokenizer()
      if printTokens {
        var doc = 0
        try CorpusReader(inputs: corpus).forEachDocument { text in
          let ids = tokenizer.encode(text).map(String.init).joined(separator: ",")
          try StandardOutput.line("{\"doc\": \(doc), \"tokens\": [\(ids)]}")
          doc += 1
        }
        return
      }
      try dump(model: try modelOptions.loadModel(tool: "gpt2-acts"), tokenizer: tokenizer)
    }
  }

  func dump(model: any LanguageModel, tokenizer: any Tokenizer) throws {
    let info = model.description
    guard context <= info.contextLength else {
      throw ValidationError("--context \(context) exceeds the model's \(info.contextLength) positions")
    }
    guard tokenizer.vocabularySize <= info.vocabularySize else {
      throw ToolError.mismatch(
        "the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(info.vocabularySize); "
          + "pass the model's own tokenizer with --tokenizer")
    }
    let metadata = ShardMetadata(
      architecture: info.architecture, model: info.name, modelSHA256: info.sha256, nLayers: info.nLayers,
      dModel: info.dModel, context: context, dtype: dtype, inputTap: info.inputTap,
      outputTap: info.outputTap, createdBy: "gpt2-acts \(Self.configuration.version)")
    // The folder is taken before the corpus is read, so a folder in use or unwritable is refused
    // before minutes of tokenising. A consumer on a pipe deletes the shards it has loaded: keep a
    // couple waiting, no more.
    let toPipe = StandardOutput.isPipe
    let writer = try ShardWriter(
      directory: URL(fileURLWithPath: outDir), metadata: metadata,
      rowsPerShard: shardTokens ?? (toPipe ? Self.shardRowsOnPipe : Self.shardRows),
      maxPending: maxPending ?? (toPipe ? Self.pendingOnPipe : nil))
    for leftover in writer.removedLeftovers {
      StandardError.line("gpt2-acts: removed \(leftover), left by an interrupted run")
    }
    // The whole corpus is tokenised first, so that every shard can say how many rows the run will
    // write: a clt-fit reading the paths from a pipe then plans one pass over them.
    let windows: [[Int32]]
    do {
      if !common.quiet { StandardError.line("gpt2-acts: tokenising \(corpus.joined(separator: ", "))") }
      windows = try ActivationDump.plannedWindows(
        corpus: corpus, tokenizer: tokenizer, context: context, maxTokens: maxTokens)
      guard !windows.isEmpty else { throw ToolError.emptyInput("the corpus") }
    } catch {
      writer.abort()
      rmdir(outDir)  // only if this run left it empty
      throw error
    }
    let plannedTokens = windows.reduce(0) { $0 + $1.count }
    let dump = ActivationDump(model: model, writer: writer, keepBOS: keepBos)
    writer.metadata.plannedRows = dump.rows(of: windows)
    var printFailure: Error?
    writer.onShardCompleted = { url in
      guard printFailure == nil else { return }
      do { try StandardOutput.line(url.path) } catch { printFailure = error }
    }
    writer.whileWaiting = { if StandardOutput.readerHasGone { throw ReaderGone() } }
    writer.onNoConsumer = { pending in
      StandardError.line(
        "gpt2-acts: \(pending) shards wait in \(outDir) and no reader deletes them (clt-fit deletes the "
          + "shards it reads from a pipe, unless --keep-shards); going on without a limit on waiting shards")
    }
    let cleanup = SignalCleanup()
    cleanup.install { writer.temporaryPath }
    let progress = ProgressLine(label: "gpt2-acts", unit: "tokens", quiet: common.quiet)
    // Rows and seconds when the first batch was done: what `--timing` leaves out as warm-up.
    var afterFirstBatch: (rows: Int, seconds: Double)?
    dump.onBatch = { dump in
      if afterFirstBatch == nil { afterFirstBatch = (dump.rowsWritten, progress.elapsed) }
      progress.update(
        done: dump.tokensProcessed, fraction: Double(dump.tokensProcessed) / Double(plannedTokens))
    }
    do {
      try dump.run(windows, batch: batch) {
        if let printFailure { throw printFailure }
        if toPipe && StandardOutput.readerHasGone { throw ReaderGone() }
      }
      _ = try writer.finish()
      if let printFailure { throw printFailure }
    } catch is ReaderGone {
      writer.abort()
      readerGone(writer: writer, tokens: dump.tokensProcessed)
      return
    } catch  where toPipe && StandardOutput.readerHasGone {  // a failed print of a shard's path
      writer.abort()
      readerGone(writer: writer, tokens: dump.tokensProcessed)
      return
    } catch {
      writer.abort()
      throw error
    }
    progress.finish(done: dump.tokensProcessed)
    if common.timing {
      // Like the PyTorch reference in `make bench`, the first batch is a warm-up (page faults,
      // BLAS threads starting); the figure is the rest, with the totals alongside.
      let total = progress.elapsed
      let (tokens, seconds) =
        afterFirstBatch.map { (dump.rowsWritten - $0.rows, total - $0.seconds) }
        ?? (dump.rowsWritten, total)
      var line = TimingLine(label: common.timingLabel(default: "dump"), tokens: tokens, seconds: seconds)
      line.add("total_tokens", dump.tokensProcessed)
      line.add("total_seconds", total)
      line.add("rows", dump.rowsWritten)
      line.add("threads", BLASThreads.current)
      line.print()
    }
  }

  /// "1 shard", "2 shards".
  static func shards(_ count: Int) -> String { count == 1 ? "1 shard" : "\(count) shards" }

  /// Shards allowed to wait on disk when stdout is a pipe and --max-pending is not given.
  static let pendingOnPipe = 2
  /// Rows a shard when --shard-tokens is not given: 16,384 (1.13 GB for SmolLM2) in a folder
  /// kept for later, and a quarter of that on a pipe. There `clt-fit` waits for the first shard
  /// before its first step, and trains the last alone: with SmolLM2 at ~330 tokens/s, 50 s each
  /// way at 16,384 rows. In 5-minute runs of the brief's first line the smaller shards trained
  /// 1.18x the tokens (docs/BENCHMARKS.md).
  static let shardRows = 16384
  static let shardRowsOnPipe = 4096
  /// Threads when stdout is a pipe and --threads is not given: half the cores.
  static var threadsOnPipe: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / 2) }

  /// Raised when the program reading stdout has closed it.
  struct ReaderGone: Error {}

  /// The consumer has stopped (clt-fit reached --steps or --time-limit, failed, or was stopped):
  /// there is no one left to train on more shards, so the dump stops too, with nothing
  /// half-written. Shards printed but never read are removed when the reader was deleting the
  /// ones it read (they were the pipe's, not the user's); otherwise they are listed. The reader
  /// was deleting them if it was seen holding its lock in the folder, or if a shard printed to it
  /// is gone: on a loaded machine a short run (clt-fit --steps 2) can take the lock, read, delete
  /// and leave between two of this writer's looks.
  func readerGone(writer: ShardWriter, tokens: Int) {
    let unread = writer.completedShards.filter { FileManager.default.fileExists(atPath: $0.path) }
    let readerDeleted = writer.sawConsumer || unread.count < writer.completedShards.count
    var note = ""
    if !unread.isEmpty && readerDeleted {
      for url in unread { try? FileManager.default.removeItem(at: url) }
      note = "; removed the \(Self.shards(unread.count)) it had not read"
      rmdir(outDir)  // only if nothing else is in it
    } else if !unread.isEmpty {
      note = "; \(Self.shards(unread.count)) it had not read \(unread.count == 1 ? "is" : "are") in \(outDir)"
    }
    if !common.quiet {
      StandardError.line(
        "gpt2-acts: the reader of standard output has stopped; stopping after \(tokens) tokens"
          + note)
    }
  }
}

extension ShardDType: ExpressibleByArgument {}

GPT2Acts.main()
