import ActivationShards
import Foundation
import Transcoder

/// Activations generated from a known sparse cross-layer dictionary, written as shards: per layer
/// l, `perLayer` true features with encoder directions E[l]_i (unit vectors in d dimensions) and
/// decoders D[l→l']_i; each token activates each true feature with probability p, with a positive
/// magnitude a. Then x[l] = Σ_i a[l]_i E[l]_i and y[l'] = Σ_{l ≤ l'} Σ_i a[l]_i D[l→l']_i, which a
/// CLT with enough features reproduces exactly.
struct SyntheticDictionary {
  let nLayers: Int
  let dModel: Int
  let perLayer: Int
  let probability: Double
  var generator: XorShiftGenerator

  init(
    nLayers: Int = 2, dModel: Int = 16, perLayer: Int = 16, probability: Double = 3.0 / 32, seed: UInt64 = 1
  ) {
    self.nLayers = nLayers
    self.dModel = dModel
    self.perLayer = perLayer
    self.probability = probability
    generator = XorShiftGenerator(seed: seed)
    encoders = []
    decoders = []
    for _ in 0..<nLayers { encoders.append((0..<perLayer).map { _ in unitVector() }) }
    for l in 0..<nLayers {
      decoders.append((l..<nLayers).map { _ in (0..<perLayer).map { _ in unitVector() } })
    }
  }

  /// E[l][i] and D[l][l' − l][i].
  var encoders: [[[Float]]]
  var decoders: [[[[Float]]]]

  mutating func unitVector() -> [Float] {
    let v = (0..<dModel).map { _ in Float.random(in: -1...1, using: &generator) }
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return v.map { $0 / norm }
  }

  /// Writes `shards` shards of `rows` tokens to `directory` and returns their URLs.
  mutating func writeShards(
    to directory: URL, shards: Int, rows: Int, model: String = "synthetic",
    sha: String = String(repeating: "a", count: 64), nanRows: Int = 0, outlierRows: Int = 0
  ) throws -> [URL] {
    let metadata = ShardMetadata(
      architecture: "synthetic", model: model, modelSHA256: sha, nLayers: nLayers, dModel: dModel,
      context: rows,
      dtype: .f32, inputTap: "synthetic x", outputTap: "synthetic y", createdBy: "CLTFitTests")
    let writer = try ShardWriter(directory: directory, metadata: metadata, rowsPerShard: rows)
    var urls: [URL] = []
    for _ in 0..<shards {
      // Layer-major (nLayers, rows, dModel), as ShardWriter.append takes them.
      var x = [Float](repeating: 0, count: nLayers * rows * dModel)
      var y = x
      for t in 0..<rows {
        for l in 0..<nLayers {
          for i in 0..<perLayer where Double.random(in: 0..<1, using: &generator) < probability {
            let a = Float.random(in: 0.5...2, using: &generator)
            for j in 0..<dModel { x[(l * rows + t) * dModel + j] += a * encoders[l][i][j] }
            for target in l..<nLayers {
              let dec = decoders[l][target - l][i]
              for j in 0..<dModel { y[(target * rows + t) * dModel + j] += a * dec[j] }
            }
          }
        }
      }
      for t in 0..<min(nanRows, rows) { x[t * dModel] = .nan }  // layer 0 of the first rows
      // Massive outputs: the last layer's first rows, 1000 times their size.
      for t in 0..<min(outlierRows, rows) {
        for j in 0..<dModel { y[((nLayers - 1) * rows + t) * dModel + j] *= 1000 }
      }
      let tokens = [Int32](repeating: 0, count: rows)
      let positions = (0..<rows).map { Int32($0) }
      urls += try tokens.withUnsafeBufferPointer { t in
        try positions.withUnsafeBufferPointer { p in
          try tokens.withUnsafeBufferPointer { w in
            try writer.append(tokens: t, positions: p, windows: w, mlpIn: x, mlpOut: y)
          }
        }
      }
    }
    urls += try writer.finish()
    return urls
  }
}
