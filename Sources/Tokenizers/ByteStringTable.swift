/// A hash table keyed by byte strings that looks keys up from an `UnsafeBufferPointer` slice.
///
/// Why not `Dictionary<[UInt8], Value>`: BPE asks for the rank of many sub-ranges of each piece,
/// and a Dictionary would need a fresh array (an allocation) per question. Here keys live in one
/// byte arena and lookups hash the caller's bytes in place (open addressing, linear probing).
struct ByteStringTable<Value> {
  private var arena: [UInt8] = []
  private var keyStarts: [Int] = []
  private var keyLengths: [Int32] = []
  private var hashes: [UInt64] = []
  private(set) var values: [Value] = []
  /// Entry index per slot, -1 when empty; the count is a power of two at least twice the entries.
  private var slots: [Int32]

  init(minimumCapacity: Int = 16) {
    var capacity = 16
    while capacity < 2 * minimumCapacity { capacity *= 2 }
    slots = [Int32](repeating: -1, count: capacity)
  }

  var count: Int { values.count }

  /// Total bytes held by keys, for callers that bound memory.
  var keyBytes: Int { arena.count }

  @inline(__always)
  static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, then a multiplicative finish for the low bits
    for byte in key { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
    h ^= h >> 32
    h &*= 0x9E37_79B9_7F4A_7C15
    return h ^ (h >> 29)
  }

  /// Index of `key`'s entry (into `values`), or nil.
  @inline(__always)
  func index(of key: UnsafeBufferPointer<UInt8>) -> Int? {
    let h = Self.hash(key)
    let mask = slots.count - 1
    var slot = Int(truncatingIfNeeded: h) & mask
    return arena.withUnsafeBufferPointer { arena in
      while true {
        let entry = Int(slots[slot])
        if entry < 0 { return nil }
        if hashes[entry] == h && Int(keyLengths[entry]) == key.count {
          let start = keyStarts[entry]
          if key.count == 0 || memcmpEqual(arena.baseAddress! + start, key.baseAddress!, key.count) {
            return entry
          }
        }
        slot = (slot + 1) & mask
      }
    }
  }

  @inline(__always)
  subscript(key: UnsafeBufferPointer<UInt8>) -> Value? {
    guard let index = index(of: key) else { return nil }
    return values[index]
  }

  /// Adds `key` unless present; returns false (and keeps the old value) if it was.
  @discardableResult
  mutating func insert(_ key: UnsafeBufferPointer<UInt8>, _ value: Value) -> Bool {
    if index(of: key) != nil { return false }
    if 2 * (values.count + 1) > slots.count { grow() }
    let h = Self.hash(key)
    keyStarts.append(arena.count)
    keyLengths.append(Int32(key.count))
    arena.append(contentsOf: key)
    hashes.append(h)
    values.append(value)
    place(entry: values.count - 1, hash: h)
    return true
  }

  @discardableResult
  mutating func insert(_ key: [UInt8], _ value: Value) -> Bool {
    key.withUnsafeBufferPointer { insert($0, value) }
  }

  func value(for key: [UInt8]) -> Value? {
    key.withUnsafeBufferPointer { self[$0] }
  }

  mutating func removeAll() {
    arena.removeAll(keepingCapacity: true)
    keyStarts.removeAll(keepingCapacity: true)
    keyLengths.removeAll(keepingCapacity: true)
    hashes.removeAll(keepingCapacity: true)
    values.removeAll(keepingCapacity: true)
    for i in slots.indices { slots[i] = -1 }
  }

  private mutating func place(entry: Int, hash: UInt64) {
    let mask = slots.count - 1
    var slot = Int(truncatingIfNeeded: hash) & mask
    while slots[slot] >= 0 { slot = (slot + 1) & mask }
    slots[slot] = Int32(entry)
  }

  private mutating func grow() {
    slots = [Int32](repeating: -1, count: slots.count * 2)
    for entry in hashes.indices { place(entry: entry, hash: hashes[entry]) }
  }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
  for i in 0..<count where a[i] != b[i] { return false }
  return true
}
