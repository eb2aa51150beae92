/*
 * ops.c - mm_run and element-wise ops (see ops.h).
 */
#include "ops.h"
#include "quant.h"
#include "util.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<cblas.h>) && !defined(ENGINE_NO_BLAS)
#include <cblas.h>
#define HAVE_BLAS 1
#endif
#endif
#ifndef HAVE_BLAS
#define HAVE_BLAS 0
#endif

#define PANEL_ROWS 256      /* rows of dequantised weights per BLAS call */
#define ROW_BLOCK 16        /* rows per work item in the dot-product paths */
#define GEMM_ROWS 32        /* weight rows per work item of the matrix-matrix kernels */
#define GEMM_MIN_T 2        /* from this many rows on, fast F16 products take gemm_f16 */

/* Fast mode, F16 weights: the kernel set's F16 matrix-matrix kernel (no decoded
 * panels, no BLAS) when it has one. */
static int use_gemm_f16(const struct wmat *W, int mode, int T)
{
    return mode == MM_FAST && W->type == QT_F16 && T >= GEMM_MIN_T && g_kern.gemm_f16 != NULL;
}
/* nw <= 8 F16 matrices of one input (the same K) through the set's F16 matrix
 * kernel: X converted to F16 once, the matrices' blocks of GEMM_ROWS rows one job
 * list, so one fork and join. */
static void mm_gemm_f16_n(int nw, const struct wmat *const *W, int T, const float *X, float *const *Y, struct mm_scratch *s, int nt)
{
    if (nt < 1) nt = 1;
    if (nt > s->n_threads) nt = s->n_threads;
    const int64_t K = W[0]->K;
    uint16_t *A = s->act;
    int64_t first[9];
    first[0] = 0;
    for (int i = 0; i < nw; i++) first[i + 1] = first[i] + (W[i]->N + GEMM_ROWS - 1) / GEMM_ROWS;
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (int t = 0; t < T; t++) qt_quant_act(QT_F16, X + (int64_t)t * K, (uint8_t *)(A + (size_t)t * K), K);
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < first[nw]; b++) {
            int i = 0;
            while (b >= first[i + 1]) i++;
            const struct wmat *w = W[i];
            const int64_t N = w->N, n0 = (b - first[i]) * GEMM_ROWS, nr = N - n0 < GEMM_ROWS ? N - n0 : GEMM_ROWS;
            g_kern.gemm_f16(nr, T, K, (const uint16_t *)(w->data + (size_t)n0 * w->row_bytes), (int64_t)(w->row_bytes / 2), A, K, Y[i] + n0, N);
        }
    }
}

int mm_have_blas(void) { return HAVE_BLAS; }

int wmat_repack(struct wmat *w)
{
    if (w->x8 || w->type != QT_Q4_K || w->N % QT_X8_ROWS || w->K % 256) return RC_OK;
    const size_t gb = qt_x8_group_bytes(w->K), total = gb * (size_t)(w->N / QT_X8_ROWS);
    void *p = NULL;
    if (posix_memalign(&p, 64, total)) return eng_err(RC_ENOMEM, "out of memory (%zu bytes of repacked Q4_K weights)", total);
    const int64_t ng = w->N / QT_X8_ROWS;
#pragma omp parallel for schedule(static)
    for (int64_t gi = 0; gi < ng; gi++)
        qt_repack_q4_K_x8(w->data + (size_t)gi * QT_X8_ROWS * w->row_bytes, w->row_bytes, w->K, (uint8_t *)p + (size_t)gi * gb);
    w->x8 = p;
    return RC_OK;
}
void wmat_release(struct wmat *w) { free((void *)w->x8); w->x8 = NULL; }

/* Rows [n0, n0 + nr) of W decoded exactly to f32 (nr a multiple of 8 when W is repacked). */
static void decode_rows(const struct wmat *W, int64_t n0, int nr, float *P)
{
    if (W->x8) {
        const size_t gb = qt_x8_group_bytes(W->K);
        for (int r = 0; r < nr; r += QT_X8_ROWS)
            g_kern.dequant_q4_K_x8(W->x8 + (size_t)((n0 + r) / QT_X8_ROWS) * gb, W->K, P + (int64_t)r * W->K, W->K);
        return;
    }
    for (int r = 0; r < nr; r++) qt_dequant(W->type, W->data + (size_t)(n0 + r) * W->row_bytes, P + (int64_t)r * W->K, W->K);
}

/* Y rows t < T, columns [n0, n1) of a repacked matrix, from activations A in Q8_K
 * (rows of arb bytes): 8 rows of W per kernel call, each group reused from cache
 * for every activation row. */
static void x8_rows(const struct wmat *W, int64_t n0, int64_t n1, int T, const uint8_t *A, size_t arb, float *Y)
{
    const size_t gb = qt_x8_group_bytes(W->K);
    for (int64_t n = n0; n < n1; n += QT_X8_ROWS) {
        const uint8_t *g = W->x8 + (size_t)(n / QT_X8_ROWS) * gb;
        for (int t = 0; t < T; t++) g_kern.gemv_q4_K_x8(W->K, g, A + (size_t)t * arb, Y + (int64_t)t * W->N + n);
    }
}

