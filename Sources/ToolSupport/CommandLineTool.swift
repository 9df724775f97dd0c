import ArgumentParser
import Foundation
import Kernels

/// Runs a tool's body so that every error reaches the user as one line naming the tool and what
/// to do (`gpt2-acts: error: ...`) and a non-zero exit, never as a crash with a backtrace.
///
/// SIGPIPE is ignored, so that a closed pipe on stdout is an error that `StandardOutput` reports
/// (and a tool can clean up after) rather than a silent death.
public func runReportingErrors(tool: String, _ body: () throws -> Void) throws {
  // Before any input is read: this may start the tool again with faster sgemm kernels.
  BLASKernels.chooseForThisCPU()
  signal(SIGPIPE, SIG_IGN)
  do {
    try body()
  } catch let error as ExitCode {
    throw error
  } catch let error as CleanExit {
    throw error
  } catch let error as ValidationError {
    StandardError.line("\(tool): error: \(error.message)")
    throw ExitCode.validationFailure
  } catch {
    StandardError.line("\(tool): error: \(error.localizedDescription)")
    throw ExitCode.failure
  }
}

/// Writes to stdout without buffering surprises: each call goes straight to write(2), so that a
/// consumer on the other end of a pipe (e.g. `clt-fit` reading shard paths) sees a line as soon as
/// it is written. A failed write (the reader has gone, a full disk) throws instead of crashing, as
/// Foundation's `FileHandle.write` does.
public enum StandardOutput {
  public static func write(_ text: String) throws {
    try write(Data(text.utf8))
  }

  public static func line(_ text: String) throws { try write(text + "\n") }

  /// Writes all of `data` to file descriptor 1.
  /// - Throws: `ToolError.standardOutputFailed` with the system's reason.
  public static func write(_ data: Data) throws {
    if let failure = writeAll(data, to: STDOUT_FILENO) {
      throw ToolError.standardOutputFailed(reason: String(cString: strerror(failure)))
    }
  }

  /// Whether stdout is a pipe whose reader has closed it: a producer checks this between pieces
  /// of work, so it stops as soon as its consumer does, not at its next write.
  public static var readerHasGone: Bool {
    var info = stat()
    guard fstat(STDOUT_FILENO, &info) == 0, info.st_mode & S_IFMT == S_IFIFO else { return false }
    var poller = pollfd(fd: STDOUT_FILENO, events: Int16(POLLOUT), revents: 0)
    guard poll(&poller, 1, 0) > 0 else { return false }
    return poller.revents & Int16(POLLERR | POLLHUP) != 0
  }

  /// Whether stdout is a pipe (a consumer reads it), not a terminal or a file.
  public static var isPipe: Bool {
    var info = stat()
    return fstat(STDOUT_FILENO, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO
  }
}

/// Messages for humans go to stderr, so stdout stays machine-readable. A failed write to stderr
/// is ignored: there is nowhere left to report it.
public enum StandardError {
  public static func line(_ text: String) { write(text + "\n") }

  public static func write(_ text: String) { _ = writeAll(Data(text.utf8), to: STDERR_FILENO) }
}

/// write(2) until all of `data` is written, retrying when interrupted; the errno of a failure.
private func writeAll(_ data: Data, to descriptor: Int32) -> Int32? {
  data.withUnsafeBytes { bytes -> Int32? in
    guard var next = bytes.baseAddress else { return nil }
    var left = bytes.count
    while left > 0 {
      let n = write(descriptor, next, left)
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { return errno }
      next += n
      left -= n
    }
    return nil
  }
}
