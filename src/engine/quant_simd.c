/*
 * quant_simd.c - the AVX2+FMA+F16C kernel set (cpu.h): dot products, decoders,
 * the F16 matrix-matrix kernel and small vector helpers.  Always compiled with
 * -mavx2 -mfma -mf16c (Makefile), whatever the build's ARCH, and reached only
 * through g_kern after cpuid said the CPU has them (cpu.c).  Same formulas as
 * the scalar set (cpu.c, quant.c's qt_vec_dot_ref); only the summation order
 * differs (tests/engine/test_kernels.c compares them).
 */
#include "cpu.h"
#include "quant.h"
#include "quant_blocks.h"
#include "util.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && !defined(ENGINE_NO_AVX2)
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "quant_simd.c must be compiled with -mavx2 -mfma -mf16c (see the Makefile's KERN_AVX2)"
#endif
#include <immintrin.h>
#define h2f(x) _cvtsh_ss(x)   /* F16C: no table lookup in the kernels */
#include "quant_x86.h"

/* Software prefetch ~2 KiB ahead of a decode kernel's weight stream (past the row
 * into the next one, or past the matrix: a prefetch never faults).  Measured on the
 * 1.1B files at 1 thread, AMD EPYC, interleaved runs: decode Q8_0 +50-60%, F16
 * +10-25%, Q4_K_M +10-23% (repacked Q4_K) and ~+4% (Q6_K): the hardware prefetcher
 * alone left the kernels waiting on memory at ~60% of the core's streaming rate. */
#define PF_AHEAD 2048
#define PREFETCH(p) _mm_prefetch((const char *)(p) + PF_AHEAD, _MM_HINT_T0)

/* sum of int8 a[i]*b[i] over 32 lanes into 8 x int32 (a, b signed) */
static inline __m256i mul_sum_i8(__m256i a, __m256i b)
{
    __m256i ax = _mm256_sign_epi8(a, a), sy = _mm256_sign_epi8(b, a);
    __m256i p = _mm256_maddubs_epi16(ax, sy);
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static float a_dot_f32(int64_t n, const float *w, const float *a)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        PREFETCH(w + i);
        PREFETCH(w + i + 16);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(a + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(a + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(a + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), s0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += w[i] * a[i];
    return s;
}

static float dot_f16(int64_t n, const uint16_t *w, const uint16_t *a)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
#define LH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
    for (; i + 32 <= n; i += 32) {
        PREFETCH(w + i);
        s0 = _mm256_fmadd_ps(LH(w + i), LH(a + i), s0);
        s1 = _mm256_fmadd_ps(LH(w + i + 8), LH(a + i + 8), s1);
        s2 = _mm256_fmadd_ps(LH(w + i + 16), LH(a + i + 16), s2);
        s3 = _mm256_fmadd_ps(LH(w + i + 24), LH(a + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(LH(w + i), LH(a + i), s0);
#undef LH
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += h2f(w[i]) * h2f(a[i]);
    return s;
}

/* BF16 x BF16 by a 16-bit shift and FMA (quant_x86.h) */
DEFINE_DOT_BF16(dot_bf16, _mm256, si256, __m256, __m256i, hsum_ps)

static float dot_q8_0(int64_t n, const struct blk_q8_0 *w, const struct blk_q8_0 *a)
{
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 32; i++) {
        PREFETCH(w + i);
        __m256i qw = _mm256_loadu_si256((const __m256i *)w[i].qs), qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256 d = _mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(mul_sum_i8(qw, qa)), acc);
    }
    return hsum_ps(acc);
}

static float dot_q4_0(int64_t n, const struct blk_q4_0 *w, const struct blk_q8_0 *a)
{
    __m256 acc = _mm256_setzero_ps();
    const __m128i m4 = _mm_set1_epi8(15);
    for (int64_t i = 0; i < n / 32; i++) {
        PREFETCH(w + i);
        __m128i b = _mm_loadu_si128((const __m128i *)w[i].qs);
        __m256i qw = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
        qw = _mm256_sub_epi8(qw, _mm256_set1_epi8(8));
        __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256 d = _mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(mul_sum_i8(qw, qa)), acc);
    }
    return hsum_ps(acc);
}

static float dot_q4_K(int64_t n, const struct blk_q4_K *w, const struct blk_q8_K *a)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < n / 256; i++) {
        uint32_t utmp[4];
        for (int pl = 0; pl < (int)sizeof w[i]; pl += 64) PREFETCH((const char *)(w + i) + pl);
        unpack_k4(w[i].scales, utmp);
        const uint8_t *sc = (const uint8_t *)utmp;
        const float d = h2f(w[i].d) * a[i].d, dm = h2f(w[i].dmin) * a[i].d;
        accm = _mm_fmadd_ps(_mm_set1_ps(dm), _mm_cvtepi32_ps(k4_mins(utmp, a[i].bsums)), accm);
        /* broadcast each sub-block scale to 16-bit lanes with a byte shuffle */
        const __m128i sc8 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc));
        const __m256i scales = _mm256_set_m128i(sc8, sc8);
        const uint8_t *q4 = w[i].qs;
        const int8_t *q8 = a[i].qs;
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
#define Q4K_CHUNK(c, acc_) do { \
            __m256i b_ = _mm256_loadu_si256((const __m256i *)(q4 + 32 * (c))); \
            __m256i lo_ = _mm256_and_si256(b_, m4), hi_ = _mm256_and_si256(_mm256_srli_epi16(b_, 4), m4); \
            __m256i p0_ = _mm256_maddubs_epi16(lo_, _mm256_loadu_si256((const __m256i *)(q8 + 64 * (c)))); \
            __m256i p1_ = _mm256_maddubs_epi16(hi_, _mm256_loadu_si256((const __m256i *)(q8 + 64 * (c) + 32))); \
            p0_ = _mm256_madd_epi16(p0_, _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * (c)))))); \
            p1_ = _mm256_madd_epi16(p1_, _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * (c) + 1))))); \
            acc_ = _mm256_add_epi32(acc_, _mm256_add_epi32(p0_, p1_)); } while (0)
        Q4K_CHUNK(0, s0); Q4K_CHUNK(1, s1); Q4K_CHUNK(2, s0); Q4K_CHUNK(3, s1);
