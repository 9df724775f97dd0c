import ActivationShards
import ArgumentParser
import CLTFormat
import Collectives
import Foundation
import Kernels
import MPICollectives
import OutputFiles
import ToolSupport
import Transcoder
import TranscoderTraining

/// Trains a cross-layer transcoder (JumpReLU, TopK or BatchTopK) from activation shards and writes clt.h5.
struct CLTFit: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-fit",
    abstract: "Train a cross-layer transcoder (JumpReLU, TopK or BatchTopK) from activation shards.",
    discussion: """
      SHARDS are shard files or folders of shard-*.h5 files. Without SHARDS (or with -), shard \
      paths are read from stdin, one per line, so that `gpt2-acts corpus.txt | clt-fit -o clt.h5` \
      starts training on the first shard while later ones are written; shards read from stdin are \
      deleted once loaded (--keep-shards keeps them), which bounds the disk the pipeline takes. \
      Reading a pipe, clt-fit runs at the lowest priority (--keep-priority does not): the writer \
      bounds the pipeline, and clt-fit still gets every core the writer leaves. \
      Every shard must come from the same model (architecture, model_sha256, n_layers, d_model).

      Without --steps or --tokens, training takes one pass over the data: the rows of the \
      argument shards, or the total that gpt2-acts records in each shard (it tokenises its corpus \
      first), so the learning-rate and λ schedules fit the run. When the shards run out before \
      --steps/--tokens, training goes over them again, and says so.

      Inputs and targets are scaled per layer to a mean squared norm of d_model; the scales are \
      stored in clt.h5 (layout in docs/FORMATS.md). Progress goes to stderr.

      On SIGINT or SIGTERM the step in progress finishes and a checkpoint is written (a second \
      signal stops at once); --resume continues from it. Unreadable shards are skipped and \
      reported; rows with NaN or Inf are skipped and counted.

      Data parallel: `mpirun -np N clt-fit ... SHARDS` trains on N processes (Open MPI; as root \
      add --allow-run-as-root). Rank r reads every N-th shard from the r-th, takes --batch/N rows \
      a step, and the gradients are summed with MPI_Allreduce, so every rank holds the same \
      weights; rank 0 alone prints, logs and writes checkpoints and OUTPUT. --batch and \
      --shuffle-tokens count over all ranks (--batch must divide by N); --resume takes a \
      checkpoint of any N. Shards come from arguments only (no stdin, no --consume). Launched \
      without mpirun, clt-fit makes no MPI call at all.
      """,
    version: "0.1.0")

  @Option(name: .shortAndLong, help: "Output file (written atomically).")
  var output: String = "clt.h5"

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "Features per layer (default: the most, up to 4096 in steps of 256, that keep training within "
        + "a quarter of this machine's memory; printed at the start)."))
  var features: Int?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "How features fire: batchtopk (the k·batch largest of a batch), topk (the k largest per token) "
        + "or jumprelu (above a learned threshold).",
      discussion: """
        BatchTopK holds L0 at k from the first step and is stored as a JumpReLU at its running \
        threshold, the CLT every tool and circuit-tracer run. The JumpReLU's L0 is set by λ, \
        which warms up over the whole run: in 6 minutes of the brief's first line on SmolLM2 it \
        went from 126 to 184 features a token while training 159 tokens a second, to held-out \
        NMSE 0.727; BatchTopK trained 290 a second, to 0.442 at L0 29 (docs/BENCHMARKS.md).
        """))
  var activation: CLTActivationFunction = Self.defaultActivation

  @Option(
    name: .long, parsing: .unconditional,
    help:
      "Active features per token for topk and batchtopk (default: 32, or a quarter of --features if fewer).")
  var k: Int?

  @Option(
    name: .long, parsing: .unconditional,
    help: "JumpReLU: start with thresholds that make this many features fire per token.")
  var initialL0: Double = 128

  @Option(
    name: .long, parsing: .unconditional,
    help: "Final sparsity coefficient λ (warmed up linearly from 0 over the run).")
  var lambda: Float = 1e-3

  @Option(name: .long, parsing: .unconditional, help: "c in tanh(c·‖W_dec,i‖·a_i).")
  var tanhScale: Float = 1

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "Peak learning rate of Adam (linear warm-up, then linear decay over the last 20%; default 2e-3 "
        + "for topk and batchtopk, 2e-4 for jumprelu)."))
  var lr: Float?

  @Option(name: .long, parsing: .unconditional, help: "Tokens per step.")
  var batch: Int = 1024

  @Option(
    name: .long, parsing: .unconditional,
    help: "Scale each step's gradient down to this global norm when it is larger (0: never).")
  var gradientClip: Float = 1

  @Flag(
    help: ArgumentHelp(
      "Clip each step by the previous step's gradient norm: about 1.2× the tokens a second.",
      discussion: """
        The decoder rows then take Adam's step inside the backward pass, each while its gradient \
        is in registers, which saves writing the gradients and reading them back; but the \
        step's own norm is not yet known there. The steps whose norm spikes then move the \
        parameters more, which costs quality per token (on SmolLM2 held-out NMSE 0.4917 against \
        0.4867 at 61,440 tokens, most of it on layer 11; see docs/BENCHMARKS.md). One process \
        only: with several the gradients are summed after the backward pass.
        """))
  var clipPreviousNorm = false

  @Option(
    name: .long, parsing: .unconditional, help: "Train on this many tokens (rounded up to whole steps).")
  var tokens: Int?

  @Option(name: .long, parsing: .unconditional, help: "Train for this many steps.")
  var steps: Int?

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "Stop training by this wall time after the start (7200, 90m, 2h).",
      discussion: """
        While the measured pace says --steps/--tokens will not fit, the plan is shortened to the \
        steps that do, so the learning-rate decay and λ's warm-up still finish in time. The final \
        --eval and the writing of OUTPUT come after the limit. A resumed run gets the limit afresh. \
        Give --steps near what fits: the learning rate's warm-up is --steps/20 steps.
        """))
  var timeLimit: String?

  @Option(
    name: .long, parsing: .unconditional,
    help: "Rows held by the shuffle buffer (default: 65536, or fewer to stay within 1 GiB).")
  var shuffleTokens: Int?

  @Option(name: .long, parsing: .unconditional, help: "Seeds the parameters and the shuffling.")
  var seed: UInt64 = 0

  @Option(
    name: .customLong("init"),
    help: ArgumentHelp(
      "How features start: tokens (each from one token of the first batch) or random (default: tokens "
        + "for topk and batchtopk, random for jumprelu).",
      discussion: """
        With tokens, each feature's encoder points at one token's input (less the batch's mean) \
        and its own layer's decoder writes a k-th of that token's output. With BatchTopK on \
        SmolLM2 it reached held-out NMSE 0.3386 at L0 28.0 after 245,760 tokens, against \
        random's 0.3458 at L0 32.6 (docs/BENCHMARKS.md).
        """))
  var initialization: FeatureInitialization?

  @Option(name: .long, help: "Write one JSON line of metrics every --log-every steps to this file.")
  var log: String?

  @Option(name: .long, parsing: .unconditional, help: "Steps between --log lines.")
  var logEvery: Int = 10

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "A feature that has not fired for this many tokens counts as dead (default: 2 batches for "
        + "topk and batchtopk, 1000000 for jumprelu).",
      discussion: """
        Dead features are pulled back by the pre-activation term and, for topk and batchtopk, \
        made to model the remaining error by AuxK. With rank selection a short window works best: \
        a feature that misses two batches is pulled up before it drifts far below the threshold \
        (docs/BENCHMARKS.md).
        """))
  var deadWindow: Int?

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "λ_p of the pre-activation term that pulls dead features back (0: off; default 3e-2 for "
        + "topk and batchtopk, 3e-6 for jumprelu)."))
  var preactLambda: Float?

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "α of the AuxK term that makes dead features reconstruct the main error (0: off; default 1/32 "
        + "for topk and batchtopk, 0 for jumprelu and with --shard-features).",
      discussion: """
        Per layer and token the --auxk-k largest positive pre-activations of dead features (see \
        --dead-window) reconstruct e = y − ŷ through their decoder rows; the term is \
        α·d_model·Σ‖e − ê‖²/‖e‖² over the layers they write to (Gao et al. 2024, A.2).
        """))
  var auxkCoefficient: Float?

  @Option(
    name: .long, parsing: .unconditional,
    help: "AuxK: dead features per layer and token that reconstruct the error (default: d_model/2).")
  var auxkK: Int?

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "Weight each layer's error by its raw output size to this power p (0: every layer alike).",
      discussion: """
        Inputs and targets are scaled per layer, so by default an error costs the same on every \
        layer, although some layers' raw outputs are hundreds of times larger than others' and \
        dominate the residual stream. With p > 0 layer l's squared error is weighted by \
        (E‖y[l]‖²)^p in raw units, normalised to a mean of 1 over the layers: 1 is the raw-unit MSE, \
        0.5 half way (in log scale). The printed and stored NMSE is per layer and unweighted.
        """))
  var layerWeightExponent: Double = 0

  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp(
      "A token whose MLP output at a layer has a squared norm above this many times the layer's "
        + "median is an outlier, left out of the layer's output scale (0: none; 50 finds SmolLM2's).",
      discussion: """
        Some layers have massive activations: SmolLM2-135M's layer 11 puts 99.7% of its output's \
        energy on 0.2% of the tokens. Scaled with every token, the other tokens' targets shrink to \
        almost nothing, the loss ignores them, and a CLT so trained reconstructed them worse than \
        their mean (NMSE 1.4 over them after 245,760 tokens). With a factor κ the scale comes from \
        the tokens below κ × the median, and an outlier's error weighs what it did under the \
        all-token scale. There κ = 50 took the typical tokens' held-out NMSE from 0.420 to 0.381 \
        (layer 11's from 1.44 to 0.46) but fitted layer 11's outliers worse, and the replacement \
        model came out slightly worse (top-1 24.9% against 25.6%, KL 3.03 against 2.91 over 8,128 \
        predictions), so it is off by default (docs/BENCHMARKS.md).
        """))
  var outlierFactor: Double = 0

  @Flag(
    inversion: .prefixedNo,
    help: ArgumentHelp(
      "Give each layer a linear skip connection from its MLP's input to its output, ŷ += x · W_skip "
        + "(default: on, off with --shard-features).",
      discussion: """
        A linear map alone explains about half of each MLP's output (held-out NMSE 0.47 over \
        SmolLM2-135M's layers, 0.15 at layer 0); with it the features spend their budget on what \
        is not linear (Paulo et al. 2025). At 122,880 tokens of the demo's recipe it took the \
        held-out NMSE from 0.396 at L0 29.2 to 0.334 at L0 19.8, and the replacement model's top-1 \
        agreement from 12.6% to 33.3% (KL 4.27 to 2.19, CE recovered 83.9% to 91.9%, over 8,128 \
        predictions). Attribution graphs pass the gradient through it, as circuit-tracer does. \
        circuit-tracer 0.5 cannot load a CLT folder with a skip, so clt-convert export refuses \
        one: train with --no-skip to export (docs/BENCHMARKS.md).
        """))
  var skip: Bool?

  @Option(
    name: .long,
    help:
      "A held-out shard file or folder (repeatable): measured at the end, printed and stored in the output.")
  var eval: [String] = []

  @Option(name: .long, parsing: .unconditional, help: "Tokens of the --eval shards to measure.")
  var evalTokens: Int = 65_536

  @Option(
    name: .long, parsing: .unconditional, help: "Write a checkpoint every N steps (and on SIGINT/SIGTERM).")
  var checkpointEvery: Int?

  @Option(name: .long, help: "Checkpoint file (default: OUTPUT.ckpt).")
  var checkpoint: String?

  @Option(name: .long, help: "Continue the run saved in this checkpoint.")
  var resume: String?

  @Flag(
    name: .long,
    help:
      "Delete each shard once it is loaded, argument shards too (bounds disk use; no second epoch).")
  var consume = false

  @Flag(name: .long, help: "Keep the shards read from stdin (by default each is deleted once loaded).")
  var keepShards = false

  @Flag(
    name: .long,
    help: "Reading shard paths from a pipe, keep this process's priority (by default it drops to the lowest)."
  )
  var keepPriority = false

  @Flag(
    name: .long,
    help: ArgumentHelp(
      "Under mpirun: divide every layer's features among the ranks instead of the batch.",
      discussion: """
        Each rank holds F/N features of every layer (encoder and decoder rows, thresholds, Adam \
        moments) and trains on every row; reconstructions are summed and TopK/BatchTopK select \
        across ranks. For a CLT whose parameters and optimizer state outgrow one machine; OUTPUT \
        is gathered at rank 0 into one ordinary clt.h5, and each rank checkpoints its own slice \
        (CHECKPOINT, CHECKPOINT.rank1, ...; resume on as many ranks). --features must divide by N.
        """))
  var shardFeatures = false

  @OptionGroup var common: CommonOptions

  @Argument(help: "Shard files or folders; - reads shard paths from stdin.")
  var shards: [String] = []

  func validate() throws {
    if MPICommunicator.launchedByMPIRun {
      guard !shards.contains("-"), !consume else {
        throw ValidationError(
          "under mpirun every rank reads its share of the shards given as arguments: drop - and --consume")
      }
    }
    try require(features, atLeast: 1, "--features")
    try require(batch, atLeast: 1, "--batch")
    try requireFinite(lr, "--lr", above: 0)
    try requireFinite(gradientClip, "--gradient-clip", atLeast: 0)
    try requireFinite(lambda, "--lambda", atLeast: 0)
    try requireFinite(tanhScale, "--tanh-scale", above: 0)
    try requireFinite(preactLambda, "--preact-lambda", atLeast: 0)
    try requireFinite(auxkCoefficient, "--auxk-coefficient", atLeast: 0)
    try require(auxkK, atLeast: 1, "--auxk-k")
    if shardFeatures, let auxkCoefficient, auxkCoefficient > 0 {
      throw ValidationError(
        "--auxk-coefficient \(auxkCoefficient) does not combine with --shard-features yet; "
          + "give --auxk-coefficient 0 or drop --shard-features")
    }
    if shardFeatures && skip == true {
      throw ValidationError("--skip does not combine with --shard-features yet; drop one of them")
    }
    try requireFinite(layerWeightExponent, "--layer-weight-exponent", atLeast: 0)
    try requireFinite(outlierFactor, "--outlier-factor", atLeast: 0)
    try require(tokens, atLeast: 1, "--tokens")
    try require(steps, atLeast: 1, "--steps")
    guard tokens == nil || steps == nil else {
      throw ValidationError("give one of --tokens and --steps, not both")
    }
    try require(shuffleTokens, atLeast: batch, "--shuffle-tokens", because: "--batch")
    try require(k, atLeast: 1, "--k")
    if activation.selectsByRank, let k, let features {
      try require(k, atMost: features, "--k", because: "--features")
    }
    try requireFinite(initialL0, "--initial-l0", above: 0)
    try require(deadWindow, atLeast: 1, "--dead-window")
    try require(evalTokens, atLeast: 1, "--eval-tokens")
    try require(checkpointEvery, atLeast: 1, "--checkpoint-every")
    try require(logEvery, atLeast: 1, "--log-every")
    if let resume, !FileManager.default.fileExists(atPath: resume) {
      throw ValidationError("--resume \(resume): no such checkpoint")
    }
    if let timeLimit, (try? TrainingTimeLimit(parsing: timeLimit)) == nil {
      throw ValidationError(TrainingError.invalidTimeLimit(timeLimit).errorDescription ?? timeLimit)
    }
  }

  func run() throws {
    // Training's big buffers on huge pages: the steps' scattered row reads gain ~1.2x.
    FloatBuffer.useHugePages()
    var group: Communicator = SingleProcess()
    try runReportingErrors(tool: "clt-fit") { group = try MPICommunicator.current() }
    let mpi = group as? MPICommunicator
    let tool = group.isDistributed ? "clt-fit (rank \(group.rank) of \(group.size))" : "clt-fit"
    do {
      try runReportingErrors(tool: tool) { try train(group) }
    } catch let exit as ExitCode where mpi != nil && exit.rawValue != 0 {
      // Every rank stops together after an interrupt (`collectiveStop`); any other failure is
      // this rank's alone, and the others may be waiting for it inside a collective.
      guard exit.rawValue == Self.collectiveStop else { group.abort(code: exit.rawValue) }
      mpi?.finalize()
      throw exit
    }
    mpi?.finalize()
  }

  /// The activation when --activation is not given. BatchTopK holds L0 at k from the first step,
  /// so each step's sparse decoder passes cost what k says; a JumpReLU starts near --initial-l0
  /// (128) and λ only warms up over the run: in the first 6 minutes of the brief's first line it
  /// fired 126–184 features a token and trained at 0.55× BatchTopK's pace (docs/BENCHMARKS.md). Stored
  /// as a JumpReLU at BatchTopK's running threshold, the CLT is one every other tool and
  /// circuit-tracer read as usual.
  static let defaultActivation = CLTActivationFunction.batchTopK

  /// k when --k is not given: the demo's 32, which at 1024 features a layer trained 1.4x the tokens a
  /// second of k 64 and so reached the lower NMSE in equal time (docs/BENCHMARKS.md, session 13); at
  /// most a quarter of the features, so that a small test CLT stays sparse.
  static func defaultK(features: Int) -> Int { min(32, max(1, features / 4)) }

  /// The learning rate when --lr is not given: 2e-3 for rank selection (the demo's; on SmolLM2 2e-3
  /// reached held-out NMSE 0.491 on 59,392 tokens with BatchTopK k 32, and 0.792 at the reference
  /// trainer's 1e-4; issue 19), 2e-4 for the JumpReLU, whose thresholds move with it.
  /// Features seeded from tokens helped BatchTopK on SmolLM2 (docs/BENCHMARKS.md) and on the
  /// tests' synthetic dictionary (training NMSE 0.0052 against 0.0097 after 1,500 steps), but
  /// hurt a JumpReLU there (0.025 against 0.004), so a JumpReLU keeps the random start.
  static func defaultInitialization(_ activation: CLTActivationFunction) -> FeatureInitialization {
    activation.selectsByRank ? .tokens : .random
  }

  static func defaultLearningRate(_ activation: CLTActivationFunction) -> Float {
    activation.selectsByRank ? 2e-3 : 2e-4
  }

  /// AuxK's α when --auxk-coefficient is not given (rank-selected activations): Gao et al.'s 1/32.
  static let defaultAuxKCoefficient: Float = 1 / 32

  /// λ_p when --preact-lambda is not given. JumpReLU keeps Anthropic's 3e-6. With rank selection
  /// the term pulls only features that have missed two batches, whose Adam moments still carry
  /// the large gradients they had while they fired: at 3e-6 the pull barely moved them, and on
  /// SmolLM2 3e-2 cut the held-out dead fraction from 7% to under 1% at the same NMSE.
  static let jumpReLUPreactLambda: Float = 3e-6
  static let rankSelectedPreactLambda: Float = 3e-2

  /// The exit code of a run that every rank ended together (on SIGINT/SIGTERM).
  static var collectiveStop: Int32 { 128 + SIGINT }

  /// The training run on this process's share of the shards (all of them when alone).
  func train(_ group: Communicator) throws {
    common.applyThreads()
    let root = group.isRoot
    let outputURL = URL(fileURLWithPath: output)
    let checkpointURL = URL(fileURLWithPath: checkpoint ?? output + ".ckpt")
    if root {
      for leftover in try CLTFile.checkWritable(outputURL) + CLTFile.checkWritable(checkpointURL) {
        StandardError.line("clt-fit: removed \(leftover), left by an interrupted run")
      }
    }
    // A resumed run appends to its log; a new one starts it afresh.
    let logHandle = try log.flatMap { path -> FileHandle? in
      guard root else { return nil }
      return try OutputTarget(path: path).openForWriting(append: resume != nil)
    }
    let processStart = Date()
    let budget = try timeLimit.map(TrainingTimeLimit.init(parsing:))
    // stdin is read when asked (-) or when no shard is given: never behind arguments' back.
    let explicit = shards.filter { $0 != "-" }
    let readStdin = !group.isDistributed && (shards.contains("-") || explicit.isEmpty)
    if readStdin && isatty(STDIN_FILENO) != 0 && explicit.isEmpty {
      throw ValidationError(
        "no shards: give shard files or folders, or pipe shard paths in (gpt2-acts corpus.txt | clt-fit)")
    }
    let yieldsToWriter = readStdin && !keepPriority && ProcessPriority.standardInputIsPipe
    if yieldsToWriter {
      // libdispatch starts its workers at its QoS class's own niceness, whenever it likes: they
      // lower themselves before each share of a parallel loop.
      ProcessPriority.lower(to: ProcessPriority.pipeConsumer)
      ParallelLoop.lowerWorkers(to: ProcessPriority.pipeConsumer)
    }
    let stream = try ShardStream(
      arguments: explicit, readStandardInput: readStdin,
      share: shardFeatures ? (0, 1) : (group.rank, group.size))
    defer { stream.close() }
    stream.consume = consume
    stream.consumeStandardInput = !keepShards
    stream.onSkip = { path, reason in StandardError.line("clt-fit: skipping \(path): \(reason)") }
    let quiet = common.quiet || !root
    let first = try stream.first()  // an unreadable or missing first shard fails here, named
    let totalSteps = try steps ?? tokens.map { ($0 + batch - 1) / batch } ?? onePass(stream, group)
    if steps != nil || tokens != nil, root, !quiet, let rows = try? stream.plannedRows(),
      rows > 0, rows < totalSteps * batch
    {
      StandardError.line(
        String(
          format: "clt-fit: %d steps of %d tokens from %d rows: about %.1f passes over the shards",
          totalSteps, batch, rows, Double(totalSteps * batch) / Double(rows)))
    }
    // Held-out shards of another model are refused now, not after the training they would be wasted on.
    let evalStream = try eval.isEmpty ? nil : ShardStream(arguments: eval, readStandardInput: false)
    try evalStream?.requireModel(of: first.metadata, at: first.url.path)
    let features = try features ?? defaultFeatures(for: first.metadata, group: group, quiet: quiet)
    let k = self.k ?? Self.defaultK(features: features)
    if activation.selectsByRank { try require(k, atMost: features, "--k", because: "--features") }
    var configuration = TrainingConfiguration(
      features: features, batch: batch, steps: totalSteps,
      learningRate: lr ?? Self.defaultLearningRate(activation), seed: seed)
    configuration.activation = activation
    configuration.k = k
    configuration.initialL0 = initialL0
    configuration.initialization = initialization ?? Self.defaultInitialization(activation)
    configuration.deadWindow = deadWindow ?? (activation.selectsByRank ? 2 * batch : 1_000_000)
    configuration.gradientClip = gradientClip
    configuration.clipByPreviousNorm = clipPreviousNorm
    configuration.coefficients.sparsity = lambda
    configuration.coefficients.tanhScale = tanhScale
    configuration.coefficients.preActivation =
      preactLambda ?? (activation.selectsByRank ? Self.rankSelectedPreactLambda : Self.jumpReLUPreactLambda)
    configuration.coefficients.auxiliary =
      auxkCoefficient ?? (activation.selectsByRank && !shardFeatures ? Self.defaultAuxKCoefficient : 0)
    configuration.auxK = auxkK ?? max(1, first.metadata.dModel / 2)
    configuration.layerWeightExponent = layerWeightExponent
    configuration.outlierFactor = outlierFactor
    configuration.skipConnection = skip ?? !shardFeatures
    configuration.shuffleRows = shuffleTokens ?? 0  // resolved once the shapes are known
    let createdBy = "clt-fit \(Self.configuration.version)"
    var writing: URL? = group.isRoot ? checkpointURL : nil  // this rank's checkpoint file
    let interrupt = InterruptRequest(
      tool: group.isDistributed ? "clt-fit (rank \(group.rank) of \(group.size))" : "clt-fit",
      message: group.isDistributed
        ? "stopping with the other ranks after this step and writing a checkpoint to \(checkpointURL.path); "
          + "if a rank has died, mpirun ends the job instead and the last checkpoint stays as it was"
        : "finishing this step, then writing a checkpoint to \(checkpointURL.path)",
      temporaryPath: { writing.map { CLTFile.temporaryURL(for: $0).path } })
    let trainer = try CLTTrainer(
      configuration: configuration, stream: stream, resumingFrom: resume.map { URL(fileURLWithPath: $0) },
      shuffleRows: { Self.shuffleRows($0, batch: batch) }, memoryLimit: Self.availableMemory(),
      communicator: group, shardFeatures: shardFeatures)
    writing = trainer.writesCheckpoints ? trainer.sliceURL(checkpointURL) : nil
    if !quiet {
      let estimate = trainer.configuration.perProcess(group.size, shardingFeatures: shardFeatures)
        .memoryEstimate(
          nLayers: trainer.metadata.nLayers, dModel: trainer.metadata.dModel)
      StandardError.line(
        "clt-fit: \(trainer.configuration.activation.rawValue), \(features) features × \(trainer.metadata.nLayers) "
          + "layers of \(trainer.metadata.model); memory \(estimate.detail)"
          + (resume.map { "; resumed from \($0) at step \(trainer.step)" } ?? "")
          + (group.isDistributed ? "; \(group.size) ranks, \(trainer.localBatch) tokens each per step" : ""))
      if let outliers = trainer.normalizer.outliers {
        let layers = outliers.weights.indices.filter { outliers.thresholds[$0].isFinite }
        StandardError.line(
          "clt-fit: outlier tokens (squared norm above \(String(format: "%g", trainer.configuration.outlierFactor)) "
            + "× the layer's median) left out of the output scales; their errors weigh "
            + layers.map { String(format: "%.3g (layer %d)", outliers.weights[$0], $0) }.joined(
              separator: ", "))
      }
      if let weights = trainer.normalizer.lossWeights(exponent: layerWeightExponent) {
        StandardError.line(
          "clt-fit: loss weight per layer (raw E‖y‖² to the power \(layerWeightExponent), mean 1): "
            + weights.map { String(format: "%.3g", $0) }.joined(separator: " "))
      }
    }
    let run = TrainingRun(trainer: trainer, checkpointURL: checkpointURL, createdBy: createdBy)
    run.budget = budget
    run.processStart = processStart
    run.checkpointEvery = checkpointEvery
    run.log = logHandle
    run.logEvery = logEvery
    run.interruptReceived = { interrupt.received }
    if !quiet {
      run.onProgress = { metrics, rate in
        StandardError.line(
          String(
            format: "clt-fit: step %d/%d, %.0f tokens/s, loss %.4f (mse %.4f, sparsity %.4f, preact %.5f, "
              + "auxk %.4f), mean L0 %.1f, mean NMSE %.4f, dead %.1f%%",
            metrics.step, trainer.configuration.steps, rate, metrics.totalLoss, metrics.meanSquaredError,
            metrics.sparsity, metrics.preActivation, metrics.auxiliary, metrics.meanL0, metrics.meanNMSE,
            100 * metrics.meanDeadFraction))
      }
    }
    let outcome = try run.run()
    try logHandle?.close()
    if case .interrupted(let signal) = outcome {
      if root {
        StandardError.line(
          "clt-fit: wrote \(checkpointURL.path) at step \(trainer.step); continue with --resume \(checkpointURL.path)"
        )
      }
      throw ExitCode(group.isDistributed ? Self.collectiveStop : 128 + signal)
    }
    guard var result = try trainer.assembledFile(createdBy: createdBy) else { return }
    let timed = run.timing
    if common.timing && timed.steps > 0 {
      var line = TimingLine(
        label: common.timingLabel(default: "clt_fit"), tokens: timed.tokens, seconds: timed.seconds)
      line.add("mean_l0", timed.meanL0Sum / Double(timed.steps))
      line.add("features", features)
      line.add("batch", batch)
      line.add("ranks", group.size)
      line.add("wall_seconds", timed.wallSeconds)
      line.add("wall_tokens_per_second", Double(timed.tokens) / timed.wallSeconds)
      line.add("phase_seconds", timed.phaseSeconds.map { $0 / Double(timed.steps) })
      line.add("decoder_vector_floats", CrossLayerTranscoder.decoderVectorFloats)
      // What a dense kernel reaches on this machine now (the encoder's product), beside which
      // the step's tokens/s is read: the machine's speed varies from day to day (BENCHMARKS.md).
      line.add(
        "sgemm_gflops",
        measuredSgemmGFLOPS(
          rows: trainer.localBatch, inDim: trainer.transcoder.dModel, outDim: trainer.transcoder.features))
      line.print()
    }
    if trainer.isOutOfData {
      StandardError.line(
        "clt-fit: the consumed shards ran out after \(trainer.step) of \(trainer.configuration.steps) steps; writing what was trained"
      )
    }
    if trainer.skippedRows > 0 {
      StandardError.line("clt-fit: skipped \(trainer.skippedRows) rows holding NaN or Inf")
    }
    if !stream.skipped.isEmpty {
      StandardError.line("clt-fit: skipped \(stream.skipped.count) unreadable shards (listed above)")
    }
    if let evalStream {
      let evaluation = try CLTEvaluation.measure(
        trainer.transcoder, normalizer: trainer.normalizer, stream: evalStream, maxTokens: evalTokens,
        batch: min(batch, 4096))
      result.evaluation = evaluation
      StandardError.line(
        String(
          format:
            "clt-fit: held-out (%d tokens): mean NMSE %.4f, mean L0 %.1f, dead %.1f%%; per layer NMSE %@; "
            + "per layer dead %% %@; typical tokens (squared norm at most %.0f × the median): mean NMSE %.4f, "
            + "per layer %@",
          evaluation.tokens, evaluation.meanNMSE, evaluation.meanL0, 100 * evaluation.meanDeadFraction,
          evaluation.nmse.map { String(format: "%.3f", $0) }.joined(separator: " "),
          evaluation.deadFraction.map { String(format: "%.0f", 100 * $0) }.joined(separator: " "),
          CLTEvaluation.typicalTokenFactor, evaluation.meanTypicalNMSE ?? .nan,
          (evaluation.typicalNMSE ?? []).map { String(format: "%.3f", $0) }.joined(separator: " ")))
    }
    do {
      try result.write(to: outputURL)
    } catch {
      // Hours of training are not lost to a full disk or a folder removed meanwhile.
      try? trainer.checkpoint(to: checkpointURL, createdBy: createdBy)
      let saved = FileManager.default.fileExists(atPath: checkpointURL.path)
      throw ToolError.outputLostAfterWork(
        reason: error.localizedDescription, savedIn: saved ? checkpointURL.path : nil)
    }
    if !quiet, let last = run.lastMetrics {
      StandardError.line(
        "clt-fit: wrote \(output) after \(last.tokensSeen) tokens; mean NMSE \(last.meanNMSE), "
          + "mean L0 \(last.meanL0)")
    }
  }

  /// Steps for one pass over the stream: its planned rows over the batch (every rank's rows,
  /// under mpirun with the batch divided).
  func onePass(_ stream: ShardStream, _ group: Communicator) throws -> Int {
    var rows = [Double(try stream.plannedRows())]
    if group.isDistributed && !shardFeatures { try group.sum(&rows) }
    let steps = max(1, Int(rows[0]) / batch)
    if group.isRoot && !common.quiet {
      StandardError.line(
        "clt-fit: one pass over \(Int(rows[0])) rows: \(steps) steps of \(batch) tokens "
          + "(--steps or --tokens for another length)")
    }
    return steps
  }

  /// The default --features: the most, from 4096 down in steps of 256, whose training estimate
  /// (parameters, gradients, Adam's moments, buffers) stays within a quarter of physical memory,
  /// so a laptop is left room to work; SmolLM2-135M's 30 layers get 1280, GPT-2 small's 12 more.
  func defaultFeatures(for metadata: ShardMetadata, group: Communicator, quiet: Bool) throws -> Int {
    if let resume { return try CLTFile.summary(url: URL(fileURLWithPath: resume)).metadata.features }
    let budget = Int(ProcessInfo.processInfo.physicalMemory) / 4
    var candidate = TrainingConfiguration(features: 4096, batch: batch, steps: 1)
    candidate.shuffleRows = shuffleTokens ?? Self.shuffleRows(metadata, batch: batch)
    candidate.initialL0 = initialL0
    func estimate(_ f: Int) -> (bytes: Int, detail: String) {
      candidate.features = f
      candidate.k = k ?? Self.defaultK(features: f)
      return candidate.perProcess(group.size, shardingFeatures: shardFeatures)
        .memoryEstimate(nLayers: metadata.nLayers, dModel: metadata.dModel)
    }
    var f = 4096
    while f > 256 && estimate(f).bytes > budget { f -= 256 }
    if group.isRoot && !quiet {
      StandardError.line(
        String(
          format: "clt-fit: --features %d, the most that trains within a quarter of this machine's %.0f GiB",
          f, Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)))
    }
    return f
  }

  /// 65,536 rows, or fewer so that the shuffle buffer (inputs and outputs, float32) stays within
  /// 1 GiB.
  static func shuffleRows(_ metadata: ShardMetadata, batch: Int) -> Int {
    let rowBytes = 2 * metadata.nLayers * metadata.dModel * 4
    return max(batch, min(65_536, (1 << 30) / rowBytes))
  }

  /// MemAvailable from /proc/meminfo (what can be allocated without swapping), else the
  /// physical memory.
  static func availableMemory() -> Int {
    if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
      let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
    {
      return kib * 1024
    }
    return Int(ProcessInfo.processInfo.physicalMemory)
  }
}

extension CLTActivationFunction: ExpressibleByArgument {}
extension FeatureInitialization: ExpressibleByArgument {}

CLTFit.main()
