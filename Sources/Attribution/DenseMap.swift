import CBLAS
import Kernels
import LanguageModels

/// An affine map y = x · M + b between row vectors, over a matrix held in a model's own buffer in
/// either layout, possibly as a block of a wider stacked matrix (GPT-2's c_attn columns, Llama's
/// stacked attn_q/k/v rows). Both families' projections go through this one type, so the frozen
/// forward and backward passes are written once.
public struct DenseMap {
  /// Keeps the weight (and bias) storage alive.
  let owner: [FloatBuffer]
  let weight: UnsafePointer<Float>
  let bias: UnsafePointer<Float>?
  /// Input and output widths.
  public let inDim: Int
  public let outDim: Int
  /// Distance between consecutive stored rows of the full matrix the block belongs to.
  let leadingDimension: Int
  /// true: stored (inDim, outDim) as GPT-2's Conv1D; false: stored (outDim, inDim) as nn.Linear and GGUF.
  let inputMajor: Bool

  /// The map of a model's matrix block, sharing its buffers.
  init(_ block: MatrixBlock) {
    owner = [block.buffer] + (block.bias.map { [$0] } ?? [])
    weight = UnsafePointer(block.buffer.pointer + block.offset)
    bias = block.bias.map { UnsafePointer($0.pointer + block.biasOffset) }
    inDim = block.inDim
    outDim = block.outDim
    leadingDimension = block.leadingDimension
    inputMajor = block.inputMajor
  }

  /// out = inp · M + b. inp (rows, inDim), out (rows, outDim).
  func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int) {
    guard rows > 0 else { return }
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, inputMajor ? CblasNoTrans : CblasTrans, Int32(rows), Int32(outDim),
      Int32(inDim), 1, inp, Int32(inDim), weight, Int32(leadingDimension), 0, out, Int32(outDim))
    if let bias { addBias(out, bias: bias, rows: rows, dim: outDim) }
  }

  /// The vector-Jacobian product: gradIn = gradOut · Mᵀ (the bias has no gradient path).
  /// gradOut (rows, outDim), gradIn (rows, inDim).
  func backward(gradIn: UnsafeMutablePointer<Float>, gradOut: UnsafePointer<Float>, rows: Int) {
    guard rows > 0 else { return }
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, inputMajor ? CblasTrans : CblasNoTrans, Int32(rows), Int32(inDim),
      Int32(outDim), 1, gradOut, Int32(outDim), weight, Int32(leadingDimension), 0, gradIn, Int32(inDim))
  }

  /// Column `column` of M: what one output reads from the input (inDim).
  func column(_ column: Int) -> [Float] {
    (0..<inDim).map { i in
      inputMajor ? weight[i * leadingDimension + column] : weight[column * leadingDimension + i]
    }
  }

  /// b · M restricted to nothing: the map's output for a zero input (the bias, or zeros).
  var constant: [Float] {
    bias.map { Array(UnsafeBufferPointer(start: $0, count: outDim)) } ?? [Float](repeating: 0, count: outDim)
  }
}