int mm_scratch_init(struct mm_scratch *s, int64_t max_K, int max_T, int n_threads)
{
    memset(s, 0, sizeof *s);
    if (n_threads < 1) n_threads = 1;
    s->act_cap = (size_t)max_T * (size_t)max_K * sizeof(float);   /* F32 rows bound every format */
    s->act = malloc(s->act_cap ? s->act_cap : 1);
    s->xq = malloc(s->act_cap ? s->act_cap : 1);
    s->n_threads = n_threads;
    s->panel_per_thread = (size_t)PANEL_ROWS * (size_t)max_K;
    s->panel = malloc((size_t)n_threads * s->panel_per_thread * sizeof(float));
    if (!s->act || !s->xq || !s->panel) { mm_scratch_release(s); return eng_err(RC_ENOMEM, "out of memory (matmul scratch)"); }
#if HAVE_BLAS
    openblas_set_num_threads(1);   /* we parallelise over panels ourselves */
#endif
    return RC_OK;
}

void mm_scratch_release(struct mm_scratch *s)
{
    free(s->act); free(s->xq); free(s->panel);
    memset(s, 0, sizeof *s);
}

/* Y[:, n0:n0+nr] = X P^T for nr dequantised float rows P (nr x K). */
static void panel_product(const float *P, int nr, int64_t K, int T, const float *X, float *Y, int64_t N, int64_t n0, int blas)
{
#if HAVE_BLAS
    if (blas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nr, (int)K, 1.0f, X, (int)K, P, (int)K, 0.0f, Y + n0, (int)N);
        return;
    }
#else
    (void)blas;
#endif
    for (int t = 0; t < T; t++)
        for (int r = 0; r < nr; r++)
            Y[(int64_t)t * N + n0 + r] = dot_f32(K, P + (int64_t)r * K, X + (int64_t)t * K);
}

/* Dequantised-panel product: rows of W decoded exactly to f32, times float X. */
static void mm_panels(const struct wmat *W, int T, const float *X, float *Y, struct mm_scratch *s, int nt, int blas)
{
    const int64_t K = W->K, N = W->N;
    int rows = blas ? PANEL_ROWS : ROW_BLOCK;
    /* few rows (attention's V^T: head_dim rows; K: 577 for a ViT-L image): at least 4
     * panels, so that threads share the work, in multiples of 8 (a repacked group).  A
     * function of N alone: the same panels, so the same sums, at any thread count. */
    if (blas && N < 4 * (int64_t)rows) {
        const int64_t want = (N + 3) / 4;
        rows = (int)((want + 7) / 8 * 8);
    }
    const int64_t np = (N + rows - 1) / rows;
#pragma omp parallel num_threads(nt)
    {
        float *P = s->panel + (size_t)omp_get_thread_num() * s->panel_per_thread;
#pragma omp for schedule(dynamic, 1)
        for (int64_t p = 0; p < np; p++) {
            int64_t n0 = p * rows;
            int nr = (int)(N - n0 < rows ? N - n0 : rows);
            if (W->type == QT_F32) {
                panel_product((const float *)(W->data + (size_t)n0 * W->row_bytes), nr, K, T, X, Y, N, n0, blas);
                continue;
            }
            decode_rows(W, n0, nr, P);
            panel_product(P, nr, K, T, X, Y, N, n0, blas);
        }
    }
}

void mm_run(const struct wmat *W, int T, const float *X, float *Y, int mode, struct mm_scratch *s, int nt, int use_blas)
{
    const int64_t K = W->K, N = W->N;
    if (nt < 1) nt = 1;
    if (nt > s->n_threads) nt = s->n_threads;
    if (T <= 0) return;
    const int blas = HAVE_BLAS && use_blas && T >= MM_BLAS_MIN_T;

    if (W->type == QT_F32 || mode == MM_EXACT) {
        if (blas || W->type != QT_F32 || T > 1) { mm_panels(W, T, X, Y, s, nt, blas); return; }
    }
    if (W->type == QT_F32) {   /* one row: plain dots on the mapped weights */
        int64_t nb = (N + ROW_BLOCK - 1) / ROW_BLOCK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 2)
        for (int64_t b = 0; b < nb; b++)
            for (int64_t n = b * ROW_BLOCK; n < N && n < (b + 1) * ROW_BLOCK; n++)
                Y[n] = dot_f32(K, (const float *)(W->data + (size_t)n * W->row_bytes), X);
        return;
    }

    if (use_gemm_f16(W, mode, T)) { mm_gemm_f16_n(1, &W, T, X, &Y, s, nt); return; }
    /* fast: convert the activations to the weight's vec_dot type (spec §8.1) */
    const int at = qt_act_type(W->type);
    const size_t arb = qt_row_bytes(at, K);
    uint8_t *A = s->act;
