import ActivationShards
import ArgumentParser
import Foundation
import LanguageModels
import Tokenizers
import ModelLoading
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
      can start training while later shards are still being written. Progress goes to stderr.

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

  @Option(name: .long, parsing: .unconditional, help: "Rows (tokens) per shard.")
  var shardTokens: Int = 16384

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
      common.applyThreads()
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
      directory: URL(fileURLWithPath: outDir), metadata: metadata, rowsPerShard: shardTokens,
      maxPending: maxPending ?? (toPipe ? Self.pendingOnPipe : nil))
    for leftover in writer.removedLeftovers {
      StandardError.line("gpt2-acts: removed \(leftover), left by an interrupted run")
    }
    // The whole corpus is tokenised first, so that every shard can say how many rows the run will
    // write: a clt-fit reading the paths from a pipe then plans one pass over them.
    let windows: [[Int32]]
    do {
      windows = try plannedWindows(tokenizer: tokenizer)
      guard !windows.isEmpty else { throw ToolError.emptyInput("the corpus") }
    } catch {
      writer.abort()
      rmdir(outDir)  // only if this run left it empty
      throw error
    }
    let plannedTokens = windows.reduce(0) { $0 + $1.count }
    writer.metadata.plannedRows = windows.reduce(0) { $0 + $1.count - (keepBos ? 0 : 1) }
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
    let run = DumpRun(model: model, writer: writer, keepBOS: keepBos, quiet: common.quiet)
    run.fraction = { Double(run.tokensProcessed) / Double(plannedTokens) }
    do {
      // Windows of one length go through the model together; only a trimmed last one is shorter.
      var start = 0
      while start < windows.count {
        var end = start + 1
        while end < windows.count && end - start < batch && windows[end].count == windows[start].count {
          end += 1
        }
        if toPipe && StandardOutput.readerHasGone { throw ReaderGone() }
        try run.process(Array(windows[start..<end]))
        if let printFailure { throw printFailure }
        start = end
      }
      _ = try writer.finish()
      if let printFailure { throw printFailure }
    } catch is ReaderGone {
      writer.abort()
      readerGone(writer: writer, run: run)
      return
    } catch  where toPipe && StandardOutput.readerHasGone {  // a failed print of a shard's path
      writer.abort()
      readerGone(writer: writer, run: run)
      return
    } catch {
      writer.abort()
      throw error
    }
    run.progress.finish(done: run.tokensProcessed)
    if common.timing {
      // Like the PyTorch reference in `make bench`, the first batch is a warm-up (page faults,
      // BLAS threads starting); the figure is the rest, with the totals alongside.
      let total = run.progress.elapsed
      let steady = run.afterFirstBatch
      let (tokens, seconds) =
        steady.map { (run.rowsWritten - $0.rows, total - $0.seconds) }
        ?? (run.rowsWritten, total)
      var line = TimingLine(label: common.timingLabel(default: "dump"), tokens: tokens, seconds: seconds)
      line.add("total_tokens", run.tokensProcessed)
      line.add("total_seconds", total)
      line.add("rows", run.rowsWritten)
      line.print()
    }
  }

  /// Shards allowed to wait on disk when stdout is a pipe and --max-pending is not given.
  static let pendingOnPipe = 2

  /// Raised when the program reading stdout has closed it.
  struct ReaderGone: Error {}

  /// The consumer has stopped (clt-fit reached --steps or --time-limit, failed, or was stopped):
  /// there is no one left to train on more shards, so the dump stops too, with nothing
  /// half-written. Shards printed but never read are removed when the reader was deleting the
  /// ones it read (they were the pipe's, not the user's); otherwise they are listed.
  func readerGone(writer: ShardWriter, run: DumpRun) {
    let unread = writer.completedShards.filter { FileManager.default.fileExists(atPath: $0.path) }
    var note = ""
    if !unread.isEmpty && writer.sawConsumer {
      for url in unread { try? FileManager.default.removeItem(at: url) }
      note = "; removed the \(unread.count) shards it had not read"
      rmdir(outDir)  // only if nothing else is in it
    } else if !unread.isEmpty {
      note = "; \(unread.count) shards it had not read are in \(outDir)"
    }
    if !common.quiet {
      StandardError.line(
        "gpt2-acts: the reader of standard output has stopped; stopping after \(run.tokensProcessed) tokens"
          + note)
    }
  }

  /// The corpus cut into the windows the dump will run, in order: every full window of
  /// `context` tokens, then the last partial one; with --max-tokens, whole windows while they fit
  /// and then a trimmed one (if it holds BOS and at least one token).
  func plannedWindows(tokenizer: any Tokenizer) throws -> [[Int32]] {
    var windows = TokenWindows(context: context, bos: tokenizer.endOfTextID)
    var planned: [[Int32]] = []
    var tokens = 0
    func room() -> Int { maxTokens.map { $0 - tokens } ?? Int.max }
    func take(_ window: [Int32]) {
      let kept = room() >= window.count ? window : Array(window.prefix(room()))
      guard kept.count >= 2 else { return }
      planned.append(kept)
      tokens += kept.count
    }
    if !common.quiet { StandardError.line("gpt2-acts: tokenising \(corpus.joined(separator: ", "))") }
    try CorpusReader(inputs: corpus).forEachDocument { text in
      guard room() >= 2 else { return }
      windows.add(document: tokenizer.encode(text))
      while room() >= 2, let w = windows.nextFullWindow() { take(w) }
    }
    if room() >= 2, let last = windows.finalWindow() { take(last) }
    return planned
  }
}

