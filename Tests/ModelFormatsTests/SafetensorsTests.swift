import Foundation
import ModelFormats
import Testing

@Suite struct SafetensorsTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("LanguageModelsTests/Fixtures")

  func temporaryFile(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("cltkit-\(UUID())-\(name)")
  }

  @Test("F16 tensors read back as exactly the float32 weights rounded to half precision")
  func float16MatchesRounding() throws {
    let full = try SafetensorsFile(url: Self.fixtures.appendingPathComponent("gpt2-tiny/model.safetensors"))
    let half = try SafetensorsFile(
      url: Self.fixtures.appendingPathComponent("gpt2-tiny-f16/model.safetensors"))
    #expect(half.tensors["h.0.mlp.c_fc.weight"]?.dtype == "F16")
    let a = try full.floats("transformer.h.0.mlp.c_fc.weight")
    let b = try half.floats("h.0.mlp.c_fc.weight")
    #expect(a.count == b.count)
    #expect(zip(a, b).allSatisfy { Float(Float16($0)) == $1 }, "F16 decoding must equal IEEE half rounding")
  }

  @Test("BF16 tensors read back as the float32 weights rounded to bfloat16 (nearest, ties to even)")
  func bfloat16MatchesRounding() throws {
    let full = try SafetensorsFile(url: Self.fixtures.appendingPathComponent("gpt2-tiny/model.safetensors"))
    let half = try SafetensorsFile(
      url: Self.fixtures.appendingPathComponent("gpt2-tiny-bf16/model.safetensors"))
    let a = try full.floats("transformer.wte.weight")
    let b = try half.floats("wte.weight")
    func bf16(_ x: Float) -> Float {
      let bits = x.bitPattern
      let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
      return Float(bitPattern: rounded & 0xFFFF_0000)
    }
    #expect(zip(a, b).allSatisfy { bf16($0) == $1 })
  }

  @Test("the writer's output reads back with names, shapes, values and metadata intact")
  func writerRoundTrips() throws {
    var writer = SafetensorsWriter()
    writer.add("a", shape: [2, 3], values: [1, -2, 3.5, 0, .greatestFiniteMagnitude, -0.25])
    writer.add("b.c", shape: [1], values: [42])
    writer.metadata = ["format": "pt"]
    let url = temporaryFile("rt.safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try writer.write(to: url)
    let file = try SafetensorsFile(url: url)
    #expect(file.tensors["a"]?.shape == [2, 3])
    #expect(try file.floats("a") == [1, -2, 3.5, 0, .greatestFiniteMagnitude, -0.25])
    #expect(try file.floats("b.c") == [42])
    #expect(file.metadata == ["format": "pt"])
  }

  @Test("a truncated file is reported as truncated, naming the file")
  func truncatedFileIsReported() throws {
    let source = Self.fixtures.appendingPathComponent("gpt2-tiny/model.safetensors")
    let data = try Data(contentsOf: source)
    let url = temporaryFile("cut.safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try data.prefix(data.count / 2).write(to: url)
    do {
      _ = try SafetensorsFile(url: url)
      Issue.record("a truncated file opened")
    } catch let error as ModelFormatError {
      guard case .truncated(let path, _) = error else {
        Issue.record("expected .truncated, got \(error)")
        return
      }
      #expect(path == url.path)
      #expect(error.localizedDescription.contains("truncated"))
    }
  }

  @Test("garbage, an empty file and a missing file each give a clear error")
  func badFilesAreReported() throws {
    let garbage = temporaryFile("garbage.safetensors")
    let empty = temporaryFile("empty.safetensors")
    defer {
      try? FileManager.default.removeItem(at: garbage)
      try? FileManager.default.removeItem(at: empty)
    }
    var bytes = Data([16, 0, 0, 0, 0, 0, 0, 0])
    bytes.append(Data("not json at all!".utf8))
    try bytes.write(to: garbage)
    try Data().write(to: empty)
    #expect(throws: ModelFormatError.self) { _ = try SafetensorsFile(url: garbage) }
    #expect(throws: ModelFormatError.self) { _ = try SafetensorsFile(url: empty) }
    #expect(throws: ModelFormatError.self) {
      _ = try SafetensorsFile(url: URL(fileURLWithPath: "/nonexistent/x.safetensors"))
    }
  }

  @Test("a dtype other than F32, F16 and BF16 is rejected, naming the tensor and its dtype")
  func unsupportedDTypeIsRejected() throws {
    let header = #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#
    var data = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(Data(header.utf8))
    data.append(Data(count: 16))
    let url = temporaryFile("i64.safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try data.write(to: url)
    let file = try SafetensorsFile(url: url)
    #expect(
      throws: ModelFormatError.unsupportedDType(
        path: url.path, tensor: "ids", dtype: "I64", supported: ["F32", "F16", "BF16"])
    ) {
      _ = try file.floats("ids")
    }
  }
}

@Suite struct FileHashTests {
  @Test("digests match the FIPS 180-4 test vectors, across block boundaries")
  func knownVectors() {
    func hex(_ s: String) -> String { Array(s.utf8).withUnsafeBytes { FileHash.sha256Hex($0) } }
    #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      hex(String(repeating: "a", count: 1000))
        == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
  }

  @Test("a file hashed in pieces gives the digest of its whole contents")
  func fileInPieces() throws {
    var bytes = [UInt8](repeating: 0, count: (16 << 20) + 12345)  // one whole piece and a part
    for i in stride(from: 0, to: bytes.count, by: 4093) { bytes[i] = UInt8(truncatingIfNeeded: i >> 12) }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cltkit-hash-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: url) }
    try Data(bytes).write(to: url)
    #expect(try FileHash.sha256Hex(fileAt: url) == bytes.withUnsafeBytes { FileHash.sha256Hex($0) })
  }
}
