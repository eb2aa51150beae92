/*
 * quant_avx512.c - the AVX-512 kernel set (cpu.h): 512-bit dot products (F32,
 * F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) and the F16 matrix-matrix kernel.
 * Compiled with -mavx512f -mavx512bw -mavx512vl (plus the AVX2 set's flags)
 * whatever the build's ARCH (Makefile: KERN_AVX512), and reached only after
 * cpuid found those (cpu.c).  Three layers, laid over the AVX2 set by cpu.c
 * (a NULL member keeps the AVX2 kernel: decoders, attention helpers):
 *   kern_avx512_layers[0]  "avx512": int8 products by maddubs + madd (Skylake-SP
 *                          and later), BF16 by shift + FMA
 *   kern_avx512_layers[1]  "vnni": the int8 products by vpdpbusd (AVX512_VNNI)
 *   kern_avx512_layers[2]  "bf16": the BF16 dot product by vdpbf16ps (AVX512_BF16)
 * The VNNI and BF16 functions carry target attributes instead of build flags,
 * so the compiler cannot put those instructions into code that runs on CPUs
 * without them (an auto-vectorised int8 loop can become vpdpbusd).  Same
 * formulas as the scalar set (quant.c's qt_vec_dot_ref): the integer sums are
 * exact in both int8 routes; only the order of the f32 sums differs.
 *
 * Compiled a second time with -DMMSAFE_EMULATE_AVX512 for the tests only: the
 * AVX-512 intrinsics then come from SIMDe (header-only, libsimde-dev) on top of
 * native AVX2, and the layers are exported as kern_avx512_layers_emu, so
 * tests/engine/test_kernels.c checks every kernel here on a CPU without AVX-512.
 */
#include "cpu.h"
#include "quant.h"
#include "quant_blocks.h"
#include "util.h"

#include <math.h>
#include <string.h>

#if defined(MMSAFE_EMULATE_AVX512)
#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<simde/x86/avx512.h>)
#define HAVE_SET 1
#endif
#endif
#define KSET(name) name##_emu
#elif defined(__x86_64__) && !defined(ENGINE_NO_AVX2) && !defined(ENGINE_NO_AVX512)
#define HAVE_SET 1
#define KSET(name) name
#endif

#ifdef HAVE_SET
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "quant_avx512.c must be compiled with -mavx2 -mfma -mf16c as well (see the Makefile's KERN_AVX512)"
#endif
#if defined(MMSAFE_EMULATE_AVX512)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
/* SIMDe 0.7.4 lacks these; built here from two native 256-bit halves (the
 * instructions work lane by lane, so the halves give the same bits) */
static inline __m512 emu_cvtepi32_ps(__m512i v)
{
    const __m256 lo = _mm256_cvtepi32_ps(_mm512_castsi512_si256(v)), hi = _mm256_cvtepi32_ps(_mm512_extracti64x4_epi64(v, 1));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
static inline __m512 emu_cvtph_ps(__m256i v)
{
    const __m256 lo = _mm256_cvtph_ps(_mm256_castsi256_si128(v)), hi = _mm256_cvtph_ps(_mm256_extracti128_si256(v, 1));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
static inline __m512i emu_cvtepi8_epi32(__m128i v)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_cvtepi8_epi32(v)), _mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)), 1);
}
/* and its alias of this one takes 4 arguments (a copy-paste slip in madd.h) */
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)
#define _mm512_cvtepi32_ps emu_cvtepi32_ps
#define _mm512_cvtph_ps emu_cvtph_ps
#define _mm512_cvtepi8_epi32 emu_cvtepi8_epi32
#define KTARGET(t)
#else
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "quant_avx512.c must be compiled with -mavx512f -mavx512bw -mavx512vl (see the Makefile's KERN_AVX512)"
#endif
#include <immintrin.h>
#define KTARGET(t) __attribute__((target(t)))
#endif
#define h2f(x) _cvtsh_ss(x)   /* F16C: no table lookup in the kernels */
#include "quant_x86.h"

