/*
 * test_kernels.c - every SIMD kernel set this CPU runs (cpu.h: avx2, avx512 and
 * each of its VNNI/BF16 variants the CPU has) against the scalar set, member by
 * member, on random inputs with odd sizes and tails, and the dispatch itself
 * (cpuid picks the fastest set; MMSAFE_CPU forces one).  The AVX-512 set is
 * checked on every AVX2 CPU too, emulated: quant_avx512.c compiled again with
 * SIMDe's AVX-512 intrinsics (Makefile: EMU_OBJ), its base layer and its
 * VNNI+BF16 layers each laid over the AVX2 set (skipped, and said so, where
 * SIMDe was not installed at build time).  Bounds, relative to sum |w*a| (the
 * size of the rounding a float32 sum can have):
 *   dot products, the F16 matrix kernel: 4e-7 (the integer sums of the Q* types
 *     are exact; only the order of the f32 sums differs; observed 1.2e-7 at up
 *     to 4096 elements)
 *   decoders, f32 -> f16, f16_mad, f16_scale: bit-exact (same operations)
 *   e^x: 4 ulp of expf each (documented 2; observed 1), the sum 1e-6
 */
#include "engine/cpu.h"
#include "engine/engine.h"
#include "engine/quant.h"
#include "engine/util.h"
#include "t.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s = 0x9E3779B97F4A7C15ull;
static float rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (float)((double)(s >> 11) / 9007199254740992.0) * 2.f - 1.f; }

static const int qtypes[] = { QT_F32, QT_F16, QT_BF16, QT_Q8_0, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q4_K, QT_Q5_K, QT_Q6_K };

static void test_vec_dot(const struct kern *k)
{
    static float x[4096], a[4096];
    static uint8_t w[4096 * 4], act[4096 * 4];
    for (size_t ti = 0; ti < sizeof qtypes / sizeof qtypes[0]; ti++) {
        const int t = qtypes[ti], at = qt_act_type(t), blk = qt_info(t)->blck;
        if (!k->vec_dot[t]) continue;
        /* odd element counts for the float types (tails of 1..31), 1..16 blocks otherwise */
        static const int ns_f[] = { 1, 7, 8, 9, 31, 32, 33, 63, 100, 255, 1023, 4096 };
        static const int nb_q[] = { 1, 2, 3, 5, 8, 16 };
        const int cnt = blk == 1 ? (int)(sizeof ns_f / sizeof ns_f[0]) : (int)(sizeof nb_q / sizeof nb_q[0]);
        double worst = 0;
        for (int ni = 0; ni < cnt; ni++) {
            const int n = blk == 1 ? ns_f[ni] : nb_q[ni] * blk;
            if (n > 4096) continue;
            for (int rep = 0; rep < 20; rep++) {
                const float sc = rep % 4 == 0 ? 30.f : 1.f;
                for (int i = 0; i < n; i++) { x[i] = rnd() * sc; a[i] = rnd() + (i == 3 * rep ? 8.f : 0.f); }
                qt_quantize_row(t, x, w, n);
                qt_quant_act(at, a, act, n);
                const float r = qt_vec_dot_ref(t, n, w, act), f = k->vec_dot[t](n, w, act);
                /* scale: sum |w*a| of the decoded operands (Q8_1 decoded as Q8_0 + its s) */
                static float wd[4096], ad[4096];
                qt_dequant_row(t, w, wd, n);
                if (at == QT_Q8_1) {
                    for (int b = 0; b < n / 32; b++) { const uint8_t *q = act + 36 * b; uint16_t d; memcpy(&d, q, 2);
                        for (int j = 0; j < 32; j++) ad[32 * b + j] = (float)(int8_t)q[4 + j] * h2f(d); }
                } else qt_dequant_row(at, act, ad, n);
                double mag = 0;
                for (int i = 0; i < n; i++) mag += fabs((double)wd[i] * ad[i]);
                const double e = fabs((double)r - f) / (mag + 1e-30);
                if (e > worst) worst = e;
            }
        }
        char d[160];
        snprintf(d, sizeof d, "%s: %s vec_dot vs reference, worst %.2e of sum|w*a| (bound 4e-7)", k->name, qt_name(t), worst);
        CHECK_T(worst <= 4e-7, d);
    }
}

