import Foundation

/// The scheduling priority of the whole tool, for a consumer at the end of a pipe.
///
/// In `gpt2-acts corpus.txt | clt-fit`, the writer's one thread and the trainer's two share two
/// cores. At equal priority the kernel gives each of the three threads two thirds of a core, so
/// the writer, which bounds the pipeline, runs at two thirds of its speed while the trainer waits
/// for its shards. A trainer at the lowest priority takes what the writer leaves: the writer
/// runs at nearly full speed, and the trainer still has every core whenever the writer waits.
public enum ProcessPriority {
  /// The niceness a consumer of a pipe takes (`clt-fit` when it reads shard paths from one).
  public static let pipeConsumer: Int32 = 19

  /// Whether stdin is a pipe (a producer writes it), not a terminal or a file.
  public static var standardInputIsPipe: Bool {
    var info = stat()
    return fstat(STDIN_FILENO, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO
  }

  /// The niceness of the calling thread.
  public static var current: Int32 {
    errno = 0
    return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
  }

  /// Lowers the priority of every thread of this process to `niceness` (never raises it). Linux
  /// keeps a niceness for each thread, and some threads (OpenBLAS's pool) exist before `main`, so
  /// each is set by its id from /proc/self/task. A thread inherits its creator's niceness, except
  /// libdispatch's workers, which start at their QoS class's own: a caller that uses them also
  /// sets `ParallelLoop.lowerWorkers`, so that each lowers itself before its work. Returns how many threads were
  /// lowered; a failure leaves a thread as it was, which costs speed only.
  @discardableResult
  public static func lower(to niceness: Int32) -> Int {
    let which = __priority_which_t(PRIO_PROCESS.rawValue)
    let ids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task"))?.compactMap {
      id_t($0)
    }
    var lowered = 0
    // Without /proc (not Linux), the process's own id sets every thread's priority at once.
    for id in ids ?? [0] {
      errno = 0
      let now = getpriority(which, id)
      guard errno == 0, now < niceness else { continue }
      if setpriority(which, id, niceness) == 0 { lowered += 1 }
    }
    return lowered
  }
}
