/// Text to token ids and back, as a language model's training saw it.
///
/// Other targets (corpus windowing, generation, printing tokens in JSON) are written against this
/// protocol rather than a concrete tokenizer, so that model families with other vocabularies can
/// plug in later.
public protocol Tokenizer: Sendable {
  /// Number of ids the model's embedding has rows for (GPT-2: 50257, ordinary tokens plus `<|endoftext|>`).
  var vocabularySize: Int { get }
  /// id of <|endoftext|> (GPT-2: 50256; SmolLM2: 0), the pretraining document separator: used as
  /// BOS at the start of each window of an activation dump, so windows look like pretraining text.
  var endOfTextID: Int32 { get }
  /// Ids after which generation stops. GPT-2: just `endOfTextID`. A chat-tuned model ends a turn with
  /// another token (SmolLM2-Instruct: `<|im_end|>`, id 2, the GGUF's EOS), so this lists the EOS
  /// first and then `endOfTextID`. Defaults to `[endOfTextID]`.
  var stopIDs: [Int32] { get }
  /// Ordinary text to ids; special-token strings in the text are encoded as ordinary text (tiktoken encode_ordinary).
  func encode(_ text: String) -> [Int32]
  /// Raw bytes of one token (for printing tokens as strings in JSON).
  func tokenBytes(_ id: Int32) -> [UInt8]
  /// Ids to text; invalid UTF-8 sequences become U+FFFD.
  func decode(_ ids: [Int32]) -> String
}

extension Tokenizer {
  /// A tokenizer whose only end marker is `<|endoftext|>` stops there.
  public var stopIDs: [Int32] { [endOfTextID] }
}