#undef Q4K_CHUNK
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), acc);
    }
    return hsum_ps(acc) - hsum_ps128(accm);
}

static float dot_q5_K(int64_t n, const struct blk_q5_K *w, const struct blk_q8_K *a)
{
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < n / 256; i++) {
        uint32_t utmp[4];
        for (int pl = 0; pl < (int)sizeof w[i]; pl += 64) PREFETCH((const char *)(w + i) + pl);
        unpack_k4(w[i].scales, utmp);
        const uint8_t *sc = (const uint8_t *)utmp;
        const float d = h2f(w[i].d) * a[i].d, dm = h2f(w[i].dmin) * a[i].d;
        accm = _mm_fmadd_ps(_mm_set1_ps(dm), _mm_cvtepi32_ps(k4_mins(utmp, a[i].bsums)), accm);
        __m256i sumi = _mm256_setzero_si256();
        __m256i hb = _mm256_loadu_si256((const __m256i *)w[i].qh);
        for (int c = 0; c < 4; c++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * c));
            __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * c), one);
            __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * c + 1), one);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_slli_epi16(h0, 4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), _mm256_slli_epi16(h1, 4));
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * c)));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(a[i].qs + 64 * c + 32)));
            p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c]));
            p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - hsum_ps128(accm);
}

static float dot_q6_K(int64_t n, const struct blk_q6_K *w, const struct blk_q8_K *a)
{
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    /* lower 16 lanes take scale 2g, upper 16 take 2g+1 (16-bit broadcast by byte shuffle) */
#define SHUF(g) _mm256_set_m128i(_mm_set1_epi16((short)(((4 * (g) + 3) << 8) | (4 * (g) + 2))), \
                                 _mm_set1_epi16((short)(((4 * (g) + 1) << 8) | (4 * (g)))))
    const __m256i sh0 = SHUF(0), sh1 = SHUF(1), sh2 = SHUF(2), sh3 = SHUF(3);