#pragma omp parallel for num_threads(nt) schedule(static) if (T >= 4 * nt)
    for (int t = 0; t < T; t++) qt_quant_act(at, X + (int64_t)t * K, A + (size_t)t * arb, K);

    if (blas && at != QT_Q8_1 && (at == QT_F16 || at == QT_BF16 || T >= MM_BLAS_MIN_T_QUANT)) {
        /* Long prefills: decode the converted activations back to float (exactly for F16/BF16
         * and Q8_0; one f32 rounding of d*q for Q8_K) and multiply with sgemm on exactly
         * decoded weight panels.  Same products as the integer kernels up to f32
         * rounding of the products and summation order (~1e-7 relative).  Q8_1 (Q4_1,
         * Q5_1) stays on the integer path: its stored f16 sum cannot be reproduced so. */
        float *Xq = s->xq;
#pragma omp parallel for num_threads(nt) schedule(static) if (T >= 4 * nt)
        for (int t = 0; t < T; t++) qt_dequant(at, A + (size_t)t * arb, Xq + (int64_t)t * K, K);
        mm_panels(W, T, Xq, Y, s, nt, 1);
        return;
    }
    const int64_t nb = (N + ROW_BLOCK - 1) / ROW_BLOCK;
    const qt_dot_fn dot = qt_vec_dot_fn(W->type);
    /* dynamic: on a shared machine a descheduled thread then holds the join back
     * only for its current block, not for its static share of the matrix */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 2)
    for (int64_t b = 0; b < nb; b++) {
        int64_t n0 = b * ROW_BLOCK, n1 = n0 + ROW_BLOCK < N ? n0 + ROW_BLOCK : N;
        if (W->x8) { x8_rows(W, n0, n1, T, A, arb, Y); continue; }
        for (int t = 0; t < T; t++)
            for (int64_t n = n0; n < n1; n++)
                Y[(int64_t)t * N + n] = dot(K, W->data + (size_t)n * W->row_bytes, A + (size_t)t * arb);
    }
}

/* Several products of the same input (Q/K/V, gate/up) in one parallel region,
 * converting X once: fewer fork/joins per decoded token.  Falls back to one
 * mm_run each when a matrix would take another path (BLAS, F32, exact, or a
 * different activation format). */
void mm_run_n(int nw, const struct wmat *const *W, int T, const float *X, float *const *Y, int mode, struct mm_scratch *s, int nt, int use_blas)
{
    int fuse = mode == MM_FAST && nw > 1 && nw <= 8;
    const int at = fuse ? qt_act_type(W[0]->type) : 0;
    const int blas = HAVE_BLAS && use_blas && T >= MM_BLAS_MIN_T;
    if (fuse && use_gemm_f16(W[0], mode, T)) {
        /* F16 matrix-matrix kernel: one conversion of X, one job list over all matrices */
        int same = 1;
        for (int i = 1; i < nw; i++) same = same && use_gemm_f16(W[i], mode, T) && W[i]->K == W[0]->K;
        if (same) { mm_gemm_f16_n(nw, W, T, X, Y, s, nt); return; }
    }
    for (int i = 0; fuse && i < nw; i++)
        fuse = W[i]->type != QT_F32 && W[i]->K == W[0]->K && qt_act_type(W[i]->type) == at && !use_gemm_f16(W[i], mode, T) &&
               !(blas && at != QT_Q8_1 && (at == QT_F16 || at == QT_BF16 || T >= MM_BLAS_MIN_T_QUANT));
    if (!fuse) {
        for (int i = 0; i < nw; i++) mm_run(W[i], T, X, Y[i], mode, s, nt, use_blas);
        return;
    }
    if (nt < 1) nt = 1;
    if (nt > s->n_threads) nt = s->n_threads;
    const int64_t K = W[0]->K;
    const size_t arb = qt_row_bytes(at, K);
    uint8_t *A = s->act;
#pragma omp parallel for num_threads(nt) schedule(static) if (T >= 4 * nt)
    for (int t = 0; t < T; t++) qt_quant_act(at, X + (int64_t)t * K, A + (size_t)t * arb, K);
    int64_t first[9], total = 0;
    qt_dot_fn dots[8];
    for (int i = 0; i < nw; i++) { first[i] = total; total += (W[i]->N + ROW_BLOCK - 1) / ROW_BLOCK; dots[i] = qt_vec_dot_fn(W[i]->type); }
    first[nw] = total;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 2)
    for (int64_t b = 0; b < total; b++) {
        int i = 0;
        while (b >= first[i + 1]) i++;
        const struct wmat *w = W[i];
        const int64_t N = w->N, n0 = (b - first[i]) * ROW_BLOCK, n1 = n0 + ROW_BLOCK < N ? n0 + ROW_BLOCK : N;
        if (w->x8) { x8_rows(w, n0, n1, T, A, arb, Y[i]); continue; }
        for (int t = 0; t < T; t++)
            for (int64_t n = n0; n < n1; n++)
                Y[i][(int64_t)t * N + n] = dots[i](K, w->data + (size_t)n * w->row_bytes, A + (size_t)t * arb);
    }
}

void op_rmsnorm(float *y, const float *x, const float *w, int n, float eps)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}
