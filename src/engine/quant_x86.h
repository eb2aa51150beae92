/*
 * quant_x86.h - helpers shared by the x86 kernel sets (quant_simd.c: AVX2,
 * quant_avx512.c: AVX-512), static inline so each set gets a copy compiled with
 * its own instruction flags.  Include after <immintrin.h> (or SIMDe's headers).
 */
#ifndef ENGINE_QUANT_X86_H
#define ENGINE_QUANT_X86_H
#include <stdint.h>
#include <string.h>

static inline float hsum_ps(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}
static inline float hsum_ps128(__m128 v)
{
    __m128 m = _mm_add_ps(v, _mm_movehl_ps(v, v));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* scales[12] -> bytes 0..7 = the 8 sub-block scales, 8..15 = the 8 mins (ggml's utmp trick) */
static inline void unpack_k4(const uint8_t *scales, uint32_t utmp[4])
{
    const uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
    memcpy(utmp, scales, 12);
    utmp[3] = ((utmp[2] >> 4) & kmask2) | (((utmp[1] >> 6) & kmask3) << 4);
    const uint32_t uaux = utmp[1] & kmask1;
    utmp[1] = (utmp[2] & kmask2) | (((utmp[0] >> 6) & kmask3) << 4);
    utmp[2] = uaux;
    utmp[0] &= kmask1;
}

/* sum_k mins[k] * (bsums[2k] + bsums[2k+1]) as 4 x int32 */
static inline __m128i k4_mins(const uint32_t utmp[4], const int16_t *bsums)
{
    __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)utmp[3], (int)utmp[2]));
    __m128i b0 = _mm_loadu_si128((const __m128i *)bsums), b1 = _mm_loadu_si128((const __m128i *)(bsums + 8));
    __m128i q8s = _mm_hadd_epi16(b0, b1);
    return _mm_madd_epi16(mins, q8s);
}

/* The F16 matrix kernel's register tile, for both sets (its driver: a_gemm_f16,
 * x_gemm_f16): Y[j * ldy + i] = sum_k W[i * ldw + k] A[j * lda + k] for i < rm,
 * j < rn (at most RM x RN accumulators of type VEC, STEP floats each; LOADH(p)
 * converts STEP halves at p), each weight vector converted once per rn FMAs and
 * each activation vector once per rm, over the whole K; the K % STEP tail one by
 * one; f32 products and sums.  Instantiate with constant rm, rn. */
#define DEFINE_TILE_F16(NAME, VEC, STEP, RM, RN, ZERO, LOADH, FMA, HSUM) \
static inline __attribute__((always_inline)) void NAME(const int rm, const int rn, int64_t K, \
    const uint16_t *W, int64_t ldw, const uint16_t *A, int64_t lda, float *Y, int64_t ldy) \
{ \
    VEC c[RM][RN]; \
    _Pragma("GCC unroll 4") \
    for (int i = 0; i < rm; i++) \
        _Pragma("GCC unroll 6") \
        for (int j = 0; j < rn; j++) c[i][j] = ZERO(); \
    int64_t k = 0; \
    for (; k + STEP <= K; k += STEP) { \
        VEC b[RN]; \
        _Pragma("GCC unroll 6") \
        for (int j = 0; j < rn; j++) b[j] = LOADH(A + j * lda + k); \
        _Pragma("GCC unroll 4") \
        for (int i = 0; i < rm; i++) { \
            const VEC w = LOADH(W + i * ldw + k); \
            _Pragma("GCC unroll 6") \
            for (int j = 0; j < rn; j++) c[i][j] = FMA(w, b[j], c[i][j]); \
        } \
    } \
    for (int i = 0; i < rm; i++) \
        for (int j = 0; j < rn; j++) { \
            float sum = HSUM(c[i][j]); \
            for (int64_t kk = k; kk < K; kk++) sum += h2f(W[i * ldw + kk]) * h2f(A[j * lda + kk]); \
            Y[j * ldy + i] = sum; \
        } \
}
typedef void (*tile_f16_fn)(int64_t K, const uint16_t *W, int64_t ldw, const uint16_t *A, int64_t lda, float *Y, int64_t ldy);
/* The F16 matrix kernel (struct kern's gemm_f16) from a set's tiles: tiles[(rm == 4) * RN
 * + rn - 1] does rm weight rows x rn activation rows (rn <= RN).  Activation rows in
 * near-equal blocks of at most ~256 KiB (L2), each block met by every weight tile: 4
 * rows at a time, then the N % 4 left one by one.  Within a block, tiles of RN
 * activation rows; a short remainder shares the last full tile's rows (3+1 as 2+2 for
 * RN 3), since a tile of one row does 4 FMAs per 5 loads.  Every output sums its own
 * products in the same order whatever the tiling, so results do not depend on it. */
