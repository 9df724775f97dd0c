import CBLAS

/// How many threads the kernels use: OpenBLAS's for every `cblas_sgemm`, and `ParallelLoop`'s for
/// element-wise work. Both get the same count; oversubscribing a 2-core machine slows it down.
public enum BLASThreads {
  /// The thread count for parallel loops (and BLAS, outside `singleThreaded`).
  nonisolated(unsafe) public private(set) static var current = 1

  /// Sets the number of threads (at least 1).
  public static func set(_ count: Int) {
    current = max(1, count)
    openblas_set_num_threads(Int32(current))
  }

  /// Runs `body` with BLAS on one thread, for work that is parallel across many small products
  /// (one attention head each): each `ParallelLoop` worker then calls sgemm on its own.
  public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
    guard current > 1 else { return try body() }
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(Int32(current)) }
    return try body()
  }
}