#undef SHUF
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 256; i++) {
        for (int pl = 0; pl < (int)sizeof w[i]; pl += 64) PREFETCH((const char *)(w + i) + pl);
        const int8_t *sc = w[i].scales;
        const int8_t *q8 = a[i].qs;
        /* sum_k sc[k] * bsums[k] (the -32 offset of every q6 value) */
        __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc)),
                                         _mm256_loadu_si256((const __m256i *)a[i].bsums));
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(w[i].qh + 32 * h));
            const __m128i sc16 = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(sc + 8 * h)));
            const __m256i scv = _mm256_set_m128i(sc16, sc16);
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
            const int8_t *qa = q8 + 128 * h;
            __m256i p0 = _mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)(qa)));
            __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(qa + 32)));
            __m256i p2 = _mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(qa + 64)));
            __m256i p3 = _mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(qa + 96)));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_shuffle_epi8(scv, sh0)));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_shuffle_epi8(scv, sh1)));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p2, _mm256_shuffle_epi8(scv, sh2)));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p3, _mm256_shuffle_epi8(scv, sh3)));
        }
        float d = h2f(w[i].d) * a[i].d;
        __m256i sumi = _mm256_sub_epi32(_mm256_add_epi32(s0, s1), _mm256_slli_epi32(corr, 5));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

/* ---- SIMD decoders: bit-exact with qt_dequant_row (multiply then subtract, no FMA) ---- */
static void deq_f16(const uint16_t *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = h2f(x[i]);
}
static void deq_q8_0(const struct blk_q8_0 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / 32; i++) {
        __m256 d = _mm256_set1_ps(h2f(x[i].d));
        for (int j = 0; j < 32; j += 8) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x[i].qs + j)));
            _mm256_storeu_ps(y + 32 * i + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}
static void deq_q4_K(const struct blk_q4_K *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / 256; i++) {
        uint32_t utmp[4];
        unpack_k4(x[i].scales, utmp);
        const uint8_t *sc = (const uint8_t *)utmp, *mn = sc + 8;
        const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
        for (int c = 0; c < 4; c++) {
            const __m256 d1 = _mm256_set1_ps(d * sc[2 * c]), m1 = _mm256_set1_ps(dmin * mn[2 * c]);
            const __m256 d2 = _mm256_set1_ps(d * sc[2 * c + 1]), m2 = _mm256_set1_ps(dmin * mn[2 * c + 1]);
            for (int l = 0; l < 32; l += 8) {
                __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x[i].qs + 32 * c + l)));
                __m256i lo = _mm256_and_si256(b, _mm256_set1_epi32(15)), hi = _mm256_srli_epi32(b, 4);
                _mm256_storeu_ps(y + 64 * c + l, _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(lo)), m1));
                _mm256_storeu_ps(y + 64 * c + 32 + l, _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(hi)), m2));
            }
        }
        y += 256;
    }
}
static void deq_q6_K(const struct blk_q6_K *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = h2f(x[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            const int8_t *sc = x[i].scales + 8 * h;
            for (int l = 0; l < 32; l += 8) {
                __m256i a0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ql + l)));
                __m256i a1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ql + 32 + l)));
                __m256i hh = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qh + l)));
                const __m256i m4 = _mm256_set1_epi32(15), m3 = _mm256_set1_epi32(3), o = _mm256_set1_epi32(32);
                __m256i q[4];
                q[0] = _mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(a0, m4), _mm256_slli_epi32(_mm256_and_si256(hh, m3), 4)), o);
                q[1] = _mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(a1, m4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hh, 2), m3), 4)), o);
                q[2] = _mm256_sub_epi32(_mm256_or_si256(_mm256_srli_epi32(a0, 4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hh, 4), m3), 4)), o);
                q[3] = _mm256_sub_epi32(_mm256_or_si256(_mm256_srli_epi32(a1, 4), _mm256_slli_epi32(_mm256_srli_epi32(hh, 6), 4)), o);
                const int is = l / 16;
                for (int g = 0; g < 4; g++) {
                    /* y = (d * sc) * q, the inner product rounded first */
                    __m256 ds = _mm256_set1_ps(d * (float)sc[is + 2 * g]);
                    _mm256_storeu_ps(y + 128 * h + 32 * g + l, _mm256_mul_ps(ds, _mm256_cvtepi32_ps(q[g])));
                }
            }
        }
        y += 256;
    }
}

static int a_dequant_row(int type, const void *src, float *dst, int64_t n)
{
    switch (type) {
    case QT_F16: deq_f16(src, dst, n); return 1;
    case QT_Q8_0: deq_q8_0(src, dst, n); return 1;
    case QT_Q4_K: deq_q4_K(src, dst, n); return 1;
    case QT_Q6_K: deq_q6_K(src, dst, n); return 1;
    default: return 0;
    }
}

