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
 *  - Groups (sched_group; the run groups items by image content when reuse is
 *    on): a model's items of one group are handed out consecutively, in one
 *    chunk -- a chunk ends at a group boundary and is split inside a group only
 *    when that group alone is bigger than the requester's max (or the job's
 *    chunk).  The guided size then counts work, not items: an item whose image
 *    the previous one already had costs SCHED_REPEAT_COST of a full item (its
 *    image encode and all but the question's prefill are reused), and the chunk
 *    takes whole groups until it holds ceil(work left / (2 * ranks)) (1 to
 *    SCHED_MAX_CHUNK) units, so groups of different sizes still balance.
 */
#ifndef MMSAFE_SCHED_H
#define MMSAFE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#define SCHED_MAX_CHUNK 32
#define SCHED_REPEAT_COST 0.1   /* the work of an item whose image the item before had, in full items */

struct sched {
    int n_models, n_ranks, chunk;
    uint32_t **pending;     /* [model] ascending item indices to do (owned) */
    size_t *n_pending;      /* [model] */
    size_t *next;           /* [model] first not handed out */
    int *holders;           /* [model] ranks whose current model it is */
    int *rank_model;        /* [rank] current model or -1 */
    uint32_t **gid;         /* [model] group of each pending entry (NULL: no groups; owned) */
    double *work_left;      /* [model] work not handed out, in full items (with groups) */
};

/* Items in the next chunk of a model with `remaining` items left (see above). */
size_t sched_chunk_size(size_t remaining, int n_ranks, int chunk, int max);
/* max lowered to the items that fit in `seconds` at ms_per_item (at least 1);
 * max itself when the cost is unknown (ms_per_item <= 0) or small. */
int sched_cost_cap(int max, double ms_per_item, double seconds);

/* Takes ownership of pending[m] arrays (malloc'd) and of the pending array itself. */
int sched_init(struct sched *s, int n_models, int n_ranks, int chunk, uint32_t **pending, size_t *n_pending);
void sched_release(struct sched *s);
/* Groups model m's pending items: item_gid[i] is item i's group (e.g. the
 * index of the first item with the same image).  The pending list is reordered
 * so that each group's items are consecutive and ascending, groups in the order
 * of their smallest gid (ascending gid, then item).  Call before any sched_next. */
int sched_group(struct sched *s, int m, const uint32_t *item_gid);
/* Up to max indices for rank; sets *model.  Returns the count; 0 = no work left. */
int sched_next(struct sched *s, int rank, int *model, uint32_t *idx, int max);
size_t sched_remaining(const struct sched *s);
size_t sched_total(const struct sched *s);

#endif
