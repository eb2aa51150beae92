/*
 * test_quant.c - tensor types: F16/BF16 conversions, exact decoders, the
 * activation quantisers, and every fast dot product against its scalar
 * reference (the ggml *_generic formulas) on random rows.  Also checks that
 * reference dot products equal the dot of the decoded operands (so the integer
 * formulas and the decoders agree), and that mm_run's fast/exact/BLAS paths
 * agree with plain loops.  Needs no fixtures.
 *
 * The fast and reference dot products share the activation quantiser, so that
 * and the decoders are checked on their own, against independent code written
 * here from the spec (ind_*: byte offsets, rintf, F16C): byte for byte on
 * random rows, and on hand-made vectors with known results (+-max -> +-127,
 * round half to even, zero and tiny blocks, scales, bsums, Q8_1's s).  Then
 * both dot products are held to the dot of the independently decoded operands.
 * Bounds are about 1.5-2.5x the worst observed (noted next to each).
 */
#include "engine/ops.h"
#include "engine/quant.h"
#include "engine/util.h"
#include "t.h"

#include <stdint.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

static uint64_t s = 88172645463325252ull;
static float rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (float)((double)(s >> 11) / 9007199254740992.0) * 2.f - 1.f; }

/* ---- independent expectations, written from the spec (docs/gguf-llava-spec.md
 * §2.3-2.4, §8.1-8.2; ggml's quantize_row_q8_0 (x86), quantize_row_q8_1 (x86),
 * quantize_row_q8_K_ref, dequantize_row_*), by straightforward code that
 * shares nothing with src/engine/quant*.c: byte offsets instead of the block
 * structs, rintf/lrintf (round half to even) instead of nearest_int, and the
 * F16C instruction for f16 where the build has it. ---- */

static uint16_t t_f2h(float f)
{
#if defined(__F16C__)
    return _cvtss_sh(f, 0);
#else
    return f2h(f);   /* checked against hand values in test_f16 */
#endif
}
static float t_h2f(uint16_t h)
{
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    return h2f(h);
#endif
}
static uint16_t t_f2bf(float f)   /* round to nearest even on the dropped 16 bits (finite f) */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t hi = u >> 16, lo = u & 0xffff;
    if (lo > 0x8000 || (lo == 0x8000 && (hi & 1))) hi++;
    return (uint16_t)hi;
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* Q8_0 (34 B: f16 d, int8 q[32]) and Q8_1 (36 B: f16 d, f16 s, int8 q[32]):
 * d = amax/127, id = amax ? 127/amax : 0, q = round-half-even(x*id), s = f16(d*sum q). */
static void ind_q8_0(const float *x, uint8_t *out, int n, int q8_1)
{
    const int bs = q8_1 ? 36 : 34, off = q8_1 ? 4 : 2;
    for (int b = 0; b < n / 32; b++) {
        const float *v = x + 32 * b;
        uint8_t *o = out + bs * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fabsf(v[j]) > amax ? fabsf(v[j]) : amax;
        float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
        int sum = 0;
        for (int j = 0; j < 32; j++) { long q = lrintf(v[j] * id); o[off + j] = (uint8_t)(int8_t)q; sum += (int)q; }
        wr16(o, t_f2h(d));
        if (q8_1) wr16(o + 2, t_f2h(d * (float)sum));
    }
}
/* Q8_K (292 B: f32 d @0, int8 q[256] @4, int16 bsums[16] @260): mx = the signed value
 * of the first element of largest magnitude; iscale = -127/mx;
 * q = min(127, round-half-even(iscale*x)); d = 1/iscale; all zero when amax = 0. */
static void ind_q8_K(const float *x, uint8_t *out, int n)
{
    for (int b = 0; b < n / 256; b++) {
        const float *v = x + 256 * b;
        uint8_t *o = out + 292 * b;
        memset(o, 0, 292);
        float amax = 0, mx = 0;
        for (int j = 0; j < 256; j++) if (fabsf(v[j]) > amax) { amax = fabsf(v[j]); mx = v[j]; }
        if (amax == 0.f) continue;
        float iscale = -127.f / mx, d = 1.f / iscale;
        for (int j = 0; j < 256; j++) { long q = lrintf(iscale * v[j]); o[4 + j] = (uint8_t)(int8_t)(q > 127 ? 127 : q); }
        for (int g = 0; g < 16; g++) {
            int sm = 0;
            for (int k = 0; k < 16; k++) sm += (int8_t)o[4 + 16 * g + k];
            wr16(o + 260 + 2 * g, (uint16_t)(int16_t)sm);
        }
        memcpy(o, &d, 4);
    }
}

/* Decoders of spec §2.3/§2.4 from byte offsets.  nomin: the _1 types without
 * their "+ m" (for dot products that take the min through Q8_1's s). */