static inline float hsum512(__m512 v)
{
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return hsum_ps(_mm256_add_ps(_mm512_castps512_ps256(v), hi));
}
/* 32 bytes at p in both 256-bit halves */
static inline __m512i bcast256(const void *p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)); }
/* 32 bytes at p0 in the lower half, 32 at p1 in the upper */
static inline __m512i pair256(const void *p0, const void *p1)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)), _mm256_loadu_si256((const __m256i *)p1), 1);
}
/* x in lanes 0..7, y in lanes 8..15 */
static inline __m512 pair_ps(float x, float y) { return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(x), _mm512_set1_ps(y)); }
static inline __m512i pair_epi32(int x, int y) { return _mm512_mask_blend_epi32(0xff00, _mm512_set1_epi32(x), _mm512_set1_epi32(y)); }

/* ---- float dot products: 4 accumulators of 16 lanes, then 16 at a time, the tail one by one ---- */
#define DOT4(LOAD, SCALAR) do { \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0; \
        int64_t i = 0; \
        for (; i + 64 <= n; i += 64) { \
            s0 = _mm512_fmadd_ps(LOAD(w + i), LOAD(a + i), s0); \
            s1 = _mm512_fmadd_ps(LOAD(w + i + 16), LOAD(a + i + 16), s1); \
            s2 = _mm512_fmadd_ps(LOAD(w + i + 32), LOAD(a + i + 32), s2); \
            s3 = _mm512_fmadd_ps(LOAD(w + i + 48), LOAD(a + i + 48), s3); \
        } \
        for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(LOAD(w + i), LOAD(a + i), s0); \
        float s = hsum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))); \
        for (; i < n; i++) s += SCALAR(w[i]) * SCALAR(a[i]); \
        return s; \
    } while (0)
#define LF(p) _mm512_loadu_ps(p)
#define LH(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define SAME(x) (x)
static float x_dot_f32(int64_t n, const float *w, const float *a) { DOT4(LF, SAME); }
static float x_dot_f16(int64_t n, const uint16_t *w, const uint16_t *a) { DOT4(LH, h2f); }
#undef LF
#undef SAME
#undef DOT4

/* BF16 x BF16 by a 16-bit shift and FMA (quant_x86.h), as the AVX2 set */
DEFINE_DOT_BF16(x_dot_bf16, _mm512, si512, __m512, __m512i, hsum512)

/* BF16 by vdpbf16ps: per f32 lane, acc + w[2j+1] a[2j+1] + w[2j] a[2j], each add
 * rounded to nearest even; the products are exact (8-bit significands), so this
 * is the shift + FMA sum in another order.  The instruction flushes subnormal
 * inputs and outputs to zero (|x| < 1.2e-38: no weight or activation of a
 * working model).  test_kernels checks it only under SIMDe, whose emulation adds
 * the even product first and flushes nothing: neither difference is seen there. */
KTARGET("avx512bf16") static float x_dot_bf16_dp(int64_t n, const uint16_t *w, const uint16_t *a)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
#define BH(p) ((__m512bh)_mm512_loadu_si512(p))
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_dpbf16_ps(s0, BH(w + i), BH(a + i));
        s1 = _mm512_dpbf16_ps(s1, BH(w + i + 32), BH(a + i + 32));
    }
    for (; i + 32 <= n; i += 32) s0 = _mm512_dpbf16_ps(s0, BH(w + i), BH(a + i));
#undef BH
    float s = hsum512(_mm512_add_ps(s0, s1));
    for (; i < n; i++) s += bf2f(w[i]) * bf2f(a[i]);
    return s;
}

/* ---- int8 dot products: the file quant_avx512_int8.h twice, once per way of summing
 * unsigned x signed bytes into 32-bit lanes (4 products a lane) ---- */
static const struct blk_q8_0 zero_q8_0;   /* pads an odd block count: d = 0, all zero */
static const struct blk_q4_0 zero_q4_0;

/* maddubs + madd: pairs summed in 16 bits, which holds here (|u s| <= 127 * 127 for
 * Q8_0's |w| x a, 63 * 127 for the 6-bit ones; never past 32767 for two) */
