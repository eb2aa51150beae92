/*
 * cpu.h - run-time CPU dispatch of the engine's kernels.
 *
 * One binary, several kernel sets: the portable scalar one (cpu.c, plain C11)
 * and the AVX2+FMA+F16C one (quant_simd.c, compiled with its own -mavx2 -mfma
 * -mf16c whatever the build's ARCH).  At start-up (a constructor) cpuid picks
 * the fastest set the CPU runs, or the one MMSAFE_CPU names:
 *   MMSAFE_CPU=avx2|scalar|auto (unset = auto)
 * A CPU without AVX2+FMA+F16C is refused (engine_cpu_check() fails and says
 * MMSAFE_CPU=scalar runs, slowly); a forced path the CPU lacks, or an unknown
 * name, is refused the same way.  When refused, the scalar set is installed, so
 * nothing ever executes an instruction the CPU lacks.
 *
 * Adding an AVX-512 set: a quant_avx512.c compiled with its own flags that
 * defines `const struct kern kern_avx512` (NULL members fall back to the AVX2
 * set's), a CPU_AVX512 case in cpu.c's detection and cpu_kern_for().
 */
#ifndef ENGINE_CPU_H
#define ENGINE_CPU_H

#include <stdint.h>

#include "quant.h"

enum cpu_path { CPU_SCALAR = 0, CPU_AVX2 = 1, CPU_AVX512 = 2, CPU_N_PATHS = 3 };

struct kern {
    const char *name;                               /* "scalar", "avx2" */
    /* dot product of a weight row (index: enum qtype) with an activation row in
     * qt_act_type() format; NULL: qt_vec_dot_ref */
    float (*vec_dot[QT_COUNT])(int64_t n, const void *w, const void *a);
    /* bit-exact with qt_dequant_row; returns 0 (and does nothing) when it has no decoder */
    int (*dequant_row)(int type, const void *src, float *dst, int64_t n);
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    float (*dot_f32_f16)(int64_t n, const float *a, const uint16_t *b);
    void (*axpy_f32)(int64_t n, float w, const float *v, float *o);
    void (*axpy_f16)(int64_t n, float w, const uint16_t *v, float *o);
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
};

/* The kernels in use (set once at start-up; tests switch it with cpu_use). */
extern struct kern g_kern;
extern const struct kern kern_scalar;

/* The kernel set of a path, or NULL when this CPU (or this build) cannot run it. */
const struct kern *cpu_kern_for(int path);
/* Installs a path's kernels (tests); RC_OK, or an error when cpu_kern_for is NULL. */
int cpu_use(int path);
int cpu_path(void);                /* the path in use (enum cpu_path) */

#endif
