import CKernels

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A fixed-size, uninitialised-on-creation buffer of `Float`, owned by a class so that kernels
/// can take raw pointers into it without the copy-on-write and closure nesting of `[Float]`.
///
/// Forward passes keep their activations in a handful of these, allocated once per call
/// size and reused, so no allocation happens inside a layer loop.
///
/// `@unchecked Sendable`: threads share a buffer only through `ParallelLoop` and BLAS, each writing
/// its own disjoint slice; nothing else writes one that another thread reads.
public final class FloatBuffer: @unchecked Sendable {
  /// Number of `Float` elements.
  public let count: Int
  /// Start of the storage; valid for the lifetime of the buffer.
  public let pointer: UnsafeMutablePointer<Float>

  /// Allocates `count` elements, all zero.
  public init(count: Int) {
    self.count = count
    pointer = Self.allocate(count)
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  /// Copies `values` into a new buffer.
  public init(_ values: [Float]) {
    count = values.count
    pointer = Self.allocate(count)
    values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: count) }
  }

  deinit { free(pointer) }

  /// Asks for huge pages for every buffer of 2 MB or more allocated from now on (`use_huge_pages`).
  /// clt-fit does, before it allocates: its sparse decoder reads rows in a scattered order and
  /// its steps run about 1.2x faster on them. Tools that load a CLT and run for seconds do not,
  /// since finding huge pages can cost the kernel seconds a gigabyte of compaction
  /// (docs/BENCHMARKS.md, "Huge pages for the big buffers").
  public static func useHugePages(_ on: Bool = true) {
    use_huge_pages(on ? 1 : 0)
  }

  /// Storage for `count` floats from `allocate_buffer`: big buffers on huge pages once asked for
  /// (`useHugePages`).
  private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
    let bytes = max(count, 1) * MemoryLayout<Float>.stride
    guard let raw = allocate_buffer(bytes) else {
      fatalError("out of memory: cannot allocate \(bytes) bytes for a buffer of \(count) floats")
    }
    return raw.bindMemory(to: Float.self, capacity: max(count, 1))
  }

  /// The contents as an array (a copy).
  public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

  /// Sets every element to zero.
  public func zero() { pointer.update(repeating: 0, count: count) }

  public subscript(index: Int) -> Float {
    get { pointer[index] }
    set { pointer[index] = newValue }
  }
}
