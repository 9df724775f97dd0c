import Foundation

/// Whole-file outputs written so that a crash or a full disk never leaves a half-written file:
/// the data goes to `.NAME.tmp-PID` in the same folder (the same file system, so the rename is
/// atomic), then is renamed over NAME.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do {
      try data.write(to: temporary)
      guard rename(temporary.path, url.path) == 0 else {
        throw ToolError.outputFailed(path: url.path, reason: String(cString: strerror(errno)))
      }
    } catch let error as ToolError {
      try? FileManager.default.removeItem(at: temporary)
      throw error
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw ToolError.outputFailed(path: url.path, reason: error.localizedDescription)
    }
  }
}
