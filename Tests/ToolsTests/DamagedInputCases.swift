import Foundation

/// The damaged copies of each format that both `FuzzedReaderTests` (all of them, in this process)
/// and `FuzzedToolTests` (a sample, through the tools) feed to the readers: cuts, seeded bit flips,
/// and the fields a corrupt or hostile file would make huge or negative.
enum DamagedInputCases {
  typealias Variant = DamagedInputs.Variant

  /// safetensors: flips mostly in the header (the data is only numbers), and a header length, shape,
  /// offsets and dtype that do not fit.
  static func safetensors(_ data: Data) -> [Variant] {
    let headerEnd =
      8 + Int(UInt64(littleEndian: data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
    var variants = DamagedInputs.variants(of: data, cuts: 48, flips: 120, in: 0..<headerEnd)
    variants += DamagedInputs.variants(of: data, cuts: 0, flips: 40, seed: 2)
    for length: UInt64 in [0xFFFF_FFFF_FFFF_FFF0, .max, UInt64(Int.max), UInt64(Int.max) + 1, 100_000_000] {
      variants.append(DamagedInputs.overwriting(data, at: 0, with: length, "the header length"))
    }
    let edits = [
      ("\"shape\":[260,8]", "\"shape\":[4611686018427387904,4]"),
      ("\"shape\":[260,8]", "\"shape\":[-260,-8]"),
      ("\"data_offsets\":[0,8320]", "\"data_offsets\":[0,9223372036854775807]"),
      ("\"data_offsets\":[0,8320]", "\"data_offsets\":[9223372036854775000,9223372036854775807]"),
      ("\"data_offsets\":[0,8320]", "\"data_offsets\":[-8,8320]"), ("\"F32\"", "\"F16\""), ("{", "["),
    ]
    return variants
      + edits.map { edit in
        // The header edited as text, and its length field set to match.
        let header = DamagedInputs.replacing(
          edit.0, with: edit.1, in: String(decoding: data[8..<headerEnd], as: UTF8.self))
        var length = Data()
        withUnsafeBytes(of: UInt64(header.data.count).littleEndian) { length.append(contentsOf: $0) }
        return Variant(description: header.description, data: length + header.data + data[headerEnd...])
      }
  }

  /// GGUF (`DamagedInputs.ggufFixture`): huge tensor and metadata counts, string lengths, dims, data
  /// offsets and array counts, and arrays nested 50,000 deep.
  static func gguf(_ data: Data) throws -> [Variant] {
    var variants = DamagedInputs.variants(of: data, cuts: 48, flips: 200)
    for (offset, field) in [
      (8, "the tensor count"), (16, "the metadata count"), (24, "the first key's length"),
    ] {
      for value: UInt64 in [0xFFFF_FFFF_FFFF_FFF0, UInt64(Int.max) + 1, 1 << 23] {
        variants.append(DamagedInputs.overwriting(data, at: offset, with: value, field))
      }
    }
    // The tensor t_f32 (2 dims): its name, n_dims (4 bytes), dims (8 each), type (4), data offset (8).
    let name = try offset(ofString: "t_f32", in: data)
    let dims = name + 5 + 4
    variants += [
      DamagedInputs.overwriting(data, at: name + 5, with: UInt32.max, "n_dims of t_f32"),
      DamagedInputs.overwriting(data, at: dims, with: UInt64.max, "a dim of t_f32"),
      DamagedInputs.overwriting(data, at: dims, with: UInt64(1) << 62, "a dim of t_f32"),
      DamagedInputs.overwriting(data, at: dims + 8, with: UInt64(Int.max), "a dim of t_f32"),
      DamagedInputs.overwriting(data, at: dims + 20, with: UInt64.max, "the data offset of t_f32"),
      DamagedInputs.overwriting(data, at: dims + 20, with: UInt64(Int.max), "the data offset of t_f32"),
    ]
    // The array test.array_str: after its key, its type (9), element type and count.
    let count = try offset(ofString: "test.array_str", in: data) + 14 + 8
    return variants + [
      DamagedInputs.overwriting(data, at: count, with: UInt64.max, "the count of test.array_str"),
      DamagedInputs.overwriting(data, at: count, with: UInt64(1) << 40, "the count of test.array_str"),
      nestedArrays(depth: 50_000),
    ]
  }

  /// Where GGUF string `text` (after its 8-byte length) starts in `data`.
  private static func offset(ofString text: String, in data: Data) throws -> Int {
    var needle = Data()
    withUnsafeBytes(of: UInt64(text.utf8.count).littleEndian) { needle.append(contentsOf: $0) }
    needle.append(contentsOf: Array(text.utf8))
    guard let range = data.range(of: needle) else { throw ToolHarness.HarnessError("no \(text) in the GGUF") }
    return range.lowerBound + 8
  }

  /// A GGUF whose one metadata value is an array of an array of ... `depth` deep.
  private static func nestedArrays(depth: Int) -> Variant {
    var data = Data()
    func append<T: FixedWidthInteger>(_ value: T) {
      withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
    [UInt32(0x4655_4747), 3].forEach(append)  // "GGUF", version 3
    [UInt64(0), 1, 1].forEach(append)  // tensors, metadata, the key's length
    data.append(UInt8(ascii: "a"))
    append(UInt32(9))
    for _ in 0..<depth {
      append(UInt32(9))
      append(UInt64(1))
    }
    append(UInt32(4))  // the innermost: one uint32
    append(UInt64(1))
    append(UInt32(0))
    return Variant(description: "arrays nested \(depth) deep", data: data)
  }

  /// HDF5 (a shard, a clt.h5): cuts and flips; libhdf5 decodes the structure, the readers check
  /// the shapes, sizes and attributes it yields.
  static func hdf5(_ data: Data) -> [Variant] {
    DamagedInputs.variants(of: data, cuts: 40, flips: 200)
  }

  /// A tiktoken rank file: cuts, flips, and the last rank made 2^31 - 2 and too big for Int32.
  static func rankFile(_ data: Data) -> [Variant] {
    let text = String(decoding: data, as: UTF8.self)
    return DamagedInputs.variants(of: data, cuts: 30, flips: 150) + [
      DamagedInputs.replacing(" 258\n", with: " 2147483646\n", in: text),
      DamagedInputs.replacing(" 258\n", with: " 99999999999999999999\n", in: text),
    ]
  }

  /// vocab.json: cuts, flips, and <|endoftext|>'s id made 2^31 - 2.
  static func vocabulary(_ data: Data) -> [Variant] {
    DamagedInputs.variants(of: data, cuts: 30, flips: 120) + [
      DamagedInputs.replacing(":259", with: ":2147483646", in: String(decoding: data, as: UTF8.self))
    ]
  }

  /// merges.txt: cuts and flips.
  static func merges(_ data: Data) -> [Variant] {
    DamagedInputs.variants(of: data, cuts: 20, flips: 60)
  }

  /// Corpus JSON lines: cuts, flips, a line nested 100,000 deep and a number beyond Double.
  static func corpus(_ data: Data) -> [Variant] {
    let nested = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    return DamagedInputs.variants(of: data, cuts: 30, flips: 150) + [
      Variant(description: "a line nested 100000 deep", data: data + Data(("\n" + nested).utf8)),
      Variant(description: "a huge number", data: data + Data("\n{\"text\": \"x\", \"n\": 1e999999}".utf8)),
    ]
  }

  /// Attribution graph JSON: cuts, flips, and negative or huge positions, layers and indices.
  static func graph(_ text: String) -> [Variant] {
    let edits = [
      ("\"ctx_idx\":1", "\"ctx_idx\":-1"), ("\"ctx_idx\":1", "\"ctx_idx\":1e300"),
      ("\"layer\":\"1\"", "\"layer\":\"9223372036854775807\""), ("\"layer\":\"1\"", "\"layer\":\"-2\""),
      ("\"feature_index\":3", "\"feature_index\":-3"), ("\"n_layers\":2", "\"n_layers\":1e18"),
      ("\"n_layers\":2", "\"n_layers\":-5"),
    ]
    return DamagedInputs.variants(of: Data(text.utf8), cuts: 30, flips: 150)
      + edits.map { DamagedInputs.replacing($0.0, with: $0.1, in: text) }
  }
}
