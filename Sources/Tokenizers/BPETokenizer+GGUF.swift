import ModelFormats

extension BPETokenizer {
  /// `tokenizer.ggml.model` values `fromGGUF` reads: llama.cpp's name for byte-level BPE.
  public static let supportedGGUFModels = ["gpt2"]
  /// `tokenizer.ggml.pre` values `fromGGUF` reads, and the pre-tokenizer each one means in llama.cpp
  /// (src/llama-vocab.cpp: "gpt2" is GPT-2's regex alone, "smollm" is `\p{N}` then GPT-2's regex).
  public static let supportedGGUFPreTokenizers: [String: PreTokenizer] = ["gpt2": .gpt2, "smollm": .smolLM]

  /// A byte-level BPE tokenizer from a GGUF's `tokenizer.ggml.*` metadata, as llama.cpp writes it
  /// (SmolLM2: `model` "gpt2", `pre` "smollm"), giving the ids of the model's Hugging Face tokenizer.
  ///
  /// - `tokens` are written in GPT-2's byte-to-unicode alphabet (`ByteLevel`); `merges` are "a b"
  ///   strings, earliest first. Merging follows Hugging Face's BPE model (`MergeRule.huggingFace`):
  ///   each merge joins exactly its two parts.
  /// - Tokens whose `token_type` is not 1 (normal) — control (3) like `<|endoftext|>` and
  ///   `<|im_start|>`, user-defined (4) and the rest — are special: kept verbatim for decoding, never
  ///   in the merge table, so `encode` (which treats all text as ordinary, like tiktoken's
  ///   encode_ordinary and `tokenizers` with `encode_special_tokens`) can never produce them.
  /// - `endOfTextID` is the control token `<|endoftext|>` when there is one (SmolLM2: id 0), since
  ///   that is what separated documents in pretraining and the activation dump puts it at the start
  ///   of each window; otherwise the EOS. `stopIDs` are the EOS (SmolLM2-Instruct: `<|im_end|>`, id 2,
  ///   the end of a chat turn) and then `endOfTextID`, so generation stops at either.
  /// - `add_bos_token` is not applied: `encode` never adds tokens; the tools put `endOfTextID` first.
  ///
  /// Throws `TokenizerError.unsupportedTokenizer` for a `model` or `pre` value not listed in
  /// `supportedGGUFModels` / `supportedGGUFPreTokenizers`, and `malformedVocabulary` for metadata
  /// that does not describe a usable vocabulary.
  public static func fromGGUF(_ gguf: GGUFFile) throws -> BPETokenizer {
    let path = gguf.file.path
    func fail(_ problem: String) -> TokenizerError { .malformedVocabulary(path: path, problem: problem) }
    func string(_ key: String) throws -> String {
      guard let value = gguf.metadata[key] else { throw fail("metadata key \(key) is missing") }
      guard let text = value.stringValue else { throw fail("metadata key \(key) is not a string") }
      return text
    }
    let model = try string("tokenizer.ggml.model")
    guard supportedGGUFModels.contains(model) else {
      throw TokenizerError.unsupportedTokenizer(
        path: path, key: "tokenizer.ggml.model", value: model, supported: supportedGGUFModels)
    }
    let pre = try string("tokenizer.ggml.pre")
    guard let preTokenizer = supportedGGUFPreTokenizers[pre] else {
      throw TokenizerError.unsupportedTokenizer(
        path: path, key: "tokenizer.ggml.pre", value: pre, supported: supportedGGUFPreTokenizers.keys.sorted()
      )
    }
    guard let names = gguf.metadata["tokenizer.ggml.tokens"]?.stringArray else {
      throw fail("tokenizer.ggml.tokens is missing or not an array of strings")
    }
    guard let merges = gguf.metadata["tokenizer.ggml.merges"]?.stringArray else {
      throw fail("tokenizer.ggml.merges is missing or not an array of strings")
    }
    let types = gguf.metadata["tokenizer.ggml.token_type"]?.intArray ?? []
    guard types.isEmpty || types.count == names.count else {
      throw fail("tokenizer.ggml.token_type has \(types.count) entries for \(names.count) tokens")
    }
    guard names.count <= Int(Int32.max) else { throw fail("\(names.count) tokens is too many") }

    let normal = 1
    var specialTokens: [String: Int32] = [:]
    var idOfBytes: [[UInt8]: Int32] = [:]
    var ordinary: [(bytes: [UInt8], id: Int32)] = []
    for (index, name) in names.enumerated() {
      let id = Int32(index)
      if !types.isEmpty && types[index] != normal {
        specialTokens[name] = id
        continue
      }
      guard let bytes = ByteLevel.decode(name) else {
        throw fail(
          "token \(String(reflecting: name)) (id \(id)) has characters outside GPT-2's byte-level alphabet")
      }
      if let other = idOfBytes[bytes] {
        throw fail("tokens \(other) and \(id) are the same bytes \(String(reflecting: name))")
      }
      idOfBytes[bytes] = id
      ordinary.append((bytes, id))
    }

    // The one merge that makes each token: its priority and where its two parts meet.
    var mergeOf: [[UInt8]: (priority: Int32, leftLength: Int32)] = [:]
    for (line, merge) in merges.enumerated() {
      let sides = merge.split(separator: " ", omittingEmptySubsequences: false)
      guard sides.count == 2, let left = ByteLevel.decode(String(sides[0])),
        let right = ByteLevel.decode(String(sides[1])), !left.isEmpty, !right.isEmpty
      else {
        throw fail(
          "merge \(line) \(String(reflecting: merge)) is not two byte-level tokens separated by a space")
      }
      for side in [left, right] where idOfBytes[side] == nil {
        throw fail(
          "merge \(line) \(String(reflecting: merge)) uses \(String(reflecting: ByteLevel.encode(side))), not a token"
        )
      }
      guard idOfBytes[left + right] != nil else {
        throw fail("merge \(line) \(String(reflecting: merge)) makes a string that is not a token")
      }
      if mergeOf[left + right] != nil {
        throw fail(
          "merges \(mergeOf[left + right]!.priority) and \(line) both make \(String(reflecting: ByteLevel.encode(left + right))); "
            + "this tokenizer supports one merge per token")
      }
      mergeOf[left + right] = (Int32(line), Int32(left.count))
    }

    func tokenID(_ key: String) throws -> Int32? {
      guard let value = gguf.metadata[key] else { return nil }
      guard let id = value.intValue, id >= 0, id < names.count else {
        throw fail("\(key) is \(value), not a token id below \(names.count)")
      }
      return Int32(id)
    }
    let endOfSequence = try tokenID("tokenizer.ggml.eos_token_id")
    let endOfText = specialTokens["<|endoftext|>"] ?? endOfSequence
    guard let endOfText else {
      throw fail("there is neither an <|endoftext|> control token nor tokenizer.ggml.eos_token_id")
    }
    var stops = [endOfSequence ?? endOfText]
    if !stops.contains(endOfText) { stops.append(endOfText) }

    let tokens = ordinary.map { token in
      let merge = mergeOf[token.bytes]
      return (token.bytes, token.id, merge?.priority ?? Int32.max, merge?.leftLength ?? Int32(0))
    }
    return try BPETokenizer(
      tokens: tokens, specialTokens: specialTokens, endOfTextID: endOfText, stopIDs: stops,
      preTokenizer: preTokenizer, rule: .huggingFace, path: path)
  }
}