static void ind_scale_min(int k, const uint8_t *p, int *sc, int *m)
{
    if (k < 4) { *sc = p[k] & 63; *m = p[k + 4] & 63; }
    else { *sc = (p[k + 4] & 15) | ((p[k - 4] >> 6) << 4); *m = (p[k + 4] >> 4) | ((p[k] >> 6) << 4); }
}
static void ind_dequant(int t, const uint8_t *p, float *y, int n, int nomin)
{
    switch (t) {
    case QT_Q4_0: case QT_Q4_1: case QT_Q5_0: case QT_Q5_1: case QT_Q8_0:
        for (int b = 0; b < n / 32; b++, y += 32) {
            float d = t_h2f(rd16(p));
            if (t == QT_Q8_0) { for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)p[2 + j] * d; p += 34; continue; }
            int one = t == QT_Q4_1 || t == QT_Q5_1, five = t == QT_Q5_0 || t == QT_Q5_1;
            float m = one ? t_h2f(rd16(p + 2)) : 0.f;
            const uint8_t *qs = p + 2 + 2 * one + 4 * five;
            uint32_t h = five ? (uint32_t)p[2 + 2 * one] | (uint32_t)p[3 + 2 * one] << 8 | (uint32_t)p[4 + 2 * one] << 16 | (uint32_t)p[5 + 2 * one] << 24 : 0;
            for (int j = 0; j < 16; j++) {
                int a = (qs[j] & 15) | (int)((h >> j) & 1) << 4, c = (qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
                if (!one) { a -= five ? 16 : 8; c -= five ? 16 : 8; }
                y[j] = (float)a * d; y[j + 16] = (float)c * d;
                if (one && !nomin) { y[j] += m; y[j + 16] += m; }
            }
            p += t == QT_Q4_0 ? 18 : t == QT_Q4_1 ? 20 : t == QT_Q5_0 ? 22 : 24;
        }
        return;
    case QT_Q4_K: case QT_Q5_K:
        for (int b = 0; b < n / 256; b++, y += 256) {
            int five = t == QT_Q5_K;
            float d = t_h2f(rd16(p)), dmin = t_h2f(rd16(p + 2));
            const uint8_t *sc = p + 4, *qh = p + 16, *qs = p + (five ? 48 : 16);
            for (int c = 0; c < 4; c++) {
                int s1, m1, s2, m2;
                ind_scale_min(2 * c, sc, &s1, &m1);
                ind_scale_min(2 * c + 1, sc, &s2, &m2);
                float D1 = d * (float)s1, M1 = dmin * (float)m1, D2 = d * (float)s2, M2 = dmin * (float)m2;
                for (int l = 0; l < 32; l++) {
                    int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
                    if (five) { lo += 16 * ((qh[l] >> (2 * c)) & 1); hi += 16 * ((qh[l] >> (2 * c + 1)) & 1); }
                    y[64 * c + l] = D1 * (float)lo - M1;
                    y[64 * c + 32 + l] = D2 * (float)hi - M2;
                }
            }
            p += five ? 176 : 144;
        }
        return;
    case QT_Q6_K:
        for (int b = 0; b < n / 256; b++, y += 256, p += 210) {
            const uint8_t *ql = p, *qh = p + 128;
            const int8_t *sc = (const int8_t *)(p + 192);
            float d = t_h2f(rd16(p + 208));
            for (int e = 0; e < 256; e++) {
                int h = e / 128, g = (e % 128) / 32, l = e % 32;
                int low4 = g == 0 ? ql[64 * h + l] & 15 : g == 1 ? ql[64 * h + 32 + l] & 15 : g == 2 ? ql[64 * h + l] >> 4 : ql[64 * h + 32 + l] >> 4;
                int q = (low4 | ((qh[32 * h + l] >> (2 * g)) & 3) << 4) - 32;
                y[e] = (d * (float)sc[e / 16]) * (float)q;
            }
        }
        return;
    case QT_Q8_K:
        for (int b = 0; b < n / 256; b++, y += 256, p += 292) {
            float d;
            memcpy(&d, p, 4);
            for (int j = 0; j < 256; j++) y[j] = d * (float)(int8_t)p[4 + j];
        }
        return;
    case QT_F16: for (int i = 0; i < n; i++) y[i] = t_h2f(rd16(p + 2 * i)); return;
    case QT_BF16: for (int i = 0; i < n; i++) { uint32_t u = (uint32_t)rd16(p + 2 * i) << 16; memcpy(&y[i], &u, 4); } return;
    case QT_F32: memcpy(y, p, (size_t)n * 4); return;
    default: abort();
    }
}

static void test_f16(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = h2f((uint16_t)h);
        if (f != f) continue;                     /* NaN */
        if (f2h(f) != h) bad++;                   /* every finite half round-trips */
    }
    CHECK_EQ_I(bad, 0, "f16 -> f32 -> f16 round-trips");
    CHECK_EQ_I(f2h(1.0f + 1.0f / 2048), 0x3c00, "tie rounds to even (down)");
    CHECK_EQ_I(f2h(1.0f + 3.0f / 2048), 0x3c02, "tie rounds to even (up)");
    CHECK_EQ_I(f2h(65520.f), 0x7c00, "65520 overflows to inf");
    CHECK_EQ_I(f2h(5.96046448e-08f), 0x0001, "smallest subnormal");
    CHECK_EQ_I(f2h(2.98023224e-08f), 0x0000, "half the smallest subnormal ties to 0");
    CHECK_NEAR(h2f(0x3555), 0.333251953, 1e-9, "h2f(0x3555)");
    CHECK_NEAR(bf2f(f2bf(1.00390625f)), 1.0, 0, "bf16 tie to even");
#if defined(__F16C__)
    int hw = 0;
    for (int i = 0; i < 200000; i++) {
        float f = rnd() * (i % 3 == 0 ? 70000.f : i % 3 == 1 ? 1e-3f : 10.f);
        if (f2h(f) != _cvtss_sh(f, 0)) hw++;
    }
    CHECK_EQ_I(hw, 0, "f2h matches the F16C instruction");
#endif
}

static const int types[] = { QT_F32, QT_F16, QT_BF16, QT_Q8_0, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q4_K, QT_Q5_K, QT_Q6_K };

/* qt_quantize_row + qt_dequant_row round trip on uniform [-1,1) rows, relative to
 * max|x|: about 1.5x the observed worst (in the comments) */
static double rt_bound(int t)
{
    switch (t) {
    case QT_F32: return 0;          /* 0 */
    case QT_F16: return 4e-4;       /* 2.44e-4 (half an f16 ulp) */
    case QT_BF16: return 3e-3;      /* 1.95e-3 */
    case QT_Q8_0: return 6e-3;      /* 4.00e-3 (amax/254) */
    case QT_Q4_0: return 0.15;      /* 1.22e-1 (the +max end clamps at 7: up to d = max/8) */
    case QT_Q4_1: return 9e-2;      /* 6.47e-2 */
    case QT_Q5_0: return 8e-2;      /* 5.81e-2 */
    case QT_Q5_1: return 4.5e-2;    /* 3.16e-2 */
    case QT_Q4_K: return 9e-2;      /* 6.53e-2 */
    case QT_Q5_K: return 4.5e-2;    /* 3.12e-2 */
    case QT_Q6_K: return 4.5e-2;    /* 3.02e-2 */
    default: return 0;
    }
}

