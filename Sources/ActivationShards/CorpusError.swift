import Foundation

/// Why a corpus input could not be read; each message names the input and where in it.
public enum CorpusError: Error, LocalizedError, Equatable {
  /// The input file does not exist.
  case fileNotFound(path: String)
  /// The input exists but could not be opened or read (permissions, a folder, I/O error).
  case cannotRead(path: String, reason: String)
  /// The input is not valid UTF-8; `byteOffset` is the first byte of the first bad sequence.
  case invalidUTF8(path: String, byteOffset: Int)
  /// A `.jsonl` line is not a JSON object with a string field "text" (`line` counts from 1).
  case invalidJSONLine(path: String, line: Int, reason: String)

  public var errorDescription: String? {
    switch self {
    case .fileNotFound(let path):
      return "\(path): corpus file not found"
    case .cannotRead(let path, let reason):
      return "\(path): cannot read corpus file (\(reason))"
    case .invalidUTF8(let path, let byteOffset):
      return "\(path): invalid UTF-8 at byte offset \(byteOffset) "
        + "(inspect it with `xxd -s \(byteOffset) -l 16`; convert the file to UTF-8, e.g. with iconv)"
    case .invalidJSONLine(let path, let line, let reason):
      return "\(path):\(line): \(reason); each line must be a JSON object with a \"text\" string"
    }
  }
}
