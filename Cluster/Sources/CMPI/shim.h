// MPI for Swift: Open MPI's handles (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, ...) are macros over the
// addresses of global objects, which Swift cannot import; these functions return them.
#ifndef ENGRAM_CMPI_SHIM_H
#define ENGRAM_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm engram_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype engram_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype engram_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype engram_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype engram_mpi_int16(void) { return MPI_INT16_T; }
static inline MPI_Op engram_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op engram_mpi_max(void) { return MPI_MAX; }
static inline MPI_Errhandler engram_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *engram_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int engram_mpi_success(void) { return MPI_SUCCESS; }
static inline int engram_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }

#endif
