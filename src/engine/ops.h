/*
 * ops.h - matrix products on block-quantised weights, and the small
 * element-wise ops of the decoder.  Shared with other engine files (the
 * vision tower reuses mm_run for its F16/F32 products).
 *
 * Convention (ggml): a weight with ne = [K, N] is N rows of K elements and
 * computes y[n] = sum_k W[n][k] x[k].  Activations are row-major, one token
 * per row: X is T x K, Y is T x N.
 */
#ifndef ENGINE_OPS_H
#define ENGINE_OPS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu.h"

struct wmat {
    int type;                 /* enum qtype */
    int64_t K, N;             /* ne[0], ne[1] */
    size_t row_bytes;
    const uint8_t *data;      /* borrowed (mmap) */
    /* Q4_K with N % 8 == 0: the rows repacked by 8 (wmat_repack; quant.h), which every
     * product then reads instead of data; NULL otherwise */
    const uint8_t *x8;
};
/* Repacks a Q4_K matrix for the 8-row kernels (w->x8, owned: wmat_release);
 * RC_OK and nothing done for other types or N % 8 != 0. */
int wmat_repack(struct wmat *w);
void wmat_release(struct wmat *w);

/* Scratch for mm_run, sized once by mm_scratch_init for the largest K and T. */
struct mm_scratch {
    void *act; size_t act_cap;      /* quantised / rounded activations, T rows */
    float *xq;                      /* the same decoded back to float (BLAS prefill) */
    float *panel; size_t panel_per_thread; int n_threads;  /* dequantised weight panels */
};
int mm_scratch_init(struct mm_scratch *s, int64_t max_K, int max_T, int n_threads);
void mm_scratch_release(struct mm_scratch *s);

enum { MM_FAST = 0, MM_EXACT = 1 };
/* Y (T x N) = X (T x K) W^T.  MM_FAST converts X to the weight's activation
 * type first (F16 / Q8_0 / Q8_1 / Q8_K, spec §8.1); MM_EXACT dequantises W
 * exactly and keeps X in float32.  Runs its own OpenMP region with nt threads
 * (call it from outside any parallel region; inside one only with nt = 1 and
 * F32 weights, the one route that uses no scratch).  use_blas: allow OpenBLAS sgemm
 * on dequantised panels for T >= MM_BLAS_MIN_T (when the build has it). */
void mm_run(const struct wmat *W, int T, const float *X, float *Y, int mode, struct mm_scratch *s, int nt, int use_blas);
/* The same for nw <= 8 matrices of one input: Y[i] = X W[i]^T, one parallel
 * region and one activation conversion when they share the path. */
void mm_run_n(int nw, const struct wmat *const *W, int T, const float *X, float *const *Y, int mode, struct mm_scratch *s, int nt, int use_blas);
#define MM_BLAS_MIN_T 8
/* Fast mode with 8-bit activations takes the BLAS route only from this many
 * rows on: below it the integer kernels are as fast (the weights are decoded
 * once per call either way) and they reproduce the reference's integer sums
 * exactly; above it sgemm on decoded panels is 2-3x faster (bench/engine.sh). */
#define MM_BLAS_MIN_T_QUANT 64
int mm_have_blas(void);

/* One row each (n elements). */
void op_rmsnorm(float *y, const float *x, const float *w, int n, float eps);
/* Vector helpers: the kernel set cpuid picked (cpu.h). */
static inline float dot_f32(int64_t n, const float *a, const float *b) { return g_kern.dot_f32(n, a, b); }
static inline float dot_f32_f16(int64_t n, const float *a, const uint16_t *b) { return g_kern.dot_f32_f16(n, a, b); }
/* o += w v */
static inline void axpy_f32(int64_t n, float w, const float *v, float *o) { g_kern.axpy_f32(n, w, v, o); }
static inline void axpy_f16(int64_t n, float w, const uint16_t *v, float *o) { g_kern.axpy_f16(n, w, v, o); }
/* Attention over n keys (cpu.h): s[j] = q . k_j; o += sum_j w[j] v_j in order of j.
 * The same numbers as dot_f32_f16 / axpy_* key by key, faster where the set has them. */
static inline void dots_f32_f16(int64_t n, int64_t hd, const float *q, const uint16_t *k, int64_t ldk, float *s)
{
    if (g_kern.dots_f32_f16) { g_kern.dots_f32_f16(n, hd, q, k, ldk, s); return; }
    for (int64_t j = 0; j < n; j++) s[j] = g_kern.dot_f32_f16(hd, q, k + j * ldk);
}
static inline void axpys_f32(int64_t n, int64_t hd, const float *w, const float *v, int64_t ldv, float *o)
{
    if (g_kern.axpys_f32) { g_kern.axpys_f32(n, hd, w, v, ldv, o); return; }
    for (int64_t j = 0; j < n; j++) g_kern.axpy_f32(hd, w[j], v + j * ldv, o);
}
static inline void axpys_f16(int64_t n, int64_t hd, const float *w, const uint16_t *v, int64_t ldv, float *o)
{
    if (g_kern.axpys_f16) { g_kern.axpys_f16(n, hd, w, v, ldv, o); return; }
    for (int64_t j = 0; j < n; j++) g_kern.axpy_f16(hd, w[j], v + j * ldv, o);
}
/* s *= scale in place; the largest of s (-inf for n = 0) */
static inline float scale_max(float *s, int64_t n, float scale)
{
    if (g_kern.scale_max) return g_kern.scale_max(s, n, scale);
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        s[j] *= scale;
        if (s[j] > mx) mx = s[j];
    }
    return mx;
}
/* g = silu(g) u (SwiGLU): fast, the set's e^x where it has one; else expf */
static inline void silu_mul(float *g, const float *u, int64_t n, int fast)
{
    if (fast && g_kern.silu_mul) { g_kern.silu_mul(g, u, n); return; }
    for (int64_t i = 0; i < n; i++) g[i] = (g[i] / (1.0f + expf(-g[i]))) * u[i];
}
/* acc = f16(acc + v w) */
static inline void f16_mad(int64_t n, uint16_t *acc, const uint16_t *v, float w) { g_kern.f16_mad(n, acc, v, w); }
/* acc = f16(acc w) */
static inline void f16_scale(int64_t n, uint16_t *acc, float w) { g_kern.f16_scale(n, acc, w); }

#endif
