/// Dataset names and storage choices shared by `ShardWriter` and `ShardReader`.
public enum ShardLayout {
  static let tokens = "tokens"
  static let positions = "positions"
  static let windows = "windows"

  /// Target bytes per chunk of `mlp_in`/`mlp_out`.
  ///
  /// A chunk is the unit HDF5 reads and writes. 768 KiB keeps a chunk inside HDF5's default
  /// 1 MiB per-dataset chunk cache, so an `append` that ends mid-chunk leaves the chunk in the
  /// cache and the next append completes it, with no read-modify-write on disk; and a trainer
  /// reading a block of a few hundred rows touches few chunks with little overshoot. For GPT-2
  /// small (12 layers x 768) a row is 18 KiB in f16, so a chunk is 42 rows (756 KiB); in f32 it
  /// is 21 rows.
  static let targetChunkBytes = 768 * 1024

  /// Rows per chunk of `mlp_in`/`mlp_out` for a given row size.
  static func activationChunkRows(metadata: ShardMetadata, rowsPerShard: Int) -> Int {
    let elementBytes = metadata.dtype == .f16 ? 2 : 4
    let rowBytes = max(metadata.nLayers * metadata.dModel * elementBytes, 1)
    return max(1, min(targetChunkBytes / rowBytes, rowsPerShard))
  }

  /// Rows per chunk of the 1-D int32 datasets: 16 KiB, small next to the activations.
  static func indexChunkRows(rowsPerShard: Int) -> Int {
    max(1, min(4096, rowsPerShard))
  }

  /// The final name of shard `index`: `shard-000000.h5`.
  static func shardName(_ index: Int) -> String {
    "shard-" + zeroPadded(index) + ".h5"
  }

  /// The name a shard is written under until complete: `.shard-000000.h5.tmp` (hidden, and
  /// never matching `shard-*.h5`, so consumers cannot pick up a half-written shard).
  static func temporaryName(_ index: Int) -> String {
    "." + shardName(index) + ".tmp"
  }

  /// Held by the one process writing shards into a folder (`FolderLock`).
  static let writerLock = ".gpt2-acts.lock"

  /// Held by each process that deletes the shards of a folder once it has loaded them.
  public static let consumerLock = ".consumer.lock"

  /// Whether `name` is a shard's temporary name (`.shard-000000.h5.tmp`).
  static func isTemporaryName(_ name: String) -> Bool {
    name.hasPrefix(".") && name.hasSuffix(".tmp") && isShardName(Substring(name.dropFirst().dropLast(4)))
  }

  /// Whether `name` is a completed shard's file name (`shard-` + 6+ digits + `.h5`).
  static func isShardName(_ name: Substring) -> Bool {
    guard name.hasPrefix("shard-"), name.hasSuffix(".h5") else { return false }
    let digits = name.dropFirst(6).dropLast(3)
    return digits.count >= 6 && digits.allSatisfy { $0.isASCII && $0.isNumber }
  }

  private static func zeroPadded(_ index: Int) -> String {
    let digits = String(index)
    return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
  }
}
