/* The work queue's arithmetic: every (model, item) handed out exactly once,
 * model affinity, and the exact chunk sizes the documented rules give (job
 * chunk, the guided formula, the tail, the ~WQ_CHUNK_SECONDS cost cap). */
#include "comm.h"
#include "sched.h"
#include "t.h"

/* One model of n items, ranks asking in turn, each with max lowered by the
 * cost cap at ms per item (what comm_mpi.c's take_work does): the chunk sizes
 * must be exactly want[], the indices 0..n-1 in order. */
static void check_seq(const char *desc, int n, int ranks, int chunk, int max, double ms, const int *want, int nwant)
{
    uint32_t **pend = calloc(1, sizeof *pend);
    size_t *np = calloc(1, sizeof *np);
    pend[0] = malloc((size_t)n * sizeof **pend);
    for (int i = 0; i < n; i++) pend[0][np[0]++] = (uint32_t)i;
    struct sched s;
    sched_init(&s, 1, ranks, chunk, pend, np);
    uint32_t *idx = malloc((size_t)(max > 0 ? max : 1) * sizeof *idx);
    int got[256], ngot = 0, next = 0, order = 1;
    for (int step = 0; step < 256; step++) {
        int model, k = sched_next(&s, step % ranks, &model, idx, sched_cost_cap(max, ms, WQ_CHUNK_SECONDS));
        if (k == 0) break;
        got[ngot++] = k;
        for (int i = 0; i < k; i++) order &= idx[i] == (uint32_t)next++;
    }
    int same = ngot == nwant;
    for (int i = 0; same && i < ngot; i++) same = got[i] == want[i];
    char d[1200];
    int o = snprintf(d, sizeof d, "%s: got", desc);
    for (int i = 0; i < ngot && o < 1100; i++) o += snprintf(d + o, sizeof d - (size_t)o, " %d", got[i]);
    CHECK_T(same, d);
    CHECK_T(order && next == n, desc);
    free(idx);
    sched_release(&s);
}

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

/* Groups (sched_group): n items, group of item i = gid[i]; ranks ask in turn with
 * max; every item once, each group's items consecutive and ascending, groups in
 * the order of their gid, and a chunk holds whole groups unless one group alone
 * is over max.  Returns 1 when all hold. */
static int group_case(int n, const uint32_t *gid, int ranks, int chunk, int max, int *n_chunks)
{
    uint32_t **pend = calloc(1, sizeof *pend);
    size_t *np = calloc(1, sizeof *np);
    pend[0] = malloc((size_t)n * sizeof **pend + 4);
    for (int i = 0; i < n; i++) if (i % 7 != 5) pend[0][np[0]++] = (uint32_t)i;   /* some already done */
    struct sched s;
    sched_init(&s, 1, ranks, chunk, pend, np);
    sched_group(&s, 0, gid);
    uint32_t *order = malloc((size_t)n * sizeof *order), idx[512];
    int *seen = calloc((size_t)n, sizeof *seen), got = 0, ok = 1, nc = 0;
    for (int step = 0; step < 100000; step++) {
        int model, k = sched_next(&s, step % ranks, &model, idx, max);
        if (k == 0) break;
        nc++;
        if (k > max || (chunk > 0 && k > chunk)) ok = 0;
        /* whole groups: the chunk does not end inside a group unless it is full */
        if (k < max && (chunk <= 0 || k < chunk) && s.next[0] < s.n_pending[0] &&
            gid[s.pending[0][s.next[0]]] == gid[idx[k - 1]]) ok = 0;
        for (int i = 0; i < k; i++) { seen[idx[i]]++; order[got++] = idx[i]; }
    }
    for (int i = 0; i < n; i++) if (seen[i] != (i % 7 != 5)) ok = 0;
    for (int i = 1; i < got; i++) {
        if (gid[order[i]] < gid[order[i - 1]]) ok = 0;                                /* groups in gid order */
        if (gid[order[i]] == gid[order[i - 1]] && order[i] < order[i - 1]) ok = 0;   /* ascending inside */
    }
    free(order); free(seen);
    sched_release(&s);
    if (n_chunks) *n_chunks = nc;
    return ok;
}

/* Balance with groups: 2..4 ranks, groups of 1..12 items whose first item costs 1 and
 * the others SCHED_REPEAT_COST; the rank that is free first asks next (max 128).  The
 * ranks must finish within the largest group's work of each other. */
