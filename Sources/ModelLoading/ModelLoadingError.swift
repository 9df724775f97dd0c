import Foundation

/// Why a tool could not find or load its model, tokenizer or transcoder; each message names what
/// is missing and the command that fetches or makes it.
public enum ModelLoadingError: Error, LocalizedError, Equatable {
  case tokenizerNotFound(searched: [String])
  case noModel(home: String)
  case missingTranscoder(path: String)
  case trainedModelMissing(TrainedModel, home: String)

  public var errorDescription: String? {
    switch self {
    case .tokenizerNotFound(let searched):
      return "no tokenizer found (looked for \(searched.joined(separator: ", "))); "
        + "run `make assets` or pass --tokenizer PATH (a .tiktoken rank file or a folder with vocab.json and merges.txt)"
    case .missingTranscoder(let path):
      return "\(path): no such transcoder; train one with `gpt2-acts corpus.txt | clt-fit -o clt.h5`, "
        + "or pass --clt PATH"
    case .noModel(let home):
      return "no model: none given with --model or $CLTKIT_MODEL, and none fetched into \(home); "
        + "in the CLTKit checkout run `make models` (SmolLM2-135M, offline) or `make gpt2-download` "
        + "(GPT-2 small, needs huggingface.co), or pass --model PATH"
    case .trainedModelMissing(let trained, let home):
      let fetch = CLTKitHome.defaultModels.first { $0.name == trained.name }.map {
        " (`\($0.fetch)` in the CLTKit checkout fetches it)"
      }
      return "\(trained.file) was trained on \(trained.name) (sha256 \(trained.sha256.prefix(12))…), "
        + "which is not in \(home)\(fetch ?? ""); pass --model PATH to that model"
    }
  }
}

extension TrainedModel {
  /// Fails with what to do when the transcoder `path` does not exist: a tool's default `clt.h5`
  /// is missing in a new folder, and HDF5's own message would only say it cannot open it.
  public static func requireTranscoder(at path: String) throws {
    guard FileManager.default.fileExists(atPath: path) else {
      throw ModelLoadingError.missingTranscoder(path: path)
    }
  }
}

/// The model a CLT (or other derived file) was made from, as its file records it: what a tool
/// given only the CLT looks for.
public struct TrainedModel: Sendable, Equatable {
  /// The model's file or folder name, e.g. "gpt2" or "SmolLM2-135M-Instruct.Q4_1.gguf".
  public var name: String
  /// sha256 of its weights (empty when unknown).
  public var sha256: String
  /// The derived file, for messages ("clt.h5").
  public var file: String

  public init(name: String, sha256: String, file: String) {
    self.name = name
    self.sha256 = sha256
    self.file = file
  }
}
