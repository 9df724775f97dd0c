import Dispatch
import Foundation

/// A graceful stop for long runs: the first SIGINT or SIGTERM only raises a flag, which the run
/// checks between steps to save its state and stop (clt-fit writes a final checkpoint); a second
/// one exits at once, removing the file being written, like `SignalCleanup`.
///
/// `@unchecked Sendable`: its count and signal are read and written under its lock, from the
/// signal source's queue and the run's thread.
public final class InterruptRequest: @unchecked Sendable {
  private var sources: [DispatchSourceSignal] = []
  private let lock = NSLock()
  private var count = 0
  private var signalNumber: Int32 = 0
  private let temporaryPath: () -> String?

  /// Starts handling SIGINT and SIGTERM; `message` is printed on the first signal and
  /// `temporaryPath` names the unfinished file to remove on a second.
  public init(tool: String, message: String, temporaryPath: @escaping () -> String? = { nil }) {
    self.temporaryPath = temporaryPath
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [self] in
        lock.lock()
        count += 1
        signalNumber = number
        let first = count == 1
        lock.unlock()
        let name = number == SIGINT ? "SIGINT" : "SIGTERM"
        if first {
          StandardError.write("\n\(tool): \(name): \(message); send it again to stop at once\n")
        } else {
          if let path = self.temporaryPath() { unlink(path) }
          StandardError.write("\n\(tool): stopped by a second \(name)\n")
          _exit(128 + number)
        }
      }
      source.resume()
      sources.append(source)
    }
  }

  /// The signal received, once one has been; nil before.
  public var received: Int32? {
    lock.lock()
    defer { lock.unlock() }
    return count > 0 ? signalNumber : nil
  }
}
