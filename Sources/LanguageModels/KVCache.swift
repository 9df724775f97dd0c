import Kernels

/// Keys and values of every layer for the positions of one sequence seen so far, so that each
/// generated token costs one position's work instead of the whole prefix's.
/// keys[l] and values[l] are (capacity, kvWidth).
public final class KVCache {
  public let capacity: Int
  public let kvWidth: Int
  public let keys: [FloatBuffer]
  public let values: [FloatBuffer]
  /// Number of positions filled.
  public internal(set) var count = 0

  public init(nLayers: Int, capacity: Int, kvWidth: Int) {
    self.capacity = capacity
    self.kvWidth = kvWidth
    keys = (0..<nLayers).map { _ in FloatBuffer(count: capacity * kvWidth) }
    values = (0..<nLayers).map { _ in FloatBuffer(count: capacity * kvWidth) }
  }

  /// Forgets the sequence so the cache can be reused.
  public func reset() { count = 0 }
}
