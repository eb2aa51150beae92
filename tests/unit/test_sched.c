/* The work queue's arithmetic: every (model, item) handed out exactly once,
 * model affinity, chunk bounds. */
#include "sched.h"
#include "t.h"

static int run_case(int n_models, int n, int size, int chunk, unsigned seed)
{
    uint32_t **pend = calloc((size_t)n_models, sizeof *pend);
    size_t *np = calloc((size_t)n_models, sizeof *np);
    for (int m = 0; m < n_models; m++) {
        pend[m] = malloc((size_t)n * sizeof **pend + 4);
        for (int i = 0; i < n; i++) if ((i + m) % 5 != 3) pend[m][np[m]++] = (uint32_t)i;  /* some already done */
    }
    size_t expect = 0;
    for (int m = 0; m < n_models; m++) expect += np[m];
    struct sched s;
    sched_init(&s, n_models, size, chunk, pend, np);
    int *seen = calloc((size_t)(n_models * n), sizeof *seen);
    int cur[8], ok = 1, switches = 0;
    for (int r = 0; r < size; r++) cur[r] = -1;
    size_t got = 0;
    uint32_t idx[256];
    for (int step = 0; step < 100000; step++) {
        int r = (int)(rand_r(&seed) % (unsigned)size), model;
        int k = sched_next(&s, r, &model, idx, 256);
        if (k == 0) { int any = 0; for (int q = 0; q < size; q++) { int mm; uint32_t x[1]; any |= sched_next(&s, q, &mm, x, 1) > 0; } if (!any) break; else { ok = 0; break; } }
        if (chunk > 0 && k > chunk) ok = 0;
        if (k > SCHED_MAX_CHUNK && chunk == 0) ok = 0;
        if (cur[r] >= 0 && model != cur[r]) {
            /* switching is only allowed when the old model has nothing left */
            size_t left = s.n_pending[cur[r]] - s.next[cur[r]];
            if (left) ok = 0;
            switches++;
        }
        cur[r] = model;
        for (int i = 0; i < k; i++) {
            if (i && idx[i] <= idx[i - 1]) ok = 0;       /* ascending within a chunk */
            seen[model * n + (int)idx[i]]++;
            got++;
        }
    }
    for (int m = 0; m < n_models; m++)
        for (int i = 0; i < n; i++)
            if (seen[m * n + i] != ((i + m) % 5 != 3)) ok = 0;
    if (got != expect || sched_remaining(&s) != 0) ok = 0;
    free(seen);
    sched_release(&s);
    return ok;
}

int main(void)
{
    t_name = "test_sched";
    int bad = 0, cases = 0;
    for (int n = 1; n <= 50; n++)
        for (int size = 1; size <= 8; size++)
            for (int models = 1; models <= 3; models++)
                for (int chunk = 0; chunk <= 3; chunk += 3) {
                    cases++;
                    if (!run_case(models, n, size, chunk, (unsigned)(n * 131 + size * 7 + models))) {
                        bad++;
                        if (bad < 5) fprintf(stderr, "case n=%d size=%d models=%d chunk=%d failed\n", n, size, models, chunk);
                    }
                }
    CHECK_EQ_I(bad, 0, "every (model, item) handed out exactly once, affinity kept, for n<=50, ranks<=8, models<=3");
    CHECK_T(cases == 50 * 8 * 3 * 2, "all cases ran");

    /* Ranks spread over models instead of all loading the same one. */
    uint32_t **pend = calloc(2, sizeof *pend);
    size_t *np = calloc(2, sizeof *np);
    for (int m = 0; m < 2; m++) { pend[m] = malloc(100 * 4); for (int i = 0; i < 100; i++) pend[m][np[m]++] = (uint32_t)i; }
    struct sched s;
    sched_init(&s, 2, 2, 0, pend, np);
    int m0, m1;
    uint32_t idx[64];
    sched_next(&s, 0, &m0, idx, 64);
    sched_next(&s, 1, &m1, idx, 64);
    CHECK_T(m0 != m1, "two ranks, two models: each starts on its own model");
    int k = sched_next(&s, 0, &m0, idx, 64);
    CHECK_T(k >= 1 && k <= SCHED_MAX_CHUNK, "guided chunk within bounds");
    sched_release(&s);
    return t_done();
}
