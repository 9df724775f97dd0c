import Foundation
import Tokenizers

/// Writes a GGUF v3 file holding only metadata (no tensors), so loader errors and merge rules can be
/// tested on small made-up vocabularies without the model file. Layout: ggml's docs/gguf.md.
enum TinyGGUF {
  enum Value {
    case string(String)
    case strings([String])
    case ints([Int32])
    case uint32(UInt32)
  }

  static func write(_ metadata: [(String, Value)], to url: URL) throws {
    var data = Data()
    func append<T: FixedWidthInteger>(_ value: T) {
      withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
    func appendString(_ text: String) {
      append(UInt64(text.utf8.count))
      data.append(contentsOf: Array(text.utf8))
    }
    append(UInt32(0x4655_4747))  // "GGUF"
    append(UInt32(3))
    append(UInt64(0))  // tensors
    append(UInt64(metadata.count))
    for (key, value) in metadata {
      appendString(key)
      switch value {
      case .string(let text):
        append(UInt32(8))
        appendString(text)
      case .strings(let texts):
        append(UInt32(9))
        append(UInt32(8))
        append(UInt64(texts.count))
        texts.forEach(appendString)
      case .ints(let values):
        append(UInt32(9))
        append(UInt32(5))
        append(UInt64(values.count))
        for value in values { append(value) }
      case .uint32(let value):
        append(UInt32(4))
        append(value)
      }
    }
    try data.write(to: url)
  }

  /// A byte-level vocabulary: the 256 bytes, then `merged` tokens made by `merges`, then the control
  /// token `<|endoftext|>`; `model` and `pre` as given.
  static func byteLevel(model: String = "gpt2", pre: String = "smollm", merges: [String]) -> [(String, Value)]
  {
    var tokens = (0..<256).map { ByteLevel.encode([UInt8($0)]) }
    for merge in merges where !tokens.contains(merge.replacingOccurrences(of: " ", with: "")) {
      tokens.append(merge.replacingOccurrences(of: " ", with: ""))
    }
    tokens.append("<|endoftext|>")
    let types = [Int32](repeating: 1, count: tokens.count - 1) + [3]
    return [
      ("tokenizer.ggml.model", .string(model)), ("tokenizer.ggml.pre", .string(pre)),
      ("tokenizer.ggml.tokens", .strings(tokens)), ("tokenizer.ggml.token_type", .ints(types)),
      ("tokenizer.ggml.merges", .strings(merges)),
      ("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 1))),
    ]
  }
}
