import Dispatch
import Foundation
import Kernels
import Testing

/// `ParallelLoop.forEachChunk`: fixed pieces, each index once, claimed by whichever thread is free;
/// `forEachIndex`: each index once, on no more threads than configured.
@Suite(.serialized) struct ParallelLoopTests {
  /// The ranges `forEachChunk` hands out, in the order they finished.
  final class Ranges: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var ranges: [Range<Int>] = []
    func append(_ range: Range<Int>) {
      lock.lock()
      ranges.append(range)
      lock.unlock()
    }
  }

  func withThreads<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
    let before = BLASThreads.current
    BLASThreads.set(count)
    defer { BLASThreads.set(before) }
    return try body()
  }

  @Test("the pieces cover every index once and depend on the count and thread count alone")
  func piecesCoverTheRange() {
    for (count, grain) in [(1000, 10), (1024, 256), (7, 1), (100, 60), (5, 16)] {
      let seen = Ranges()
      withThreads(2) { ParallelLoop.forEachChunk(count: count, grain: grain) { seen.append($0) } }
      let sorted = seen.ranges.sorted { $0.lowerBound < $1.lowerBound }
      #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == count, "count \(count)")
      #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "count \(count)")
      // As many pieces as 2 threads × piecesPerThread allow at this grain, all one size but the last.
      let pieces = count / grain >= 2 ? min(2 * ParallelLoop.piecesPerThread, count / grain) : 1
      #expect(sorted.count == pieces, "count \(count), grain \(grain): \(sorted)")
      #expect(Set(sorted.dropLast().map(\.count)).count <= 1, "count \(count): \(sorted)")
    }
  }

  @Test("with lowerWorkers every thread that runs a piece first takes that niceness, libdispatch's too")
  func workersLowerThemselves() throws {
    try #require(
      FileManager.default.fileExists(atPath: "/proc/self/task"), "needs Linux's per-thread niceness")
    let which = __priority_which_t(PRIO_PROCESS.rawValue)
    // One step below this thread's niceness: libdispatch's workers start at 0, above it.
    let target = min(19, max(1, getpriority(which, 0) + 1))
    final class Seen: @unchecked Sendable {
      let lock = NSLock()
      var niceness: [Int32] = []
    }
    let seen = Seen()
    ParallelLoop.lowerWorkers(to: target)
    defer { ParallelLoop.lowerWorkers(to: nil) }
    withThreads(2) {
      ParallelLoop.forEachChunk(count: 64, grain: 1) { _ in
        let now = getpriority(which, 0)
        seen.lock.lock()
        seen.niceness.append(now)
        seen.lock.unlock()
        Thread.sleep(forTimeInterval: 0.001)  // so that both threads take pieces
      }
    }
    #expect(
      seen.niceness.count == 16 && seen.niceness.allSatisfy { $0 >= target },
      "\(seen.niceness), target \(target)")
  }

  @Test("a thread held up in its first piece leaves the other pieces to the other thread")
  func piecesAreClaimedByWhicheverThreadIsFree() throws {
    // With one fixed half a thread, piece 0's thread would own the pieces after it, so they could
    // not finish while piece 0 waits for them.
    try #require(ProcessInfo.processInfo.activeProcessorCount >= 2, "needs 2 cores")
    let count = 64
    let others = DispatchSemaphore(value: 0)
    let seen = Ranges()
    var finishedWhileWaiting = 0
    withThreads(2) {
      ParallelLoop.forEachChunk(count: count, grain: 1) { range in
        if range.lowerBound == 0 {
          let (pieces, deadline) = (2 * ParallelLoop.piecesPerThread, DispatchTime.now() + 30)
          for _ in 1..<pieces where others.wait(timeout: deadline) == .success {
            finishedWhileWaiting += 1
          }
        } else {
          seen.append(range)
          others.signal()
        }
      }
    }
    #expect(finishedWhileWaiting == 2 * ParallelLoop.piecesPerThread - 1)
    #expect(seen.ranges.count == 2 * ParallelLoop.piecesPerThread - 1)
  }

  @Test("forEachIndex runs each index once, on no more threads at a time than configured")
  func indicesRunOnTheConfiguredThreads() {
    // On a machine with more cores than threads, libdispatch's own width would run more at once
    // (on a 2-core machine the two coincide, so there only the coverage is checked).
    final class Running: @unchecked Sendable {
      let lock = NSLock()
      var now = 0, most = 0, seen: [Int] = []
    }
    for threads in [1, 2] {
      let running = Running()
      withThreads(threads) {
        ParallelLoop.forEachIndex(count: 12) { i in
          running.lock.lock()
          running.now += 1
          running.most = max(running.most, running.now)
          running.seen.append(i)
          running.lock.unlock()
          Thread.sleep(forTimeInterval: 0.002)
          running.lock.lock()
          running.now -= 1
          running.lock.unlock()
        }
      }
      #expect(running.seen.sorted() == Array(0..<12), "\(threads) threads: \(running.seen)")
      #expect(running.most <= threads, "\(threads) threads, \(running.most) at once")
      if threads == 1 { #expect(running.seen == Array(0..<12)) }
    }
  }
}