static void test_dots(void)
{
    const int n = 1024;
    static float x[1024], a[1024], wd[1024], ad[1024];
    static uint8_t w[8192], act[8192];
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int t = types[ti], at = qt_act_type(t);
        double worst = 0, worst_dq = 0;
        for (int rep = 0; rep < 50; rep++) {
            float sc = rep % 5 == 0 ? 10.f : 1.f;
            for (int i = 0; i < n; i++) { x[i] = rnd() * sc; a[i] = rnd() + (i == 7 * rep ? 20.f : 0.f); }
            qt_quantize_row(t, x, w, n);
            qt_quant_act(at, a, act, n);
            float r = qt_vec_dot_ref(t, n, w, act), f = qt_vec_dot(t, n, w, act);
            qt_dequant_row(t, w, wd, n);
            if (at == QT_Q8_1) {   /* decode Q8_1 activations as Q8_0 (same layout but s) */
                for (int b = 0; b < n / 32; b++) { const uint8_t *blk = act + 36 * b; uint16_t d; memcpy(&d, blk, 2); for (int j = 0; j < 32; j++) ad[32 * b + j] = (float)(int8_t)blk[4 + j] * h2f(d); }
            } else qt_dequant_row(at, act, ad, n);
            double dd = 0, mag = 0;
            for (int i = 0; i < n; i++) { dd += (double)wd[i] * ad[i]; mag += fabs((double)wd[i] * ad[i]); }
            double e1 = fabs((double)r - f) / (mag + 1e-30), e2 = fabs((double)r - dd) / (mag + 1e-30);
            if (e1 > worst) worst = e1;
            if (e2 > worst_dq) worst_dq = e2;
        }
        char d[160];
        snprintf(d, sizeof d, "%s: fast dot (%s) vs reference, worst %.2e of sum|w*a|", qt_name(t), qt_has_simd(t) ? "SIMD" : "scalar", worst);
        /* observed worst (x86-64, AVX2): 3.6e-8 (Q5_K) -> bound 1e-7 */
        CHECK_T(worst < 1e-7, d);
        /* Q8_1 stores s = f16(d * sum q): the _1 types' min term carries that f16
         * rounding (observed 8.9e-5 Q5_1 -> bound 1.5e-4); others 3.7e-8 -> 1e-7 */
        snprintf(d, sizeof d, "%s: reference dot vs dot of decoded rows, worst %.2e", qt_name(t), worst_dq);
        CHECK_T(worst_dq < (at == QT_Q8_1 ? 1.5e-4 : 1e-7), d);
        /* the weight quantiser is close to its input (sanity of encode + decode) */
        double err = 0, mx = 0;
        for (int i = 0; i < n; i++) { x[i] = rnd(); }
        qt_quantize_row(t, x, w, n);
        qt_dequant_row(t, w, wd, n);
        for (int i = 0; i < n; i++) { err = fmax(err, fabs(wd[i] - x[i])); mx = fmax(mx, fabs(x[i])); }
        snprintf(d, sizeof d, "%s: quantise/decode round trip max err %.3e of max|x| (bound %.1e)", qt_name(t), err / mx, rt_bound(t));
        CHECK_T(err / mx <= rt_bound(t), d);
    }
}

/* random bytes for n elements of weight type t, with sane f16 scales (every
 * bit pattern of the quants, high scale bits and signs included) */
static void random_blocks(int t, uint8_t *p, int n)
{
    const struct qtype_info *q = qt_info(t);
    int nb = n / q->blck;
    for (int i = 0; i < nb * q->tsize; i++) p[i] = (uint8_t)(rnd() * 128.f + 128.f);
    for (int b = 0; b < nb; b++) {
        uint8_t *o = p + (size_t)b * (size_t)q->tsize;
        switch (t) {
        case QT_F16: wr16(o, t_f2h(rnd() * 2.f)); break;
        case QT_BF16: wr16(o, t_f2bf(rnd() * 2.f)); break;
        case QT_F32: { float f = rnd(); memcpy(o, &f, 4); break; }
        case QT_Q4_1: case QT_Q5_1: wr16(o + 2, t_f2h(rnd() * 0.5f)); /* fall through */
        case QT_Q4_0: case QT_Q5_0: case QT_Q8_0: wr16(o, t_f2h(rnd() * 0.05f)); break;
        case QT_Q4_K: case QT_Q5_K: wr16(o, t_f2h(rnd() * 0.01f)); wr16(o + 2, t_f2h(rnd() * 0.01f)); break;
        case QT_Q6_K: wr16(o + 208, t_f2h(rnd() * 0.01f)); break;
        default: abort();
        }
    }
}

static int bytes_differ(const void *a, const void *b, size_t n, size_t *at)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) if (x[i] != y[i]) { *at = i; return 1; }
    return 0;
}

/* qt_quant_act, byte for byte, against the independent quantisers on random
 * rows (several magnitudes, an outlier, zero and tiny blocks) */
static void test_act_random(void)
{
    enum { N = 1024 };
    static float x[N];
    static uint8_t got[N * 2 + 2048], want[N * 2 + 2048];
    const int ats[] = { QT_Q8_0, QT_Q8_1, QT_Q8_K, QT_F16, QT_BF16 };
    for (size_t k = 0; k < sizeof ats / sizeof *ats; k++) {
        int at = ats[k], bad = 0;
        size_t first = 0;
        for (int rep = 0; rep < 40; rep++) {
            float sc = rep % 4 == 0 ? 100.f : rep % 4 == 1 ? 1e-3f : 1.f;
            for (int i = 0; i < N; i++) x[i] = rnd() * sc;
            x[(rep * 37) % N] = rep % 2 ? 40.f * sc : -40.f * sc;          /* outlier of either sign */
            if (rep % 5 == 1) for (int i = 256; i < 512; i++) x[i] = 0.f;     /* a zero block (both block sizes) */
            if (rep % 5 == 2) for (int i = 512; i < 768; i++) x[i] *= 1e-32f; /* a tiny block */
            size_t nb = qt_row_bytes(at, N);
            memset(got, 0xAA, sizeof got);
            memset(want, 0x55, sizeof want);
            qt_quant_act(at, x, got, N);
            if (at == QT_Q8_0 || at == QT_Q8_1) ind_q8_0(x, want, N, at == QT_Q8_1);
            else if (at == QT_Q8_K) ind_q8_K(x, want, N);
            else for (int i = 0; i < N; i++) wr16(want + 2 * i, at == QT_F16 ? t_f2h(x[i]) : t_f2bf(x[i]));
            size_t where;
            if (bytes_differ(got, want, nb, &where)) { if (!bad) first = where; bad++; }
        }
        char d[160];
        snprintf(d, sizeof d, "%s activations equal the independent quantiser on random rows (first difference at byte %zu)", qt_name(at), first);
        CHECK_EQ_I(bad, 0, d);
    }
}