static double balance_case(int ranks, unsigned seed, double *biggest)
{
    enum { N = 1500 };
    uint32_t *gid = malloc(N * sizeof *gid);
    double big = 0;
    for (int i = 0; i < N;) {
        int sz = 1 + (int)(rand_r(&seed) % 12);
        for (int k = 0; k < sz && i < N; k++, i++) gid[i] = (uint32_t)(i - k);
        double w = 1 + (sz - 1) * SCHED_REPEAT_COST;
        if (w > big) big = w;
    }
    /* shuffle the items of the groups over the manifest, as a real release lists them */
    uint32_t *perm = malloc(N * sizeof *perm), *g2 = malloc(N * sizeof *g2);
    for (int i = 0; i < N; i++) perm[i] = (uint32_t)i;
    for (int i = N - 1; i > 0; i--) { int j = (int)(rand_r(&seed) % (unsigned)(i + 1)); uint32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    for (int i = 0; i < N; i++) g2[perm[i]] = perm[gid[i]];
    uint32_t **pend = calloc(1, sizeof *pend);
    size_t *np = calloc(1, sizeof *np);
    pend[0] = malloc(N * sizeof **pend);
    for (int i = 0; i < N; i++) pend[0][np[0]++] = (uint32_t)i;
    struct sched s;
    sched_init(&s, 1, ranks, 0, pend, np);
    sched_group(&s, 0, g2);
    double clock[8] = { 0 };
    uint32_t idx[128];
    for (;;) {
        int r = 0, model;
        for (int q = 1; q < ranks; q++) if (clock[q] < clock[r]) r = q;
        int k = sched_next(&s, r, &model, idx, 128);
        if (k == 0) break;
        for (int i = 0; i < k; i++) clock[r] += i == 0 || g2[idx[i]] != g2[idx[i - 1]] ? 1.0 : SCHED_REPEAT_COST;
    }
    double lo = clock[0], hi = clock[0];
    for (int q = 1; q < ranks; q++) { if (clock[q] < lo) lo = clock[q]; if (clock[q] > hi) hi = clock[q]; }
    sched_release(&s);
    free(gid); free(perm); free(g2);
    *biggest = big;
    return hi - lo;
}

int main(void)
{
    t_name = "test_sched";
    int bad = 0;
    for (int n = 1; n <= 50; n++)
        for (int size = 1; size <= 8; size++)
            for (int models = 1; models <= 3; models++)
                for (int chunk = 0; chunk <= 3; chunk += 3) {
                    if (!run_case(models, n, size, chunk, (unsigned)(n * 131 + size * 7 + models))) {
                        bad++;
                        if (bad < 5) fprintf(stderr, "case n=%d size=%d models=%d chunk=%d failed\n", n, size, models, chunk);
                    }
                }
    CHECK_EQ_I(bad, 0, "every (model, item) handed out exactly once, affinity kept, for n<=50, ranks<=8, models<=3");

    /* The guided rule: ceil(remaining / (2 * ranks)), between 1 and 32, at most what is left.
     * 100 items, 2 ranks: ceil(100/4)=25, then 75 -> 19, 56 -> 14, 42 -> 11 (10.5),
     * 31 -> 8, 23 -> 6, 17 -> 5, 12 -> 3, 9 -> 3, 6 -> 2, 4 -> 1, 3 -> 1, 2 -> 1, 1 -> 1. */
    static const int g100[] = { 25, 19, 14, 11, 8, 6, 5, 3, 3, 2, 1, 1, 1, 1 };
    check_seq("guided, 100 items, 2 ranks", 100, 2, 0, 128, 0, g100, 14);
    /* 1000 items, 4 ranks: 32 (the cap) while ceil(r/8) > 32, i.e. 24 times down to
     * 232; then 29, 203 -> 26, 177 -> 23, 154 -> 20, 134 -> 17, 117 -> 15, 102 -> 13,
     * 89 -> 12, 77 -> 10, 67 -> 9, 58 -> 8, 50 -> 7, 43 -> 6, 37 -> 5, 32 -> 4, 28 -> 4,
     * 24 -> 3, 21 -> 3, 18 -> 3, 15 -> 2, 13 -> 2, 11 -> 2, 9 -> 2, then 7 ones. */
    static const int g1000[] = { 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
                                 32, 32, 32, 32, 29, 26, 23, 20, 17, 15, 13, 12, 10, 9, 8, 7, 6, 5, 4, 4,
                                 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1 };
    check_seq("guided, 1000 items, 4 ranks (cap 32)", 1000, 4, 0, 128, 0, g1000, (int)(sizeof g1000 / sizeof *g1000));
    /* The job's chunk: that size every time, the rest last; not capped at 32. */
    static const int c3[] = { 3, 3, 3, 1 }, c50[] = { 50, 50, 20 };
    check_seq("job chunk 3, 10 items", 10, 2, 3, 128, 0, c3, 4);
    check_seq("job chunk 50, 120 items, 3 ranks", 120, 3, 50, 128, 0, c50, 3);
    /* The requester's max: 100 items, 1 rank, max 7: guided ceil(r/2) is >= 7 while
     * r >= 13, i.e. 13 chunks of 7 down to 9; then 9 -> 5, 4 -> 2, 2 -> 1, 1 -> 1. */
    static const int m7[] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 5, 2, 1, 1 };
    check_seq("guided, 1 rank, max 7", 100, 1, 0, 7, 0, m7, 17);
    /* The cost cap: 100 ms per item fits 2000/100 = 20 items in WQ_CHUNK_SECONDS = 2 s:
     * 100 items, 2 ranks: min(25, 20)=20, 80 -> 20, 60 -> 15, 45 -> 12, 33 -> 9, 24 -> 6,
     * 18 -> 5, 13 -> 4, 9 -> 3, 6 -> 2, 4 -> 1, 1, 1, 1. */
    static const int t100[] = { 20, 20, 15, 12, 9, 6, 5, 4, 3, 2, 1, 1, 1, 1 };
    check_seq("guided, 100 ms per item", 100, 2, 0, 128, 100, t100, 14);
    /* 700 ms per item: 2000/700 = 2.86 -> 2 items, also over a job chunk of 5: 2 x 5. */
    static const int t700[] = { 2, 2, 2, 2, 2 };
    check_seq("job chunk 5, 700 ms per item", 10, 2, 5, 128, 700, t700, 5);
    /* 3 s per item: less than one fits, still one. */
    static const int t3s[] = { 1, 1, 1, 1 };
    check_seq("guided, 3000 ms per item", 4, 1, 0, 128, 3000, t3s, 4);

    /* The pure rules one by one. */
    CHECK_EQ_I(WQ_CHUNK_SECONDS * 1000, 2000, "about 2 s of work per chunk (README)");
    CHECK_EQ_I(sched_cost_cap(128, 0, 2.0), 128, "cost unknown: max unchanged");
    CHECK_EQ_I(sched_cost_cap(128, 300, 2.0), 6, "300 ms: 6.67 -> 6 items");
    CHECK_EQ_I(sched_cost_cap(128, 16, 2.0), 125, "16 ms: 125 items");
    CHECK_EQ_I(sched_cost_cap(128, 15.625, 2.0), 128, "15.625 ms: exactly 128 fit");
    CHECK_EQ_I(sched_cost_cap(128, 10, 2.0), 128, "10 ms: 200 fit, max 128 stays");
    CHECK_EQ_I(sched_cost_cap(4, 100, 2.0), 4, "a smaller max stays");
    CHECK_EQ_I(sched_cost_cap(128, 2000, 2.0), 1, "2 s: one item");
    CHECK_EQ_I(sched_cost_cap(128, 5000, 2.0), 1, "5 s: at least one item");
    CHECK_EQ_I(sched_cost_cap(128, 250, 3.0), 12, "another budget: 3000/250 = 12");
    CHECK_EQ_I(sched_chunk_size(100, 2, 0, 128), 25, "guided 100/4");
    CHECK_EQ_I(sched_chunk_size(101, 2, 0, 128), 26, "guided rounds up: 101/4 -> 26");
    CHECK_EQ_I(sched_chunk_size(65, 1, 0, 128), 32, "guided capped at 32");
    CHECK_EQ_I(sched_chunk_size(64, 1, 0, 128), 32, "guided 64/2 = 32");
    CHECK_EQ_I(sched_chunk_size(62, 1, 0, 128), 31, "guided 62/2 = 31");
    CHECK_EQ_I(sched_chunk_size(1, 8, 0, 128), 1, "guided at least 1");
    CHECK_EQ_I(sched_chunk_size(0, 2, 0, 128), 0, "nothing left, nothing handed out");
    CHECK_EQ_I(sched_chunk_size(0, 2, 3, 128), 0, "nothing left, job chunk too");
    CHECK_EQ_I(sched_chunk_size(2, 2, 3, 128), 2, "job chunk: at most what is left");
    CHECK_EQ_I(sched_chunk_size(500, 2, 40, 128), 40, "job chunk over 32");
    CHECK_EQ_I(sched_chunk_size(500, 2, 40, 9), 9, "job chunk, lower max");
    CHECK_EQ_I(sched_chunk_size(500, 2, 0, 9), 9, "guided, lower max");

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
    /* each model: 100 left, 2 ranks -> 25; then rank 0 stays on its model, 75 left -> 19 */
    CHECK_EQ_I(s.next[0], 25, "first chunk of model 0: 25");
    CHECK_EQ_I(s.next[1], 25, "first chunk of model 1: 25");
    int k = sched_next(&s, 0, &m0, idx, 64);
    CHECK_EQ_I(k, 19, "rank 0 keeps its model, guided over that model's 75 left");
    sched_release(&s);

    /* Groups. */
    {
        enum { N = 60 };
        uint32_t gid[N];
        unsigned seed = 7;
        int bad_g = 0;
        for (int trial = 0; trial < 40; trial++) {
            /* groups by "content": item i belongs to the group of the first item with the same value */
            int vals[N];
            for (int i = 0; i < N; i++) vals[i] = (int)(rand_r(&seed) % (unsigned)(2 + trial));
            for (int i = 0; i < N; i++) { gid[i] = (uint32_t)i; for (int j = 0; j < i; j++) if (vals[j] == vals[i]) { gid[i] = (uint32_t)j; break; } }
            for (int ranks = 1; ranks <= 3; ranks++)
                for (int chunk = 0; chunk <= 4; chunk += 4)
                    for (int max = 3; max <= 128; max *= 6)
                        if (!group_case(N, gid, ranks, chunk, max, NULL)) {
                            if (bad_g++ < 3) fprintf(stderr, "group case trial %d ranks %d chunk %d max %d failed\n", trial, ranks, chunk, max);
                        }
        }
        CHECK_EQ_I(bad_g, 0, "groups: every item once, each group consecutive and ascending, chunks end at group boundaries");
        /* 10 groups of 4 (items g, g+10, g+20, g+30), 2 ranks: the work of a group is
         * 1 + 3 x 0.1 = 1.3, 13 in all; guided ceil(13/4) = 4 -> 4 groups (5.2), then
         * ceil(7.8/4) = 2 -> 2 groups, ceil(5.2/4) = 2 -> 2, ceil(2.6/4) = 1 -> 1, 1. */
        uint32_t g4[40];
        for (int i = 0; i < 40; i++) g4[i] = (uint32_t)(i % 10);
        uint32_t **pend4 = calloc(1, sizeof *pend4);
        size_t *np4 = calloc(1, sizeof *np4);
        pend4[0] = malloc(40 * sizeof **pend4);
        for (int i = 0; i < 40; i++) pend4[0][np4[0]++] = (uint32_t)i;
        struct sched s4;
        sched_init(&s4, 1, 2, 0, pend4, np4);
        sched_group(&s4, 0, g4);
        int sizes[16], nsz = 0, m4;
        uint32_t id4[64];
        while (nsz < 16 && (sizes[nsz] = sched_next(&s4, nsz % 2, &m4, id4, 64)) > 0) {
            if (nsz == 0) CHECK_T(id4[0] == 0 && id4[1] == 10 && id4[2] == 20 && id4[3] == 30 && id4[4] == 1,
                                  "the first chunk starts with group 0's items 0, 10, 20, 30, then group 1");
            nsz++;
        }
        CHECK_T(nsz == 5 && sizes[0] == 16 && sizes[1] == 8 && sizes[2] == 8 && sizes[3] == 4 && sizes[4] == 4,
                "guided by work: repeated images count 0.1: chunks of 16, 8, 8, 4, 4 items (whole groups)");
        sched_release(&s4);
        /* one group of 40 and max 16: split, 16 + 16 + 8 */
        uint32_t g1[40] = { 0 };
        int nch = 0;
        CHECK_T(group_case(40, g1, 1, 0, 16, &nch) && nch == 3, "a group bigger than max is split at max");
        double worst = 0, big = 0;
        for (int ranks = 2; ranks <= 4; ranks++)
            for (unsigned sd = 1; sd <= 5; sd++) {
                double spread = balance_case(ranks, sd * 97 + (unsigned)ranks, &big);
                if (spread - big > worst) worst = spread - big;
            }
        CHECK_T(worst <= 0, "balance: with groups of 1-12 items the ranks finish within the largest group's work");
    }
    return t_done();
}
