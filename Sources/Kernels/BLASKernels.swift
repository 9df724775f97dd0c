import CBLAS
import CKernels
import Foundation

/// Which of OpenBLAS's kernels run every sgemm.
///
/// Why this exists: OpenBLAS picks its kernels when it loads, from the CPU's model number, and a
/// virtual CPU that reports a generic model ("Intel(R) Xeon(R) Processor") gets Prescott's SSE3
/// kernels even where it has AVX-512. On such a machine clt-fit at the demo's shape ran at 152
/// tokens/s with Prescott, 187 with Haswell's kernels and 214 with SkylakeX's (2026-12-06,
/// docs/BENCHMARKS.md). OpenBLAS reads `OPENBLAS_CORETYPE` only at load, so the fix is to set it
/// and start the process again, with the same arguments, descriptors and pid (`execv`).
public enum BLASKernels {
  /// OpenBLAS's name for the kernels it chose, e.g. "Haswell" or "Prescott".
  public static var coreName: String { String(cString: openblas_get_corename()) }

  /// When OpenBLAS fell back to Prescott on a CPU that has AVX2 or AVX-512 and the user has not
  /// set `OPENBLAS_CORETYPE`, re-executes this program with it set; otherwise returns at once.
  /// Call it first thing in a tool, before it reads any input. `CLTKIT_KEEP_BLAS_CORE=1` turns it
  /// off (to measure the fallback).
  public static func chooseForThisCPU() {
    let environment = ProcessInfo.processInfo.environment
    guard environment["OPENBLAS_CORETYPE"] == nil, environment["CLTKIT_KEEP_BLAS_CORE"] == nil,
      coreName.lowercased() == "prescott", let core = cltk_blas_core_for_cpu()
    else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv returns only on failure: carry on with the kernels we have.
    unsetenv("OPENBLAS_CORETYPE")
  }
}
