import CKernels
import CLTFormat
import Foundation
import HDF5
import Kernels
import Transcoder

/// A cross-layer transcoder's decoder weights W_dec[s→l] held as IEEE binary16, which is how the
/// local replacement model reads them.
///
/// Why: a SmolLM2 CLT of 2048 features a layer has 465 decoder matrices, 2.2 GB as float32 — more
/// than half of the 4 GB a 1024-token graph may use. In half precision they take 1.1 GB. A weight
/// changes by at most 2⁻¹¹ of itself (about 5·10⁻⁴), and the local replacement model stays exact
/// because its error terms are taken against this same reconstruction: errors, edges and the
/// forward pass all use the rounded decoders. Reading half the bytes also halves the memory
/// traffic of gathering decoder rows in every backward pass.
public final class HalfDecoders: DecoderRows {
  public let nLayers: Int
  public let dModel: Int
  public let features: Int
  /// Every W_dec[s→l] (F, d) back to back, s-major then l.
  private let storage: UnsafeMutablePointer<UInt16>
  private let matrixCount: Int

  private init(nLayers: Int, dModel: Int, features: Int) {
    self.nLayers = nLayers
    self.dModel = dModel
    self.features = features
    matrixCount = nLayers * (nLayers + 1) / 2
    storage = .allocate(capacity: max(1, matrixCount * features * dModel))
  }

  deinit { storage.deallocate() }

  /// The decoders of a transcoder that holds them as float32, rounded to nearest even.
  public convenience init(_ transcoder: CrossLayerTranscoder) {
    self.init(nLayers: transcoder.nLayers, dModel: transcoder.dModel, features: transcoder.features)
    for s in 0..<nLayers {
      for l in s..<nLayers { store(transcoder.decoder(from: s, to: l), from: s, to: l) }
    }
  }

  /// Reads `W_dec_s_l` from an open clt.h5 one matrix at a time, so that no more than one float32
  /// matrix (F × d) is ever held.
  /// - Throws: `CLTFileError.unsupportedTranscoder` for a missing or mis-sized matrix.
  public static func read(from file: HDF5File, metadata: CLTFileMetadata, path: String) throws -> HalfDecoders
  {
    let decoders = HalfDecoders(
      nLayers: metadata.nLayers, dModel: metadata.dModel, features: metadata.features)
    let scratch = FloatBuffer(count: metadata.features * metadata.dModel)
    for s in 0..<decoders.nLayers {
      for l in s..<decoders.nLayers {
        try CLTFile.read(file, CLTFile.decoderWeights(from: s, to: l), into: scratch, path: path)
        decoders.store(scratch, from: s, to: l)
      }
    }
    return decoders
  }

  /// Loads a clt.h5 for attribution: the transcoder without its float32 decoders, and the
  /// decoders in half precision.
  public static func loadTranscoder(url: URL) throws -> (file: CLTFile, decoders: HalfDecoders) {
    var decoders: HalfDecoders?
    let file = try CLTFile.load(url: url, decoders: false) { h5, loaded in
      decoders = try read(from: h5, metadata: loaded.metadata, path: url.path)
    }
    return (file, decoders!)
  }

  private func offset(from s: Int, to l: Int) -> Int {
    precondition(s <= l && l < nLayers, "features decode only to their layer and later ones")
    // Matrices before source s: Σ_{s' < s} (L − s').
    return (s * nLayers - s * (s - 1) / 2 + (l - s)) * features * dModel
  }

  private func store(_ matrix: FloatBuffer, from s: Int, to l: Int) {
    precondition(matrix.count == features * dModel, "a decoder matrix is F × d")
    Float16Conversion.convert(
      UnsafeBufferPointer(start: matrix.pointer, count: matrix.count),
      to: UnsafeMutableBufferPointer(start: storage + offset(from: s, to: l), count: matrix.count))
  }

  /// W_dec[s→l] as binary16 bits, (F, d).
  public func matrix(from s: Int, to l: Int) -> UnsafePointer<UInt16> {
    UnsafePointer(storage + offset(from: s, to: l))
  }

  /// Row `feature` of W_dec[s→l] as floats.
  public func row(from s: Int, to l: Int, feature: Int) -> [Float] {
    var one: Float = 1
    var index = Int32(feature)
    return [Float](unsafeUninitializedCapacity: dModel) { out, n in
      half_rows_scaled(out.baseAddress!, matrix(from: s, to: l), dModel, &index, &one, 1, dModel)
      n = dModel
    }
  }

  public func addDecoderRow(
    from source: Int, to target: Int, feature: Int, scale: Float, into out: UnsafeMutablePointer<Float>
  ) {
    for (j, value) in row(from: source, to: target, feature: feature).enumerated() { out[j] += scale * value }
  }

  /// dst (k, d), row r = scales[r] · W_dec[s→l][indices[r]].
  func gatherRows(
    from s: Int, to l: Int, indices: UnsafePointer<Int32>, scales: UnsafePointer<Float>, count k: Int,
    into dst: UnsafeMutablePointer<Float>
  ) {
    half_rows_scaled(dst, matrix(from: s, to: l), dModel, indices, scales, k, dModel)
  }

  /// out (rows, d) = b_dec[target] + Σ_{s ≤ target} a[s] · W_dec[s→target], as
  /// `CrossLayerTranscoder.reconstruct` with these decoders; `bias` b_dec[target] (d).
  public func reconstruct(
    target: Int, from activations: [SparseActivations], bias: UnsafePointer<Float>,
    into out: UnsafeMutablePointer<Float>
  ) {
    let rows = activations[0].rows
    let d = dModel
    ParallelLoop.forEachChunk(count: rows, grain: 8) { range in
      for t in range { (out + t * d).update(from: bias, count: d) }
      for s in 0...target {
        let decoder = matrix(from: s, to: target)
        for t in range {
          let (indices, values) = activations[s].row(t)
          indices.withUnsafeBufferPointer { i in
            values.withUnsafeBufferPointer { v in
              sparse_half_rows_axpy(out + t * d, decoder, d, i.baseAddress, v.baseAddress, i.count, d)
            }
          }
        }
      }
    }
  }
}