static inline __m512i dp_bw(__m512i acc, __m512i u, __m512i s)
{
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
}
#define SUF(name) name##_bw
#define KATTR
#define DP dp_bw
#include "quant_avx512_int8.h"
#undef SUF
#undef KATTR
#undef DP

#define SUF(name) name##_vnni
#define KATTR KTARGET("avx512vnni")
#define DP _mm512_dpbusd_epi32
#include "quant_avx512_int8.h"
#undef SUF
#undef KATTR
#undef DP

/* ---- F16 x F16 matrix-matrix (prefill, the vision towers), quant_simd.c's a_gemm_f16
 * in 512 bits: tiles of 4 weight rows x 6 activation rows, 24 accumulators of 16
 * floats (of the 32 zmm registers), each weight vector converted once per 6 FMAs
 * and each activation vector once per 4; the K % 16 tail one by one ---- */
DEFINE_TILE_F16(x_tile, __m512, 16, 4, 6, _mm512_setzero_ps, LH, _mm512_fmadd_ps, hsum512)
#define TILE(RM, RN) static void x_tile_##RM##x##RN(int64_t K, const uint16_t *W, int64_t ldw, const uint16_t *A, \
                                                  int64_t lda, float *Y, int64_t ldy) \
    { x_tile(RM, RN, K, W, ldw, A, lda, Y, ldy); }
TILE(4, 1) TILE(4, 2) TILE(4, 3) TILE(4, 4) TILE(4, 5) TILE(4, 6)
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4) TILE(1, 5) TILE(1, 6)
#undef TILE
static const tile_f16_fn tiles[2 * 6] = {
    x_tile_1x1, x_tile_1x2, x_tile_1x3, x_tile_1x4, x_tile_1x5, x_tile_1x6,
    x_tile_4x1, x_tile_4x2, x_tile_4x3, x_tile_4x4, x_tile_4x5, x_tile_4x6,
};
static void x_gemm_f16(int64_t N, int T, int64_t K, const uint16_t *W, int64_t ldw,
                       const uint16_t *A, int64_t lda, float *Y, int64_t ldy)
{
    gemm_f16_tiled(tiles, 6, N, T, K, W, ldw, A, lda, Y, ldy);
}
#undef LH

/* the table's signature for each typed dot product */
static float v_f32(int64_t n, const void *w, const void *a) { return x_dot_f32(n, w, a); }
static float v_f16(int64_t n, const void *w, const void *a) { return x_dot_f16(n, w, a); }
static float v_bf16(int64_t n, const void *w, const void *a) { return x_dot_bf16(n, w, a); }
static float v_bf16_dp(int64_t n, const void *w, const void *a) { return x_dot_bf16_dp(n, w, a); }

static const struct kern k_base = {
    .name = "avx512",
    .vec_dot = { [QT_F32] = v_f32, [QT_F16] = v_f16, [QT_BF16] = v_bf16, [QT_Q8_0] = dot_q8_0_bw, [QT_Q4_0] = dot_q4_0_bw,
                 [QT_Q4_K] = dot_q4_K_bw, [QT_Q5_K] = dot_q5_K_bw, [QT_Q6_K] = dot_q6_K_bw },
    .dot_f32 = x_dot_f32, .gemm_f16 = x_gemm_f16,
};
static const struct kern k_vnni = {
    .name = "vnni",
    .vec_dot = { [QT_Q8_0] = dot_q8_0_vnni, [QT_Q4_0] = dot_q4_0_vnni, [QT_Q4_K] = dot_q4_K_vnni,
                 [QT_Q5_K] = dot_q5_K_vnni, [QT_Q6_K] = dot_q6_K_vnni },
};
static const struct kern k_bf16 = { .name = "bf16", .vec_dot = { [QT_BF16] = v_bf16_dp } };
const struct kern *const KSET(kern_avx512_layers)[3] = { &k_base, &k_vnni, &k_bf16 };
#elif defined(MMSAFE_EMULATE_AVX512)
/* no SIMDe here (or not x86-64): the tests say the emulated set was not checked */
const struct kern *const kern_avx512_layers_emu[3] = { NULL, NULL, NULL };
#endif
