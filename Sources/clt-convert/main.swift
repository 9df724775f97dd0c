import ArgumentParser
import CLTFormat
import CircuitTracerFormat
import Foundation
import LanguageModels
import ModelLoading
import ToolSupport

/// Converts cross-layer transcoders between clt.h5 and circuit-tracer's folder of safetensors files.
struct CLTConvert: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-convert",
    abstract: "Convert cross-layer transcoders between clt.h5 and circuit-tracer's layout.",
    discussion: """
      circuit-tracer (safety-research/circuit-tracer) loads a CLT from a folder holding config.yaml, \
      W_enc_{i}.safetensors (W_enc_i, b_enc_i, b_dec_i, threshold_i) and W_dec_{i}.safetensors \
      (W_dec_i, features x (layers - i) x d_model) for every layer i. `export` writes that folder with \
      clt.h5's normalisation scales folded into the weights, so it runs on raw activations; `import` \
      reads one back into a clt.h5 for the model given with --model. The features read the MLP input \
      and write the MLP output (hooks mlp.hook_in and mlp.hook_out); a CLT that reads another tensor, \
      such as the residual stream before the norm (hook_resid_mid), is refused. Format: docs/FORMATS.md.
      """,
    version: "0.1.0",
    subcommands: [Export.self, Import.self])

  static var createdBy: String { "clt-convert \(configuration.version)" }
}

extension CLTConvert {
  struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a clt.h5 as a circuit-tracer CLT folder.",
      discussion: """
        Example: clt-convert export clt.h5 -o clt-circuit-tracer
        Only jumprelu and batchtopk transcoders can be exported (circuit-tracer has no TopK). The folder \
        appears atomically: it is written under a hidden name and renamed when complete.
        """)

    @Argument(help: ArgumentHelp("The transcoder (clt.h5 from clt-fit).", valueName: "clt.h5"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The folder to write.", valueName: "dir"))
    var output: String

    @Option(
      name: .long,
      help: ArgumentHelp(
        "model_name in config.yaml, the model circuit-tracer loads (default: the clt.h5's model name).",
        valueName: "name"))
    var modelName: String?

    @Flag(name: .long, help: "Replace the output folder if it exists.")
    var force = false

    func run() throws {
      try runReportingErrors(tool: "clt-convert") {
        let url = URL(fileURLWithPath: input)
        guard FileManager.default.fileExists(atPath: url.path) else {
          throw ConversionError.missingFile(path: url.path, hint: "pass a clt.h5 written by clt-fit")
        }
        let file = try CLTFile.load(url: url)
        try CircuitTracerExporter.export(
          file, source: url.path, to: URL(fileURLWithPath: output), modelName: modelName, replacing: force,
          createdBy: CLTConvert.createdBy)
        try StandardOutput.line(output)
      }
    }
  }

  struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Read a circuit-tracer CLT folder into a clt.h5.",
      discussion: """
        Example: clt-convert import clt-circuit-tracer -o clt.h5 --model models/gpt2
        --model is the model the CLT was trained on: its architecture, name, sha256 and taps are recorded \
        in the clt.h5, as every tool checks them, and its layer count and width must match the files. \
        Thresholds become log thresholds (a folder without thresholds is a ReLU), the scales are 1 and \
        the firing frequencies, unknown, are 0. config.yaml must declare model_kind \
        cross_layer_transcoder and the MLP input and output hooks.
        """)

    @Argument(help: ArgumentHelp("The circuit-tracer CLT folder.", valueName: "dir"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The clt.h5 to write.", valueName: "clt.h5"))
    var output: String

    @Option(
      name: .long,
      help: ArgumentHelp(
        "The model the CLT belongs to: a GPT-2 checkpoint folder (config.json + model.safetensors) or a "
          + "Llama-family .gguf file.",
        valueName: "path"))
    var model: String

    func run() throws {
      try runReportingErrors(tool: "clt-convert") {
        let outputURL = URL(fileURLWithPath: output)
        try CLTFile.checkWritable(outputURL)
        let description = try loadModel().description
        let file = try CircuitTracerImporter.load(
          directory: URL(fileURLWithPath: input), model: description, createdBy: CLTConvert.createdBy)
        try file.write(to: outputURL)
        try StandardOutput.line(output)
      }
    }

    /// The model named by --model, as `ModelOptions` loads it: a folder is GPT-2, a .gguf a Llama.
    func loadModel() throws -> any LanguageModel {
      let url = URL(fileURLWithPath: model)
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw LanguageModelError.missingFile(
          path: url.path, hint: "pass --model with a GPT-2 checkpoint folder or a Llama-family .gguf file")
      }
      if isDirectory.boolValue { return try GPT2Model(directory: url) }
      return try LlamaModel(gguf: url)
    }
  }
}

CLTConvert.main()
