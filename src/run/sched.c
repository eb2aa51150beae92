/*
 * sched.c - chunked, model-affine work assignment (see sched.h).
 */
#include "sched.h"
#include "err.h"

#include <math.h>
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
    for (int m = 0; s->gid && m < s->n_models; m++) free(s->gid[m]);
    free(s->gid); free(s->work_left);
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

struct gpair { uint32_t gid, item; };
static int gpair_cmp(const void *a, const void *b)
{
    const struct gpair *x = a, *y = b;
    if (x->gid != y->gid) return x->gid < y->gid ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* The work of pending entry k of model m: a full item when it starts a group. */
static double entry_work(const struct sched *s, int m, size_t k)
{
    return k == 0 || s->gid[m][k] != s->gid[m][k - 1] ? 1.0 : SCHED_REPEAT_COST;
}

int sched_group(struct sched *s, int m, const uint32_t *item_gid)
{
    if (!s->gid) {
        s->gid = calloc((size_t)s->n_models, sizeof *s->gid);
        s->work_left = calloc((size_t)s->n_models, sizeof *s->work_left);
        if (!s->gid || !s->work_left) return err_set(RC_ENOMEM, "out of memory");
    }
    const size_t n = s->n_pending[m];
    struct gpair *p = malloc((n ? n : 1) * sizeof *p);
    free(s->gid[m]);
    s->gid[m] = malloc((n ? n : 1) * sizeof **s->gid);
    if (!p || !s->gid[m]) { free(p); return err_set(RC_ENOMEM, "out of memory"); }
    for (size_t k = 0; k < n; k++) { p[k].item = s->pending[m][k]; p[k].gid = item_gid[p[k].item]; }
    qsort(p, n, sizeof *p, gpair_cmp);
    s->work_left[m] = 0;
    for (size_t k = 0; k < n; k++) { s->pending[m][k] = p[k].item; s->gid[m][k] = p[k].gid; }
    for (size_t k = 0; k < n; k++) s->work_left[m] += entry_work(s, m, k);
    free(p);
    return RC_OK;
}

/* With groups: whole groups up to the guided work (or the job's chunk in items). */
static size_t group_chunk(struct sched *s, int m, int max)
{
    const size_t start = s->next[m], end = s->n_pending[m];
    size_t limit = max >= 0 ? (size_t)max : (size_t)-1;
    double target = 1e300;
    if (s->chunk > 0) {
        if ((size_t)s->chunk < limit) limit = (size_t)s->chunk;
    } else {
        const double per = 2.0 * (s->n_ranks > 0 ? s->n_ranks : 1);
        target = ceil(s->work_left[m] / per - 1e-9);
        if (target > SCHED_MAX_CHUNK) target = SCHED_MAX_CHUNK;
        if (target < 1) target = 1;
    }
    if (limit < 1) limit = 1;
    size_t k = start;
    double work = 0;
    while (k < end && work < target) {
        size_t g = k + 1;
        while (g < end && s->gid[m][g] == s->gid[m][k]) g++;
        if (g - start > limit) {
            if (k == start) k = start + limit;   /* one group bigger than the limit: split it */
            break;
        }
        for (size_t i = k; i < g; i++) work += entry_work(s, m, i);
        k = g;
    }
    return k - start;
}

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
    size_t c = s->gid && s->gid[m] ? group_chunk(s, m, max) : sched_chunk_size(left(s, m), s->n_ranks, s->chunk, max);
    if (s->gid && s->gid[m])
        for (size_t i = s->next[m]; i < s->next[m] + c; i++) s->work_left[m] -= entry_work(s, m, i);
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
