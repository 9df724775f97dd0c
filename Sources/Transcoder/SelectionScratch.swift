/// The forward pass's scratch for choosing one layer's active features, kept by `CLTActivations`
/// so that a training step does not allocate it again for every layer: BatchTopK's candidate
/// values and the index of a chunk of h they are picked with, the k-th-largest search's working
/// copy, and the blocks of tokens `scanLayer` walks in parallel with their concatenation. Every
/// array keeps its storage from call to call and grows to the largest call seen.
final class SelectionScratch {
  /// Values of h examined per call of `select_above_scalar`.
  static let chunk = 1 << 16
  /// The values of h above a bound (`CrossLayerTranscoder.values`).
  var candidates: [Float] = []
  /// Per block of tokens, its scan; and all of them, one after another.
  var blocks: [CrossLayerTranscoder.LayerScan] = []
  var merged = CrossLayerTranscoder.LayerScan()
  private var index: UnsafeMutablePointer<Int32>?
  private var kth: [Float] = []

  init() {}

  deinit { index?.deallocate() }

  /// Positions within one chunk of h, (chunk).
  var chunkIndex: UnsafeMutablePointer<Int32> {
    if let index { return index }
    let made = UnsafeMutablePointer<Int32>.allocate(capacity: Self.chunk)
    index = made
    return made
  }

  /// `candidates`, emptied, moved out (so that appending to it does not copy); put it back after.
  func takeCandidates() -> [Float] {
    var taken: [Float] = []
    swap(&taken, &candidates)
    taken.removeAll(keepingCapacity: true)
    return taken
  }

  /// `count` scans for the blocks of tokens, moved out; put them back in `blocks` after.
  func takeBlocks(_ count: Int) -> [CrossLayerTranscoder.LayerScan] {
    var taken: [CrossLayerTranscoder.LayerScan] = []
    swap(&taken, &blocks)
    if taken.count > count { taken.removeLast(taken.count - count) }
    while taken.count < count { taken.append(CrossLayerTranscoder.LayerScan()) }
    return taken
  }

  /// `body` with a working copy of at least `count` floats for `kth_largest`.
  func withKth<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    if kth.count < count { kth = [Float](repeating: 0, count: count) }
    return kth.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
  }
}

extension Array {
  /// Empties the array and appends `count` copies of `value`, in the storage it already has when
  /// that is large enough.
  mutating func refill(count: Int, with value: Element) {
    removeAll(keepingCapacity: true)
    append(contentsOf: repeatElement(value, count: count))
  }

  /// The array in `slot`, moved out (so that it is held once and refilling it does not copy) and
  /// refilled with `count` copies of `value`; `slot` is left empty.
  static func takeRefilled(_ slot: inout [Element], count: Int, with value: Element) -> [Element] {
    var taken: [Element] = []
    swap(&taken, &slot)
    taken.refill(count: count, with: value)
    return taken
  }
}

extension SparseActivations {
  /// No rows: what a layer's activations hold while `store` refills their arrays.
  static let empty = SparseActivations(offsets: [0], indices: [], values: [])
}