static int8_t q8k_q(const uint8_t *b, int j) { return (int8_t)b[4 + j]; }
static float q8k_d(const uint8_t *b) { float d; memcpy(&d, b, 4); return d; }
static int16_t q8k_bsum(const uint8_t *b, int g) { return (int16_t)rd16(b + 260 + 2 * g); }

/* hand-made vectors with known results */
static void test_act_hand(void)
{
    static float x[512];
    static uint8_t b[2 * 292], w[2 * 292];
    char d[160];

    /* Q8_K: the first element of largest magnitude sets the sign of the scale;
     * an element of the opposite sign and the same magnitude lands exactly on
     * +127 (the clamp is min(127, .), never 126 or 128) */
    memset(x, 0, sizeof x);
    for (int i = 0; i < 256; i++) x[i] = (float)(i % 7) / 8.f - 0.375f;
    x[5] = 2.f; x[9] = -2.f;
    qt_quant_act(QT_Q8_K, x, b, 256);
    CHECK_EQ_I(q8k_q(b, 5), -127, "Q8_K: first max (+2) -> -127");
    CHECK_EQ_I(q8k_q(b, 9), 127, "Q8_K: -max (-2) -> +127 (clamped at 127, not 126)");
    CHECK_T(q8k_d(b) == 1.f / (-127.f / 2.f), "Q8_K: d = 1/iscale = -2/127 (f32)");
    x[5] = -2.f; x[9] = 2.f;   /* the other order: the first one still wins */
    qt_quant_act(QT_Q8_K, x, b, 256);
    CHECK_T(q8k_q(b, 5) == -127 && q8k_q(b, 9) == 127 && q8k_d(b) == 1.f / (127.f / 2.f), "Q8_K: first max (-2) -> -127, +2 -> +127, d > 0");
    /* the largest |q| is 127 exactly for a block that is not symmetric */
    x[9] = 1.999f;
    qt_quant_act(QT_Q8_K, x, b, 256);
    CHECK_EQ_I(q8k_q(b, 9), 127, "Q8_K: 1.999 with max -2 -> round(126.94) = 127");
    x[9] = 1.98f;
    qt_quant_act(QT_Q8_K, x, b, 256);
    CHECK_EQ_I(q8k_q(b, 9), 126, "Q8_K: 1.98 with max -2 -> round(125.73) = 126");

    /* Q8_K rounding: iscale = 1 exactly (mx = -127), so q = round-half-even(x) */
    static const float in[] = { -127.f, 2.5f, 3.5f, -2.5f, 0.5f, 1.5f, 2.7f, -2.7f, 126.5f, -126.5f, 127.f, 0.49f, -0.5f, 2.3f };
    static const int out_even[] = { -127, 2, 4, -2, 0, 2, 3, -3, 126, -126, 127, 0, 0, 2 };
    memset(x, 0, sizeof x);
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) x[i] = in[i];
    qt_quant_act(QT_Q8_K, x, b, 256);
    int ok = 1;
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) ok &= q8k_q(b, (int)i) == out_even[i];
    CHECK_T(ok, "Q8_K: round half to even, to nearest (not truncation, not half away from zero)");
    CHECK_T(q8k_d(b) == 1.f, "Q8_K: d = 1 for mx = -127");
    /* mirrored: mx = +127, iscale = -1 */
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) x[i] = -in[i];
    qt_quant_act(QT_Q8_K, x, b, 256);
    ok = 1;
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) ok &= q8k_q(b, (int)i) == out_even[i];
    CHECK_T(ok && q8k_d(b) == -1.f, "Q8_K: mx = +127 -> iscale -1, same q, d = -1");
    /* bsums: every group of 16, by hand; q = x here (iscale 1) */
    memset(x, 0, sizeof x);
    x[0] = -127.f;
    for (int i = 1; i < 256; i++) x[i] = (float)((i * 29) % 255 - 127);
    qt_quant_act(QT_Q8_K, x, b, 256);
    ok = 1;
    for (int g = 0; g < 16; g++) {
        int sm = 0;
        for (int k = 0; k < 16; k++) sm += (int)x[16 * g + k];
        ok &= q8k_bsum(b, g) == sm;
    }
    CHECK_T(ok, "Q8_K: bsums[g] = sum of q[16g..16g+15], all 16 groups");
    /* a second block: scale and bsums of block 1 from its own values; then an
     * all-zero block written over a used buffer clears d, q and bsums */
    for (int i = 0; i < 256; i++) x[256 + i] = x[i] * 0.5f;
    qt_quant_act(QT_Q8_K, x, b, 512);
    ind_q8_K(x, w, 512);
    CHECK_T(!memcmp(b, w, 2 * 292), "Q8_K: two blocks, each with its own scale and bsums");
    CHECK_T(q8k_d(b + 292) == 0.5f && q8k_q(b + 292, 0) == -127 && q8k_bsum(b + 292, 3) == q8k_bsum(b, 3), "Q8_K: block 1 d = 0.5, same q");
    memset(x + 256, 0, 256 * sizeof *x);
    memset(b, 0xAA, sizeof b);
    qt_quant_act(QT_Q8_K, x, b, 512);
    ok = q8k_d(b + 292) == 0.f;
    for (int j = 0; j < 256; j++) ok &= q8k_q(b + 292, j) == 0;
    for (int g = 0; g < 16; g++) ok &= q8k_bsum(b + 292, g) == 0;
    CHECK_T(ok, "Q8_K: all-zero block -> d = 0, q = 0, bsums = 0");
    CHECK_T(q8k_d(b) == 1.f && q8k_q(b, 0) == -127, "Q8_K: the block before it unchanged");
    /* tiny (still normal) values: full q range, d = 1/iscale in f32 */
    for (int i = 0; i < 256; i++) x[i] = (float)(i % 9 - 4) * 2e-36f;
    x[17] = -1e-35f; x[30] = 1e-35f;
    qt_quant_act(QT_Q8_K, x, b, 256);
    ind_q8_K(x, w, 256);
    CHECK_T(q8k_q(b, 17) == -127 && q8k_q(b, 30) == 127 && q8k_d(b) == 1.f / (-127.f / -1e-35f) && !memcmp(b, w, 292), "Q8_K: tiny values keep the full range");

    /* Q8_0 / Q8_1 (x86 AVX path): amax = 127 gives id = 1, so q = round-half-even(x) */
    float y[64];
    uint8_t q[2 * 36];
    for (int v8 = 0; v8 < 2; v8++) {
        const int at = v8 ? QT_Q8_1 : QT_Q8_0, off = v8 ? 4 : 2, bs = v8 ? 36 : 34;
        const char *nm = v8 ? "Q8_1" : "Q8_0";
        memset(y, 0, sizeof y);
        for (size_t i = 0; i < sizeof in / sizeof *in; i++) y[i] = in[i];
        qt_quant_act(at, y, q, 32);
        ok = 1;
        for (size_t i = 0; i < sizeof in / sizeof *in; i++) ok &= (int8_t)q[off + i] == out_even[i];
        snprintf(d, sizeof d, "%s: round half to even, to nearest; -max -> -127, +max -> +127", nm);
        CHECK_T(ok, d);
        snprintf(d, sizeof d, "%s: d = f16(127/127) = 0x3c00", nm);
        CHECK_EQ_I(rd16(q), 0x3c00, d);
        if (v8) {
            int sum = 0;
            for (size_t i = 0; i < sizeof in / sizeof *in; i++) sum += out_even[i];
            CHECK_EQ_I(sum, 8, "hand vector sum");
            CHECK_EQ_I(rd16(q + 2), 0x4800, "Q8_1: s = f16(d * sum q) = f16(8)");
        }
        /* scale: d = amax/127 rounded to f16; a negative max gives -127 and d > 0 */
        for (int i = 0; i < 64; i++) y[i] = (float)(i % 11 - 5) * 0.1f;
        y[7] = -3.f;     /* block 0: negative max */
        y[40] = 0.75f;   /* block 1: max 0.75 */
        qt_quant_act(at, y, q, 64);
        snprintf(d, sizeof d, "%s: negative max -> -127, d = f16(3/127)", nm);
        CHECK_T((int8_t)q[off + 7] == -127 && rd16(q) == t_f2h(3.f / 127.f) && rd16(q) == 0x260c, d);
        snprintf(d, sizeof d, "%s: second block has its own scale f16(0.75/127) and +127", nm);
        CHECK_T((int8_t)q[bs + off + 8] == 127 && rd16(q + bs) == t_f2h(0.75f / 127.f), d);
        snprintf(d, sizeof d, "%s: element -0.5 with amax 3 -> round(-21.17) = -21", nm);
        CHECK_EQ_I((int8_t)q[off + 0], -21, d);
        if (v8) {
            int s0 = 0;
            for (int j = 0; j < 32; j++) s0 += (int8_t)q[off + j];
            CHECK_EQ_I(rd16(q + 2), t_f2h((3.f / 127.f) * (float)s0), "Q8_1: s of block 0 = f16(d*sum) with the f32 d");
        }
        /* id is 127/amax (x86 AVX path), not 1/d (quantize_row_q8_0_ref): find an
         * amax and an element near a tie where the two round differently */
        {
            float fa = 0, fx = 0, want_q = 0;
            for (int k = 0; k < 4000 && fa == 0; k++) {
                float am = 1.f + (float)k / 1024.f, id1 = 127.f / am, id2 = 1.f / (am / 127.f);
                if (id1 == id2) continue;
                for (int m = 0; m < 127 && fa == 0; m++) {
                    float xv = ((float)m + 0.5f) / id1;
                    for (int u = -2; u <= 2 && fa == 0; u++) {
                        float xu = xv;
                        for (int z = 0; z < (u < 0 ? -u : u); z++) xu = nextafterf(xu, u < 0 ? 0.f : 2.f * am);
                        if (rintf(xu * id1) != rintf(xu * id2)) { fa = am; fx = xu; want_q = rintf(xu * id1); }
                    }
                }
            }
            memset(y, 0, 32 * sizeof *y);
            y[0] = fa; y[1] = fx;
            qt_quant_act(at, y, q, 32);
            snprintf(d, sizeof d, "%s: q = rne(x * (127/amax)) at a near-tie (amax %.9g, x %.9g; 1/d gives another q)", nm, fa, fx);
            CHECK_T(fa != 0 && (int8_t)q[off + 1] == (int)want_q && (int8_t)q[off] == 127, d);
        }
        /* all-zero block over a used buffer: d = 0 (and s = 0), q = 0 */
        memset(y, 0, 32 * sizeof *y);
        memset(q, 0xAA, sizeof q);
        qt_quant_act(at, y, q, 64);
        ok = rd16(q) == 0 && (!v8 || rd16(q + 2) == 0);
        for (int j = 0; j < 32; j++) ok &= q[off + j] == 0;
        snprintf(d, sizeof d, "%s: all-zero block -> d = 0, q = 0", nm);
        CHECK_T(ok, d);
        /* tiny values: q keeps its range, the f16 scale underflows to 0 */
        for (int i = 0; i < 32; i++) y[i] = (float)(i % 5 - 2) * 5e-31f;
        qt_quant_act(at, y, q, 32);
        snprintf(d, sizeof d, "%s: tiny block -> q = +-127, f16 d = 0", nm);
        CHECK_T((int8_t)q[off + 0] == -127 && (int8_t)q[off + 4] == 127 && rd16(q) == 0, d);
    }

    /* F16 activations: round to nearest even per element, in the SIMD part and the tail */
    {
        float f[37];
        uint16_t h[37];
        for (int i = 0; i < 37; i++) f[i] = 1.f + (float)(i % 4) / 2048.f;   /* 1, 1+1/2048 (tie), 1+2/2048, 1+3/2048 (tie) */
        f[35] = 65520.f; f[36] = 2.98023224e-08f; f[33] = -1.f - 3.f / 2048.f;
        qt_quant_act(QT_F16, f, h, 37);
        static const uint16_t e4[4] = { 0x3c00, 0x3c00, 0x3c01, 0x3c02 };
        ok = 1;
        for (int i = 0; i < 33; i++) ok &= h[i] == e4[i % 4];
        CHECK_T(ok, "F16 activations: ties to even (vector part)");
        CHECK_T(h[33] == 0xbc02 && h[34] == 0x3c01 && h[35] == 0x7c00 && h[36] == 0, "F16 activations: tail ties, overflow, underflow");
        uint16_t bfv[4];
        float g[4] = { 1.00390625f, 1.01171875f, -1.01171875f, nextafterf(1.00390625f, 2.f) };
        qt_quant_act(QT_BF16, g, bfv, 4);
        CHECK_T(bfv[0] == 0x3f80 && bfv[1] == 0x3f82 && bfv[2] == 0xbf82 && bfv[3] == 0x3f81, "BF16 activations: ties to even, above a tie rounds up");
    }
}

