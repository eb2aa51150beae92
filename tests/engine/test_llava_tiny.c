/*
 * test_llava_tiny.c - the decoder against the reference's goldens in
 * ../shared/fixtures/llava-tiny (skips when absent).  For every case of every
 * config (the language model alone: image positions take the golden
 * image_embd rows):
 *   - exact mode: logits_exact_float (a float64 forward of the same file)
 *     within 8e-6 max / 6e-6 rms relative (observed 4.6e-6 / 3.1e-6; the
 *     fixtures README §9.3 says about 1e-5), and the reference logits within
 *     the case's tolerance (fixtures README §9.4) and within the tight
 *     per-config bound of BOUNDS below;
 *   - fast mode: the reference logits within the limits README §9.4 gives for
 *     an engine that emulates ggml's rounding (F32 image 1e-3, F16 3e-3, Q8_0/
 *     Q4_0/Q5_K_M 5e-2, Q6_K/Q4_K_M 8e-2; the llama_cpp_default_attention
 *     config 1e-2), and within the tight per-config bounds of BOUNDS, which
 *     also limit how many cases are not exact (max rel > 1e-4: a Q8 rounding
 *     flip somewhere in the forward) -- so a drift of the emulation fails even
 *     where README's limits would not notice;
 *   - top-1 where top1_reliable, greedy tokens over greedy_reliable_prefix.
 * Prints the worst observed error per config next to its bounds.
 */
#include "engine/engine.h"
#include "json_mini.h"
#include "t.h"

#define TINY "../shared/fixtures/llava-tiny"

static float *load_f32(const char *rel, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, TINY "/%s", rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *b = malloc(n * sizeof *b);
    size_t got = fread(b, sizeof *b, n, f);
    fclose(f);
    if (got != n) { free(b); return NULL; }
    return b;
}

static void rel_err(const float *a, const float *b, int n, double *mx, double *rms)
{
    double amax = 0, d2 = 0, b2 = 0, dmax = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        if (fabs(b[i]) > amax) amax = fabs(b[i]);
        if (fabs(d) > dmax) dmax = fabs(d);
        d2 += d * d;
        b2 += (double)b[i] * b[i];
    }
    *mx = dmax / amax;
    *rms = sqrt(d2 / b2);
}

/* Under MMSAFE_CPU=scalar, and on the AVX-512 kernels, the kernels sum in another
 * order than the reference's AVX2 ones: an 8-bit activation can round the other
 * way and move a logit by a step (1-2e-2 seen on B_Q6_K), so fast mode is held to the README bounds only,
 * not to the observed ones below (which are the AVX2 kernels'). */
static int scalar;   /* any path but avx2: the scalar kernels, the AVX-512 ones */

static double fast_limit(const char *wt, int image)
{
    if (!strcmp(wt, "F32")) return image ? 1e-3 : 1e-4;
    if (!strcmp(wt, "F16")) return 3e-3;
    if (!strcmp(wt, "Q8_0") || !strcmp(wt, "Q4_0") || !strcmp(wt, "Q5_K_M")) return 5e-2;
    return 8e-2;
}

/* Tight bounds per config: about 1.5x the worst observed (x86-64 AVX2 build,
 * OpenBLAS), rounded up to a clean number; the observed worst is the comment.
 * "nonexact": fast-mode cases whose max rel exceeds 1e-4 (observed + half).
 * A config without a row fails: measure it and add one. */
