import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file a tool is about to write whole (clt.h5, a checkpoint, a log, a picture), checked before
/// any work starts and written so that nothing is lost or destroyed:
/// - a regular file (or a new name) is written under `.NAME.tmp-PID` in the same folder, then
///   renamed over NAME, so a crash never leaves a half-written file and the old one stays until
///   the new one is complete;
/// - anything else the user names (`/dev/null`, a FIFO, a terminal) is never replaced: the bytes
///   are written into it, since renaming over `/dev/null` as root would replace the system's;
/// - a folder, a missing folder or one that cannot be written is refused up front, not after
///   hours of training.
/// A symbolic link is followed, so the file it points to is the one replaced.
public struct OutputTarget: Sendable {
  /// The path as the user gave it, for messages.
  public let path: String
  /// Where the bytes go: `path` with symbolic links resolved.
  public let url: URL
  /// Whether the target exists and is not a regular file (a device, FIFO or socket).
  public let isSpecial: Bool
  /// Temporary files of earlier runs that were killed before renaming them, removed by `init`.
  public let removedLeftovers: [String]

  /// Checks that `path` can be written, and removes the temporary files that killed runs left
  /// beside it.
  /// - Throws: `OutputError` naming the path and what to do.
  public init(path: String) throws {
    self.path = path
    let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath()
    url = resolved
    var info = stat()
    if stat(resolved.path, &info) == 0 {
      let type = info.st_mode & S_IFMT
      if type == S_IFDIR { throw OutputError.isFolder(path: path) }
      isSpecial = type != S_IFREG
    } else {
      isSpecial = false
    }
    if isSpecial {
      guard access(resolved.path, W_OK) == 0 else {
        throw OutputError.notWritable(path: path, reason: String(cString: strerror(errno)))
      }
      removedLeftovers = []
      return
    }
    let folder = resolved.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw OutputError.missingFolder(path: path, folder: folder.path)
    }
    removedLeftovers = Self.removeLeftovers(of: resolved)
    // Creating a file is the real test: access(W_OK) ignores read-only mounts and root.
    let probe = Self.temporaryURL(for: resolved)
    let fd = open(probe.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else {
      throw OutputError.notWritable(
        path: path, reason: "cannot create a file in \(folder.path): \(String(cString: strerror(errno)))")
    }
    close(fd)
    unlink(probe.path)
  }

  /// The temporary name a write to `url` goes through: `.NAME.tmp-PID` beside it.
  public static func temporaryURL(for url: URL) -> URL {
    url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
  }

  /// Where `write` puts the bytes first: beside the target (the rename is then atomic), or in the
  /// temporary folder for a special file.
  public var temporaryURL: URL { Self.temporaryURL(forWriting: url, special: isSpecial) }

  /// The temporary file a write to `url` goes through (`temporaryURL`), found without side
  /// effects, so that a signal handler can remove it.
  public static func temporaryURL(forWriting url: URL, special: Bool? = nil) -> URL {
    let resolved = url.resolvingSymlinksInPath()
    var info = stat()
    let isSpecial = special ?? (stat(resolved.path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG)
    return isSpecial
      ? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
        "cltkit-\(resolved.lastPathComponent).tmp-\(getpid())")
      : temporaryURL(for: resolved)
  }

  /// Opens the target for writing line by line (a log): appended to when `append`, else
  /// emptied; a special file is opened as it is, never replaced or created.
  public func openForWriting(append: Bool) throws -> FileHandle {
    let flags = isSpecial ? O_WRONLY : O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
    let fd = open(url.path, flags, 0o644)
    guard fd >= 0 else { throw OutputError.notWritable(path: path, reason: String(cString: strerror(errno))) }
    return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
  }

  /// Writes the file: `body` writes the whole content to the path it is given (a temporary file),
  /// which then replaces a regular target or is copied into a special one.
  public func write(_ body: (URL) throws -> Void) throws {
    let temporary = temporaryURL
    defer { unlink(temporary.path) }
    do {
      try body(temporary)
    } catch let error as OutputError {
      throw error
    } catch {
      throw OutputError.writeFailed(path: path, reason: error.localizedDescription)
    }
    if isSpecial {
      try copy(temporary)
    } else if rename(temporary.path, url.path) != 0 {
      throw OutputError.writeFailed(path: path, reason: String(cString: strerror(errno)))
    }
  }

  /// Writes `data` as the whole file.
  public func write(_ data: Data) throws {
    try write { try data.write(to: $0) }
  }

  /// Copies a finished temporary file into the special target, which is opened without O_TRUNC
  /// or O_CREAT: it is the user's, and only its contents are ours.
  private func copy(_ temporary: URL) throws {
    guard let source = FileHandle(forReadingAtPath: temporary.path) else {
      throw OutputError.writeFailed(path: path, reason: "cannot reopen \(temporary.path)")
    }
    defer { try? source.close() }
    let fd = open(url.path, O_WRONLY)
    guard fd >= 0 else { throw OutputError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    while let chunk = try source.read(upToCount: 1 << 20), !chunk.isEmpty {
      try chunk.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
          let n = writeBytes(fd, bytes.baseAddress! + offset, bytes.count - offset)
          if n < 0 && errno == EINTR { continue }
          guard n > 0 else {
            throw OutputError.writeFailed(path: path, reason: String(cString: strerror(errno)))
          }
          offset += n
        }
      }
    }
  }

  /// Removes `.NAME.tmp-PID` files beside `url` whose process is gone: what a run killed by
  /// SIGKILL or a power cut left. A live process's temporary file is left alone.
  static func removeLeftovers(of url: URL) -> [String] {
    let folder = url.deletingLastPathComponent()
    let prefix = ".\(url.lastPathComponent).tmp-"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    var removed: [String] = []
    for name in names where name.hasPrefix(prefix) {
      guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
      if kill(pid, 0) == 0 || errno == EPERM { continue }  // still running
      let leftover = folder.appendingPathComponent(name).path
      if unlink(leftover) == 0 { removed.append(leftover) }
    }
    return removed
  }
}

/// write(2), named apart from the `write` methods above.
private func writeBytes(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
  write(fd, bytes, count)
}

/// Why an output cannot be written; each says what to do.
public enum OutputError: Error, LocalizedError, Equatable {
  case isFolder(path: String)
  case missingFolder(path: String, folder: String)
  case notWritable(path: String, reason: String)
  case writeFailed(path: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .isFolder(let path):
      return "\(path) is a folder; name a file to write, e.g. \(path)/clt.h5"
    case .missingFolder(let path, let folder):
      return "\(path): the folder \(folder) does not exist; create it or choose another path"
    case .notWritable(let path, let reason):
      return "\(path): cannot write (\(reason)); choose a writable path"
    case .writeFailed(let path, let reason):
      return "\(path): cannot write (\(reason)); nothing was replaced"
    }
  }
}