static void test_dequant(const struct kern *k)
{
    static float x[4096], y0[4096], y1[4096];
    static uint8_t w[4096 * 4];
    for (size_t ti = 0; ti < sizeof qtypes / sizeof qtypes[0]; ti++) {
        const int t = qtypes[ti], blk = qt_info(t)->blck;
        int bad = 0, has = 0;
        static const int nbs[] = { 1, 2, 3, 7, 8 };
        for (int ni = 0; ni < 5; ni++) {
            const int n = blk == 1 ? 8 * nbs[ni] * 32 + nbs[ni] : nbs[ni] * blk;   /* F16/F32: tails too */
            for (int i = 0; i < n; i++) x[i] = rnd() * (ni == 2 ? 100.f : 1.f);
            qt_quantize_row(t, x, w, n);
            qt_dequant_row(t, w, y0, n);
            memset(y1, 0xff, sizeof y1);
            if (!k->dequant_row(t, w, y1, n)) continue;
            has = 1;
            bad += memcmp(y0, y1, (size_t)n * 4) != 0;
            bad += memcmp(&y1[n], &(uint32_t){ 0xffffffffu }, 4) != 0;   /* nothing written past n */
        }
        if (!has) continue;
        char d[128];
        snprintf(d, sizeof d, "%s: %s decoder bit-exact with qt_dequant_row, no write past n", k->name, qt_name(t));
        CHECK_EQ_I(bad, 0, d);
    }
}

static void test_vectors(const struct kern *k)
{
    static float a[1100], b[1100], o0[1100], o1[1100];
    static uint16_t h[1100], acc0[1100], acc1[1100];
    static const int ns[] = { 0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 127, 1031 };
    double w_dot = 0, w_doth = 0, w_axpy = 0, w_axpyh = 0;
    int bad_mad = 0, bad_scale = 0;
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        const int n = ns[ni];
        for (int rep = 0; rep < 10; rep++) {
            for (int i = 0; i < n; i++) { a[i] = rnd() * 3; b[i] = rnd(); h[i] = f2h(rnd() * 2); acc0[i] = acc1[i] = f2h(rnd() * 4); }
            acc0[n] = acc1[n] = 0x1111; b[n] = 0.5f;
            double mag = 0, magh = 0;
            for (int i = 0; i < n; i++) { mag += fabs((double)a[i] * b[i]); magh += fabs((double)a[i] * h2f(h[i])); }
            double e = fabs((double)kern_scalar.dot_f32(n, a, b) - k->dot_f32(n, a, b)) / (mag + 1e-30);
            if (e > w_dot) w_dot = e;
            e = fabs((double)kern_scalar.dot_f32_f16(n, a, h) - k->dot_f32_f16(n, a, h)) / (magh + 1e-30);
            if (e > w_doth) w_doth = e;
            const float wt = rnd() * 2;
            for (int i = 0; i < n + 1; i++) o0[i] = o1[i] = b[i];
            kern_scalar.axpy_f32(n, wt, a, o0); k->axpy_f32(n, wt, a, o1);
            for (int i = 0; i < n + 1; i++) { e = fabs((double)o0[i] - o1[i]) / (fabs((double)wt * a[i]) + fabs(b[i]) + 1e-30); if (e > w_axpy) w_axpy = e; }
            for (int i = 0; i < n + 1; i++) o0[i] = o1[i] = b[i];
            kern_scalar.axpy_f16(n, wt, h, o0); k->axpy_f16(n, wt, h, o1);
            for (int i = 0; i < n + 1; i++) { e = fabs((double)o0[i] - o1[i]) / (fabs((double)wt * h2f(h[i])) + fabs(b[i]) + 1e-30); if (e > w_axpyh) w_axpyh = e; }
            kern_scalar.f16_mad(n, acc0, h, wt); k->f16_mad(n, acc1, h, wt);
            bad_mad += memcmp(acc0, acc1, (size_t)(n + 1) * 2) != 0;
            kern_scalar.f16_scale(n, acc0, wt); k->f16_scale(n, acc1, wt);
            bad_scale += memcmp(acc0, acc1, (size_t)(n + 1) * 2) != 0;
        }
    }
    char d[160];
    snprintf(d, sizeof d, "%s: dot_f32 vs scalar, worst %.2e of sum|a*b| (bound 4e-7)", k->name, w_dot);
    CHECK_T(w_dot <= 4e-7, d);
    snprintf(d, sizeof d, "%s: dot_f32_f16 vs scalar, worst %.2e (bound 4e-7)", k->name, w_doth);
    CHECK_T(w_doth <= 4e-7, d);
    /* axpy: one FMA vs multiply-then-add: within an f32 ulp of the terms */
    snprintf(d, sizeof d, "%s: axpy_f32 vs scalar, worst %.2e (bound 2e-7), nothing past n", k->name, w_axpy);
    CHECK_T(w_axpy <= 2e-7, d);
    snprintf(d, sizeof d, "%s: axpy_f16 vs scalar, worst %.2e (bound 2e-7), nothing past n", k->name, w_axpyh);
    CHECK_T(w_axpyh <= 2e-7, d);
    snprintf(d, sizeof d, "%s: f16_mad bit-exact with scalar", k->name);
    CHECK_EQ_I(bad_mad, 0, d);
    snprintf(d, sizeof d, "%s: f16_scale bit-exact with scalar", k->name);
    CHECK_EQ_I(bad_scale, 0, d);
}

