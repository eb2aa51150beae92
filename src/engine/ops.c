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

#define PANEL_ROWS 64
#define ROW_BLOCK 16

int mm_have_blas(void) { return HAVE_BLAS; }

static size_t act_row_bytes(int atype, int64_t K)
{
    /* the largest activation format per element is F32; Q8_K needs K % 256 == 0 */
    return qt_row_bytes(atype, K);
}

int mm_scratch_init(struct mm_scratch *s, int64_t max_K, int max_T, int n_threads)
{
    memset(s, 0, sizeof *s);
    if (n_threads < 1) n_threads = 1;
    s->act_cap = (size_t)max_T * (size_t)max_K * sizeof(float);   /* F32 rows bound every format */
    s->act = malloc(s->act_cap ? s->act_cap : 1);
    s->n_threads = n_threads;
    s->panel_per_thread = (size_t)PANEL_ROWS * (size_t)max_K;
    s->panel = malloc((size_t)n_threads * s->panel_per_thread * sizeof(float));
    if (!s->act || !s->panel) { mm_scratch_release(s); return eng_err(RC_ENOMEM, "out of memory (matmul scratch)"); }
#if HAVE_BLAS
    openblas_set_num_threads(1);   /* we parallelise over panels ourselves */
#endif
    return RC_OK;
}

void mm_scratch_release(struct mm_scratch *s)
{
    free(s->act); free(s->panel);
    memset(s, 0, sizeof *s);
}

/* Y[t][n] for a block of rows from dequantised float rows P (nr x K). */
static void panel_product(const float *P, int nr, int64_t K, int T, const float *X, float *Y, int64_t N, int64_t n0, int use_blas)
{
#if HAVE_BLAS
    if (use_blas && T >= MM_BLAS_MIN_T) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nr, (int)K, 1.0f, X, (int)K, P, (int)K, 0.0f, Y + n0, (int)N);
        return;
    }
#else
    (void)use_blas;
#endif
    for (int t = 0; t < T; t++)
        for (int r = 0; r < nr; r++)
            Y[(int64_t)t * N + n0 + r] = dot_f32(K, P + (int64_t)r * K, X + (int64_t)t * K);
}

void mm_run(const struct wmat *W, int T, const float *X, float *Y, int mode, struct mm_scratch *s, int nt, int use_blas)
{
    const int64_t K = W->K, N = W->N;
    if (nt < 1) nt = 1;
    if (nt > s->n_threads) nt = s->n_threads;
    if (T <= 0) return;
    int blas = HAVE_BLAS && use_blas && T >= MM_BLAS_MIN_T;

    if (W->type == QT_F32) {
        if (blas) {
            int64_t np = (N + PANEL_ROWS - 1) / PANEL_ROWS;
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t p = 0; p < np; p++) {
                int64_t n0 = p * PANEL_ROWS;
                int nr = (int)(N - n0 < PANEL_ROWS ? N - n0 : PANEL_ROWS);
                panel_product((const float *)(W->data + (size_t)n0 * W->row_bytes), nr, K, T, X, Y, N, n0, 1);
            }
            return;
        }
        int64_t nb = (N + ROW_BLOCK - 1) / ROW_BLOCK;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            int64_t n0 = b * ROW_BLOCK, n1 = n0 + ROW_BLOCK < N ? n0 + ROW_BLOCK : N;
            for (int t = 0; t < T; t++)
                for (int64_t n = n0; n < n1; n++)
                    Y[(int64_t)t * N + n] = dot_f32(K, (const float *)(W->data + (size_t)n * W->row_bytes), X + (int64_t)t * K);
        }
        return;
    }

    if (mode == MM_EXACT || ((W->type == QT_F16 || W->type == QT_BF16) && blas)) {
        /* dequantise panels of rows exactly, multiply in f32 (BLAS or dot_f32).
         * Fast mode with F16/BF16 weights: X rounded to F16/BF16 first; the products of
         * two such values are exact in f32, so this is the reference's arithmetic up to
         * summation order. */
        const float *Xu = X;
        if (mode == MM_FAST) {
            float *Xr = s->act;
            int bf = W->type == QT_BF16;
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t i = 0; i < (int64_t)T * K; i++) Xr[i] = bf ? bf2f(f2bf(X[i])) : f16_round(X[i]);
            Xu = Xr;
        }
        int64_t np = (N + PANEL_ROWS - 1) / PANEL_ROWS;
#pragma omp parallel num_threads(nt)
        {
            int tid = omp_get_thread_num();
            float *P = s->panel + (size_t)tid * s->panel_per_thread;
#pragma omp for schedule(static)
            for (int64_t p = 0; p < np; p++) {
                int64_t n0 = p * PANEL_ROWS;
                int nr = (int)(N - n0 < PANEL_ROWS ? N - n0 : PANEL_ROWS);
                if (!blas) {
                    /* decode: small panels of ROW_BLOCK rows keep the floats in cache */
                    for (int r0 = 0; r0 < nr; r0 += ROW_BLOCK) {
                        int rr = nr - r0 < ROW_BLOCK ? nr - r0 : ROW_BLOCK;
                        for (int r = 0; r < rr; r++)
                            qt_dequant_row(W->type, W->data + (size_t)(n0 + r0 + r) * W->row_bytes, P + (int64_t)r * K, K);
                        panel_product(P, rr, K, T, Xu, Y, N, n0 + r0, 0);
                    }
                } else {
                    for (int r = 0; r < nr; r++)
                        qt_dequant_row(W->type, W->data + (size_t)(n0 + r) * W->row_bytes, P + (int64_t)r * K, K);
                    panel_product(P, nr, K, T, Xu, Y, N, n0, 1);
                }
            }
        }
        return;
    }

    /* fast: activations into the weight's vec_dot type, then block dot products */
    int at = qt_act_type(W->type);
    size_t arb = act_row_bytes(at, K);
    uint8_t *A = s->act;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < T; t++) qt_quant_act(at, X + (int64_t)t * K, A + (size_t)t * arb, K);
    int64_t nb = (N + ROW_BLOCK - 1) / ROW_BLOCK;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        int64_t n0 = b * ROW_BLOCK, n1 = n0 + ROW_BLOCK < N ? n0 + ROW_BLOCK : N;
        for (int t = 0; t < T; t++)
            for (int64_t n = n0; n < n1; n++)
                Y[(int64_t)t * N + n] = qt_vec_dot(W->type, K, W->data + (size_t)n * W->row_bytes, A + (size_t)t * arb);
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
