// C shim for the Open MPI C API.
//
// MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE and the other predefined handles are macros
// over casts of Open MPI's global objects (`(MPI_Comm)&ompi_mpi_comm_world`), which Swift cannot
// import. Each collective the Swift wrapper needs is wrapped here in a `static inline` function
// over MPI_COMM_WORLD, so that Swift only sees plain pointers, counts and error codes.
#ifndef CLTK_CMPI_SHIM_H
#define CLTK_CMPI_SHIM_H

#include <mpi.h>
#include <stdint.h>

// MARK: - Life cycle

/// MPI_Init, then MPI_ERRORS_RETURN on MPI_COMM_WORLD so that a failed collective (a rank that
/// died) returns an error the caller can report, instead of aborting inside the library.
static inline int cltk_mpi_init(void) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int status = MPI_Init(NULL, NULL);
    if (status != MPI_SUCCESS) return status;
  }
  return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

static inline int cltk_mpi_finalize(void) { return MPI_Finalize(); }

static inline int cltk_mpi_rank(void) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

static inline int cltk_mpi_size(void) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

static inline int cltk_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

/// The library's text for an error code, into `buffer` (at least MPI_MAX_ERROR_STRING bytes).
static inline void cltk_mpi_error_string(int code, char *buffer, int capacity) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (capacity <= 0) return;
  buffer[0] = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return;
  if (length >= capacity) length = capacity - 1;
  for (int i = 0; i < length; i++) buffer[i] = text[i];
  buffer[length] = 0;
}

// MARK: - Collectives over MPI_COMM_WORLD

// Element types and operations of `cltk_mpi_allreduce`, as plain integers Swift imports.
#define CLTK_MPI_FLOAT 0
#define CLTK_MPI_DOUBLE 1
#define CLTK_MPI_INT64 2
#define CLTK_MPI_UINT8 3
#define CLTK_MPI_SUM 0
#define CLTK_MPI_MIN 1
#define CLTK_MPI_MAX 2

/// MPI_Allreduce in place: values ← the element-wise `op` of every rank's `count` values.
static inline int cltk_mpi_allreduce(void *values, int count, int type, int op) {
  MPI_Datatype datatype = type == CLTK_MPI_FLOAT    ? MPI_FLOAT
                          : type == CLTK_MPI_DOUBLE ? MPI_DOUBLE
                          : type == CLTK_MPI_INT64  ? MPI_INT64_T
                                                    : MPI_UINT8_T;
  MPI_Op operation = op == CLTK_MPI_SUM ? MPI_SUM : op == CLTK_MPI_MIN ? MPI_MIN : MPI_MAX;
  return MPI_Allreduce(MPI_IN_PLACE, values, count, datatype, operation, MPI_COMM_WORLD);
}

/// Every rank's `count` floats, in rank order, into `gathered` (size · count floats).
static inline int cltk_mpi_gather_float(const float *local, int count, float *gathered) {
  return MPI_Allgather(local, count, MPI_FLOAT, gathered, count, MPI_FLOAT, MPI_COMM_WORLD);
}

/// Every rank's `count` floats, in rank order, into rank 0's `gathered` (ignored elsewhere).
static inline int cltk_mpi_gather_float_to_root(const float *local, int count, float *gathered) {
  return MPI_Gather(local, count, MPI_FLOAT, gathered, count, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

#endif
