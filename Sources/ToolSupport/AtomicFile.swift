import Foundation
import OutputFiles

/// Whole-file outputs written so that a crash or a full disk never leaves a half-written file and
/// nothing but a regular file is ever replaced (`OutputTarget`).
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws {
    try OutputTarget(path: url.path).write(data)
  }
}