/* every decoder (reference and SIMD) bit for bit against the spec's formulas
 * on random bytes */
static void test_decoders(void)
{
    const int dtypes[] = { QT_F16, QT_BF16, QT_Q8_0, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q4_K, QT_Q5_K, QT_Q6_K };
    enum { N = 1024 };
    static uint8_t p[8192];
    static float a[N], b[N], c[N];
    for (size_t k = 0; k < sizeof dtypes / sizeof *dtypes; k++) {
        int t = dtypes[k], bad_ref = 0, bad_fast = 0;
        for (int rep = 0; rep < 20; rep++) {
            random_blocks(t, p, N);
            ind_dequant(t, p, a, N, 0);
            qt_dequant_row(t, p, b, N);
            memset(c, 0, sizeof c);
            qt_dequant(t, p, c, N);
            bad_ref += memcmp(a, b, sizeof a) != 0;
            bad_fast += memcmp(a, c, sizeof a) != 0;
        }
        char d[128];
        snprintf(d, sizeof d, "%s: qt_dequant_row bit-exact with the spec decoder on random blocks", qt_name(t));
        CHECK_EQ_I(bad_ref, 0, d);
        snprintf(d, sizeof d, "%s: qt_dequant (%s) bit-exact with the spec decoder", qt_name(t), qt_dequant_row_fast(t, p, c, 256) ? "SIMD" : "reference");
        CHECK_EQ_I(bad_fast, 0, d);
    }
    /* Q8_K decodes as d * q */
    static float x[512];
    for (int i = 0; i < 512; i++) x[i] = rnd();
    qt_quant_act(QT_Q8_K, x, p, 512);
    ind_dequant(QT_Q8_K, p, a, 512, 0);
    qt_dequant_row(QT_Q8_K, p, b, 512);
    CHECK_T(!memcmp(a, b, 512 * sizeof *a), "Q8_K: decoder bit-exact");
}