static inline void gemm_f16_tiled(const tile_f16_fn *tiles, const int RN, int64_t N, int T, int64_t K,
                                  const uint16_t *W, int64_t ldw, const uint16_t *A, int64_t lda, float *Y, int64_t ldy)
{
    int tmax = (int)((256 * 1024) / (K * 2 + 1)) / RN * RN;
    if (tmax < RN) tmax = RN;
    const int nblk = (T + tmax - 1) / tmax;
    int tb = (T + nblk - 1) / nblk;
    tb = (tb + RN - 1) / RN * RN;
    for (int t0 = 0; t0 < T; t0 += tb) {
        const int t1 = t0 + tb < T ? t0 + tb : T, r = (t1 - t0) % RN;
        /* the last two tiles of the block: RN + r rows split in two when r is short */
        const int split = r != 0 && r < RN - 1 && t1 - t0 > RN ? t1 - RN - r : t1;
        for (int64_t n = 0; n < N;) {
            const int rm = N - n >= 4 ? 4 : 1;
            const tile_f16_fn *tl = tiles + (rm == 4) * RN;
            const uint16_t *Wn = W + n * ldw;
            float *Yn = Y + n;
            int t = t0;
            for (; t + RN <= split; t += RN)
                tl[RN - 1](K, Wn, ldw, A + (int64_t)t * lda, lda, Yn + (int64_t)t * ldy, ldy);
            if (split < t1) {
                const int a = (RN + r + 1) / 2;
                tl[a - 1](K, Wn, ldw, A + (int64_t)t * lda, lda, Yn + (int64_t)t * ldy, ldy);
                t += a;
            }
            for (; t < t1; t += RN) {
                const int rn = t1 - t < RN ? t1 - t : RN;
                tl[rn - 1](K, Wn, ldw, A + (int64_t)t * lda, lda, Yn + (int64_t)t * ldy, ldy);
            }
            n += rm;
        }
    }
}

/* BF16 x BF16 dot product, for both sets (P: _mm256 or _mm512, SI: si256 or si512,
 * VEC/IVEC the float/integer vector types): a bf16 is the upper half of an f32, so
 * in each 32-bit lane the even element becomes a float by a 16-bit left shift and
 * the odd one by clearing the low half; both operands are split alike, so the
 * pairs still match.  The products are exact in f32 (8-bit significands); FMA sums
 * them in 4 accumulators, the tail one by one. */
#define DEFINE_DOT_BF16(NAME, P, SI, VEC, IVEC, HSUM) \
static inline void NAME##_step(const uint16_t *w, const uint16_t *a, const IVEC himask, VEC *se, VEC *so) \
{ \
    const IVEC w0 = P##_loadu_##SI((const IVEC *)w), a0 = P##_loadu_##SI((const IVEC *)a); \
    *se = P##_fmadd_ps(P##_cast##SI##_ps(P##_slli_epi32(w0, 16)), P##_cast##SI##_ps(P##_slli_epi32(a0, 16)), *se); \
    *so = P##_fmadd_ps(P##_cast##SI##_ps(P##_and_##SI(w0, himask)), P##_cast##SI##_ps(P##_and_##SI(a0, himask)), *so); \
} \
static float NAME(int64_t n, const uint16_t *w, const uint16_t *a) \
{ \
    const int64_t L = (int64_t)(sizeof(IVEC) / 2);   /* bf16 elements a register */ \
    const IVEC himask = P##_set1_epi32((int)0xffff0000u); \
    VEC s0 = P##_setzero_ps(), s1 = s0, s2 = s0, s3 = s0; \
    int64_t i = 0; \
    for (; i + 2 * L <= n; i += 2 * L) { \
        NAME##_step(w + i, a + i, himask, &s0, &s1); \
        NAME##_step(w + i + L, a + i + L, himask, &s2, &s3); \
    } \
    for (; i + L <= n; i += L) NAME##_step(w + i, a + i, himask, &s0, &s1); \
    float s = HSUM(P##_add_ps(P##_add_ps(s0, s1), P##_add_ps(s2, s3))); \
    for (; i < n; i++) s += bf2f(w[i]) * bf2f(a[i]); \
    return s; \
}
#endif
