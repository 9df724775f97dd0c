import Foundation
import HDF5
import Testing

/// Opening a file just closed must not depend on what other threads are doing. A process started
/// from another thread holds a copy of every descriptor this process has open until it has closed
/// them (Foundation's `Process` closes each up to the descriptor limit, one by one), so HDF5's own
/// flock on a file would outlive its close, and a reopen for writing would fail with "unable to
/// lock file" (seen once in CI as a LayerWeightTests failure). The package writes every file under
/// a temporary name and renames it into place, so that lock protects nothing it relies on.
@Suite struct HDF5FileLockingTests {
  @Test("a file closed while other threads start processes reopens for writing at once")
  func reopenWhileProcessesStart() throws {
    let dir = try TemporaryDirectory()
    let spawner = ProcessSpawner()
    spawner.start()
    defer { spawner.stop() }
    for i in 0..<300 {
      let path = dir.path("f\(i).h5")
      let file = try HDF5File.create(path: path)
      try file.createDataset("x", elementType: .float32, shape: [4]).writeRows(
        [Float](repeating: 1, count: 4), start: 0)
      try file.close()
      let reopened = try HDF5File(path: path, mode: .readWrite)
      try reopened.setAttribute("reopened", Int64(i))
      try reopened.close()
    }
    #expect(spawner.started > 0, "processes were started during the loop")
  }
}

/// Starts `/bin/true` again and again on a thread of its own until stopped.
private final class ProcessSpawner: @unchecked Sendable {
  private let lock = NSLock()
  private var running = true
  private(set) var started = 0
  private let done = DispatchSemaphore(value: 0)

  func start() {
    Thread.detachNewThread {
      while self.lock.withLock({ self.running }) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        if (try? process.run()) != nil {
          process.waitUntilExit()
          self.lock.withLock { self.started += 1 }
        }
      }
      self.done.signal()
    }
  }

  func stop() {
    lock.withLock { running = false }
    done.wait()
  }
}