static void test_f16_convert(const struct kern *k)
{
    enum { N = 4099 };
    static float x[N];
    static uint16_t y0[N + 1], y1[N + 1];
    int bad = 0;
    for (int rep = 0; rep < 60; rep++) {
        for (int i = 0; i < N; i++) {
            const float sc = i % 5 == 0 ? 70000.f : i % 5 == 1 ? 1e-5f : i % 5 == 2 ? 1e-7f : 10.f;
            x[i] = rnd() * sc;
            /* exact ties between two halves (round to even) */
            if (i % 7 == 3) x[i] = h2f((uint16_t)(s & 0x7bff)) * (1.0f + 1.0f / 2048);
        }
        y0[N] = y1[N] = 0x1234;
        const int n = N - rep % 9;
        kern_scalar.f32_to_f16(x, y0, n);
        k->f32_to_f16(x, y1, n);
        bad += memcmp(y0, y1, sizeof y0) != 0;
        for (int i = 0; i < n; i++) bad += y0[i] != f2h(x[i]);
    }
    char d[128];
    snprintf(d, sizeof d, "%s: f32_to_f16 rounds exactly as f2h (ties, subnormals, overflow)", k->name);
    CHECK_EQ_I(bad, 0, d);
}

static void test_exp(const struct kern *k)
{
    static float v0[600], v1[600];
    static const int ns[] = { 1, 5, 8, 9, 16, 23, 577 };
    double worst = 0, worst_sum = 0;
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        for (int rep = 0; rep < 20; rep++) {
            const int n = ns[ni];
            float mx = -INFINITY;
            for (int i = 0; i < n; i++) { v0[i] = rnd() * (rep % 3 == 0 ? 100.f : 8.f); if (v0[i] > mx) mx = v0[i]; }
            memcpy(v1, v0, sizeof v0);
            const double s0 = kern_scalar.exp_sub_sum(v0, n, mx), s1 = k->exp_sub_sum(v1, n, mx);
            for (int i = 0; i < n; i++) {
                const double e = fabs((double)v0[i] - v1[i]) / (fabs((double)v0[i]) * 5.96e-8 + 1e-45);   /* in ulp */
                if (v0[i] > 1e-37f && e > worst) worst = e;
            }
            const double es = fabs(s0 - s1) / s0;
            if (es > worst_sum) worst_sum = es;
        }
    }
    char d[128];
    snprintf(d, sizeof d, "%s: exp_sub_sum within %.1f ulp of expf (bound 4)", k->name, worst);
    CHECK_T(worst <= 4, d);
    snprintf(d, sizeof d, "%s: exp_sub_sum's sum, worst rel %.2e (bound 1e-6)", k->name, worst_sum);
    CHECK_T(worst_sum <= 1e-6, d);
}

