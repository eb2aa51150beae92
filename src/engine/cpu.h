/*
 * cpu.h - run-time CPU dispatch of the engine's kernels.
 *
 * One binary, several kernel sets: the portable scalar one (cpu.c, plain C11),
 * the AVX2+FMA+F16C one (quant_simd.c, compiled with its own -mavx2 -mfma
 * -mf16c whatever the build's ARCH) and the AVX-512 one (quant_avx512.c, its
 * own -mavx512f -mavx512bw -mavx512vl; layers laid over the AVX2 set, so a NULL
 * member there keeps the AVX2 kernel).  At start-up (a constructor) cpuid picks
 * the fastest set the CPU runs, or the one MMSAFE_CPU names:
 *   MMSAFE_CPU=avx512|avx2|scalar|auto (unset = auto)
 * The AVX-512 set needs AVX512F+BW+VL with zmm state enabled by the OS; where
 * the CPU also has AVX512_VNNI its int8 dot products take vpdpbusd, where it has
 * AVX512_BF16 the BF16 one takes vdpbf16ps, and the path's name says so
 * ("avx512", "avx512+vnni", "avx512+bf16", "avx512+vnni+bf16").
 * A CPU without AVX2+FMA+F16C is refused (engine_cpu_check() fails and says
 * MMSAFE_CPU=scalar runs, slowly); a forced path the CPU lacks (the message
 * names the missing features), or an unknown name, is refused the same way.
 * When refused, the scalar set is installed, so nothing ever executes an
 * instruction the CPU lacks.  ENGINE_NO_AVX512 builds without the AVX-512 set.
 */
#ifndef ENGINE_CPU_H
#define ENGINE_CPU_H

#include <stdint.h>

#include "quant.h"

enum cpu_path { CPU_SCALAR = 0, CPU_AVX2 = 1, CPU_AVX512 = 2, CPU_N_PATHS = 3 };

struct kern {
    const char *name;                               /* "scalar", "avx2", "avx512+vnni", ... */
    /* dot product of a weight row (index: enum qtype) with an activation row in
     * qt_act_type() format; NULL: qt_vec_dot_ref */
    float (*vec_dot[QT_COUNT])(int64_t n, const void *w, const void *a);
    /* bit-exact with qt_dequant_row; returns 0 (and does nothing) when it has no decoder */
    int (*dequant_row)(int type, const void *src, float *dst, int64_t n);
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    float (*dot_f32_f16)(int64_t n, const float *a, const uint16_t *b);
    void (*axpy_f32)(int64_t n, float w, const float *v, float *o);
    void (*axpy_f16)(int64_t n, float w, const uint16_t *v, float *o);
    /* attention over n keys: s[j] = dot_f32_f16(hd, q, k + j * ldk), and o[d] +=
     * w[j] v[j * ldv + d] for j = 0..n-1 in order; each result bit-identical with
     * the set's dot_f32_f16 / axpy_* called key by key (NULL: ops.h does that) */
    void (*dots_f32_f16)(int64_t n, int64_t hd, const float *q, const uint16_t *k, int64_t ldk, float *s);
    void (*axpys_f32)(int64_t n, int64_t hd, const float *w, const float *v, int64_t ldv, float *o);
    void (*axpys_f16)(int64_t n, int64_t hd, const float *w, const uint16_t *v, int64_t ldv, float *o);
    /* s[j] *= scale for j < n, returns the largest (-inf for n = 0; NaNs never
     * win); exact, so every set gives the same s and the same value (a zero's sign
     * may differ) (NULL: ops.h loops) */
    float (*scale_max)(float *s, int64_t n, float scale);
    /* g[i] = silu(g[i]) u[i] = g / (1 + e^-g) u, fast arithmetic only (SwiGLU; the
     * reference's is ggml_v_silu, an e^x of its own): within 1e-6 of the expf loop,
     * relative (NULL: ops.h loops with expf) */
    void (*silu_mul)(float *g, const float *u, int64_t n);
    void (*f16_mad)(int64_t n, uint16_t *acc, const uint16_t *v, float w);
    void (*f16_scale)(int64_t n, uint16_t *acc, float w);
    /* y = f16(x), round to nearest even (exactly f2h) */
    void (*f32_to_f16)(const float *x, uint16_t *y, int64_t n);
    /* s[j] = e^(s[j] - mx) for j < T (s[j] <= mx), returns the sum in double;
     * within 2 ulp of expf (the scalar set: expf itself) */
    double (*exp_sub_sum)(float *s, int T, float mx);
    /* Y[t*ldy + n] = sum_k A[t][k] W[n][k] for t < T, n < N: F16 weights (rows
     * of ldw elements) times F16 activations (rows of lda), f32 products and
     * sums; NULL: none (mm_run takes another route) */
    void (*gemm_f16)(int64_t N, int T, int64_t K, const uint16_t *W, int64_t ldw,
                     const uint16_t *A, int64_t lda, float *Y, int64_t ldy);
    /* y[0..7] = the 8 rows of a repacked Q4_K group (quant.h qt_repack_q4_K_x8)
     * times one Q8_K activation row; every set has one (scalar: qt_gemv_q4_K_x8_ref) */
    void (*gemv_q4_K_x8)(int64_t K, const void *grp, const void *act, float *y);
    /* the group decoded to 8 float rows (row r at y + r * ldy), bit-exact with
     * qt_dequant_row (scalar: qt_dequant_q4_K_x8) */
    void (*dequant_q4_K_x8)(const void *grp, int64_t K, float *y, int64_t ldy);
};

/* The kernels in use (set once at start-up; tests switch it with cpu_use). */
extern struct kern g_kern;
extern const struct kern kern_scalar;

/* The kernel set of a path, or NULL when this CPU (or this build) cannot run it. */
const struct kern *cpu_kern_for(int path);
/* The AVX-512 variants (bits below) this CPU runs; 0 also when it has no AVX-512 set. */
enum { CPU_VNNI = 1, CPU_BF16 = 2 };
int cpu_avx512_variants(void);
/* The AVX-512 set with the given variants (tests: each one the CPU runs), or NULL
 * when the CPU lacks the AVX-512 set or a variant; cpu_kern_for(CPU_AVX512) is the
 * one with every variant the CPU has. */
const struct kern *cpu_kern_avx512(int variants);
/* *dst = the AVX2 set with layers[0] (the AVX-512 base) laid over it, then
 * layers[1] if variants has CPU_VNNI, layers[2] if CPU_BF16: every non-NULL
 * member replaces the one below (quant_avx512.c: kern_avx512_layers; the tests
 * use it for the SIMDe-emulated layers).  Names dst after the variants. */
void cpu_kern_stack(struct kern *dst, const struct kern *const layers[3], int variants);
/* Installs a path's kernels (tests); RC_OK, or an error when cpu_kern_for is NULL. */
int cpu_use(int path);
int cpu_path(void);                /* the path in use (enum cpu_path) */

#endif
