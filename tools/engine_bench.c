/*
 * engine_bench.c - speed and memory of the engine on one model (used by
 * bench/engine.sh): prefills a prompt of P random tokens as one batch,
 * then decodes D tokens one at a time, and reports tokens/s for both and the
 * peak RSS of the process.  Before timing, a warm-up as llama-bench's default
 * one (a prompt of min(P, 32) tokens and one decoded token, then the cache
 * emptied), so that neither side's figures include the first touch of the
 * mapped weights; --no-warmup times the cold first pass instead.
 *
 *   build/tools/engine_bench MODEL.gguf [--threads N] [--arith fast|exact]
 *                            [--prompt P] [--decode D] [--no-blas] [--no-warmup]
 */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: engine_bench MODEL.gguf [--threads N] [--arith fast|exact] [--prompt P] [--decode D] [--no-blas] [--no-warmup]\n"); return 2; }
    const char *path = argv[1];
    int threads = 1, arith = ENG_ARITH_FAST, P = 600, D = 32, no_blas = 0, warmup = 1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arith") && i + 1 < argc) { if (eng_arith_parse(argv[++i], &arith)) { fprintf(stderr, "%s\n", eng_errmsg()); return 2; } }
        else if (!strcmp(argv[i], "--prompt") && i + 1 < argc) P = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--decode") && i + 1 < argc) D = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-blas")) no_blas = 1;
        else if (!strcmp(argv[i], "--no-warmup")) warmup = 0;
        else { fprintf(stderr, "engine_bench: bad argument %s\n", argv[i]); return 2; }
    }
    struct eng_model *m;
    double t0 = now();
    if (eng_model_open(path, &m)) { fprintf(stderr, "engine_bench: %s: %s\n", path, eng_errmsg()); return 1; }
    double t_load = now() - t0;
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.n_threads = threads; p.arith = arith; p.n_ctx = P + D + 8; p.no_blas = no_blas;
    struct eng_ctx *c;
    if (eng_ctx_new(m, &p, &c)) { fprintf(stderr, "engine_bench: %s\n", eng_errmsg()); return 1; }
    int32_t *ids = malloc((size_t)P * sizeof *ids);
    uint64_t s = 12345;
    ids[0] = eng_token_bos(m);
    for (int i = 1; i < P; i++) { s = s * 6364136223846793005ull + 1442695040888963407ull; ids[i] = 259 + (int32_t)((s >> 33) % (uint64_t)(eng_n_vocab(m) - 259)); }
    if (warmup) {
        if (eng_prefill(c, ids, P < 32 ? P : 32, NULL) || (D > 0 && eng_decode(c, eng_argmax(c)))) { fprintf(stderr, "engine_bench: %s\n", eng_errmsg()); return 1; }
        eng_ctx_reset(c);
    }
    t0 = now();
    if (eng_prefill(c, ids, P, NULL)) { fprintf(stderr, "engine_bench: %s\n", eng_errmsg()); return 1; }
    double t_pre = now() - t0;
    t0 = now();
    for (int i = 0; i < D; i++) if (eng_decode(c, eng_argmax(c))) { fprintf(stderr, "engine_bench: %s\n", eng_errmsg()); return 1; }
    double t_dec = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct stat st;
    stat(path, &st);
    printf("threads %d arith %s%s: load %.2f s, prefill %d tok in %.2f s = %.1f tok/s, decode %d tok = %.2f tok/s, peak RSS %.0f MiB (file %.0f MiB), kernels %s\n",
           threads, eng_arith_name(arith), no_blas ? " no-blas" : "", t_load, P, t_pre, P / t_pre, D, D / t_dec, ru.ru_maxrss / 1024.0, (double)st.st_size / 1048576.0,
           engine_cpu_path());
    eng_ctx_free(c);
    eng_model_free(m);
    free(ids);
    return 0;
}