static void test_gemm_f16(const struct kern *k)
{
    if (!k->gemm_f16) return;
    static const int Ns[] = { 1, 3, 4, 5, 8, 13, 33 }, Ts[] = { 1, 2, 3, 4, 5, 7, 50 }, Ks[] = { 1, 7, 8, 9, 64, 588, 4100 };
    enum { PAD = 3 };
    double worst = 0;
    int bad_guard = 0, cases = 0;
    for (size_t a = 0; a < 7; a++)
        for (size_t b = 0; b < 7; b++)
            for (size_t c = 0; c < 7; c++) {
                const int N = Ns[a], T = Ts[b], K = Ks[c];
                if ((a + b + c) % 2 && N * T * K > 2000) continue;   /* keep it quick: half the big ones */
                const int ldw = K + PAD, lda = K + 1, ldy = N + 2;
                uint16_t *W = malloc((size_t)N * ldw * 2), *A = malloc((size_t)T * lda * 2);
                float *Y = malloc((size_t)T * ldy * 4);
                for (int i = 0; i < N * ldw; i++) W[i] = f2h(rnd());
                for (int i = 0; i < T * lda; i++) A[i] = f2h(rnd() * 4);
                for (int i = 0; i < T * ldy; i++) Y[i] = 12345.f;
                k->gemm_f16(N, T, K, W, ldw, A, lda, Y, ldy);
                for (int t = 0; t < T; t++) {
                    for (int n = 0; n < N; n++) {
                        double ref = 0, mag = 0;
                        for (int kk = 0; kk < K; kk++) {
                            const double p = (double)h2f(W[(size_t)n * ldw + kk]) * h2f(A[(size_t)t * lda + kk]);
                            ref += p; mag += fabs(p);
                        }
                        const double e = fabs(Y[(size_t)t * ldy + n] - ref) / (mag + 1e-30);
                        if (e > worst) worst = e;
                    }
                    for (int n = N; n < ldy; n++) bad_guard += Y[(size_t)t * ldy + n] != 12345.f;
                }
                cases++;
                free(W); free(A); free(Y);
            }
    char d[160];
    snprintf(d, sizeof d, "%s: gemm_f16 on %d shapes (N, T, K odd and even) vs float64, worst %.2e of sum|w*a| (bound 4e-7)", k->name, cases, worst);
    CHECK_T(worst <= 4e-7, d);
    snprintf(d, sizeof d, "%s: gemm_f16 writes only Y's N columns", k->name);
    CHECK_EQ_I(bad_guard, 0, d);
    if (strcmp(k->name, "avx2")) return;
    /* The AVX2 set's sums, bit for bit: 8 lanes over k in order (each product of two
     * halves is exact in float, so FMA and add agree), the lanes added as hsum_ps does,
     * the K % 8 tail one by one; whatever the blocks of activation rows (T = 70 at
     * K = 5003: two blocks of 36 and 34 rows, the second ending 2+2). */
    static const int Kx[] = { 600, 5003 };
    for (int c = 0; c < 2; c++) {
        const int N = 9, T = 70, K = Kx[c], ldw = K + 5, lda = K + 3;
        uint16_t *W = malloc((size_t)N * ldw * 2), *A = malloc((size_t)T * lda * 2);
        float *Y = malloc((size_t)T * N * 4);
        for (int i = 0; i < N * ldw; i++) W[i] = f2h(rnd());
        for (int i = 0; i < T * lda; i++) A[i] = f2h(rnd());
        k->gemm_f16(N, T, K, W, ldw, A, lda, Y, N);
        int differ = 0;
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++) {
                const uint16_t *w = W + (size_t)n * ldw, *a = A + (size_t)t * lda;
                float v[8] = { 0 };
                int kk = 0;
                for (; kk + 8 <= K; kk += 8)
                    for (int l = 0; l < 8; l++) v[l] += h2f(w[kk + l]) * h2f(a[kk + l]);
                float sum = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
                for (; kk < K; kk++) sum += h2f(w[kk]) * h2f(a[kk]);
                differ += memcmp(&sum, &Y[(size_t)t * N + n], 4) != 0;
            }
        snprintf(d, sizeof d, "avx2: gemm_f16 at K = %d sums in the tile's order, bit for bit (%d of %d differ)", K, differ, N * T);
        CHECK_EQ_I(differ, 0, d);
        free(W); free(A); free(Y);
    }
}

/* Q4_K rows repacked by 8: the repack + decoder is bit-exact with qt_dequant_row
 * (so exact arithmetic is unchanged), and a set's 8-row kernel is within 4e-7 of
 * sum|w*a| of the reference dot product of each row (only the order of the f32
 * sums differs; the integer sums are exact).  Rows are written 8 at a time with
 * a gap after each (row_bytes > the row's size) and scales up to the 6-bit maximum. */
