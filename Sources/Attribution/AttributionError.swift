import Foundation

/// Why an attribution graph cannot be built, each saying what to change.
public enum AttributionError: Error, LocalizedError, Equatable {
  case emptyPrompt
  case promptTooLong(tokens: Int, context: Int)
  case tokenOutOfRange(token: Int, vocabularySize: Int)
  /// The transcoder does not fit the model: what differs.
  case transcoderMismatch(String)
  /// A --target token that the tokenizer does not know, or that is not one token.
  case unknownTarget(String)
  case invalidOption(String)

  public var errorDescription: String? {
    switch self {
    case .emptyPrompt:
      return "the prompt is empty (no tokens); give it some text"
    case .promptTooLong(let tokens, let context):
      return "the prompt has \(tokens) tokens, more than the model's context of \(context); shorten it"
    case .tokenOutOfRange(let token, let size):
      return "token id \(token) is outside the model's vocabulary of \(size); use the model's own tokenizer"
    case .transcoderMismatch(let detail):
      return
        "the transcoder does not fit the model: \(detail); train one on this model's activations (clt-fit)"
    case .unknownTarget(let detail):
      return "--target \(detail)"
    case .invalidOption(let detail):
      return detail
    }
  }
}
