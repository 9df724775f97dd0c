/// Text to token ids and back, as a language model's training saw it.
///
/// Other targets (corpus windowing, generation, printing tokens in JSON) are written against this
/// protocol rather than a concrete tokenizer, so that model families with other vocabularies can
/// plug in later.
public protocol Tokenizer: Sendable {
  /// Number of ids the model's embedding has rows for (GPT-2: 50257, ordinary tokens plus `<|endoftext|>`).
  var vocabularySize: Int { get }
  /// id of <|endoftext|> (GPT-2: 50256); used as BOS at the start of each window and as stop token
  var endOfTextID: Int32 { get }
  /// Ordinary text to ids; special-token strings in the text are encoded as ordinary text (tiktoken encode_ordinary).
  func encode(_ text: String) -> [Int32]
  /// Raw bytes of one token (for printing tokens as strings in JSON).
  func tokenBytes(_ id: Int32) -> [UInt8]
  /// Ids to text; invalid UTF-8 sequences become U+FFFD.
  func decode(_ ids: [Int32]) -> String
}