static const struct bound {
    const char *cfg;
    double ref_max, ref_rms;     /* exact mode vs the reference logits */
    double fast_max, fast_rms;   /* fast mode vs the reference logits */
    int nonexact;
} BOUNDS[] = {
    /*                          exact:ref max, rms                  fast:ref max, rms                   nonexact */
    { "A_F32",              8e-6,   2e-6,    /* 4.26e-6 1.33e-6 */ 8e-6,   2e-6,    /* 4.26e-6 1.33e-6 */ 0  /* 0/17 */ },
    { "A_F32_t2",           8e-6,   2e-6,    /* 4.26e-6 1.33e-6 */ 8e-6,   2e-6,    /* 4.26e-6 1.33e-6 */ 0  /* 0/17 */ },
    { "A_F32_mmF16",        8e-6,   3e-6,    /* 4.82e-6 1.77e-6 */ 8e-6,   3e-6,    /* 4.82e-6 1.77e-6 */ 0  /* 0/5 */ },
    { "B_F32",              5e-6,   5e-6,    /* 3.21e-6 3.01e-6 */ 5e-6,   5e-6,    /* 3.21e-6 3.01e-6 */ 0  /* 0/17 */ },
    { "A_F16",              5e-3,   2e-3,    /* 3.17e-3 1.13e-3 */ 2e-3,   8e-4,    /* 1.27e-3 5.30e-4 */ 17 /* 12/17 */ },
    { "A_Q8_0",             8e-2,   5e-2,    /* 4.79e-2 3.19e-2 */ 1e-6,   1e-6,    /* 0 (bit-identical) */ 0 /* 0/17 */ },
    { "B_Q4_0",             1.5e-1, 1e-1,    /* 7.09e-2 5.67e-2 */ 4e-2,   3e-2,    /* 2.12e-2 1.79e-2 */ 5  /* 3/17 */ },
    { "B_Q4_K_M",           1.5e-1, 1e-1,    /* 9.06e-2 6.13e-2 */ 4e-2,   3e-2,    /* 2.14e-2 1.66e-2 */ 6  /* 4/17 */ },
    { "B_Q4_K_M_t2",        1.5e-1, 1e-1,    /* 9.06e-2 6.13e-2 */ 4e-2,   3e-2,    /* 2.14e-2 1.66e-2 */ 6  /* 4/17 */ },
    { "B_Q5_K_M",           1.5e-1, 1e-1,    /* 6.79e-2 6.43e-2 */ 4e-2,   5e-2,    /* 2.38e-2 2.88e-2 */ 9  /* 6/17 */ },
    { "B_Q6_K",             1.5e-1, 1.5e-1,  /* 8.75e-2 7.88e-2 */ 8e-7,   6e-7,    /* 4.73e-7 3.34e-7 */ 0  /* 0/17 */ },
    { "B_F32_kvf16_faauto", 0,      0,       /* (not compared)  */ 4e-3,   4e-3,    /* 2.34e-3 2.29e-3 */ 17 /* 16/17 */ },
    { "A_F32_llava",        3e-6,   2e-6,    /* 1.67e-6 1.13e-6 */ 3e-6,   2e-6,    /* 1.67e-6 1.13e-6 */ 0  /* 0/5 */ },
    { "A_F32_mmF16_llava",  4e-6,   3e-6,    /* 2.44e-6 1.36e-6 */ 4e-6,   3e-6,    /* 2.44e-6 1.36e-6 */ 0  /* 0/5 */ },
    { "B_F32_llava",        5e-6,   5e-6,    /* 2.81e-6 2.71e-6 */ 5e-6,   5e-6,    /* 2.81e-6 2.71e-6 */ 0  /* 0/5 */ },
    { "A_F16_llava",        3e-3,   3e-3,    /* 1.72e-3 1.41e-3 */ 1.5e-3, 6e-4,    /* 7.69e-4 3.90e-4 */ 5  /* 5/5 */ },
    { "A_Q8_0_llava",       8e-2,   6e-2,    /* 5.33e-2 3.54e-2 */ 3e-2,   2e-2,    /* 1.69e-2 1.09e-2 */ 2  /* 1/5 */ },
    { "B_Q4_0_llava",       8e-2,   6e-2,    /* 4.20e-2 3.68e-2 */ 1.5e-2, 1.5e-2,  /* 8.18e-3 8.95e-3 */ 2  /* 1/5 */ },
    { "B_Q4_K_M_llava",     1e-1,   1.5e-1,  /* 6.63e-2 6.73e-2 */ 4e-2,   3e-2,    /* 2.38e-2 1.67e-2 */ 5  /* 3/5 */ },
    { "B_Q5_K_M_llava",     1.5e-1, 1e-1,    /* 9.19e-2 5.89e-2 */ 1.5e-2, 2e-2,    /* 8.59e-3 1.09e-2 */ 2  /* 1/5 */ },
    { "B_Q6_K_llava",       1.5e-1, 1.5e-1,  /* 9.12e-2 9.19e-2 */ 1.5e-2, 2e-2,    /* 8.85e-3 1.10e-2 */ 2  /* 1/5 */ },
};
static const struct bound *bound_of(const char *cfg)
{
    for (size_t i = 0; i < sizeof BOUNDS / sizeof *BOUNDS; i++) if (!strcmp(BOUNDS[i].cfg, cfg)) return &BOUNDS[i];
    return NULL;
}
/* exact mode vs logits_exact_float (a float64 forward): observed 4.61e-6 max
 * (A_F16), 3.10e-6 rms (B_Q6_K_llava) */
