import Foundation

/// cos and sin of every rotary angle, interleaved: table[(p · ropeDim/2 + i) · 2 + {0, 1}] =
/// {cos, sin}(p · θ_i) with θ_i = base^(-2i / ropeDim), for positions 0 ..< positions. Angles are
/// computed in Double, so the table is exact to float precision even at long positions.
/// Returns (positions, ropeDim/2, 2).
public func ropeTable(base: Double, ropeDim: Int, positions: Int) -> [Float] {
  let pairs = ropeDim / 2
  let inverseFrequencies = (0..<pairs).map { i in pow(base, -Double(2 * i) / Double(ropeDim)) }
  var table = [Float](repeating: 0, count: positions * pairs * 2)
  for p in 0..<positions {
    for i in 0..<pairs {
      let angle = Double(p) * inverseFrequencies[i]
      table[(p * pairs + i) * 2] = Float(cos(angle))
      table[(p * pairs + i) * 2 + 1] = Float(sin(angle))
    }
  }
  return table
}

/// Rotary position embedding in place, on ADJACENT pairs: within each head, elements (2i, 2i+1)
/// rotate by p · θ_i. This is ggml's "normal" RoPE mode (LLAMA_ROPE_TYPE_NORM), which GGUF Llama
/// files are written for: llama.cpp's converter permutes the attn_q / attn_k rows so that the pair
/// Hugging Face's `rotate_half` rotates together (i, i + headDim/2) lands on rows (2i, 2i+1).
/// Elements at ropeDim ..< headDim of a head pass through unchanged.
///
/// x (rows, ld) with `heads` heads of headDim at columns h·headDim; row r sits at position
/// firstPosition + r % period (period = window length restarts positions for each window of a
/// batch); table from `ropeTable` covering every position reached.
public func ropeForward(
  _ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, heads: Int, headDim: Int, ropeDim: Int,
  firstPosition: Int, period: Int, table: UnsafePointer<Float>
) {
  let pairs = ropeDim / 2
  ParallelLoop.forEachChunk(count: rows, grain: max(1, 16384 / max(heads * headDim, 1))) { range in
    for r in range {
      let angles = table + (firstPosition + r % period) * pairs * 2
      for h in 0..<heads {
        let v = x + r * ld + h * headDim
        for i in 0..<pairs {
          let c = angles[2 * i]
          let s = angles[2 * i + 1]
          let a = v[2 * i]
          let b = v[2 * i + 1]
          v[2 * i] = a * c - b * s
          v[2 * i + 1] = a * s + b * c
        }
      }
    }
  }
}
