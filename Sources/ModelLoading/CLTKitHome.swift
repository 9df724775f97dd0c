import Foundation

/// The per-user folder where `make models`, `make assets` and `make gpt2-download` put what they
/// fetch, so that every tool finds its default model and tokenizer from any working folder:
/// `$CLTKIT_HOME`, else `~/.cache/cltkit` (the XDG cache convention: everything in it can be
/// fetched again). It holds `models/` (a GGUF file or a GPT-2 checkpoint folder each) and
/// `assets/gpt2.tiktoken`.
public struct CLTKitHome: Sendable {
  public let url: URL

  public init(url: URL) { self.url = url }

  /// The folder named by the environment: `$CLTKIT_HOME`, else `$HOME/.cache/cltkit`.
  public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
    -> CLTKitHome
  {
    if let home = environment["CLTKIT_HOME"], !home.isEmpty {
      return CLTKitHome(url: URL(fileURLWithPath: home))
    }
    let user =
      environment["HOME"].map { URL(fileURLWithPath: $0) }
      ?? FileManager.default.homeDirectoryForCurrentUser
    return CLTKitHome(url: user.appendingPathComponent(".cache/cltkit"))
  }

  public var models: URL { url.appendingPathComponent("models") }
  public var assets: URL { url.appendingPathComponent("assets") }

  /// The models a tool picks by default, in order of preference, with the command that fetches
  /// each: GPT-2 small first (the tools' namesake), then SmolLM2-135M, which works offline.
  public static let defaultModels: [(name: String, fetch: String)] = [
    ("gpt2", "make gpt2-download"),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "make models"),
  ]

  /// `models/NAME` when it holds a model: a .gguf file, or a folder with config.json.
  public func model(named name: String) -> URL? {
    let url = models.appendingPathComponent(name)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return nil }
    if isDirectory.boolValue {
      return FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path)
        ? url : nil
    }
    return url
  }

  /// The first of `defaultModels` present in `models/`.
  public func defaultModel() -> URL? {
    Self.defaultModels.lazy.compactMap { model(named: $0.name) }.first
  }
}

/// How a tool came by its model, so that it can say so on stderr when it was not given one.
public struct ModelChoice: Sendable {
  public let path: String
  /// Why this model, when the user did not name it (nil for `--model`).
  public let reason: String?
}
