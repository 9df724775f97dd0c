import CBLAS

/// Controls how many threads OpenBLAS uses for every `cblas_sgemm` in the process.
///
/// The tools default to the machine's core count; oversubscribing (BLAS threads plus our own
/// parallel loops) slows a 2-core machine down, so other kernels stay single-threaded.
public enum BLASThreads {
  /// Sets the number of BLAS threads (at least 1).
  public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
  /// The number of BLAS threads in use.
  public static var current: Int { Int(openblas_get_num_threads()) }
}