#define EXACTF_MAX 8e-6
#define EXACTF_RMS 6e-6

struct cfgstat { char name[64]; double ex_exactf, ex_ref, ex_ref_rms, fast_ref, fast_rms, lim_ref, lim_fast; int n, nonexact, greedy_checked, greedy_ok; const struct bound *b; };

static struct eng_model *models[16];
static char model_names[16][128];

static struct eng_model *get_model(const char *rel)
{
    for (int i = 0; i < 16; i++) {
        if (models[i] && !strcmp(model_names[i], rel)) return models[i];
        if (!models[i]) {
            char path[1024];
            snprintf(path, sizeof path, TINY "/%s", rel);
            if (eng_model_open(path, &models[i])) { fprintf(stderr, "%s: %s\n", path, eng_errmsg()); return NULL; }
            snprintf(model_names[i], sizeof model_names[i], "%s", rel);
            return models[i];
        }
    }
    return NULL;
}

static int run(struct eng_model *m, int arith, int kv, int threads, const int32_t *toks, int n, const float *embd, float *out, int32_t *greedy, int n_greedy)
{
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.arith = arith; p.kv_type = kv; p.n_threads = threads; p.n_ctx = 512;
    struct eng_ctx *c = NULL;
    if (eng_ctx_new(m, &p, &c)) return -1;
    int rc = eng_prefill(c, toks, n, embd);
    if (!rc) memcpy(out, eng_logits(c), (size_t)eng_n_vocab(m) * sizeof *out);
    for (int i = 0; !rc && i < n_greedy; i++) {
        greedy[i] = eng_argmax(c);
        if (i + 1 < n_greedy) rc = eng_decode(c, greedy[i]);
    }
    /* the same context again after a reset must give the same logits (no state leaks) */
    if (!rc) {
        eng_ctx_reset(c);
        rc = eng_prefill(c, toks, n, embd);
        if (!rc && memcmp(out, eng_logits(c), (size_t)eng_n_vocab(m) * sizeof *out)) rc = -2;
    }
    eng_ctx_free(c);
    return rc;
}

