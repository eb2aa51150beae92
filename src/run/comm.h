/*
 * comm.h - everything the program needs from MPI, behind plain functions, so
 * that comm_mpi.c is the only file that includes <mpi.h>.  Collective
 * functions say so: every rank must call them, in the same order.
 *
 * The work queue: rank 0 owns a struct sched and serves chunks to every rank,
 * itself included.  With MPI_THREAD_MULTIPLE a server thread on rank 0 answers
 * requests (polling every ~100 us, so it costs no core) while rank 0's main
 * thread evaluates items like any other rank.  Without it, rank 0 only serves.
 * Requests are plain point-to-point messages on a private communicator, so the
 * queue works over any transport (shared memory, TCP, InfiniBand).
 */
#ifndef MMSAFE_COMM_H
#define MMSAFE_COMM_H

#include "sched.h"

#include <stddef.h>
#include <stdint.h>

struct comm;

/* Initialises MPI (a singleton when not launched by mpirun/srun).  Collective. */
int comm_init(int *argc, char ***argv, struct comm **c /* out */);
/* Finalises MPI; frees c. Collective. */
void comm_finalize(struct comm *c);
/* Ends every rank at once: for when a collective can no longer be reached. */
void comm_abort(struct comm *c, int code) __attribute__((noreturn));
int comm_rank(const struct comm *c);
int comm_size(const struct comm *c);
/* The MPI_Comm (for the HDF5 MPI-IO driver), as an opaque pointer to it. */
void *comm_mpi_comm(struct comm *c);
void *comm_mpi_info_null(void);

/* Collective.  Root's (*buf, *len) goes to all; others get a malloc'd copy. */
int comm_bcast_bytes(struct comm *c, char **buf, size_t *len, int root);
/* Collective agreement on a return code: every rank gets the largest rc, and
 * the lowest rank's message that had it (so all ranks can print the same). */
int comm_agree(struct comm *c, int rc);
int comm_allreduce_sum_i64(struct comm *c, int64_t *v, size_t n);
int comm_allreduce_max_f32(struct comm *c, float *v, size_t n);
int comm_allreduce_max_i32(struct comm *c, int32_t *v, size_t n);
/* Collective: every rank's host name, comma-separated, unique, malloc'd. */
int comm_hosts(struct comm *c, char **out);
/* Collective: every rank's string (cut at 255 bytes), comma-separated, unique, in rank order, malloc'd. */
int comm_gather_unique(struct comm *c, const char *mine, char **out);
int comm_barrier(struct comm *c);

/* --- work queue ---------------------------------------------------------- */
enum { WQ_DRAIN = 1, WQ_FATAL = 2 };

/* Collective.  s and tick are used on rank 0 only (s may be NULL elsewhere);
 * tick(arg) is called about every 0.25 s from rank 0's server thread. */
int wq_start(struct comm *c, struct sched *s, void (*tick)(void *arg), void *arg);
/* Any rank: asks for work.  n_done = items this rank finished since its last
 * request, ms_per_item their mean cost (0: unknown); flags: WQ_DRAIN (a signal
 * asked us to stop), WQ_FATAL (a run-level error here).  Chunks are sized to
 * about WQ_CHUNK_SECONDS of work at the reported cost (finer progress and
 * balance for slow models, fewer requests for fast ones).  Returns the number
 * of indices written to idx (0 = stop). */
#define WQ_CHUNK_SECONDS 2.0
int wq_next(struct comm *c, int n_done, double ms_per_item, int flags, int *model, uint32_t *idx, int max);
/* Items done so far by all ranks (rank 0 only; as reported with requests). */
size_t wq_done(struct comm *c);
/* 1 if rank 0 evaluates items itself (see above). */
int wq_rank0_works(struct comm *c);
/* 1 once any rank asked to drain or failed (rank 0 only). */
int wq_stopped(struct comm *c);
/* Collective: waits for rank 0's server to finish serving every rank. */
int wq_finish(struct comm *c);

/* While the queue is served by a thread, every other MPI use on rank 0 (the
 * results file's MPI-IO writes) goes between these: Open MPI 4.1's shared-
 * memory transport crashed intermittently (SIGSEGV in the vader BTL's
 * fragment polling) when the server thread's MPI_Test and an MPI-IO write
 * progressed at the same time, although MPI_THREAD_MULTIPLE was granted. */
void comm_mpi_enter(struct comm *c);
void comm_mpi_leave(struct comm *c);

#endif
