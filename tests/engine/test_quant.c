/*
 * test_quant.c - tensor types: F16/BF16 conversions, exact decoders, the
 * activation quantisers, and every fast dot product against its scalar
 * reference (the ggml *_generic formulas) on random rows.  Also checks that
 * reference dot products equal the dot of the decoded operands (so the integer
 * formulas and the decoders agree), and that mm_run's fast/exact/BLAS paths
 * agree with plain loops.  Needs no fixtures.
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
        CHECK_T(worst < 1e-5, d);
        /* Q8_1 stores s = f16(d * sum q): the _1 types' min term carries that f16 rounding */
        snprintf(d, sizeof d, "%s: reference dot vs dot of decoded rows, worst %.2e", qt_name(t), worst_dq);
        CHECK_T(worst_dq < (at == QT_Q8_1 ? 5e-4 : 1e-5), d);
        /* the weight quantiser is close to its input (sanity of encode + decode) */
        double err = 0, mx = 0;
        for (int i = 0; i < n; i++) { x[i] = rnd(); }
        qt_quantize_row(t, x, w, n);
        qt_dequant_row(t, w, wd, n);
        for (int i = 0; i < n; i++) { err = fmax(err, fabs(wd[i] - x[i])); mx = fmax(mx, fabs(x[i])); }
        snprintf(d, sizeof d, "%s: quantise/decode round trip max err %.3f", qt_name(t), err / mx);
        CHECK_T(err / mx < 0.15, d);
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
        struct wmat w = { t, K, N, rb, W };
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
                CHECK_T(e < 1e-4, d);
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
        CHECK_T(e < 1e-4, d);
    }
    /* mm_run_n: fused products equal separate ones (same activation type: fused;
     * mixed types: the fallback) */
    {
        static uint8_t W2[3][70 * 2048];
        static float Ys[3][13 * 70], Yf[3][13 * 70];
        const int combos[2][3] = { { QT_Q4_K, QT_Q6_K, QT_Q4_K }, { QT_Q8_0, QT_F16, QT_Q4_K } };
        for (int cb = 0; cb < 2; cb++) {
            struct wmat ws[3];
            const struct wmat *wp[3];
            float *yp[3];
            for (int i = 0; i < 3; i++) {
                int t = combos[cb][i];
                size_t rb = qt_row_bytes(t, K);
                int N_i = 70 - 16 * i;
                for (int n = 0; n < N_i; n++) { float r[512]; for (int k = 0; k < K; k++) r[k] = rnd(); qt_quantize_row(t, r, W2[i] + (size_t)n * rb, K); }
                ws[i] = (struct wmat){ t, K, N_i, rb, W2[i] };
                wp[i] = &ws[i];
                yp[i] = Yf[i];
            }
            for (int rows = 1; rows <= 3; rows += 2) {
                for (int i = 0; i < 3; i++) mm_run(&ws[i], rows, X, Ys[i], MM_FAST, &sc, 2, 1);
                mm_run_n(3, wp, rows, X, yp, MM_FAST, &sc, 2, 1);
                int same = 1;
                for (int i = 0; i < 3; i++) same &= !memcmp(Ys[i], Yf[i], (size_t)rows * (size_t)ws[i].N * sizeof(float));
                char d[96];
                snprintf(d, sizeof d, "mm_run_n (%s, T=%d) equals separate mm_run", cb ? "mixed types" : "Q4_K/Q6_K fused", rows);
                CHECK_T(same, d);
            }
        }
    }
    mm_scratch_release(&sc);
}

int main(void)
{
    t_name = "engine/quant";
    eng_tables_init();
    test_f16();
    test_dots();
    test_q8k();
    test_mm();
    return t_done();
}
