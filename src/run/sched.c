/*
 * sched.c - chunked, model-affine work assignment (see sched.h).
 */
#include "sched.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

int sched_init(struct sched *s, int n_models, int n_ranks, int chunk, uint32_t **pending, size_t *n_pending)
{
    memset(s, 0, sizeof *s);
    s->n_models = n_models;
    s->n_ranks = n_ranks;
    s->chunk = chunk;
    s->pending = pending;
    s->n_pending = n_pending;
    s->next = calloc((size_t)n_models, sizeof *s->next);
    s->holders = calloc((size_t)n_models, sizeof *s->holders);
    s->rank_model = malloc((size_t)n_ranks * sizeof *s->rank_model);
    if (!s->next || !s->holders || !s->rank_model) return err_set(RC_ENOMEM, "out of memory");
    for (int r = 0; r < n_ranks; r++) s->rank_model[r] = -1;
    return RC_OK;
}

void sched_release(struct sched *s)
{
    if (!s) return;
    for (int m = 0; s->pending && m < s->n_models; m++) free(s->pending[m]);
    free(s->pending); free(s->n_pending); free(s->next); free(s->holders); free(s->rank_model);
    memset(s, 0, sizeof *s);
}

size_t sched_chunk_size(size_t remaining, int n_ranks, int chunk, int max)
{
    size_t c = (size_t)chunk;
    if (chunk <= 0) {
        size_t per = 2 * (size_t)(n_ranks > 0 ? n_ranks : 1);
        c = (remaining + per - 1) / per;
        if (c > SCHED_MAX_CHUNK) c = SCHED_MAX_CHUNK;
        if (c < 1) c = 1;
    }
    if (c > remaining) c = remaining;
    if (max >= 0 && c > (size_t)max) c = (size_t)max;
    return c;
}

int sched_cost_cap(int max, double ms_per_item, double seconds)
{
    if (ms_per_item > 0) {
        double fit = seconds * 1000.0 / ms_per_item;
        if (fit < max) max = fit < 1 ? 1 : (int)fit;
    }
    return max;
}

static size_t left(const struct sched *s, int m) { return s->n_pending[m] - s->next[m]; }

int sched_next(struct sched *s, int rank, int *model, uint32_t *idx, int max)
{
    int cur = s->rank_model[rank];
    int m = -1;
    if (cur >= 0 && left(s, cur) > 0) {
        m = cur;
    } else {
        double best = 0;
        for (int k = 0; k < s->n_models; k++) {
            if (!left(s, k)) continue;
            double per = (double)left(s, k) / (double)(s->holders[k] + 1);
            if (m < 0 || per > best) { best = per; m = k; }
        }
    }
    if (cur >= 0 && cur != m) s->holders[cur]--;
    if (m < 0) { s->rank_model[rank] = -1; *model = -1; return 0; }
    if (cur != m) s->holders[m]++;
    s->rank_model[rank] = m;
    size_t c = sched_chunk_size(left(s, m), s->n_ranks, s->chunk, max);
    memcpy(idx, s->pending[m] + s->next[m], c * sizeof *idx);
    s->next[m] += c;
    *model = m;
    return (int)c;
}

size_t sched_remaining(const struct sched *s)
{
    size_t n = 0;
    for (int m = 0; m < s->n_models; m++) n += left(s, m);
    return n;
}

size_t sched_total(const struct sched *s)
{
    size_t n = 0;
    for (int m = 0; m < s->n_models; m++) n += s->n_pending[m];
    return n;
}