/* ---- attention helpers ---- */
static float a_dot_f32_f16(int64_t n, const float *a, const uint16_t *b)
{
    __m256 s = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i))), s);
    float r = hsum_ps(s);
    for (; i < n; i++) r += a[i] * h2f(b[i]);
    return r;
}
static void a_axpy_f16(int64_t n, float w, const uint16_t *v, float *o)
{
    __m256 wv = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, _mm256_fmadd_ps(wv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i))), _mm256_loadu_ps(o + i)));
    for (; i < n; i++) o[i] += w * h2f(v[i]);
}
static void a_axpy_f32(int64_t n, float w, const float *v, float *o)
{
    __m256 wv = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, _mm256_fmadd_ps(wv, _mm256_loadu_ps(v + i), _mm256_loadu_ps(o + i)));
    for (; i < n; i++) o[i] += w * v[i];
}
/* Attention over many keys (cpu.h dots_f32_f16, axpys_f16/f32): each score and
 * each output element is summed exactly as a_dot_f32_f16 / a_axpy_* sum it, but 8
 * keys' dot products run side by side, and the output stays in registers across
 * the keys instead of being loaded and stored once a key. */
static void a_dots_f32_f16(int64_t n, int64_t hd, const float *q, const uint16_t *k, int64_t ldk, float *s)
{
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const uint16_t *kj = k + j * ldk;
        __m256 c[8];
        for (int r = 0; r < 8; r++) c[r] = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 8 <= hd; i += 8) {
            const __m256 qv = _mm256_loadu_ps(q + i);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                c[r] = _mm256_fmadd_ps(qv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kj + r * ldk + i))), c[r]);
        }
        for (int r = 0; r < 8; r++) {
            float v = hsum_ps(c[r]);
            for (int64_t ii = i; ii < hd; ii++) v += q[ii] * h2f(kj[r * ldk + ii]);
            s[j + r] = v;
        }
    }
    for (; j < n; j++) s[j] = a_dot_f32_f16(hd, q, k + j * ldk);
}
static float a_scale_max(float *s, int64_t n, float scale)
{
    const __m256 sv = _mm256_set1_ps(scale);
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(s + j), sv), b = _mm256_mul_ps(_mm256_loadu_ps(s + j + 8), sv);
        _mm256_storeu_ps(s + j, a);
        _mm256_storeu_ps(s + j + 8, b);
        m0 = _mm256_max_ps(a, m0);   /* a NaN in a leaves m0, as the loop's > does */
        m1 = _mm256_max_ps(b, m1);
    }
    m0 = _mm256_max_ps(m0, m1);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float mx = _mm_cvtss_f32(m);
    for (; j < n; j++) {
        s[j] *= scale;
        if (s[j] > mx) mx = s[j];
    }
    return mx;
}
#define DEFINE_AXPYS(NAME, T, LOAD8, TOF) \
static void NAME(int64_t n, int64_t hd, const float *w, const T *v, int64_t ldv, float *o) \
{ \
    int64_t d = 0; \
    for (; d + 64 <= hd; d += 64) { \
        __m256 c[8]; \
        for (int r = 0; r < 8; r++) c[r] = _mm256_loadu_ps(o + d + 8 * r); \
        for (int64_t j = 0; j < n; j++) { \
            const __m256 wv = _mm256_set1_ps(w[j]); \
            const T *vj = v + j * ldv + d; \
            _Pragma("GCC unroll 8") \
            for (int r = 0; r < 8; r++) c[r] = _mm256_fmadd_ps(wv, LOAD8(vj + 8 * r), c[r]); \
        } \
        for (int r = 0; r < 8; r++) _mm256_storeu_ps(o + d + 8 * r, c[r]); \
    } \
    for (; d + 8 <= hd; d += 8) { \
        __m256 c0 = _mm256_loadu_ps(o + d); \
        for (int64_t j = 0; j < n; j++) c0 = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), LOAD8(v + j * ldv + d), c0); \
        _mm256_storeu_ps(o + d, c0); \
    } \
    for (; d < hd; d++) \
        for (int64_t j = 0; j < n; j++) o[d] += w[j] * TOF(v[j * ldv + d]); \
}
#define LH8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define IDF(x) (x)
DEFINE_AXPYS(a_axpys_f16, uint16_t, LH8, h2f)
DEFINE_AXPYS(a_axpys_f32, float, _mm256_loadu_ps, IDF)
#undef LH8
#undef IDF

