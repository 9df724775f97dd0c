import ArgumentParser
import Foundation
import Kernels
import ToolSupport
import TranscoderTraining

/// Trains a JumpReLU cross-layer transcoder from activation shards and writes clt.h5.
struct CLTFit: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-fit",
    abstract: "Train a cross-layer transcoder (JumpReLU) from activation shards.",
    discussion: """
      SHARDS are shard files or folders of shard-*.h5 files; shard paths are also read from stdin, \
      one per line, when stdin is not a terminal or - is given, so that `gpt2-acts corpus.txt | \
      clt-fit -o clt.h5 --steps 1000` starts training on the first shard while later ones are \
      written. Every shard must come from the same model (architecture, model_sha256, n_layers, \
      d_model). When the shards run out before --steps/--tokens, training goes over them again.

      Inputs and targets are scaled per layer to a mean squared norm of d_model; the scales are \
      stored in clt.h5 (layout in docs/FORMATS.md). Progress goes to stderr.

      Not implemented yet: topk/batchtopk activations, --eval, --resume, --consume and \
      --checkpoint-every.
      """,
    version: "0.1.0")

  @Option(name: .shortAndLong, help: "Output file (written atomically).")
  var output: String

  @Option(name: .long, help: "Features per layer.")
  var features: Int = 4096

  @Option(name: .long, help: "Final sparsity coefficient λ (warmed up linearly from 0 over the run).")
  var lambda: Float = 1e-3

  @Option(name: .long, help: "c in tanh(c·‖W_dec,i‖·a_i).")
  var tanhScale: Float = 1

  @Option(
    name: .long, help: "Peak learning rate of Adam (linear warm-up, then linear decay over the last 20%).")
  var lr: Float = 2e-4

  @Option(name: .long, help: "Tokens per step.")
  var batch: Int = 1024

  @Option(name: .long, help: "Train on this many tokens (rounded up to whole steps).")
  var tokens: Int?

  @Option(name: .long, help: "Train for this many steps.")
  var steps: Int?

  @Option(
    name: .long, help: "Rows held by the shuffle buffer (default: 65536, or fewer to stay within 1 GiB).")
  var shuffleTokens: Int?

  @Option(name: .long, help: "Seeds the parameters and the shuffling.")
  var seed: UInt64 = 0

  @Option(name: .long, help: "Threads (default: all cores).")
  var threads: Int?

  @Option(name: .long, help: "Write one JSON line of metrics every --log-every steps to this file.")
  var log: String?

  @Option(name: .long, help: "Steps between --log lines.")
  var logEvery: Int = 10

  @Flag(name: .shortAndLong, help: "No progress on stderr.")
  var quiet = false

  @Argument(help: "Shard files or folders; - reads shard paths from stdin.")
  var shards: [String] = []

  func validate() throws {
    guard features >= 1 else { throw ValidationError("--features must be at least 1") }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    guard lr > 0 else { throw ValidationError("--lr must be positive") }
    guard lambda >= 0 else { throw ValidationError("--lambda must not be negative") }
    guard (tokens == nil) != (steps == nil) else {
      throw ValidationError("give exactly one of --tokens and --steps")
    }
    if let tokens, tokens < 1 { throw ValidationError("--tokens must be at least 1") }
    if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    if let shuffleTokens, shuffleTokens < batch {
      throw ValidationError("--shuffle-tokens must be at least --batch")
    }
    guard logEvery >= 1 else { throw ValidationError("--log-every must be at least 1") }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-fit") {
      BLASThreads.set(threads ?? ProcessInfo.processInfo.activeProcessorCount)
      let outputURL = URL(fileURLWithPath: output)
      try CLTFile.checkWritable(outputURL)
      let logHandle = try log.map { path -> FileHandle in
        guard FileManager.default.createFile(atPath: path, contents: Data()),
          let handle = FileHandle(forWritingAtPath: path)
        else { throw TrainingError.outputNotWritable(path: path, reason: "cannot create the log file") }
        return handle
      }
      let explicit = shards.filter { $0 != "-" }
      let readStdin = shards.contains("-") || isatty(STDIN_FILENO) == 0
      let stream = try ShardStream(arguments: explicit, readStandardInput: readStdin)
      let totalSteps = steps ?? (tokens! + batch - 1) / batch
      var configuration = TrainingConfiguration(
        features: features, batch: batch, steps: totalSteps, learningRate: lr, seed: seed)
      configuration.coefficients.sparsity = lambda
      configuration.coefficients.tanhScale = tanhScale
      configuration.shuffleRows = shuffleTokens ?? 0  // resolved once the shapes are known
      let trainer = try CLTTrainer(configuration: configuration, stream: stream) { metadata in
        // 65,536 rows, or fewer so that the buffer (inputs and outputs, float32) stays within 1 GiB.
        let rowBytes = 2 * metadata.nLayers * metadata.dModel * 4
        return max(batch, min(65_536, (1 << 30) / rowBytes))
      }
      let started = Date()
      var last: StepMetrics?
      var lastPrint = Date.distantPast
      while !trainer.isFinished {
        let metrics = try trainer.trainStep()
        last = metrics
        if let logHandle, metrics.step % logEvery == 0 || trainer.isFinished {
          logHandle.write(Data((metrics.jsonLine + "\n").utf8))
        }
        if !quiet && (Date().timeIntervalSince(lastPrint) >= 2 || trainer.isFinished) {
          lastPrint = Date()
          let rate = Double(metrics.tokensSeen) / max(Date().timeIntervalSince(started), 1e-9)
          StandardError.line(
            String(
              format: "clt-fit: step %d/%d, %.0f tokens/s, loss %.4f (mse %.4f, sparsity %.4f, preact %.5f), "
                + "mean L0 %.1f, mean NMSE %.4f",
              metrics.step, totalSteps, rate, metrics.totalLoss, metrics.meanSquaredError, metrics.sparsity,
              metrics.preActivation, metrics.meanL0, metrics.meanNMSE))
        }
      }
      try logHandle?.close()
      if trainer.skippedRows > 0 {
        StandardError.line("clt-fit: skipped \(trainer.skippedRows) rows holding NaN or Inf")
      }
      try trainer.file(createdBy: "clt-fit \(Self.configuration.version)").write(to: outputURL)
      if !quiet, let last {
        StandardError.line(
          "clt-fit: wrote \(output) after \(last.tokensSeen) tokens; mean NMSE \(last.meanNMSE), "
            + "mean L0 \(last.meanL0)")
      }
    }
  }
}

CLTFit.main()
