import CMPI
import Collectives
import Foundation

/// The processes of an `mpirun` job (MPI_COMM_WORLD of Open MPI), as a `Communicator`.
///
/// MPI is joined only when the process was started by mpirun (`launchedByMPIRun`): a normal
/// launch never calls MPI_Init, so the same binary runs alone with no MPI daemon, no network
/// set-up and no singleton start-up cost. The communicator returns errors instead of aborting
/// (MPI_ERRORS_RETURN), so that a rank that finds a peer gone can say so before the job ends.
public final class MPICommunicator: Communicator {
  public let rank: Int
  public let size: Int

  /// Whether this process was started by Open MPI's mpirun (or another launcher that sets the
  /// OMPI_COMM_WORLD_* variables), i.e. whether MPI_Init would find a job to join.
  public static var launchedByMPIRun: Bool {
    ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil
  }

  /// The communicator a tool should train with: this job's when launched by mpirun, otherwise a
  /// `SingleProcess`.
  public static func current() throws -> Communicator {
    launchedByMPIRun ? try MPICommunicator() : SingleProcess()
  }

  /// Joins the job (MPI_Init). Call once per process; `finalize` leaves it.
  public init() throws {
    let status = cltk_mpi_init()
    guard status == MPI_SUCCESS else {
      throw MPIError.initializationFailed(code: status, message: Self.message(for: status))
    }
    rank = Int(cltk_mpi_rank())
    size = Int(cltk_mpi_size())
  }

  /// Leaves the job (MPI_Finalize); every rank must call it before exiting normally, or mpirun
  /// reports the job as failed.
  public func finalize() { _ = cltk_mpi_finalize() }

  public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
    try reduce(values, count, CLTK_MPI_FLOAT, CLTK_MPI_SUM)
  }

  public func sum(_ values: UnsafeMutablePointer<Double>, count: Int) throws {
    try reduce(values, count, CLTK_MPI_DOUBLE, CLTK_MPI_SUM)
  }

  public func sum(_ values: UnsafeMutablePointer<Int64>, count: Int) throws {
    try reduce(values, count, CLTK_MPI_INT64, CLTK_MPI_SUM)
  }

  public func minimum(_ values: UnsafeMutablePointer<Int64>, count: Int) throws {
    try reduce(values, count, CLTK_MPI_INT64, CLTK_MPI_MIN)
  }

  public func maximum(_ values: UnsafeMutablePointer<Int64>, count: Int) throws {
    try reduce(values, count, CLTK_MPI_INT64, CLTK_MPI_MAX)
  }

  public func maximum(_ values: UnsafeMutablePointer<UInt8>, count: Int) throws {
    try reduce(values, count, CLTK_MPI_UINT8, CLTK_MPI_MAX)
  }

  public func gather(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>)
    throws
  {
    precondition(count <= Int(Int32.max), "one gather holds at most 2³¹ − 1 values per rank")
    try check(cltk_mpi_gather_float(local, Int32(count), gathered), "MPI_Allgather")
  }

  public func collect(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>?)
    throws
  {
    precondition(count <= Int(Int32.max), "one gather holds at most 2³¹ − 1 values per rank")
    try check(cltk_mpi_gather_float_to_root(local, Int32(count), gathered), "MPI_Gather")
  }

  public func abort(code: Int32) -> Never {
    _ = cltk_mpi_abort(code)
    exit(code)  // MPI_Abort does not return; this satisfies the type checker
  }

  /// MPI_Allreduce in place. MPI counts are C ints: a reduction over more than 2³¹ − 1 values
  /// (a large decoder's gradient) goes in chunks of 2³⁰.
  private func reduce<T>(_ values: UnsafeMutablePointer<T>, _ count: Int, _ type: Int32, _ op: Int32) throws {
    var start = 0
    while start < count {
      let length = min(count - start, 1 << 30)
      let operation = ["MPI_Allreduce(sum)", "MPI_Allreduce(min)", "MPI_Allreduce(max)"][Int(op)]
      try check(cltk_mpi_allreduce(values + start, Int32(length), type, op), operation)
      start += length
    }
  }

  private func check(_ status: Int32, _ operation: String) throws {
    guard status != MPI_SUCCESS else { return }
    throw MPIError.collectiveFailed(
      operation: operation, rank: rank, size: size, code: status, message: Self.message(for: status))
  }

  private static func message(for code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    cltk_mpi_error_string(code, &buffer, Int32(buffer.count))
    let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: text, as: UTF8.self)
  }
}
