/*
 * quant_simd.c - fast dot products (AVX2/FMA/F16C when the build targets them,
 * which `-march=native` does on x86-64; otherwise the scalar reference).
 * Same formulas as qt_vec_dot_ref, only the summation order differs.
 */
#include "quant.h"
#include "quant_blocks.h"
#include "util.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define HAVE_AVX2 1

static inline float hsum_ps(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}
/* sum of int8 a[i]*b[i] over 32 lanes into 8 x int32 (a, b signed) */
static inline __m256i mul_sum_i8(__m256i a, __m256i b)
{
    __m256i ax = _mm256_sign_epi8(a, a), sy = _mm256_sign_epi8(b, a);
    __m256i p = _mm256_maddubs_epi16(ax, sy);
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

float dot_f32(int64_t n, const float *w, const float *a)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
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

static float dot_q8_0(int64_t n, const struct blk_q8_0 *w, const struct blk_q8_0 *a)
{
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 32; i++) {
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
        __m128i b = _mm_loadu_si128((const __m128i *)w[i].qs);
        __m256i qw = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
        qw = _mm256_sub_epi8(qw, _mm256_set1_epi8(8));
        __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256 d = _mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(mul_sum_i8(qw, qa)), acc);
    }
    return hsum_ps(acc);
}

static inline void scale_min_k4(const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    for (int j = 0; j < 8; j++) {
        if (j < 4) { sc[j] = q[j] & 63; m[j] = q[j + 4] & 63; }
        else { sc[j] = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)); m[j] = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4)); }
    }
}

static float dot_q4_K(int64_t n, const struct blk_q4_K *w, const struct blk_q8_K *a)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        uint8_t sc[8], mn[8];
        scale_min_k4(w[i].scales, sc, mn);
        const int16_t *bs = a[i].bsums;
        int imin = 0;
        for (int k = 0; k < 8; k++) imin += mn[k] * (bs[2 * k] + bs[2 * k + 1]);
        __m256i sumi = _mm256_setzero_si256();
        const uint8_t *q4 = w[i].qs;
        const int8_t *q8 = a[i].qs;
        for (int c = 0; c < 4; c++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(q4 + 32 * c));
            __m256i lo = _mm256_and_si256(b, m4), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q8 + 64 * c)));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 64 * c + 32)));
            p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c]));
            p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        float d = h2f(w[i].d) * a[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm += h2f(w[i].dmin) * a[i].d * (float)imin;
    }
    return hsum_ps(acc) - accm;
}

static float dot_q5_K(int64_t n, const struct blk_q5_K *w, const struct blk_q8_K *a)
{
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        uint8_t sc[8], mn[8];
        scale_min_k4(w[i].scales, sc, mn);
        const int16_t *bs = a[i].bsums;
        int imin = 0;
        for (int k = 0; k < 8; k++) imin += mn[k] * (bs[2 * k] + bs[2 * k + 1]);
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
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * a[i].d), _mm256_cvtepi32_ps(sumi), acc);
        accm += h2f(w[i].dmin) * a[i].d * (float)imin;
    }
    return hsum_ps(acc) - accm;
}

static float dot_q6_K(int64_t n, const struct blk_q6_K *w, const struct blk_q8_K *a)
{
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float accc = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const int8_t *sc = w[i].scales;
        int corr = 0;
        for (int k = 0; k < 16; k++) corr += sc[k] * a[i].bsums[k];
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(w[i].qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
            for (int g = 0; g < 4; g++) {
                __m256i p = _mm256_maddubs_epi16(q[g], _mm256_loadu_si256((const __m256i *)(a[i].qs + 128 * h + 32 * g)));
                int s0 = sc[8 * h + 2 * g], s1 = sc[8 * h + 2 * g + 1];
                __m256i sv = _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sv));
            }
        }
        float d = h2f(w[i].d) * a[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accc += d * (float)(32 * corr);
    }
    return hsum_ps(acc) - accc;
}
#else
#define HAVE_AVX2 0
float dot_f32(int64_t n, const float *w, const float *a)
{
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += w[i] * a[i];
    return s;
}
#endif

int qt_has_simd(int wtype)
{
#if HAVE_AVX2
    return wtype == QT_F32 || wtype == QT_F16 || wtype == QT_Q8_0 || wtype == QT_Q4_0 ||
           wtype == QT_Q4_K || wtype == QT_Q5_K || wtype == QT_Q6_K;
#else
    (void)wtype;
    return 0;
#endif
}

float qt_vec_dot(int wtype, int64_t n, const void *w, const void *a)
{
#if HAVE_AVX2
    switch (wtype) {
    case QT_F32: return dot_f32(n, w, a);
    case QT_F16: return dot_f16(n, w, a);
    case QT_Q8_0: return dot_q8_0(n, w, a);
    case QT_Q4_0: return dot_q4_0(n, w, a);
    case QT_Q4_K: return dot_q4_K(n, w, a);
    case QT_Q5_K: return dot_q5_K(n, w, a);
    case QT_Q6_K: return dot_q6_K(n, w, a);
    default: break;
    }
#endif
    if (wtype == QT_F32) return dot_f32(n, w, a);
    return qt_vec_dot_ref(wtype, n, w, a);
}
