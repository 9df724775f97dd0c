import ArgumentParser
import Foundation

/// Runs a tool's body so that every error reaches the user as one line naming the tool and what
/// to do (`gpt2-acts: error: ...`) and a non-zero exit, never as a crash with a backtrace.
public func runReportingErrors(tool: String, _ body: () throws -> Void) throws {
  do {
    try body()
  } catch let error as ExitCode {
    throw error
  } catch let error as CleanExit {
    throw error
  } catch let error as ValidationError {
    FileHandle.standardError.write(Data("\(tool): error: \(error.message)\n".utf8))
    throw ExitCode.validationFailure
  } catch {
    FileHandle.standardError.write(Data("\(tool): error: \(error.localizedDescription)\n".utf8))
    throw ExitCode.failure
  }
}

/// Writes to stdout without buffering surprises: each call is flushed, so that a consumer on the
/// other end of a pipe (e.g. `clt-fit` reading shard paths) sees a line as soon as it is written.
public enum StandardOutput {
  public static func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }
  public static func line(_ text: String) { write(text + "\n") }
}

/// Messages for humans go to stderr, so stdout stays machine-readable.
public enum StandardError {
  public static func line(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }
}
