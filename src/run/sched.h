/*
 * sched.h - the work queue's arithmetic: which (model, items) a rank gets
 * next.  Pure (no MPI); comm_mpi.c serves it to the ranks.
 *  - The unit of work is (model, item).  Items without a final verdict are
 *    handed out in ascending order, in chunks.
 *  - Model affinity: a rank keeps the model it has loaded while that model has
 *    work; then it moves to the model with the most work left per rank already
 *    holding it (so ranks spread over models instead of all loading the same).
 *  - Chunk size: job "chunk" when > 0, else guided: remaining / (2 * ranks)
 *    rounded up, between 1 and SCHED_MAX_CHUNK, so the tail is balanced when
 *    item costs vary; never more than what is left of the model, nor more than
 *    the requester's max, which comm_mpi.c first lowers with sched_cost_cap to
 *    about WQ_CHUNK_SECONDS of work at the rank's reported cost per item.
 */
#ifndef MMSAFE_SCHED_H
#define MMSAFE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#define SCHED_MAX_CHUNK 32

struct sched {
    int n_models, n_ranks, chunk;
    uint32_t **pending;     /* [model] ascending item indices to do (owned) */
    size_t *n_pending;      /* [model] */
    size_t *next;           /* [model] first not handed out */
    int *holders;           /* [model] ranks whose current model it is */
    int *rank_model;        /* [rank] current model or -1 */
};

/* Items in the next chunk of a model with `remaining` items left (see above). */
size_t sched_chunk_size(size_t remaining, int n_ranks, int chunk, int max);
/* max lowered to the items that fit in `seconds` at ms_per_item (at least 1);
 * max itself when the cost is unknown (ms_per_item <= 0) or small. */
int sched_cost_cap(int max, double ms_per_item, double seconds);

/* Takes ownership of pending[m] arrays (malloc'd) and of the pending array itself. */
int sched_init(struct sched *s, int n_models, int n_ranks, int chunk, uint32_t **pending, size_t *n_pending);
void sched_release(struct sched *s);
/* Up to max indices for rank; sets *model.  Returns the count; 0 = no work left. */
int sched_next(struct sched *s, int rank, int *model, uint32_t *idx, int max);
size_t sched_remaining(const struct sched *s);
size_t sched_total(const struct sched *s);

#endif