static void test_q4_K_x8(const struct kern *k)
{
    if (!k->gemv_q4_K_x8) return;
    static const int Ks[] = { 256, 512, 2048, 5632 };
    enum { PADB = 40 };
    double worst = 0;
    int decode_bad = 0, cases = 0;
    for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
        for (int rep = 0; rep < 6; rep++) {
            const int K = Ks[ki];
            const size_t rb = qt_row_bytes(QT_Q4_K, K) + PADB, gb = qt_x8_group_bytes(K);
            uint8_t *rows = calloc(8, rb), *grp = malloc(gb), *act = malloc(qt_row_bytes(QT_Q8_K, K));
            float *x = malloc((size_t)K * 4), *a = malloc((size_t)K * 4), *d0 = malloc((size_t)K * 4), *d8 = malloc((size_t)8 * (K + 3) * 4), y[8];
            for (int r = 0; r < 8; r++) {
                /* ranges that push the sub-block scales and mins to their limits; rep 5: all positive */
                for (int i = 0; i < K; i++) x[i] = rep == 5 ? fabsf(rnd()) * 7 : rnd() * (1 + 40 * ((i / 32 + r + rep) % 5 == 0)) + (rep % 2 ? 3.f : 0.f);
                qt_quantize_row(QT_Q4_K, x, rows + r * rb, K);
            }
            for (int i = 0; i < K; i++) a[i] = rnd() * (rep == 3 ? 100.f : 1.f) + (i % 97 == 0 ? 5.f : 0.f);
            qt_quant_act(QT_Q8_K, a, act, K);
            qt_repack_q4_K_x8(rows, rb, K, grp);
            /* the set's decoder (odd ldy: rows K + 3 apart) */
            for (size_t j = 0; j < (size_t)8 * (K + 3); j++) d8[j] = 12345.f;
            (k->dequant_q4_K_x8 ? k->dequant_q4_K_x8 : qt_dequant_q4_K_x8)(grp, K, d8, K + 3);
            k->gemv_q4_K_x8(K, grp, act, y);
            for (int r = 0; r < 8; r++) {
                qt_dequant_row(QT_Q4_K, rows + r * rb, d0, K);
                decode_bad += memcmp(d0, d8 + (size_t)r * (K + 3), (size_t)K * 4) != 0;
                for (int j = 0; j < 3; j++) decode_bad += d8[(size_t)r * (K + 3) + K + j] != 12345.f;   /* the gap untouched */
                static float ad[8192];
                qt_dequant_row(QT_Q8_K, act, ad, K);
                double mag = 0;
                for (int i = 0; i < K; i++) mag += fabs((double)d0[i] * ad[i]);
                const double e = fabs((double)qt_vec_dot_ref(QT_Q4_K, K, rows + r * rb, act) - y[r]) / (mag + 1e-30);
                if (e > worst) worst = e;
            }
            cases++;
            free(rows); free(grp); free(act); free(x); free(a); free(d0); free(d8);
        }
    char d[200];
    snprintf(d, sizeof d, "%s: gemv_q4_K_x8 on %d groups of 8 rows (K 256..5632) vs each row's reference dot, worst %.2e of sum|w*a| (bound 4e-7)", k->name, cases, worst);
    CHECK_T(worst <= 4e-7, d);
    snprintf(d, sizeof d, "%s: the repacked rows decode bit-exactly as qt_dequant_row (%d rows differ)", k->name, decode_bad);
    CHECK_EQ_I(decode_bad, 0, d);
}

/* the many-key attention kernels are bit-identical with the set's one-key kernels
 * called key by key (NULL: ops.h makes those calls), at odd sizes and strides */
static void test_attention(const struct kern *k)
{
    static float q[160], sc[71], w[70], o0[160], o1[160], kf[70 * 400];
    static uint16_t kh[70 * 400];
    static const int hds[] = { 64, 128, 80, 72, 13, 8 }, ns[] = { 1, 7, 8, 9, 17, 70 };
    int bad_dots = 0, bad_f16 = 0, bad_f32 = 0, cases = 0;
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            const int hd = hds[hi], n = ns[ni], ld = 3 * hd + 5;
            for (int i = 0; i < hd; i++) q[i] = rnd();
            for (int i = 0; i < n * ld; i++) { kf[i] = rnd(); kh[i] = f2h(rnd()); }
            for (int j = 0; j < n; j++) w[j] = rnd();
            if (k->dots_f32_f16) {
                sc[n] = 12345.f;
                k->dots_f32_f16(n, hd, q, kh, ld, sc);
                for (int j = 0; j < n; j++) { float r = k->dot_f32_f16(hd, q, kh + (size_t)j * ld); bad_dots += memcmp(&r, &sc[j], 4) != 0; }
                bad_dots += sc[n] != 12345.f;
            }
            for (int pass = 0; pass < 2; pass++) {   /* 0: F16 values, 1: F32 */
                if (pass ? !k->axpys_f32 : !k->axpys_f16) continue;
                for (int i = 0; i < hd + 1; i++) o0[i] = o1[i] = rnd();
                for (int j = 0; j < n; j++)
                    if (pass) k->axpy_f32(hd, w[j], kf + (size_t)j * ld, o0);
                    else k->axpy_f16(hd, w[j], kh + (size_t)j * ld, o0);
                if (pass) k->axpys_f32(n, hd, w, kf, ld, o1);
                else k->axpys_f16(n, hd, w, kh, ld, o1);
                (pass ? &bad_f32 : &bad_f16)[0] += memcmp(o0, o1, (size_t)(hd + 1) * 4) != 0;
            }
            cases++;
        }
    char d[200];
    snprintf(d, sizeof d, "%s: dots_f32_f16 %s (%d of %d cases differ)", k->name,
             k->dots_f32_f16 ? "bit-identical with dot_f32_f16 key by key, nothing past n" : "none (ops.h calls dot_f32_f16)", bad_dots, cases);
    CHECK_EQ_I(bad_dots, 0, d);
    snprintf(d, sizeof d, "%s: axpys_f16 %s (%d of %d cases differ)", k->name,
             k->axpys_f16 ? "bit-identical with axpy_f16 key by key, nothing past hd" : "none (ops.h calls axpy_f16)", bad_f16, cases);
    CHECK_EQ_I(bad_f16, 0, d);
    snprintf(d, sizeof d, "%s: axpys_f32 %s (%d of %d cases differ)", k->name,
             k->axpys_f32 ? "bit-identical with axpy_f32 key by key, nothing past hd" : "none (ops.h calls axpy_f32)", bad_f32, cases);
    CHECK_EQ_I(bad_f32, 0, d);
}