/* acc = f16(acc + v * w) and acc = f16(acc * w), element-wise (ggml_vec_mad_f16 / _scale_f16) */
static void a_f16_mad(int64_t n, uint16_t *acc, const uint16_t *v, float w)
{
    const __m256 wv = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(acc + i)));
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i)));
        _mm_storeu_si128((__m128i *)(acc + i), _mm256_cvtps_ph(_mm256_fmadd_ps(x, wv, a), 0));
    }
    for (; i < n; i++) acc[i] = f2h(h2f(acc[i]) + h2f(v[i]) * w);
}
static void a_f16_scale(int64_t n, uint16_t *acc, float w)
{
    const __m256 wv = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(acc + i), _mm256_cvtps_ph(_mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(acc + i))), wv), 0));
    for (; i < n; i++) acc[i] = f2h(h2f(acc[i]) * w);
}
/* ---- F16 x F16 matrix-matrix (prefill, the vision tower): tiles of 4 weight rows x 3
 * activation rows, 12 accumulators, each weight vector converted once per 3 FMAs
 * and each activation vector once per 4 (llamafile's tinyBLAS shape, which the
 * reference uses for F16 on AVX2), over the whole K; f32 products and sums. ---- */
#define LH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
DEFINE_TILE_F16(tile_f16, __m256, 8, 4, 3, _mm256_setzero_ps, LH, _mm256_fmadd_ps, hsum_ps)
#define TILE(RM, RN) static void tile_##RM##x##RN(int64_t K, const uint16_t *W, int64_t ldw, const uint16_t *A, \
                                                int64_t lda, float *Y, int64_t ldy) \
    { tile_f16(RM, RN, K, W, ldw, A, lda, Y, ldy); }
TILE(4, 3) TILE(4, 2) TILE(4, 1) TILE(1, 3) TILE(1, 2) TILE(1, 1)
#undef TILE

static const tile_f16_fn tiles[2 * 3] = { tile_1x1, tile_1x2, tile_1x3, tile_4x1, tile_4x2, tile_4x3 };
static void a_gemm_f16(int64_t N, int T, int64_t K, const uint16_t *W, int64_t ldw,
                       const uint16_t *A, int64_t lda, float *Y, int64_t ldy)
{
    gemm_f16_tiled(tiles, 3, N, T, K, W, ldw, A, lda, Y, ldy);
}
#undef LH

static void a_f32_to_f16(const float *x, uint16_t *y, int64_t n)
{
    int64_t i = 0;
    /* the F16C instruction rounds as f2h does (tests/engine/test_kernels.c) */
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = f2h(x[i]);
}

/* e^x for 8 floats, x <= 0 (softmax after the max is subtracted): x = n ln2 + r
 * with |r| <= ln2/2 (ln2 split in two for the reduction), e^r by its degree-7
 * Taylor polynomial (truncation < 1e-8 relative), times 2^n through the
 * exponent bits.  Below -87 (where e^x nears the smallest normal float) the
 * result is 0.  Within 2 ulp of expf; used in fast arithmetic only (llama.cpp's
 * softmax uses an approximation of its own, ~1.5 ulp). */
static inline __m256 exp_neg8(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.0f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);     /* ln2 high part: exact product */
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);         /* ln2 - 0.693359375 */
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}
/* SwiGLU's silu(g) u with e = e^-|g| (<= 1, so exp_neg8 serves): g / (1 + e) for
 * g >= 0, g e / (1 + e) below (the same value: e^-g = 1/e there) */
static void a_silu_mul(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 neg = _mm256_cmp_ps(x, zero, _CMP_LT_OQ);
        const __m256 e = exp_neg8(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));   /* e^-|x| */
        const __m256 num = _mm256_blendv_ps(x, _mm256_mul_ps(x, e), neg);
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(num, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = (g[i] / (1.0f + expf(-g[i]))) * u[i];
}
static double a_exp_sub_sum(float *s, int T, float mx)
{
    const __m256 vm = _mm256_set1_ps(mx);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    int j = 0;
    for (; j + 8 <= T; j += 8) {
        const __m256 e = exp_neg8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
        _mm256_storeu_ps(s + j, e);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(acc0, acc1));
    double sum = (t[0] + t[1]) + (t[2] + t[3]);
    for (; j < T; j++) { s[j] = expf(s[j] - mx); sum += (double)s[j]; }
    return sum;
}

