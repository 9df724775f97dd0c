/// The few collective operations that training across processes needs, over a fixed group of
/// `size` processes numbered 0 ..< size (MPI's ranks).
///
/// Training code is written once against this protocol: `SingleProcess` makes every operation a
/// no-op, so a normal launch pays nothing and needs no MPI, and `MPICommunicator` (in the
/// MPICollectives target, which alone links Open MPI) runs them with MPI_Allreduce and friends.
/// Every operation is collective: every rank must call it, in the same order, with the same
/// count, or the job hangs.
public protocol Communicator: AnyObject {
  /// This process's number, 0 ..< size.
  var rank: Int { get }
  /// The number of processes training together.
  var size: Int { get }

  /// values ← the element-wise sum of every rank's `values`.
  func sum(_ values: UnsafeMutablePointer<Float>, count: Int) throws
  /// values ← the element-wise sum of every rank's `values`.
  func sum(_ values: UnsafeMutablePointer<Double>, count: Int) throws
  /// values ← the element-wise sum of every rank's `values`.
  func sum(_ values: UnsafeMutablePointer<Int64>, count: Int) throws
  /// values ← the element-wise minimum of every rank's `values`.
  func minimum(_ values: UnsafeMutablePointer<Int64>, count: Int) throws
  /// values ← the element-wise maximum of every rank's `values`.
  func maximum(_ values: UnsafeMutablePointer<Int64>, count: Int) throws
  /// values ← the element-wise maximum of every rank's `values` (a logical or of 0/1 masks).
  func maximum(_ values: UnsafeMutablePointer<UInt8>, count: Int) throws
  /// gathered[r · count ..< (r + 1) · count] ← rank r's `local`, for every rank r.
  func gather(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>) throws
  /// At rank 0 only, gathered[r · count ..< (r + 1) · count] ← rank r's `local` (`gathered` is
  /// nil elsewhere): assembling at one process what the processes hold in slices.
  func collect(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>?) throws
  /// Stops every process of the job with `code` (after the caller has said why).
  func abort(code: Int32) -> Never
}

extension Communicator {
  /// Whether this process is rank 0, the one that writes files and prints progress.
  public var isRoot: Bool { rank == 0 }

  /// Whether more than one process takes part (collectives do something).
  public var isDistributed: Bool { size > 1 }

  /// Every element summed over the ranks, for Swift arrays.
  public func sum(_ values: inout [Double]) throws {
    let count = values.count
    try values.withUnsafeMutableBufferPointer { try sum($0.baseAddress!, count: count) }
  }

  /// Every element summed over the ranks, for Swift arrays.
  public func sum(_ values: inout [Int64]) throws {
    let count = values.count
    try values.withUnsafeMutableBufferPointer { try sum($0.baseAddress!, count: count) }
  }

  /// The smallest of every rank's `value`.
  public func minimum(_ value: Int64) throws -> Int64 {
    var v = value
    try minimum(&v, count: 1)
    return v
  }

  /// The largest of every rank's `value`.
  public func maximum(_ value: Int64) throws -> Int64 {
    var v = value
    try maximum(&v, count: 1)
    return v
  }

  /// The sum of every rank's `value`.
  public func sum(_ value: Double) throws -> Double {
    var v = value
    try sum(&v, count: 1)
    return v
  }
}