/* fast and reference dot products against the dot of the independently
 * decoded operands, on random-byte weights (all bit patterns) */
static void test_dots_independent(void)
{
    enum { N = 1024 };
    static float x[N], wd[N], ad[N];
    static uint8_t w[8192], act[8192];
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int t = types[ti], at = qt_act_type(t), one = t == QT_Q4_1 || t == QT_Q5_1;
        /* float types: a length that is not a multiple of 32 or 8 (every tail loop runs) */
        const int n = qt_info(t)->blck == 1 ? N - 21 : N;
        double wf = 0, wr = 0;
        for (int rep = 0; rep < 40; rep++) {
            random_blocks(t, w, n);
            for (int i = 0; i < n; i++) x[i] = rnd() + (i == 13 * rep ? 30.f : 0.f);
            qt_quant_act(at, x, act, n);
            ind_dequant(t, w, wd, n, one);
            double dd = 0, mag = 0;
            if (at == QT_Q8_1) {   /* sum_b [ sum_j (q_w d_w)(q_a d_a) + m_w * s_a ] */
                const int bsz = qt_info(t)->tsize;
                for (int b = 0; b < N / 32; b++) {
                    const uint8_t *ab = act + 36 * b;
                    float da = t_h2f(rd16(ab)), mw = t_h2f(rd16(w + bsz * b + 2)), sa = t_h2f(rd16(ab + 2));
                    for (int j = 0; j < 32; j++) {
                        double pr = (double)wd[32 * b + j] * ((double)(int8_t)ab[4 + j] * da);
                        dd += pr; mag += fabs(pr);
                    }
                    dd += (double)mw * sa; mag += fabs((double)mw * sa);
                }
            } else {
                ind_dequant(at, act, ad, n, 0);
                for (int i = 0; i < n; i++) { dd += (double)wd[i] * ad[i]; mag += fabs((double)wd[i] * ad[i]); }
            }
            float r = qt_vec_dot_ref(t, n, w, act), f = qt_vec_dot(t, n, w, act);
            double er = fabs(r - dd) / (mag + 1e-30), ef = fabs(f - dd) / (mag + 1e-30);
            if (!(er <= wr)) wr = er;
            if (!(ef <= wf)) wf = ef;
        }
        /* observed worst (x86-64 AVX2 build): 4.6e-8 reference (Q4_1), 4.2e-8
         * fast (Q5_K) -> bound 1e-7; one wrong element of a 1024-row moves
         * the dot by about 1e-3 of sum|w*a| */
        char d[160];
        snprintf(d, sizeof d, "%s: reference dot vs dot of independently decoded operands, worst %.2e of sum|w*a| (bound 1e-7)", qt_name(t), wr);
        CHECK_T(wr <= 1e-7, d);
        snprintf(d, sizeof d, "%s: fast dot (%s) vs dot of independently decoded operands, worst %.2e (bound 1e-7)", qt_name(t), qt_has_simd(t) ? "SIMD" : "scalar", wf);
        CHECK_T(wf <= 1e-7, d);
    }
}

