import Crypto
import Foundation

/// SHA-256 digests, so that shards and transcoders record exactly which model file produced them.
/// swift-crypto's SHA256 (BoringSSL on Linux) uses the CPU's SHA instructions where present: on
/// this project's machines it hashes a model several times faster than the hand-written FIPS 180-4
/// code it replaced (figures in docs/BENCHMARKS.md), and every tool that loads a model hashes it.
public enum FileHash {
  /// Hex digest of a byte buffer.
  public static func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
    hex(SHA256.hash(data: bytes))
  }

  /// Hex digest of a file's contents, read through a memory map in 16 MiB pieces.
  public static func sha256Hex(fileAt url: URL) throws -> String {
    let file = try MappedFile(url: url)
    var hasher = SHA256()
    guard let base = file.bytes else { return hex(hasher.finalize()) }  // an empty file
    let piece = 16 << 20
    var offset = 0
    while offset < file.count {
      let count = min(piece, file.count - offset)
      hasher.update(bufferPointer: UnsafeRawBufferPointer(start: base + offset, count: count))
      offset += count
    }
    return hex(hasher.finalize())
  }

  private static func hex(_ digest: SHA256.Digest) -> String {
    digest.map { String(format: "%02x", $0) }.joined()
  }
}