/// The state of one dump: runs batches through the model and hands the rows to the writer.
final class DumpRun {
  let model: any LanguageModel
  let writer: ShardWriter
  let keepBOS: Bool
  let progress: ProgressLine
  private(set) var tokensProcessed = 0
  /// Rows and seconds when the first batch was done: what `--timing` leaves out as warm-up.
  private(set) var afterFirstBatch: (rows: Int, seconds: Double)?
  private(set) var rowsWritten = 0
  private var windowIndex: Int32 = 0
  /// How much of the whole job is done, when that is known (for the ETA).
  var fraction: () -> Double? = { nil }
  /// Reused while batches keep the same size: allocating 2 · layers · rows · d floats per batch costs.
  private var taps: MLPTaps?

  init(model: any LanguageModel, writer: ShardWriter, keepBOS: Bool, quiet: Bool) {
    self.model = model
    self.writer = writer
    self.keepBOS = keepBOS
    progress = ProgressLine(label: "gpt2-acts", unit: "tokens", quiet: quiet)
  }

  /// Runs windows of one length as a batch and appends their rows to the shards.
  func process(_ windows: [[Int32]]) throws {
    let length = windows[0].count
    let info = model.description
    if taps?.rows != windows.count * length {
      taps = MLPTaps(nLayers: info.nLayers, rows: windows.count * length, dModel: info.dModel)
    }
    let taps = taps!
    _ = try model.forward(
      tokens: windows.flatMap { $0 }, batch: windows.count, length: length, taps: taps, computeLogits: false)
    // Keep every row, or drop each window's BOS row by compacting the layer-major blocks in place.
    let first = keepBOS ? 0 : 1
    var tokens: [Int32] = []
    var positions: [Int32] = []
    var windowIDs: [Int32] = []
    var keptRows: [Int] = []
    for (w, window) in windows.enumerated() {
      for p in first..<length {
        tokens.append(window[p])
        positions.append(Int32(p))
        windowIDs.append(windowIndex + Int32(w))
        keptRows.append(w * length + p)
      }
    }
    windowIndex += Int32(windows.count)
    let d = info.dModel
    if keptRows.count != taps.rows {
      for buffer in [taps.mlpIn, taps.mlpOut] {
        for l in 0..<info.nLayers {
          let block = taps.pointer(buffer, layer: l)
          let compacted = buffer.pointer + l * keptRows.count * d
          for (i, row) in keptRows.enumerated() {
            (compacted + i * d).update(from: block + row * d, count: d)
          }
        }
      }
    }
    // Completed shards are printed by the writer's onShardCompleted, as each one lands.
    _ = try tokens.withUnsafeBufferPointer { t in
      try positions.withUnsafeBufferPointer { p in
        try windowIDs.withUnsafeBufferPointer { w in
          try writer.append(
            tokens: t, positions: p, windows: w, mlpIn: taps.mlpIn.pointer, mlpOut: taps.mlpOut.pointer)
        }
      }
    }
    tokensProcessed += windows.count * length
    if afterFirstBatch == nil { afterFirstBatch = (rowsWritten + keptRows.count, progress.elapsed) }
    rowsWritten += keptRows.count
    progress.update(done: tokensProcessed, fraction: fraction())
  }
}

extension ShardDType: ExpressibleByArgument {}

GPT2Acts.main()