static void test_q8k(void)
{
    /* spec §8.2: d = 1/iscale with iscale = -127/mx (mx = signed value of largest magnitude) */
    static float x[256];
    static uint8_t b[292];
    for (int i = 0; i < 256; i++) x[i] = (float)i / 256.f;
    x[100] = -2.0f;
    qt_quant_act(QT_Q8_K, x, b, 256);
    float d;
    memcpy(&d, b, 4);
    CHECK_NEAR(d, 1.0 / (-127.0 / -2.0), 1e-9, "Q8_K scale from the signed max");
    CHECK_EQ_I((int8_t)b[4 + 100], -127, "the largest-magnitude element -> -127 (the scale carries its sign)");
    int16_t bs;
    memcpy(&bs, b + 260, 2);
    int sum = 0;
    for (int i = 0; i < 16; i++) sum += (int8_t)b[4 + i];
    CHECK_EQ_I(bs, sum, "Q8_K bsums[0]");
    for (int i = 0; i < 256; i++) x[i] = 0;
    qt_quant_act(QT_Q8_K, x, b, 256);
    memcpy(&d, b, 4);
    CHECK_T(d == 0.f, "all-zero block: d = 0");
    /* Q8_0: round half to even on x * 127/amax */
    float y[32] = { 0 };
    y[0] = 127.f; y[1] = 2.5f; y[2] = 3.5f; y[3] = -2.5f;
    uint8_t q[34];
    qt_quant_act(QT_Q8_0, y, q, 32);
    CHECK_T((int8_t)q[3] == 2 && (int8_t)q[4] == 4 && (int8_t)q[5] == -2, "Q8_0 rounds half to even");
}

static void test_mm(void)
{
    const int K = 512, N = 70, T = 13;
    static float X[13 * 512], Y[13 * 70], Yr[13 * 70], wrow[512];
    static uint8_t W[70 * 2048];
    struct mm_scratch sc;
    CHECK_EQ_I(mm_scratch_init(&sc, K, T, 2), 0, "scratch");
    for (int i = 0; i < T * K; i++) X[i] = rnd();
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int t = types[ti];
        size_t rb = qt_row_bytes(t, K);
        for (int n = 0; n < N; n++) { float r[512]; for (int k = 0; k < K; k++) r[k] = rnd(); qt_quantize_row(t, r, W + (size_t)n * rb, K); }
        struct wmat w = { t, K, N, rb, W, NULL };
        /* exact: decoded rows times float X */
        for (int tt = 0; tt < T; tt++)
            for (int n = 0; n < N; n++) {
                qt_dequant_row(t, W + (size_t)n * rb, wrow, K);
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double)wrow[k] * X[tt * K + k];
                Yr[tt * N + n] = (float)acc;
            }
        for (int blas = 0; blas < 2; blas++)
            for (int rows = 1; rows <= T; rows += T - 1) {
                mm_run(&w, rows, X, Y, MM_EXACT, &sc, 2, blas);
                double e = 0;
                for (int i = 0; i < rows * N; i++) e = fmax(e, fabs(Y[i] - Yr[i]));
                char d[128];
                snprintf(d, sizeof d, "%s: mm exact (T=%d, blas %d) vs double loop: %.2e", qt_name(t), rows, blas, e);
                CHECK_T(e < 3e-5, d);   /* observed worst 1.4e-5 (Q4_0, T=13, BLAS) */
            }
        /* fast: equals the reference dot of the converted activations */
        mm_run(&w, T, X, Y, MM_FAST, &sc, 2, 1);
        int at = qt_act_type(t);
        static uint8_t act[4096];
        double e = 0;
        for (int tt = 0; tt < T; tt++) {
            qt_quant_act(at, X + tt * K, act, K);
            for (int n = 0; n < N; n++) e = fmax(e, fabs(Y[tt * N + n] - qt_vec_dot_ref(t, K, W + (size_t)n * rb, act)));
        }
        char d[128];
        snprintf(d, sizeof d, "%s: mm fast vs reference dots: %.2e", qt_name(t), e);
        CHECK_T(e < 2e-5, d);   /* observed worst 1.05e-5 (F32/F16: BLAS / FMA summation order) */
    }
    /* mm_run_n: fused products equal separate ones (same activation type: fused;
     * mixed types: the fallback; F16 from 2 rows on: the F16 matrix kernel's
     * fused job list) */
    {
        static uint8_t W2[3][70 * 2048];
        static float Ys[3][13 * 70], Yf[3][13 * 70];
        const int combos[3][3] = { { QT_Q4_K, QT_Q6_K, QT_Q4_K }, { QT_Q8_0, QT_F16, QT_Q4_K }, { QT_F16, QT_F16, QT_F16 } };
        static const char *const names[3] = { "Q4_K/Q6_K fused", "mixed types", "F16 x3" };
        for (int cb = 0; cb < 3; cb++) {
            struct wmat ws[3];
            const struct wmat *wp[3];
            float *yp[3];
            for (int i = 0; i < 3; i++) {
                int t = combos[cb][i];
                size_t rb = qt_row_bytes(t, K);
                int N_i = 70 - 16 * i;
                for (int n = 0; n < N_i; n++) { float r[512]; for (int k = 0; k < K; k++) r[k] = rnd(); qt_quantize_row(t, r, W2[i] + (size_t)n * rb, K); }
                ws[i] = (struct wmat){ t, K, N_i, rb, W2[i], NULL };
                wp[i] = &ws[i];
                yp[i] = Yf[i];
            }
            static const int rowss[3] = { 1, 3, 13 };
            for (int ri = 0; ri < 3; ri++) {
                const int rows = rowss[ri];
                /* fused first, on cleared scratch: it converts X itself */
                for (int i = 0; i < 3; i++) memset(Yf[i], 0xff, sizeof Yf[i]);   /* NaNs: every output written */
                memset(sc.act, 0, sc.act_cap);
                mm_run_n(3, wp, rows, X, yp, MM_FAST, &sc, 2, 1);
                for (int i = 0; i < 3; i++) mm_run(&ws[i], rows, X, Ys[i], MM_FAST, &sc, 2, 1);
                int same = 1;
                for (int i = 0; i < 3; i++) same &= !memcmp(Ys[i], Yf[i], (size_t)rows * (size_t)ws[i].N * sizeof(float));
                char d[96];
                snprintf(d, sizeof d, "mm_run_n (%s, T=%d) equals separate mm_run", names[cb], rows);
                CHECK_T(same, d);
            }
        }
    }
    mm_scratch_release(&sc);
}