/* scale_max: the same s and the same largest value as the loop (with a NaN too) */
static void test_scale_max(const struct kern *k)
{
    if (!k->scale_max) return;
    static float a[600], b[600];
    static const int ns[] = { 0, 1, 7, 16, 17, 33, 577 };
    int bad = 0;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (int nan = 0; nan < 2; nan++) {
            const int n = ns[i];
            for (int j = 0; j < n + 1; j++) a[j] = b[j] = rnd() * 30;
            if (nan && n > 3) a[n / 2] = b[n / 2] = NAN;
            float mx = -INFINITY;
            for (int j = 0; j < n; j++) { a[j] *= 0.125f; if (a[j] > mx) mx = a[j]; }
            const float got = k->scale_max(b, n, 0.125f);
            bad += got != mx || memcmp(a, b, (size_t)(n + 1) * 4) != 0;
        }
    for (int at = 0; at < 35; at++) {   /* a NaN at every place of every lane, n = 35 */
        for (int j = 0; j < 35; j++) a[j] = rnd();
        a[at] = NAN;
        float mx = -INFINITY;
        for (int j = 0; j < 35; j++) if (a[j] > mx) mx = a[j];
        bad += k->scale_max(a, 35, 1.0f) != mx;
    }
    char d[160];
    snprintf(d, sizeof d, "%s: scale_max as the loop, NaNs never the largest (%d cases differ)", k->name, bad);
    CHECK_EQ_I(bad, 0, d);
}

/* silu_mul (fast arithmetic's SwiGLU) against the expf loop: within 1e-6 relative
 * (under 1e-30 where the loop is), over the whole range (exp_neg8's cut-off at -87 included) and
 * at +-inf, NaN */
static void test_silu(const struct kern *k)
{
    if (!k->silu_mul) return;
    enum { N = 1003 };
    static float g[N], u[N], ref[N];
    for (int i = 0; i < N; i++) { g[i] = rnd() * (i % 3 ? 12.f : 120.f); u[i] = rnd() * 4; }
    g[0] = INFINITY; g[1] = -INFINITY; g[2] = NAN; g[3] = -0.0f; g[4] = 88.f; g[5] = -88.f; g[6] = 1e-30f; g[7] = -1e-30f;
    for (int i = 0; i < N; i++) ref[i] = (g[i] / (1.0f + expf(-g[i]))) * u[i];
    k->silu_mul(g, u, N);
    double worst = 0;
    int bad_special = 0;
    for (int i = 0; i < N; i++) {
        if (isnan(ref[i]) || isinf(ref[i])) { bad_special += !(isnan(ref[i]) ? isnan(g[i]) : g[i] == ref[i]); continue; }
        /* below g ~ -87 e^g leaves the normal floats and exp_neg8 gives 0: results
         * under 1e-30 need only stay under it */
        if (fabs(ref[i]) < 1e-30) { bad_special += !(fabs(g[i]) < 1e-30); continue; }
        const double e = fabs((double)g[i] - ref[i]) / fabs(ref[i]);
        if (e > worst) worst = e;
        bad_special += ref[i] == 0 && g[i] != 0;
    }
    char d[160];
    snprintf(d, sizeof d, "%s: silu_mul vs the expf loop, worst %.2e relative (bound 1e-6), specials %d wrong", k->name, worst, bad_special);
    CHECK_T(worst <= 1e-6 && bad_special == 0, d);
}

