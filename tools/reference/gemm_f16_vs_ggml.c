/*
 * gemm_f16_vs_ggml.c - our F16 matrix product (mm_run, fast arithmetic: F16
 * weights x activations rounded to F16) and ggml's (ggml_mul_mat on the CPU
 * backend, which takes llamafile's tinyBLAS for F16) on the same random
 * matrices in one process, interleaved: GFLOP/s of each (median and best of
 * REPS) and the largest difference of their outputs (0 when both sum the
 * products in the same order).  Not built by make (see README.md here):
 *
 *   gemm_f16_vs_ggml N K T THREADS REPS
 *
 * N weight rows of K, T activation rows; e.g. 5632 2048 256 1 15 (the 1.1B
 * LLaMA shape's FFN up at a 256-token prefill), 1024 4096 577 2 9 (ViT-L fc2).
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime under -std=c11 */
#include "engine/cpu.h"
#include "engine/engine.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "engine/util.h"
#include "ggml-cpu.h"
#include "ggml.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 6) { fprintf(stderr, "usage: %s N K T THREADS REPS\n", argv[0]); return 2; }
    const int N = atoi(argv[1]), K = atoi(argv[2]), T = atoi(argv[3]), nt = atoi(argv[4]), reps = atoi(argv[5]);
    if (N < 1 || K < 1 || T < 1 || nt < 1 || reps < 1 || reps > 1000) { fprintf(stderr, "bad arguments\n"); return 2; }
    eng_tables_init();
    struct ggml_init_params ip = { (size_t)N * K * 2 + (size_t)T * K * 4 + (size_t)T * N * 4 + ((size_t)64 << 20), NULL, false };
    struct ggml_context *ctx = ggml_init(ip);
    struct ggml_tensor *w = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, K, N), *x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, T);
    uint16_t *wd = w->data;
    float *xd = x->data;
    srand(1);
    for (size_t i = 0; i < (size_t)N * K; i++) wd[i] = (uint16_t)(0x3c00 ^ (rand() & 0x3ff));   /* [1, 2) and (-2, -1] */
    for (size_t i = 0; i < (size_t)T * K; i++) xd[i] = (float)(rand() % 1000) / 1000.0f;
    struct ggml_tensor *y = ggml_mul_mat(ctx, w, x);
    struct ggml_cgraph *g = ggml_new_graph(ctx);
    ggml_build_forward_expand(g, y);

    struct wmat W = { QT_F16, K, N, (size_t)K * 2, (const uint8_t *)wd, NULL };
    struct mm_scratch s;
    if (mm_scratch_init(&s, K, T, nt)) { fprintf(stderr, "out of memory\n"); return 1; }
    float *yo = malloc((size_t)T * N * 4);
    double *a = malloc((size_t)reps * sizeof *a), *b = malloc((size_t)reps * sizeof *b);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        ggml_graph_compute_with_ctx(ctx, g, nt);
        a[r] = now() - t0;
        t0 = now();
        mm_run(&W, T, xd, yo, MM_FAST, &s, nt, 1);
        b[r] = now() - t0;
    }
    double md = 0;
    const float *yr = y->data;
    for (size_t i = 0; i < (size_t)T * N; i++) md = fmax(md, fabs((double)yr[i] - yo[i]));
    qsort(a, (size_t)reps, sizeof *a, cmp);
    qsort(b, (size_t)reps, sizeof *b, cmp);
    const double f = 2.0 * N * K * T / 1e9;
    printf("N %d K %d T %d threads %d (ours: %s): ggml median %.1f best %.1f | ours median %.1f best %.1f GFLOP/s"
           " | ours/ggml %.3f | largest difference %g\n",
           N, K, T, nt, engine_cpu_path(), f / a[reps / 2], f / a[0], f / b[reps / 2], f / b[0], a[reps / 2] / b[reps / 2], md);
    return 0;
}