/* ---- 8 repacked Q4_K rows x one Q8_K row (decode): each 32-byte load holds 4
 * bytes of each of the 8 rows, so maddubs against the 4 activation bytes
 * broadcast to every row gives each row's partial sums in its own lanes: no
 * horizontal sums, one scale multiply per sub-block for all 8 rows, and the
 * activation loaded once for 8 rows.  Int16 partial sums: 16 products of at most
 * 15 x 128 per lane per sub-block (30,720) cannot overflow. ---- */
static void a_gemv_q4_K_x8(int64_t K, const void *vw, const void *va, float *y)
{
    const struct blk_q4_K_x8 *w = vw;
    const struct blk_q8_K *a = va;
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < K / 256; i++) {
        const struct blk_q4_K_x8 *b = w + i;
        const int8_t *q8 = a[i].qs;
        for (int pl = 0; pl < (int)sizeof *b; pl += 64) PREFETCH((const char *)b + 320 + pl);   /* 2 blocks ahead */
        __m256i sumi = _mm256_setzero_si256(), mins = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            for (int g = 0; g < 8; g++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)b->qs[c][g]);
                int32_t lo4, hi4;
                memcpy(&lo4, q8 + 64 * c + 4 * g, 4);
                memcpy(&hi4, q8 + 64 * c + 32 + 4 * g, 4);
                s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(_mm256_and_si256(q, m4), _mm256_set1_epi32(lo4)));
                s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_set1_epi32(hi4)));
            }
            /* scale of row r in 16-bit lanes 2r and 2r+1 */
            const __m128i c0 = _mm_loadl_epi64((const __m128i *)b->sc[2 * c]), c1 = _mm_loadl_epi64((const __m128i *)b->sc[2 * c + 1]);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s0, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(c0, c0))));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s1, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(c1, c1))));
            /* mins of sub-blocks 2c, 2c+1 of row r in lanes 2r, 2r+1, times their activation sums */
            const __m128i n0 = _mm_loadl_epi64((const __m128i *)b->mn[2 * c]), n1 = _mm_loadl_epi64((const __m128i *)b->mn[2 * c + 1]);
            const int16_t bs0 = (int16_t)(a[i].bsums[4 * c] + a[i].bsums[4 * c + 1]), bs1 = (int16_t)(a[i].bsums[4 * c + 2] + a[i].bsums[4 * c + 3]);
            mins = _mm256_add_epi32(mins, _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(n0, n1)),
                                                            _mm256_set1_epi32((int)((uint32_t)(uint16_t)bs1 << 16 | (uint16_t)bs0))));
        }
        const __m256 ad = _mm256_set1_ps(a[i].d);
        const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d)), ad);
        const __m256 dm = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin)), ad);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(dm, _mm256_cvtepi32_ps(mins), accm);
    }
    _mm256_storeu_ps(y, _mm256_sub_ps(acc, accm));
}

/* The repacked group decoded to 8 float rows, bit-exact with qt_dequant_row (the
 * same d * sc and dmin * mn products, then multiply and subtract, no FMA): per
 * sub-block pair, the 8 loads of 8 rows x 4 bytes are transposed (8 x 8 dwords)
 * into each row's 32 bytes.  The BLAS prefill route decodes every panel with it. */
