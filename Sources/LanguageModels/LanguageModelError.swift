import Foundation

/// Why a model could not be loaded or run, with what to do about it.
public enum LanguageModelError: Error, LocalizedError, Equatable {
  case missingFile(path: String, hint: String)
  case invalidConfig(path: String, detail: String)
  case sequenceTooLong(tokens: Int, context: Int)
  case tokenOutOfRange(token: Int32, vocabularySize: Int)
  case unsupportedModel(path: String, detail: String)

  public var errorDescription: String? {
    switch self {
    case .missingFile(let path, let hint):
      return "\(path): not found; \(hint)"
    case .invalidConfig(let path, let detail):
      return "\(path): \(detail)"
    case .sequenceTooLong(let tokens, let context):
      return
        "\(tokens) tokens do not fit the model's context of \(context); shorten the input or lower --context"
    case .tokenOutOfRange(let token, let vocabularySize):
      return
        "token id \(token) is outside the model's vocabulary of \(vocabularySize); the tokenizer does not belong to this model"
    case .unsupportedModel(let path, let detail):
      return "\(path): \(detail)"
    }
  }
}
