import Foundation
import Kernels
import Testing

/// Where FloatBuffer's storage comes from: big buffers on huge pages (`allocate_buffer`).
/// The huge-page request is process-wide: the test that makes it turns it off again, and is the
/// only one in the process to make it, so no memory it reuses was advised before.
@Suite struct FloatBufferTests {
  /// The flags of the mapping that holds `address`, from /proc/self/smaps ("VmFlags: rd wr ... hg").
  static func mappingFlags(of address: UnsafeRawPointer) throws -> [String]? {
    // Read to the end: a /proc file reports a size of 0, which a whole-file read may trust.
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps"))
    defer { try? handle.close() }
    let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    let value = UInt(bitPattern: address)
    var inside = false
    for line in smaps.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
        let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
        inside = bounds.count == 2 && bounds[0] <= value && value < bounds[1]
      } else if inside, fields.first == "VmFlags:" {
        return fields.dropFirst().map(String.init)
      }
    }
    return nil
  }

  @Test(
    "a buffer of 2 MB or more starts on a 2 MB boundary, its whole 2 MB pages are advised as huge, and it reads zero",
    .enabled(if: FileManager.default.fileExists(atPath: "/sys/kernel/mm/transparent_hugepage/enabled")))
  func bigBufferAskForHugePages() throws {
    FloatBuffer.useHugePages()
    defer { FloatBuffer.useHugePages(false) }
    let hugePage = 2 << 20
    let buffer = FloatBuffer(count: (5 * hugePage / 2) / MemoryLayout<Float>.stride)  // 2.5 huge pages
    let start = UnsafeRawPointer(buffer.pointer)
    #expect(UInt(bitPattern: start) % UInt(hugePage) == 0, "the buffer starts on a 2 MB boundary")
    #expect(buffer.array.allSatisfy { $0 == 0 })
    let head = try #require(try Self.mappingFlags(of: start))
    #expect(head.contains("hg"), "its first 2 MB are advised as huge pages: \(head)")
    // The half page past the last 2 MB boundary is left on small pages, so that the buffer's
    // resident size is not rounded up to 6 MB.
    let tail = try #require(try Self.mappingFlags(of: start + 2 * hugePage))
    #expect(!tail.contains("hg"), "the tail past the last whole huge page is not: \(tail)")
  }

  @Test("a small buffer is an ordinary allocation, zeroed, and copies its values")
  func smallBuffer() {
    let buffer = FloatBuffer([1, 2, 3])
    #expect(buffer.array == [1, 2, 3])
    #expect(FloatBuffer(count: 5).array == [0, 0, 0, 0, 0])
    #expect(FloatBuffer(count: 0).count == 0)
  }
}