static void a_dequant_q4_K_x8(const void *vw, int64_t K, float *y, int64_t ldy)
{
    const struct blk_q4_K_x8 *x = vw;
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t i = 0; i < K / 256; i++, x++)
        for (int c = 0; c < 4; c++) {
            __m256i v[8], t[8];
            for (int g = 0; g < 8; g++) v[g] = _mm256_loadu_si256((const __m256i *)x->qs[c][g]);
            /* v[g] lane r = row r's bytes 4g..4g+3; transpose so that v[r] lane g = the same */
            for (int g = 0; g < 8; g += 2) { t[g] = _mm256_unpacklo_epi32(v[g], v[g + 1]); t[g + 1] = _mm256_unpackhi_epi32(v[g], v[g + 1]); }
            for (int g = 0; g < 8; g += 4) {
                v[g] = _mm256_unpacklo_epi64(t[g], t[g + 2]); v[g + 1] = _mm256_unpackhi_epi64(t[g], t[g + 2]);
                v[g + 2] = _mm256_unpacklo_epi64(t[g + 1], t[g + 3]); v[g + 3] = _mm256_unpackhi_epi64(t[g + 1], t[g + 3]);
            }
            /* now v[r] (r < 4) holds g 0-3 of row r in its low half and g 0-3 of row r+4 in
             * its high half, v[r+4] the same for g 4-7: permute2x128 joins each row's halves */
            for (int r = 0; r < 4; r++) {
                t[r] = _mm256_permute2x128_si256(v[r], v[r + 4], 0x20);
                t[r + 4] = _mm256_permute2x128_si256(v[r], v[r + 4], 0x31);
            }
            for (int r = 0; r < 8; r++) {
                float *o = y + (size_t)r * ldy + 256 * i;
                const float d = h2f(x->d[r]), dmin = h2f(x->dmin[r]);
                const __m256 d1 = _mm256_set1_ps(d * x->sc[2 * c][r]), m1 = _mm256_set1_ps(dmin * x->mn[2 * c][r]);
                const __m256 d2 = _mm256_set1_ps(d * x->sc[2 * c + 1][r]), m2 = _mm256_set1_ps(dmin * x->mn[2 * c + 1][r]);
                const __m256i lo = _mm256_and_si256(t[r], m4), hi = _mm256_and_si256(_mm256_srli_epi16(t[r], 4), m4);
                for (int l = 0; l < 32; l += 8) {
                    const __m256 ql = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)((const uint8_t *)&lo + l))));
                    const __m256 qh = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)((const uint8_t *)&hi + l))));
                    _mm256_storeu_ps(o + 64 * c + l, _mm256_sub_ps(_mm256_mul_ps(d1, ql), m1));
                    _mm256_storeu_ps(o + 64 * c + 32 + l, _mm256_sub_ps(_mm256_mul_ps(d2, qh), m2));
                }
            }
        }
}

/* the table's signature for each typed dot product */
static float v_f16(int64_t n, const void *w, const void *a) { return dot_f16(n, w, a); }
static float v_f32(int64_t n, const void *w, const void *a) { return a_dot_f32(n, w, a); }
static float v_bf16(int64_t n, const void *w, const void *a) { return dot_bf16(n, w, a); }
static float v_q8_0(int64_t n, const void *w, const void *a) { return dot_q8_0(n, w, a); }
static float v_q4_0(int64_t n, const void *w, const void *a) { return dot_q4_0(n, w, a); }
static float v_q4_K(int64_t n, const void *w, const void *a) { return dot_q4_K(n, w, a); }
static float v_q5_K(int64_t n, const void *w, const void *a) { return dot_q5_K(n, w, a); }
static float v_q6_K(int64_t n, const void *w, const void *a) { return dot_q6_K(n, w, a); }

const struct kern kern_avx2 = {
    .name = "avx2",
    .vec_dot = { [QT_F32] = v_f32, [QT_F16] = v_f16, [QT_BF16] = v_bf16, [QT_Q8_0] = v_q8_0, [QT_Q4_0] = v_q4_0,
                 [QT_Q4_K] = v_q4_K, [QT_Q5_K] = v_q5_K, [QT_Q6_K] = v_q6_K },
    .dequant_row = a_dequant_row, .dot_f32 = a_dot_f32, .dot_f32_f16 = a_dot_f32_f16,
    .axpy_f32 = a_axpy_f32, .axpy_f16 = a_axpy_f16,
    .dots_f32_f16 = a_dots_f32_f16, .axpys_f32 = a_axpys_f32, .axpys_f16 = a_axpys_f16, .scale_max = a_scale_max,
    .silu_mul = a_silu_mul, .f16_mad = a_f16_mad, .f16_scale = a_f16_scale,
    .f32_to_f16 = a_f32_to_f16, .exp_sub_sum = a_exp_sub_sum, .gemm_f16 = a_gemm_f16,
    .gemv_q4_K_x8 = a_gemv_q4_K_x8, .dequant_q4_K_x8 = a_dequant_q4_K_x8,
};
#endif