/* Q4_K repacked by 8 rows (wmat_repack): every route of mm_run reads the repacked
 * copy and must give what the plain rows give: exact arithmetic bit-identical
 * (the decoder is exact), fast within the dot products' rounding of the reference
 * dots, for one row (decode), a few (the 8-row kernel per row) and from
 * MM_BLAS_MIN_T_QUANT rows on (decoded panels); 72 rows = 4 blocks of 16 and a
 * last block of 8; fused with other matrices in mm_run_n. */
static void test_mm_x8(void)
{
    enum { K = 512, N = 72, TM = 70 };
    static float X[TM * K], Y[TM * N], Y0[TM * N];
    static uint8_t W[N * 288];
    struct mm_scratch sc;
    CHECK_EQ_I(mm_scratch_init(&sc, K, TM, 2), 0, "scratch");
    const size_t rb = qt_row_bytes(QT_Q4_K, K);
    for (int i = 0; i < TM * K; i++) X[i] = rnd();
    for (int n = 0; n < N; n++) { float r[K]; for (int k = 0; k < K; k++) r[k] = rnd() + (n % 3 ? 0.5f : 0.f); qt_quantize_row(QT_Q4_K, r, W + (size_t)n * rb, K); }
    struct wmat w = { QT_Q4_K, K, N, rb, W, NULL }, w8 = w;
    CHECK_EQ_I(wmat_repack(&w8), 0, "wmat_repack");
    CHECK_T(w8.x8 != NULL, "a Q4_K matrix of 72 rows is repacked");
    struct wmat odd = { QT_Q4_K, K, 70, rb, W, NULL };
    CHECK_T(wmat_repack(&odd) == 0 && odd.x8 == NULL, "70 rows (not a multiple of 8): left as it is");
    static const int Ts[] = { 1, 3, 13, 64, 70 };
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        const int T = Ts[i];
        for (int blas = 0; blas < 2; blas++) {
            mm_run(&w, T, X, Y0, MM_EXACT, &sc, 2, blas);
            mm_run(&w8, T, X, Y, MM_EXACT, &sc, 2, blas);
            char d[128];
            snprintf(d, sizeof d, "repacked Q4_K, exact, T=%d, blas %d: bit-identical to the plain rows", T, blas);
            CHECK_T(!memcmp(Y, Y0, (size_t)T * N * sizeof(float)), d);
        }
        mm_run(&w8, T, X, Y, MM_FAST, &sc, 2, 1);
        static uint8_t act[4096];
        double e = 0;
        for (int t = 0; t < T; t++) {
            qt_quant_act(QT_Q8_K, X + (size_t)t * K, act, K);
            for (int n = 0; n < N; n++) e = fmax(e, fabs(Y[t * N + n] - qt_vec_dot_ref(QT_Q4_K, K, W + (size_t)n * rb, act)));
        }
        char d[128];
        snprintf(d, sizeof d, "repacked Q4_K, fast, T=%d vs reference dots: %.2e", T, e);
        CHECK_T(e < 2e-5, d);
    }
    /* fused: two repacked matrices and a plain Q6_K one */
    static uint8_t W6[N * 420];
    const size_t rb6 = qt_row_bytes(QT_Q6_K, K);
    for (int n = 0; n < 56; n++) { float r[K]; for (int k = 0; k < K; k++) r[k] = rnd(); qt_quantize_row(QT_Q6_K, r, W6 + (size_t)n * rb6, K); }
    struct wmat w6 = { QT_Q6_K, K, 56, rb6, W6, NULL };
    const struct wmat *wp[3] = { &w8, &w6, &w8 };
    static float Yf[3][3 * N], Ys[3][3 * N];
    float *yp[3] = { Yf[0], Yf[1], Yf[2] };
    for (int T = 1; T <= 3; T += 2) {
        for (int i = 0; i < 3; i++) mm_run(wp[i], T, X, Ys[i], MM_FAST, &sc, 2, 1);
        mm_run_n(3, wp, T, X, yp, MM_FAST, &sc, 2, 1);
        int same = 1;
        for (int i = 0; i < 3; i++) same &= !memcmp(Ys[i], Yf[i], (size_t)T * (size_t)wp[i]->N * sizeof(float));
        char d[96];
        snprintf(d, sizeof d, "mm_run_n with repacked Q4_K (T=%d) equals separate mm_run", T);
        CHECK_T(same, d);
    }
    wmat_release(&w8);
    mm_scratch_release(&sc);
}

int main(void)
{
    t_name = "engine/quant";
    eng_tables_init();
    test_f16();
    test_dots();
    test_q8k();
    test_act_random();
    test_act_hand();
    test_decoders();
    test_dots_independent();
    test_mm();
    test_mm_x8();
    return t_done();
}
