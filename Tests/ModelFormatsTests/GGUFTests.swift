import Foundation
import ModelFormats
import Testing

/// The GGUF reader against a file written, and dequantised, by llama.cpp's own `gguf` Python package
/// (scripts/make_gguf_fixture.py).
@Suite struct GGUFTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "Fixtures")

  @Test("metadata of every GGUF value type reads back with its value")
  func metadataOfEveryType() throws {
    let gguf = try GGUFFile(url: Self.fixtures.appendingPathComponent("types.gguf"))
    #expect(gguf.version == 3)
    #expect(gguf.metadata["general.architecture"]?.stringValue == "llama")
    #expect(gguf.metadata["test.u8"] == .uint(200))
    #expect(gguf.metadata["test.i8"] == .int(-100))
    #expect(gguf.metadata["test.u16"] == .uint(60000))
    #expect(gguf.metadata["test.i16"] == .int(-30000))
    #expect(gguf.metadata["test.u32"] == .uint(4_000_000_000))
    #expect(gguf.metadata["test.i32"] == .int(-2_000_000_000))
    #expect(gguf.metadata["test.f32"] == .float(0.25))
    #expect(gguf.metadata["test.bool"] == .bool(true))
    #expect(gguf.metadata["test.string"] == .string("héllo, GGUF"))
    #expect(gguf.metadata["test.array_str"]?.stringArray == ["a", "bc", "Ġthe"])
    #expect(gguf.metadata["test.array_i32"]?.intArray == [1, -2, 3])
    #expect(gguf.metadata["test.u64"] == .uint(1 << 40 + 3))
    #expect(gguf.metadata["test.i64"] == .int(-(1 << 40)))
    #expect(gguf.metadata["test.f64"] == .float(1e-300))
  }

  @Test("F32, F16, BF16, Q8_0 and Q4_1 tensors dequantise exactly as the gguf package does")
  func dequantisationMatchesReference() throws {
    let gguf = try GGUFFile(url: Self.fixtures.appendingPathComponent("types.gguf"))
    let reference = try SafetensorsFile(
      url: Self.fixtures.appendingPathComponent("types-reference.safetensors"))
    let expectedTypes: [String: GGMLType] = [
      "t_f32": .f32, "t_f16": .f16, "t_bf16": .bf16, "t_q8_0": .q8_0, "t_q4_1": .q4_1,
    ]
    for (name, type) in expectedTypes {
      #expect(gguf.tensors[name]?.type == type)
      #expect(gguf.tensors[name]?.shape == [4, 64], "shapes are row-major, outermost first")
      let got = try gguf.floats(name, expectedShape: [4, 64])
      let want = try reference.floats(name)
      #expect(got == want, "\(name) dequantises differently from the gguf package")
    }
  }

  @Test("a truncated GGUF and a non-GGUF file are rejected, naming the file")
  func badFilesAreRejected() throws {
    let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("types.gguf"))
    let dir = FileManager.default.temporaryDirectory
    let cut = dir.appendingPathComponent("cltkit-cut-\(UUID()).gguf")
    let junk = dir.appendingPathComponent("cltkit-junk-\(UUID()).gguf")
    defer {
      try? FileManager.default.removeItem(at: cut)
      try? FileManager.default.removeItem(at: junk)
    }
    for length in [10, 200, data.count - 100] {
      try data.prefix(length).write(to: cut)
      #expect(throws: ModelFormatError.self, "cut at \(length) bytes") { _ = try GGUFFile(url: cut) }
    }
    try Data("definitely not a model file, just text".utf8).write(to: junk)
    do {
      _ = try GGUFFile(url: junk)
      Issue.record("a text file opened as GGUF")
    } catch {
      #expect(error.localizedDescription.contains(junk.path))
    }
  }
}