static void test_set(const struct kern *k)
{
    test_vec_dot(k);
    test_dequant(k);
    test_vectors(k);
    test_f16_convert(k);
    test_exp(k);
    test_gemm_f16(k);
    test_q4_K_x8(k);
    test_attention(k);
    test_scale_max(k);
    test_silu(k);
}

/* the path in use is the one MMSAFE_CPU names ("avx512" is any of its variants) */
static int path_is(const char *path, const char *want)
{
    const size_t n = strlen(want);
    return !strncmp(path, want, n) && (path[n] == 0 || (!strcmp(want, "avx512") && path[n] == '+'));
}

extern const struct kern *const kern_avx512_layers_emu[3];   /* quant_avx512.c under SIMDe */

/* cpu_kern_stack: each member from the topmost layer the variants take that has it,
 * else the AVX2 set's (a member it dropped would still compute right, only slower) */
static void check_stack(const struct kern *k, const struct kern *const L[3], int v, const struct kern *avx2)
{
    const struct kern *use[3] = { L[0], v & CPU_VNNI ? L[1] : NULL, v & CPU_BF16 ? L[2] : NULL };
    int bad = 0;
#define PICK(m) (use[2] && use[2]->m ? use[2]->m : use[1] && use[1]->m ? use[1]->m : use[0]->m ? use[0]->m : avx2->m)
    for (int t = 0; t < QT_COUNT; t++) bad += k->vec_dot[t] != PICK(vec_dot[t]);
    bad += k->dequant_row != PICK(dequant_row);
    bad += k->dot_f32 != PICK(dot_f32);
    bad += k->dot_f32_f16 != PICK(dot_f32_f16);
    bad += k->axpy_f32 != PICK(axpy_f32);
    bad += k->axpy_f16 != PICK(axpy_f16);
    bad += k->f16_mad != PICK(f16_mad);
    bad += k->f16_scale != PICK(f16_scale);
    bad += k->f32_to_f16 != PICK(f32_to_f16);
    bad += k->exp_sub_sum != PICK(exp_sub_sum);
    bad += k->gemm_f16 != PICK(gemm_f16);
    bad += k->gemv_q4_K_x8 != PICK(gemv_q4_K_x8);
    bad += k->dequant_q4_K_x8 != PICK(dequant_q4_K_x8);
    /* a many-key kernel only from the layer whose one-key kernel is in use */
#define MANY(m, one) (use[2] && (use[2]->m || use[2]->one) ? use[2]->m : use[1] && (use[1]->m || use[1]->one) ? use[1]->m \
                      : use[0]->m || use[0]->one ? use[0]->m : avx2->m)
    bad += k->dots_f32_f16 != MANY(dots_f32_f16, dot_f32_f16);
    bad += k->axpys_f32 != MANY(axpys_f32, axpy_f32);
    bad += k->axpys_f16 != MANY(axpys_f16, axpy_f16);
    bad += k->scale_max != PICK(scale_max);
    bad += k->silu_mul != PICK(silu_mul);
#undef MANY
#undef PICK
    static const char *const names[4] = { "avx512", "avx512+vnni", "avx512+bf16", "avx512+vnni+bf16" };
    char d[160];
    snprintf(d, sizeof d, "cpu_kern_stack(variants %d): every member from the right layer, named %s (%s)", v, names[v], k->name);
    CHECK_T(bad == 0 && !strcmp(k->name, names[v]), d);
}

