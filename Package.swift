// swift-tools-version:6.1
// CLTKit: cross-layer transcoders and attribution graphs for language models on a CPU.
import PackageDescription

let package = Package(
  name: "CLTKit",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "gpt2-acts", targets: ["gpt2-acts"]),
    .executable(name: "clt-replace", targets: ["clt-replace"]),
    .executable(name: "clt-fit", targets: ["clt-fit"]),
    .executable(name: "clt-encode", targets: ["clt-encode"]),
    .executable(name: "clt-attrib", targets: ["clt-attrib"]),
    .executable(name: "clt-report", targets: ["clt-report"]),
    .executable(name: "clt-convert", targets: ["clt-convert"]),
    .executable(name: "clt-plot", targets: ["clt-plot"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
  ],
  targets: [
    // MARK: - System libraries
    .systemLibrary(
      name: "CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CHDF5", pkgConfig: "hdf5-serial",
      providers: [.apt(["libhdf5-dev"])]),
    /// Open MPI's C API, for training across processes; only clt-fit links it.
    .systemLibrary(
      name: "CMPI", pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

    // MARK: - Libraries, in the order data flows through them
    /// Numerical kernels on flat Float buffers; every dense product goes through cblas_sgemm.
    .target(name: "Kernels", dependencies: ["CBLAS", "CKernels"]),
    /// The few element-wise loops that gain from AVX2, compiled with a run-time-selected variant.
    .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
    /// Whole-file outputs checked before the work and written without destroying anything
    /// (temporary file and rename; special files written in place; leftovers of killed runs removed),
    /// and the JSON the tools write by hand.
    .target(name: "OutputFiles"),
    /// A small, typed Swift wrapper over the HDF5 C API.
    .target(name: "HDF5", dependencies: ["CHDF5"]),
    /// Checkpoint readers: safetensors (and later GGUF).
    .target(
      name: "ModelFormats", dependencies: ["Kernels", .product(name: "Crypto", package: "swift-crypto")]),
    /// Byte-level BPE tokenizers (GPT-2 rank files, Hugging Face vocab.json + merges.txt).
    .target(name: "Tokenizers", dependencies: ["ModelFormats"]),
    /// Model families behind one protocol: forward passes with MLP taps, KV-cached generation.
    .target(name: "LanguageModels", dependencies: ["Kernels", "ModelFormats", "Tokenizers"]),
    /// Corpus reading, windowing and the HDF5 activation-shard format.
    .target(name: "ActivationShards", dependencies: ["HDF5"]),
    /// A model run over a corpus with every row's MLP input and output written to shards (gpt2-acts).
    .target(name: "ActivationDump", dependencies: ["ActivationShards", "LanguageModels", "Tokenizers"]),
    /// Cross-layer transcoders (Ameisen et al. 2025): parameters, sparse forward pass, loss, gradients.
    .target(name: "Transcoder", dependencies: ["Kernels", "CKernels", "Collectives"]),
    /// The collective operations training across processes needs, and the group of one process.
    .target(name: "Collectives"),
    /// Those collectives over Open MPI (MPI_Allreduce and friends), joined only under mpirun.
    .target(name: "MPICollectives", dependencies: ["Collectives", "CMPI"]),
    /// clt.h5, the trained transcoder's file: its dataset and attribute names, version and checks, and
    /// what it stores (the parameters, normalisation scales, hyper-parameters, held-out metrics),
    /// read by every tool after clt-fit without linking the trainer.
    .target(
      name: "CLTFormat",
      dependencies: ["Transcoder", "ActivationShards", "HDF5", "Kernels", "OutputFiles"]),
    /// Training a CLT from activation shards: shard stream, shuffle buffer, normalisation, the
    /// training loop and its checkpoints.
    .target(
      name: "TranscoderTraining",
      dependencies: ["CLTFormat", "Transcoder", "ActivationShards", "HDF5", "Kernels", "Collectives"]),
    /// The CLT replacement model: a transcoder run inside a model in place of its MLPs, steering,
    /// feature encoding of text, and faithfulness metrics.
    .target(
      name: "ReplacementModel",
      dependencies: ["LanguageModels", "Transcoder", "CLTFormat", "Kernels", "OutputFiles"]),
    /// What each feature of a CLT is about, computed once beside it (NAME.index.json): top tokens
    /// and contexts on a corpus, frequency, logit effects; and the short labels graphs show.
    .target(
      name: "FeatureIndex",
      dependencies: [
        "ReplacementModel", "LanguageModels", "Transcoder", "CLTFormat",
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    /// The attribution-graph JSON (circuit-tracer's layout): one `Codable` document that Attribution
    /// writes and Plots reads.
    .target(name: "GraphFormat"),
    /// Attribution graphs (Ameisen et al. 2025): the recorded forward pass, the local replacement
    /// model (frozen attention and norms, the CLT plus its error), edges by batched vector-Jacobian
    /// products, pruning by influence, and the DOT and JSON writers.
    .target(
      name: "Attribution",
      dependencies: [
        "LanguageModels", "Transcoder", "CLTFormat", "GraphFormat", "Kernels", "CKernels", "CBLAS", "HDF5",
        "FeatureIndex", .product(name: "HeapModule", package: "swift-collections"),
      ]),
    /// circuit-tracer's CLT layout (a folder of safetensors files and config.yaml): export of a clt.h5
    /// with its normalisation folded in, and import for a given model.
    .target(
      name: "CircuitTracerFormat",
      dependencies: [
        "CLTFormat", "Transcoder", "ActivationShards", "ModelFormats", "LanguageModels", "Kernels",
        .product(name: "Yams", package: "Yams"),
      ]),
    /// An experiment's report (REPORT.md and REPORT.html) from the files its pipeline wrote.
    .target(name: "ExperimentReport", dependencies: ["CLTFormat"]),
    /// Pictures of the other tools' outputs: a small SVG builder, axes and colour scales, the
    /// charts (heatmaps, bars, curves, PCA) and the self-contained attribution-graph page.
    .target(name: "Plots", dependencies: ["Transcoder", "CLTFormat", "GraphFormat", "OutputFiles"]),
    /// Command-line plumbing every tool shares: progress on stderr, stdout that fails cleanly,
    /// atomic files, signals, the common options; no model code, so clt-report links none.
    .target(
      name: "ToolSupport",
      dependencies: [
        "Kernels", "OutputFiles",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    /// Finding and loading a tool's model and tokenizer: --model, $CLTKIT_HOME's defaults, the model
    /// a CLT was trained on.
    .target(
      name: "ModelLoading",
      dependencies: [
        "ToolSupport", "LanguageModels", "ModelFormats", "Tokenizers",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // MARK: - Tools (thin: parse arguments, call the libraries)
    .executableTarget(
      name: "gpt2-acts",
      dependencies: [
        "ToolSupport", "ModelLoading", "ActivationDump", "ActivationShards", "LanguageModels", "Tokenizers",
        "Kernels",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "clt-fit",
      dependencies: [
        "ToolSupport", "TranscoderTraining", "CLTFormat", "Transcoder", "Kernels", "Collectives",
        "MPICollectives",
        "OutputFiles", "ActivationShards",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "clt-encode",
      dependencies: [
        "ToolSupport", "ModelLoading", "ReplacementModel", "CLTFormat", "ActivationShards",
        "FeatureIndex", "OutputFiles",
        "LanguageModels",
        "Tokenizers",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "clt-replace",
      dependencies: [
        "ToolSupport", "ModelLoading", "ReplacementModel", "CLTFormat", "ActivationShards",
        "LanguageModels",
        "Tokenizers",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    .executableTarget(
      name: "clt-report",
      dependencies: [
        "ToolSupport", "ExperimentReport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "clt-attrib",
      dependencies: [
        "ToolSupport", "ModelLoading", "Attribution", "CKernels", "LanguageModels", "CLTFormat",
        "Tokenizers", "ReplacementModel", "FeatureIndex",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "clt-plot",
      dependencies: [
        "ToolSupport", "ModelLoading", "Plots", "CLTFormat", "ReplacementModel", "LanguageModels",
        "FeatureIndex",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    .executableTarget(
      name: "clt-convert",
      dependencies: [
        "ToolSupport", "ModelLoading", "CircuitTracerFormat", "LanguageModels", "CLTFormat",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // MARK: - Tests
    .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
    .testTarget(name: "HDF5Tests", dependencies: ["HDF5"]),
    .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats"], resources: [.copy("Fixtures")]),
    .testTarget(
      name: "TokenizersTests", dependencies: ["Tokenizers", "ModelFormats"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "LanguageModelsTests", dependencies: ["LanguageModels", "ModelFormats"],
      resources: [.copy("Fixtures")]),
    .testTarget(name: "TranscoderTests", dependencies: ["Transcoder", "Kernels", "CKernels", "Collectives"]),
    .testTarget(
      name: "CLTFitTests",
      dependencies: [
        "TranscoderTraining", "CLTFormat", "Transcoder", "ActivationShards", "HDF5", "Kernels",
        "ModelFormats",
        "Collectives",
      ]),
    .testTarget(
      name: "ReplacementModelTests",
      dependencies: [
        "ReplacementModel", "LanguageModels", "Transcoder", "CLTFormat", "ModelFormats",
        "ActivationShards", "Kernels",
      ]),
    .testTarget(name: "GraphFormatTests", dependencies: ["GraphFormat"]),
    .testTarget(
      name: "FeatureIndexTests",
      dependencies: [
        "FeatureIndex", "ReplacementModel", "LanguageModels", "Transcoder", "CLTFormat", "ActivationShards",
        "Kernels",
      ]),
    .testTarget(
      name: "AttributionTests",
      dependencies: [
        "Attribution", "FeatureIndex", "LanguageModels", "Transcoder", "CLTFormat", "Kernels", "CKernels",
        "ActivationShards",
      ]),
    .testTarget(
      name: "CircuitTracerFormatTests",
      dependencies: [
        "CircuitTracerFormat", "CLTFormat", "Transcoder", "ActivationShards", "ModelFormats",
        "LanguageModels", "Kernels",
      ]),
    .testTarget(
      name: "PlotsTests",
      dependencies: ["Plots", "Transcoder", "CLTFormat", "ActivationShards", "OutputFiles"]),
    .testTarget(name: "ActivationShardsTests", dependencies: ["ActivationShards", "HDF5"]),
    .testTarget(
      name: "ExperimentReportTests",
      dependencies: ["ExperimentReport", "CLTFormat", "Transcoder", "ActivationShards"]),
    .testTarget(
      name: "ToolsTests",
      dependencies: [
        "HDF5", "OutputFiles", "ActivationDump", "ModelFormats", "LanguageModels", "Tokenizers",
        "ActivationShards",
        "Transcoder",
        "CLTFormat", "ToolSupport", "Plots",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      // The pinned --help texts, read and rewritten in place through #filePath, not as resources.
      exclude: ["Fixtures/help"]),
  ],
  // Swift 6 mode: data races are compile-time errors. What the checker cannot see is confined to
  // `@unchecked Sendable` types, each saying why it is safe: buffers written by threads in disjoint
  // slices (FloatBuffer, Kernels.UncheckedSendable for concurrentPerform's bodies, attribution's
  // per-thread Scratch), read-only mapped files (MappedFile, GGUFFile, SafetensorsFile), a tokenizer
  // whose cache is locked (BPETokenizer), signal-handler state under a lock (InterruptRequest,
  // SignalCleanup) and a pipe reader's buffer ordered by a DispatchGroup (Plots' PlotOutput).
  swiftLanguageModes: [.v6]
)
