import Dispatch
import Foundation

/// On SIGINT or SIGTERM, removes the file a tool is half-way through writing and exits with
/// 128 + signal, so that an interrupted run never leaves a partial output behind; outputs that
/// were completed (renamed into place) stay valid.
///
/// `@unchecked Sendable`: the function that names the path to remove is set and read under its
/// lock, from the tool's thread and the signal source's queue.
public final class SignalCleanup: @unchecked Sendable {
  private var sources: [DispatchSourceSignal] = []
  private let lock = NSLock()
  private var pathProvider: () -> String? = { nil }

  public init() {}

  /// Starts handling the signals; `temporaryPath` is asked, when a signal arrives, which file is
  /// unfinished.
  public func install(temporaryPath: @escaping () -> String?) {
    lock.lock()
    pathProvider = temporaryPath
    lock.unlock()
    for signalNumber in [SIGINT, SIGTERM] {
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler { [self] in
        lock.lock()
        let path = pathProvider()
        lock.unlock()
        if let path { unlink(path) }
        let name = signalNumber == SIGINT ? "SIGINT" : "SIGTERM"
        StandardError.write("\ninterrupted by \(name); completed outputs are intact\n")
        _exit(128 + signalNumber)  // not exit(): atexit handlers would touch half-written state
      }
      source.resume()
      sources.append(source)
    }
  }
}