int main(void)
{
    scalar = strcmp(engine_cpu_path(), "avx2") != 0;
    t_name = "engine/llava_tiny";
    struct jn *j = jn_load(TINY "/index.json");
    if (!j) { t_skipped("../shared/fixtures/llava-tiny not found (decoder fidelity checks need it)"); return t_done(); }
    const struct jn *cases = jn_get(j, "cases"), *configs = jn_get(j, "configs");
    struct cfgstat st[64];
    int nst = 0;
    static float lg[100000];
    for (int ci = 0; cases && ci < cases->n; ci++) {
        const struct jn *c = &cases->kids[ci];
        const char *cfg = jn_str(c, "config"), *kind = jn_str(c, "kind"), *wt = jn_str(c, "weight_type"), *id = jn_str(c, "id");
        const struct jn *cf = jn_get(configs, cfg);
        int image = !strcmp(kind, "image");
        int kvf16 = !strcmp(jn_str(cf, "settings"), "llama_cpp_default_attention");
        int threads = (int)jn_num(c, "n_threads", 1);
        struct eng_model *m = get_model(jn_str(c, "model"));
        if (!m) { CHECK_T(0, "model loads"); continue; }
        int nv = eng_n_vocab(m), ne = eng_n_embd(m);
        const struct jn *tk = jn_get(c, image ? "tokens" : "tokens_bos");
        int n = tk->n;
        int32_t toks[1024];
        for (int i = 0; i < n; i++) toks[i] = (int32_t)tk->kids[i].num;
        const struct jn *outs = jn_get(c, "outputs");
        float *embd = NULL;
        if (image) embd = load_f32(jn_str(jn_get(outs, "image_embd"), "file"), (size_t)jn_num(c, "n_image_tokens", 16) * (size_t)ne);
        float *golden = load_f32(jn_str(jn_get(outs, "logits"), "file"), (size_t)nv);
        const struct jn *ef = jn_get(outs, "logits_exact_float");
        float *exactf = ef ? load_f32(jn_str(ef, "file"), (size_t)nv) : NULL;
        if (!golden || (image && !embd)) { CHECK_T(0, "golden files readable"); free(golden); free(embd); free(exactf); continue; }
        struct cfgstat *s = NULL;
        for (int i = 0; i < nst; i++) if (!strcmp(st[i].name, cfg)) s = &st[i];
        if (!s) {
            s = &st[nst++]; memset(s, 0, sizeof *s); snprintf(s->name, sizeof s->name, "%s", cfg);
            s->b = bound_of(cfg);
            char db[128];
            snprintf(db, sizeof db, "config %s has a row in BOUNDS", cfg);
            CHECK_T(s->b != NULL, db);
        }
        const struct bound *bd = s->b;
        const struct jn *tol = jn_get(c, "tolerance");
        double tmax = jn_num(tol, "logits_max_rel", 1e-4), trms = jn_num(tol, "logits_rms_rel", 1e-4);
        double mx, rms;
        char d[256];
        int32_t greedy[8];
        s->n++;
        /* exact */
        int rc = run(m, ENG_ARITH_EXACT, ENG_KV_F32, threads, toks, n, embd, lg, greedy, 0);
        snprintf(d, sizeof d, "%s: exact run (%s)", id, rc == -2 ? "reset changed the logits" : eng_errmsg());
        if (!CHECK_T(rc == 0, d)) goto next;
        if (exactf) {
            rel_err(lg, exactf, nv, &mx, &rms);
            if (mx > s->ex_exactf) s->ex_exactf = mx;
            snprintf(d, sizeof d, "%s: exact vs logits_exact_float max rel %.2e rms %.2e (bounds %.0e %.0e)", id, mx, rms, EXACTF_MAX, EXACTF_RMS);
            CHECK_T(mx <= EXACTF_MAX && rms <= EXACTF_RMS, d);
        }
        if (!kvf16) {
            rel_err(lg, golden, nv, &mx, &rms);
            if (mx > s->ex_ref) s->ex_ref = mx;
            if (rms > s->ex_ref_rms) s->ex_ref_rms = rms;
            s->lim_ref = tmax;
            snprintf(d, sizeof d, "%s: exact vs reference max rel %.2e (bound %.0e) rms %.2e (bound %.0e)", id, mx, tmax, rms, trms);
            CHECK_T(mx <= tmax && rms <= trms, d);
            if (bd) {
                snprintf(d, sizeof d, "%s: exact vs reference max rel %.2e rms %.2e (observed bounds %.1e %.1e)", id, mx, rms, bd->ref_max, bd->ref_rms);
                CHECK_T(mx <= bd->ref_max && rms <= bd->ref_rms, d);
            }
            if (jn_num(c, "top1_reliable", 0)) {
                int best = 0;
                for (int i = 1; i < nv; i++) if (lg[i] > lg[best]) best = i;
                snprintf(d, sizeof d, "%s: exact top-1 %d vs %d", id, best, (int)jn_num(c, "top1", -1));
                CHECK_T(best == (int)jn_num(c, "top1", -1), d);
            }
        }
        /* fast (F32 KV as the goldens, except the default-attention config) */
        rc = run(m, ENG_ARITH_FAST, kvf16 ? ENG_KV_F16 : ENG_KV_F32, threads, toks, n, embd, lg, greedy, 8);
        snprintf(d, sizeof d, "%s: fast run (%s)", id, rc == -2 ? "reset changed the logits" : eng_errmsg());
        if (!CHECK_T(rc == 0, d)) goto next;
        rel_err(lg, golden, nv, &mx, &rms);
        double lim = kvf16 ? 1e-2 : fast_limit(wt, image);   /* README §9.4 */
        if (mx > s->fast_ref) s->fast_ref = mx;
        if (rms > s->fast_rms) s->fast_rms = rms;
        s->nonexact += mx > 1e-4;
        s->lim_fast = lim;
        snprintf(d, sizeof d, "%s: fast vs reference max rel %.2e rms %.2e (README bound %.0e)", id, mx, rms, lim);
        CHECK_T(mx <= lim && rms <= lim, d);
        if (bd && !scalar) {   /* observed bounds: the AVX2 kernels' summation order (other paths: README bounds only) */
            snprintf(d, sizeof d, "%s: fast vs reference max rel %.2e rms %.2e (observed bounds %.1e %.1e)", id, mx, rms, bd->fast_max, bd->fast_rms);
            CHECK_T(mx <= bd->fast_max && rms <= bd->fast_rms, d);
        }
        {
            int pre = (int)jn_num(c, "greedy_reliable_prefix", 0);
            const struct jn *g = jn_get(c, "greedy");
            int ok = 1;
            for (int i = 0; i < pre && i < 8; i++) ok &= greedy[i] == (int32_t)g->kids[i].num;
            s->greedy_checked += pre > 0;
            s->greedy_ok += pre > 0 && ok;
            snprintf(d, sizeof d, "%s: fast greedy tokens over the reliable prefix of %d", id, pre);
            CHECK_T(ok, d);
        }
    next:
        free(golden); free(embd); free(exactf);
    }
    printf("%-20s %5s %9s %19s %19s %19s %19s %8s %s\n", "config", "cases", "exact:f64", "exact:ref max(bnd)", "exact:ref rms(bnd)",
           "fast:ref max(bnd)", "fast:ref rms(bnd)", "nonexact", "greedy");
    for (int i = 0; i < nst; i++) {
        const struct bound *b = st[i].b;
        printf("%-20s %5d %9.2e %9.2e (%7.1e) %9.2e (%7.1e) %9.2e (%7.1e) %9.2e (%7.1e) %3d(<=%2d) %d/%d\n", st[i].name, st[i].n, st[i].ex_exactf,
               st[i].ex_ref, b ? b->ref_max : 0, st[i].ex_ref_rms, b ? b->ref_rms : 0, st[i].fast_ref, b ? b->fast_max : 0,
               st[i].fast_rms, b ? b->fast_rms : 0, st[i].nonexact, b ? b->nonexact : 0, st[i].greedy_ok, st[i].greedy_checked);
        if (b && !scalar) {
            char dn[192];
            snprintf(dn, sizeof dn, "%.64s: %d fast cases not exact (max rel > 1e-4), bound %d", st[i].name, st[i].nonexact, b->nonexact);
            CHECK_T(st[i].nonexact <= b->nonexact, dn);
        }
    }
    CHECK_T(nst >= 20, "every config ran");
    for (int i = 0; i < 16; i++) eng_model_free(models[i]);
    jn_free(j);
    return t_done();
}
