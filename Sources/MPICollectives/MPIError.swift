import Foundation

/// Why an MPI call failed, with what to do about it.
public enum MPIError: Error, LocalizedError, Equatable {
  /// MPI_Init failed: the process was started by mpirun but cannot join the job.
  case initializationFailed(code: Int32, message: String)
  /// A collective returned an error: almost always another rank has died (killed, out of
  /// memory, or stopped by its own error, which it printed), so this one cannot go on either.
  case collectiveFailed(operation: String, rank: Int, size: Int, code: Int32, message: String)

  public var errorDescription: String? {
    switch self {
    case .initializationFailed(let code, let message):
      return "MPI_Init failed (error \(code): \(message)); launch with `mpirun -np N clt-fit ...` from an "
        + "Open MPI 4 installation, or run without mpirun for a single process"
    case .collectiveFailed(let operation, let rank, let size, let code, let message):
      return "rank \(rank) of \(size): \(operation) failed (error \(code): \(message)); another rank has "
        + "most likely died (see its message or mpirun's above); the last checkpoint is intact: "
        + "rerun the same mpirun command with --resume CHECKPOINT"
    }
  }
}
