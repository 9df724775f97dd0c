import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An advisory lock (flock) on a file in a shard folder, held while the process lives: the kernel
/// releases it when the process ends, however it ends, so a killed run never leaves a stale lock.
///
/// Two locks coordinate the processes around a shard folder:
/// - `ShardLayout.writerLock`: the one `gpt2-acts` writing the folder, so a second one is refused
///   instead of both numbering shards from 0 and overwriting each other's;
/// - `ShardLayout.consumerLock`: held by a `clt-fit` that deletes the shards it has loaded, so a
///   writer waiting for room (`--max-pending`) can tell a slow consumer from none at all.
public final class FolderLock {
  public let url: URL
  private var descriptor: Int32

  /// Takes the lock on `url` (created if missing) without waiting; nil when another process
  /// holds it.
  public init?(url: URL) throws {
    let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw ShardError.directoryNotWritable(
        path: url.deletingLastPathComponent().path,
        reason: "cannot create \(url.lastPathComponent): \(String(cString: strerror(errno)))")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      close(fd)
      return nil
    }
    self.url = url
    descriptor = fd
  }

  /// Releases the lock and removes its file (nothing is left in the folder).
  public func release() {
    guard descriptor >= 0 else { return }
    unlink(url.path)
    close(descriptor)
    descriptor = -1
  }

  deinit { release() }

  /// Whether some process holds the lock on `url` now.
  public static func isHeld(_ url: URL) -> Bool {
    let fd = open(url.path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, LOCK_EX | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return false
    }
    return errno == EWOULDBLOCK
  }
}
