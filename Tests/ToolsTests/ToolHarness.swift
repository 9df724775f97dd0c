import Foundation
import LanguageModels
import ModelFormats
import Testing

/// Runs the built tools as a user would, and builds the small checkpoints they are tested on.
enum ToolHarness {
  /// The folder holding the built executables: the test binary sits beside them.
  static let binDirectory: URL = {
    let exe =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent()
  }()

  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// assets/gpt2.tiktoken, from $CLTKIT_ASSETS or the package's assets folder.
  static var rankFile: URL {
    get throws {
      let folder =
        ProcessInfo.processInfo.environment["CLTKIT_ASSETS"].map { URL(fileURLWithPath: $0) }
        ?? packageRoot.appendingPathComponent("assets")
      let url = folder.appendingPathComponent("gpt2.tiktoken")
      guard FileManager.default.fileExists(atPath: url.path) else {
        throw HarnessError("missing \(url.path): run `make assets` first")
      }
      return url
    }
  }

  struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }

  struct Result {
    let status: Int32
    let stdout: String
    let stderr: String
  }

  /// Runs `tool` with `arguments`, feeding `stdin`, and waits for it.
  @discardableResult
  static func run(
    _ tool: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]
  )
    throws -> Result
  {
    try runProgram(
      binDirectory.appendingPathComponent(tool).path, arguments, stdin: stdin, environment: environment)
  }

  /// Runs the program at `path` (a tool, or /usr/bin/env for one on $PATH) and waits for it.
  static func runProgram(
    _ path: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]
  ) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    // Read both pipes before waiting, so a chatty tool cannot fill a pipe and block.
    let errData = ErrorCollector()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      errData.data = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    // Tests that send a signal run their process themselves; through here, a signal is a crash,
    // which a test expecting only a non-zero status would otherwise pass.
    if process.terminationReason == .uncaughtSignal {
      Issue.record(
        "\(path) \(arguments.joined(separator: " ")) crashed: signal \(process.terminationStatus)")
    }
    return Result(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData.data, as: UTF8.self))
  }

  /// Holds what the stderr reader thread collected; the DispatchGroup orders the access.
  final class ErrorCollector: @unchecked Sendable { var data = Data() }

  /// Runs a system command and returns its exit status.
  static func runCommand(_ path: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
  }

  /// A temporary folder holding a random checkpoint in `model/`, and the rank file: what every
  /// tool test starts from. The caller removes `dir`.
  static func makeWorkspace(_ name: String) throws -> (dir: URL, model: URL, rankFile: URL) {
    let dir = try temporaryDirectory(name)
    let model = dir.appendingPathComponent("model")
    try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
    try makeCheckpoint(in: model)
    return (dir, model, try rankFile)
  }

  /// A fresh temporary folder, removed by the caller.
  static func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// Writes a random GPT-2 checkpoint folder with the real vocabulary (50257) and a tiny width, so
  /// the real tokenizer's ids fit it; a smaller `vocabulary` suits a made-up tokenizer.
  static func makeCheckpoint(
    in directory: URL, layers: Int = 2, width: Int = 16, heads: Int = 2, positions: Int = 64,
    vocabulary: Int = 50257
  )
    throws
  {
    let config: [String: Any] = [
      "vocab_size": vocabulary, "n_positions": positions, "n_embd": width, "n_layer": layers, "n_head": heads,
      "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "model_type": "gpt2",
    ]
    try JSONSerialization.data(withJSONObject: config, options: .prettyPrinted)
      .write(to: directory.appendingPathComponent("config.json"))
    var rng = SplitMix64(seed: 7)
    func random(_ count: Int, scale: Float = 0.3, offset: Float = 0) -> [Float] {
      (0..<count).map { _ in offset + scale * Float(rng.nextUnitDouble() * 2 - 1) }
    }
    var writer = SafetensorsWriter()
    let c = width
    writer.add("wte.weight", shape: [vocabulary, c], values: random(vocabulary * c))
    writer.add("wpe.weight", shape: [positions, c], values: random(positions * c))
    for l in 0..<layers {
      let h = "h.\(l)."
      writer.add(h + "ln_1.weight", shape: [c], values: random(c, offset: 1))
      writer.add(h + "ln_1.bias", shape: [c], values: random(c))
      writer.add(h + "attn.c_attn.weight", shape: [c, 3 * c], values: random(3 * c * c))
      writer.add(h + "attn.c_attn.bias", shape: [3 * c], values: random(3 * c))
      writer.add(h + "attn.c_proj.weight", shape: [c, c], values: random(c * c))
      writer.add(h + "attn.c_proj.bias", shape: [c], values: random(c))
      writer.add(h + "ln_2.weight", shape: [c], values: random(c, offset: 1))
      writer.add(h + "ln_2.bias", shape: [c], values: random(c))
      writer.add(h + "mlp.c_fc.weight", shape: [c, 4 * c], values: random(4 * c * c))
      writer.add(h + "mlp.c_fc.bias", shape: [4 * c], values: random(4 * c))
      writer.add(h + "mlp.c_proj.weight", shape: [4 * c, c], values: random(4 * c * c))
      writer.add(h + "mlp.c_proj.bias", shape: [c], values: random(c))
    }
    writer.add("ln_f.weight", shape: [c], values: random(c, offset: 1))
    writer.add("ln_f.bias", shape: [c], values: random(c))
    try writer.write(to: directory.appendingPathComponent("model.safetensors"))
  }
}