int main(void)
{
    t_name = "engine/kernels";
    eng_tables_init();
    /* the dispatch: MMSAFE_CPU unset picks the fastest set the CPU runs */
    const char *env = getenv("MMSAFE_CPU");
    const int auto_pick = !env || !*env || !strcmp(env, "auto");
    const struct kern *best = cpu_kern_for(CPU_AVX512) ? cpu_kern_for(CPU_AVX512) : cpu_kern_for(CPU_AVX2) ? cpu_kern_for(CPU_AVX2) : NULL;
    if (auto_pick) {
        char d[160];
        snprintf(d, sizeof d, "cpuid picks the fastest kernels: %s (want %s)", engine_cpu_path(), best ? best->name : "refused");
        CHECK_T(best ? !strcmp(engine_cpu_path(), best->name) && engine_cpu_check() == 0 : engine_cpu_check() != 0, d);
    } else {
        char d[160];
        snprintf(d, sizeof d, "MMSAFE_CPU=%s is the path in use (%s)", env, engine_cpu_path());
        CHECK_T(engine_cpu_check() == 0 ? path_is(engine_cpu_path(), env) : !strcmp(engine_cpu_path(), "scalar"), d);
    }
    CHECK_T(strstr(engine_cpu_desc(), engine_cpu_path()) != NULL, "engine_cpu_desc names the path");
    CHECK_T(cpu_kern_for(CPU_SCALAR) == &kern_scalar, "the scalar set runs everywhere");
    test_q4_K_x8(&kern_scalar);   /* the reference 8-row kernel against the reference dot product */
    CHECK_T(!kern_scalar.dots_f32_f16 && !kern_scalar.axpys_f16 && !kern_scalar.axpys_f32, "the scalar set has no many-key attention kernels (ops.h loops)");
    int sets = 0;
    for (int p = CPU_AVX2; p < CPU_N_PATHS; p++) {
        const struct kern *k = cpu_kern_for(p);
        if (!k) { fprintf(stderr, "note: kernel path %d not tested (not on this CPU, or no kernels for it in this build)\n", p); continue; }
        sets++;
        test_set(k);
        /* installing it and going back */
        CHECK_T(cpu_use(p) == 0 && !strcmp(engine_cpu_path(), k->name), "cpu_use installs the set");
    }
    /* the AVX-512 variants below the best one (say avx512 without VNNI on a VNNI CPU) */
    for (int v = 0; v < cpu_avx512_variants(); v++)
        if (cpu_kern_avx512(v)) { sets++; test_set(cpu_kern_avx512(v)); }
    {
        char d[160];
        const struct kern *k = cpu_kern_for(CPU_AVX512);
        snprintf(d, sizeof d, "the AVX-512 set's name (%s) says which variants it has (cpu: %d)", k ? k->name : "none", cpu_avx512_variants());
        CHECK_T(!k || !strcmp(k->name, (const char *[]){ "avx512", "avx512+vnni", "avx512+bf16", "avx512+vnni+bf16" }[cpu_avx512_variants()]), d);
    }
    /* the AVX-512 set emulated by SIMDe, over the AVX2 set */
    if (!kern_avx512_layers_emu[0]) t_skipped("the AVX-512 set under SIMDe emulation: not built (libsimde-dev missing at build time; make deps)");
    else if (!cpu_kern_for(CPU_AVX2)) t_skipped("the AVX-512 set under SIMDe emulation: needs an AVX2 CPU");
    else {
        static const char *const names[4] = { "avx512 (SIMDe)", "", "", "avx512+vnni+bf16 (SIMDe)" };
        for (int v = 0; v < 4; v++) {
            struct kern k;
            cpu_kern_stack(&k, kern_avx512_layers_emu, v);
            check_stack(&k, kern_avx512_layers_emu, v, cpu_kern_for(CPU_AVX2));
            if (v == 1 || v == 2) continue;   /* the base and all layers cover every kernel */
            k.name = names[v];
            test_set(&k);
        }
    }
    {   /* a layer with its own one-key dot and no many-key one: the lower set's many-key
         * kernel (which sums like its own one-key dot) must not stay under it */
        const struct kern top = { .name = "t", .dot_f32_f16 = kern_scalar.dot_f32_f16 };
        const struct kern *const L[3] = { &top, &top, &top };
        struct kern k;
        cpu_kern_stack(&k, L, 0);
        const struct kern *low = cpu_kern_for(CPU_AVX2) ? cpu_kern_for(CPU_AVX2) : &kern_scalar;
        CHECK_T(k.dot_f32_f16 == kern_scalar.dot_f32_f16 && k.dots_f32_f16 == NULL && k.axpys_f16 == low->axpys_f16,
                "cpu_kern_stack drops a lower set's many-key scores under a layer's own one-key dot");
    }
    CHECK_T(cpu_use(CPU_SCALAR) == 0 && !strcmp(engine_cpu_path(), "scalar") && !qt_has_simd(QT_Q4_K), "cpu_use(CPU_SCALAR): no SIMD kernels");
    if (!sets) t_skipped("no SIMD kernel set runs on this CPU: only the scalar set was tested");
    return t_done();
}
