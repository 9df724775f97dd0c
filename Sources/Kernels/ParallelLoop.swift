import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Splits element-wise work across the same number of threads BLAS uses, so that LayerNorm, GELU
/// and residual adds do not leave a core idle between matrix products (and do not oversubscribe it).
public enum ParallelLoop {
  /// Calls `body` on disjoint sub-ranges covering 0..<count, concurrently when the work is large
  /// enough (at least `grain` elements a thread) and more than one thread is configured.
  ///
  /// The range is cut into up to `piecesPerThread` pieces a thread, fixed by `count` and the thread
  /// count alone, which the threads claim one at a time. Why: with one half each, a phase ends when
  /// the slower thread does, and a thread is slower whenever another process (gpt2-acts feeding
  /// clt-fit through a pipe) shares its core, or its half holds more of the work (features that
  /// fire more often). Which thread runs a piece never changes what the piece computes.
  @inline(__always)
  public static func forEachChunk(count: Int, grain: Int = 16384, _ body: (Range<Int>) -> Void) {
    let threads = min(BLASThreads.current, count / max(grain, 1))
    guard threads > 1 else {
      body(0..<count)
      return
    }
    let pieces = min(threads * piecesPerThread, count / max(grain, 1))
    let size = (count + pieces - 1) / pieces
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
      // Piece p touches only its own range (see `UncheckedSendable` for why this is unchecked).
      nonisolated(unsafe) let body = body
      DispatchQueue.concurrentPerform(iterations: threads) { _ in
        lowerThisWorker()
        while true {
          let start = next.wrappingAdd(1, ordering: .relaxed).oldValue * size
          guard start < count else { return }
          body(start..<min(count, start + size))
        }
      }
    }
  }

  /// Pieces a thread of `forEachChunk`: enough that a thread slowed down by half hands the rest
  /// of its share to the other, few enough that claiming them costs nothing measurable.
  public static let piecesPerThread = 8

  /// Calls `body(i)` for every i in 0..<count, handing indices out one at a time to the configured
  /// threads, for a few items of uneven size (a transcoder's target layers, which have 1 to L
  /// source layers each). With one thread the order is 0, 1, ..., so results are reproducible.
  ///
  /// Why not `concurrentPerform(iterations: count)`: its width is the machine's CPU count, so on
  /// a 16-core machine `--threads 2` would still run 16 items at once.
  public static func forEachIndex(count: Int, _ body: (Int) -> Void) {
    let threads = min(BLASThreads.current, count)
    guard threads > 1 else {
      for i in 0..<count { body(i) }
      return
    }
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
      nonisolated(unsafe) let body = body
      DispatchQueue.concurrentPerform(iterations: threads) { _ in
        lowerThisWorker()
        while true {
          let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
          guard i < count else { return }
          body(i)
        }
      }
    }
  }

  /// Makes every thread that runs a share of a loop take at least this niceness first.
  ///
  /// Why: libdispatch starts its workers at its QoS class's own niceness (0), not at the
  /// process's, and at times of its own choosing, so a tool that lowered all its threads
  /// (`clt-fit` on a pipe) would still do a fresh worker's share at full priority. A worker
  /// lowering itself before each share cannot be missed. One `getpriority` a share; nil stops it (threads already lowered stay so).
  public static func lowerWorkers(to niceness: Int32?) {
    workerNiceness.store(niceness ?? Int32.min, ordering: .relaxed)
  }

  /// `lowerWorkers`'s niceness; `Int32.min` while unset.
  private static let workerNiceness = Atomic<Int32>(Int32.min)

  private static func lowerThisWorker() {
    let niceness = workerNiceness.load(ordering: .relaxed)
    guard niceness != Int32.min else { return }
    #if canImport(Glibc)
      // On Linux `who` 0 is the calling thread, which has a niceness of its own.
      let which = __priority_which_t(PRIO_PROCESS.rawValue)
      if getpriority(which, 0) < niceness { setpriority(which, 0, niceness) }
    #endif
  }
}

/// A value handed to `concurrentPerform`'s threads without the compiler's proof that it is safe
/// to share. Why: parallel loops write through raw pointers into disjoint slices of one buffer
/// (chunk t touches only its range), a disjointness the type system cannot express; making every
/// body `@Sendable` would forbid exactly those captures. The caller's contract, that concurrent
/// iterations touch disjoint memory, stands in for the check. (`ParallelLoop` itself holds its
/// non-escaping body as `nonisolated(unsafe)` instead: a closure from `withoutActuallyEscaping`
/// must not be copied into a value, which crashed when a tuple held one.)
public struct UncheckedSendable<Value>: @unchecked Sendable {
  public let value: Value
  public init(_ value: Value) { self.value = value }
}
