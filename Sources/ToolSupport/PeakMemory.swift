import Foundation

/// The process's peak resident memory, for the benchmarks' memory targets (a 1024-token attribution
/// graph within 4 GB): what the kernel counted, so mapped files and allocator slack are included.
public enum PeakMemory {
  /// Peak resident set size so far, in MiB (`ru_maxrss` is KiB on Linux, bytes on Darwin).
  public static var megabytes: Double {
    var usage = rusage()
    #if os(Linux)
      guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return .nan }
      return Double(usage.ru_maxrss) / 1024
    #else
      guard getrusage(RUSAGE_SELF, &usage) == 0 else { return .nan }
      return Double(usage.ru_maxrss) / 1024 / 1024  // bytes on Darwin
    #endif
  }
}
