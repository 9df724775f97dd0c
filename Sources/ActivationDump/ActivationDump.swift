import ActivationShards
import Foundation
import LanguageModels
import Tokenizers

/// Runs a language model over a corpus and hands every row (a token with each layer's MLP input
/// and output) to a `ShardWriter`: what `gpt2-acts` does between its options and its output, as a
/// library so that tests and other tools reach it without a subprocess.
///
/// The corpus is cut into windows first (`plannedWindows`), so the rows the whole run writes are
/// known before the first shard and recorded in each (`ShardMetadata.plannedRows`).
public final class ActivationDump {
  public let model: any LanguageModel
  public let writer: ShardWriter
  /// Whether each window's first row, the `<|endoftext|>` that begins it, is written.
  public let keepBOS: Bool
  public private(set) var tokensProcessed = 0
  public private(set) var rowsWritten = 0
  /// Called after each batch's rows are handed to the writer (progress, timing).
  public var onBatch: ((ActivationDump) -> Void)?
  private var windowIndex: Int32 = 0
  /// Reused while batches keep the same size: allocating 2 · layers · rows · d floats per batch costs.
  private var taps: MLPTaps?

  public init(model: any LanguageModel, writer: ShardWriter, keepBOS: Bool) {
    self.model = model
    self.writer = writer
    self.keepBOS = keepBOS
  }

  /// Rows that `windows` make: every token, less each window's BOS unless it is kept.
  public func rows(of windows: [[Int32]]) -> Int {
    windows.reduce(0) { $0 + $1.count - (keepBOS ? 0 : 1) }
  }

  /// The corpus cut into the windows a dump runs, in order (docs/FORMATS.md, "How rows come from
  /// the corpus"): every full window of `context` tokens, then the last partial one; with
  /// `maxTokens`, whole windows while they fit and then a trimmed one (if it holds BOS and at
  /// least one token). The documents past the budget are read but not tokenised.
  public static func plannedWindows(
    corpus: [String], tokenizer: any Tokenizer, context: Int, maxTokens: Int?
  ) throws -> [[Int32]] {
    var windows = TokenWindows(context: context, bos: tokenizer.endOfTextID)
    var planned: [[Int32]] = []
    var tokens = 0
    func room() -> Int { maxTokens.map { $0 - tokens } ?? Int.max }
    func take(_ window: [Int32]) {
      let kept = room() >= window.count ? window : Array(window.prefix(room()))
      guard kept.count >= 2 else { return }
      planned.append(kept)
      tokens += kept.count
    }
    try CorpusReader(inputs: corpus).forEachDocument { text in
      guard room() >= 2 else { return }
      windows.add(document: tokenizer.encode(text))
      while room() >= 2, let w = windows.nextFullWindow() { take(w) }
    }
    if room() >= 2, let last = windows.finalWindow() { take(last) }
    return planned
  }

  /// Runs `windows` in batches of at most `batch` windows of one length (only a trimmed last
  /// window is shorter); `beforeBatch` may throw to stop between batches.
  public func run(_ windows: [[Int32]], batch: Int, beforeBatch: () throws -> Void = {}) throws {
    var start = 0
    while start < windows.count {
      var end = start + 1
      while end < windows.count && end - start < batch && windows[end].count == windows[start].count {
        end += 1
      }
      try beforeBatch()
      try process(Array(windows[start..<end]))
      start = end
    }
  }

  /// Runs windows of one length as a batch and appends their rows to the shards.
  public func process(_ windows: [[Int32]]) throws {
    let length = windows[0].count
    let info = model.description
    if taps?.rows != windows.count * length {
      taps = MLPTaps(nLayers: info.nLayers, rows: windows.count * length, dModel: info.dModel)
    }
    let taps = taps!
    _ = try model.forward(
      tokens: windows.flatMap { $0 }, batch: windows.count, length: length, taps: taps, computeLogits: false)
    // Keep every row, or drop each window's BOS row by compacting the layer-major blocks in place.
    let first = keepBOS ? 0 : 1
    var tokens: [Int32] = []
    var positions: [Int32] = []
    var windowIDs: [Int32] = []
    var keptRows: [Int] = []
    for (w, window) in windows.enumerated() {
      for p in first..<length {
        tokens.append(window[p])
        positions.append(Int32(p))
        windowIDs.append(windowIndex + Int32(w))
        keptRows.append(w * length + p)
      }
    }
    windowIndex += Int32(windows.count)
    let d = info.dModel
    if keptRows.count != taps.rows {
      for buffer in [taps.mlpIn, taps.mlpOut] {
        for l in 0..<info.nLayers {
          let block = taps.pointer(buffer, layer: l)
          let compacted = buffer.pointer + l * keptRows.count * d
          for (i, row) in keptRows.enumerated() {
            (compacted + i * d).update(from: block + row * d, count: d)
          }
        }
      }
    }
    // Completed shards are printed by the writer's onShardCompleted, as each one lands.
    _ = try tokens.withUnsafeBufferPointer { t in
      try positions.withUnsafeBufferPointer { p in
        try windowIDs.withUnsafeBufferPointer { w in
          try writer.append(
            tokens: t, positions: p, windows: w, mlpIn: taps.mlpIn.pointer, mlpOut: taps.mlpOut.pointer)
        }
      }
    }
    tokensProcessed += windows.count * length
    rowsWritten += keptRows.count
    onBatch?(self)
  }

}
