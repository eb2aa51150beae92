/*
 * quant.c - block formats, exact decoders, activation quantisers and the
 * scalar reference dot products (spec §2, §8.2).  SIMD kernels: quant_simd.c,
 * chosen at run time (cpu.h).
 */
#include "quant.h"
#include "quant_blocks.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu.h"

static const struct qtype_info infos[QT_COUNT] = {
    [QT_F32]  = { "F32",  1,   4,   1, QT_F32 },
    [QT_F16]  = { "F16",  1,   2,   1, QT_F16 },
    [QT_BF16] = { "BF16", 1,   2,   1, QT_BF16 },
    [QT_Q4_0] = { "Q4_0", 32,  18,  1, QT_Q8_0 },
    [QT_Q4_1] = { "Q4_1", 32,  20,  1, QT_Q8_1 },
    [QT_Q5_0] = { "Q5_0", 32,  22,  1, QT_Q8_0 },
    [QT_Q5_1] = { "Q5_1", 32,  24,  1, QT_Q8_1 },
    [QT_Q8_0] = { "Q8_0", 32,  34,  1, QT_Q8_0 },
    [QT_Q8_1] = { "Q8_1", 32,  36,  0, 0 },
    [QT_Q2_K] = { "Q2_K", 256, 84,  0, 0 },
    [QT_Q3_K] = { "Q3_K", 256, 110, 0, 0 },
    [QT_Q4_K] = { "Q4_K", 256, 144, 1, QT_Q8_K },
    [QT_Q5_K] = { "Q5_K", 256, 176, 1, QT_Q8_K },
    [QT_Q6_K] = { "Q6_K", 256, 210, 1, QT_Q8_K },
    [QT_Q8_K] = { "Q8_K", 256, 292, 0, 0 },
};

/* ggml ids we know by name but never accept (IQ*, TQ*, ...): report them by name. */
static const char *other_names[QT_COUNT] = {
    [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL",
    [21] = "IQ3_S", [22] = "IQ2_S", [23] = "IQ4_XS", [24] = "I8", [25] = "I16", [26] = "I32",
    [27] = "I64", [28] = "F64", [29] = "IQ1_M", [34] = "TQ1_0", [35] = "TQ2_0", [39] = "MXFP4",
};

const struct qtype_info *qt_info(int type)
{
    if (type < 0 || type >= QT_COUNT || !infos[type].name) return NULL;
    return &infos[type];
}
int qt_weight_ok(int type) { const struct qtype_info *q = qt_info(type); return q && q->weight_ok; }
const char *qt_name(int type)
{
    const struct qtype_info *q = qt_info(type);
    if (q) return q->name;
    if (type >= 0 && type < QT_COUNT && other_names[type]) return other_names[type];
    return "unknown";
}
size_t qt_row_bytes(int type, int64_t n) { const struct qtype_info *q = qt_info(type); return (size_t)(n / q->blck) * (size_t)q->tsize; }
int qt_act_type(int wtype) { return infos[wtype].act_type; }

/* ---- exact decoders (ggml-quants.c dequantize_row_*) ---- */

static inline void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
    else { *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)); *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4)); }
}

void qt_dequant_row(int type, const void *src, float *y, int64_t n)
{
    int64_t nb;
    switch (type) {
    case QT_F32: memcpy(y, src, (size_t)n * 4); return;
    case QT_F16: { const uint16_t *s = src; for (int64_t i = 0; i < n; i++) y[i] = h2f(s[i]); return; }
    case QT_BF16: { const uint16_t *s = src; for (int64_t i = 0; i < n; i++) y[i] = bf2f(s[i]); return; }
    case QT_Q4_0: { const struct blk_q4_0 *x = src; nb = n / 32;
        for (int64_t i = 0; i < nb; i++) { float d = h2f(x[i].d);
            for (int j = 0; j < 16; j++) { y[i*32+j] = (float)((x[i].qs[j] & 15) - 8) * d; y[i*32+j+16] = (float)((x[i].qs[j] >> 4) - 8) * d; } }
        return; }
    case QT_Q4_1: { const struct blk_q4_1 *x = src; nb = n / 32;
        for (int64_t i = 0; i < nb; i++) { float d = h2f(x[i].d), m = h2f(x[i].m);
            for (int j = 0; j < 16; j++) { y[i*32+j] = (float)(x[i].qs[j] & 15) * d + m; y[i*32+j+16] = (float)(x[i].qs[j] >> 4) * d + m; } }
        return; }
    case QT_Q5_0: { const struct blk_q5_0 *x = src; nb = n / 32;
        for (int64_t i = 0; i < nb; i++) { float d = h2f(x[i].d); uint32_t qh; memcpy(&qh, x[i].qh, 4);
            for (int j = 0; j < 16; j++) {
                int x0 = ((x[i].qs[j] & 15) | (int)(((qh >> j) & 1) << 4)) - 16;
                int x1 = ((x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
                y[i*32+j] = (float)x0 * d; y[i*32+j+16] = (float)x1 * d; } }
        return; }
    case QT_Q5_1: { const struct blk_q5_1 *x = src; nb = n / 32;
        for (int64_t i = 0; i < nb; i++) { float d = h2f(x[i].d), m = h2f(x[i].m); uint32_t qh; memcpy(&qh, x[i].qh, 4);
            for (int j = 0; j < 16; j++) {
                int x0 = (x[i].qs[j] & 15) | (int)(((qh >> j) & 1) << 4);
                int x1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                y[i*32+j] = (float)x0 * d + m; y[i*32+j+16] = (float)x1 * d + m; } }
        return; }
    case QT_Q8_0: { const struct blk_q8_0 *x = src; nb = n / 32;
        for (int64_t i = 0; i < nb; i++) { float d = h2f(x[i].d); for (int j = 0; j < 32; j++) y[i*32+j] = (float)x[i].qs[j] * d; }
        return; }
    case QT_Q4_K: { const struct blk_q4_K *x = src; nb = n / 256;
        for (int64_t i = 0; i < nb; i++) {
            const uint8_t *q = x[i].qs; float d = h2f(x[i].d), dmin = h2f(x[i].dmin); int is = 0; uint8_t sc, m;
            for (int j = 0; j < 256; j += 64) {
                get_scale_min_k4(is + 0, x[i].scales, &sc, &m); float d1 = d * sc, m1 = dmin * m;
                get_scale_min_k4(is + 1, x[i].scales, &sc, &m); float d2 = d * sc, m2 = dmin * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
                q += 32; is += 2;
            } }
        return; }
    case QT_Q5_K: { const struct blk_q5_K *x = src; nb = n / 256;
        for (int64_t i = 0; i < nb; i++) {
            const uint8_t *ql = x[i].qs, *qh = x[i].qh; float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
            int is = 0; uint8_t sc, m, u1 = 1, u2 = 2;
            for (int j = 0; j < 256; j += 64) {
                get_scale_min_k4(is + 0, x[i].scales, &sc, &m); float d1 = d * sc, m1 = dmin * m;
                get_scale_min_k4(is + 1, x[i].scales, &sc, &m); float d2 = d * sc, m2 = dmin * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
                ql += 32; is += 2; u1 <<= 2; u2 <<= 2;
            } }
        return; }
    case QT_Q6_K: { const struct blk_q6_K *x = src; nb = n / 256;
        for (int64_t i = 0; i < nb; i++) {
            float d = h2f(x[i].d); const uint8_t *ql = x[i].ql, *qh = x[i].qh; const int8_t *sc = x[i].scales;
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l + 0]  = d * (float)sc[is + 0] * (float)q1;
                    y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                    y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                    y[l + 96] = d * (float)sc[is + 6] * (float)q4;
                }
                y += 128; ql += 64; qh += 32; sc += 8;
            } }
        return; }
    case QT_Q8_K: { const struct blk_q8_K *x = src; nb = n / 256;
        for (int64_t i = 0; i < nb; i++) for (int j = 0; j < 256; j++) y[i*256+j] = x[i].d * (float)x[i].qs[j];
        return; }
    default: abort();
    }
}

/* ---- activation quantisers (x86 paths of ggml: quantize_row_q8_0/q8_1 AVX, q8_K ref) ---- */

static inline int nearest_int(float fval)
{
    float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

void qt_quant_act(int atype, const float *x, void *dst, int64_t n)
{
    switch (atype) {
    case QT_F32: memcpy(dst, x, (size_t)n * 4); return;
    case QT_F16: {
        g_kern.f32_to_f16(x, dst, n);   /* exactly f2h on every path (tests/engine/test_kernels.c) */
        return;
    }
    case QT_BF16: { uint16_t *d = dst; for (int64_t i = 0; i < n; i++) d[i] = f2bf(x[i]); return; }
    case QT_Q8_0: case QT_Q8_1: {
        int64_t nb = n / 32;
        for (int64_t i = 0; i < nb; i++) {
            const float *v = x + i * 32;
            float amax = 0;
            for (int j = 0; j < 32; j++) { float a = fabsf(v[j]); if (a > amax) amax = a; }
            float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
            int8_t *qs;
            int sum = 0;
            if (atype == QT_Q8_0) { struct blk_q8_0 *b = (struct blk_q8_0 *)dst + i; b->d = f2h(d); qs = b->qs; }
            else { struct blk_q8_1 *b = (struct blk_q8_1 *)dst + i; b->d = f2h(d); qs = b->qs; }
            for (int j = 0; j < 32; j++) { qs[j] = (int8_t)nearest_int(v[j] * id); sum += qs[j]; }
            if (atype == QT_Q8_1) ((struct blk_q8_1 *)dst + i)->s = f2h(d * (float)sum);
        }
        return; }
    case QT_Q8_K: {
        int64_t nb = n / 256;
        struct blk_q8_K *y = dst;
        for (int64_t i = 0; i < nb; i++) {
            const float *v = x + i * 256;
            float max = 0, amax = 0;
            for (int j = 0; j < 256; j++) { float ax = fabsf(v[j]); if (ax > amax) { amax = ax; max = v[j]; } }
            if (!amax) { y[i].d = 0; memset(y[i].qs, 0, 256); memset(y[i].bsums, 0, sizeof y[i].bsums); continue; }
            const float iscale = -127.f / max;
            for (int j = 0; j < 256; j++) { int q = nearest_int(iscale * v[j]); y[i].qs[j] = (int8_t)(q < 127 ? q : 127); }
            for (int j = 0; j < 16; j++) { int s = 0; for (int k = 0; k < 16; k++) s += y[i].qs[j * 16 + k]; y[i].bsums[j] = (int16_t)s; }
            y[i].d = 1 / iscale;
        }
        return; }
    default: abort();
    }
}

/* ---- Q4_K rows repacked by 8 (quant.h) ---- */

size_t qt_x8_group_bytes(int64_t K) { return (size_t)(K / 256) * sizeof(struct blk_q4_K_x8); }

void qt_repack_q4_K_x8(const void *src, size_t row_bytes, int64_t K, void *dst)
{
    struct blk_q4_K_x8 *y = dst;
    for (int64_t i = 0; i < K / 256; i++, y++)
        for (int r = 0; r < 8; r++) {
            const struct blk_q4_K *x = (const struct blk_q4_K *)((const uint8_t *)src + (size_t)r * row_bytes) + i;
            y->d[r] = x->d;
            y->dmin[r] = x->dmin;
            for (int sb = 0; sb < 8; sb++) get_scale_min_k4(sb, x->scales, &y->sc[sb][r], &y->mn[sb][r]);
            for (int c = 0; c < 4; c++)
                for (int g = 0; g < 8; g++) memcpy(y->qs[c][g][r], x->qs + 32 * c + 4 * g, 4);
        }
}

void qt_dequant_q4_K_x8(const void *grp, int64_t K, float *y, int64_t ldy)
{
    const struct blk_q4_K_x8 *x = grp;
    for (int64_t i = 0; i < K / 256; i++, x++)
        for (int r = 0; r < 8; r++) {
            float *o = y + (size_t)r * ldy + 256 * i;
            const float d = h2f(x->d[r]), dmin = h2f(x->dmin[r]);
            for (int c = 0; c < 4; c++) {
                /* the same expressions as qt_dequant_row's Q4_K case */
                const float d1 = d * x->sc[2 * c][r], m1 = dmin * x->mn[2 * c][r];
                const float d2 = d * x->sc[2 * c + 1][r], m2 = dmin * x->mn[2 * c + 1][r];
                for (int l = 0; l < 32; l++) {
                    const uint8_t q = x->qs[c][l / 4][r][l % 4];
                    o[64 * c + l] = d1 * (float)(q & 0xF) - m1;
                    o[64 * c + 32 + l] = d2 * (float)(q >> 4) - m2;
                }
            }
        }
}

void qt_gemv_q4_K_x8_ref(int64_t K, const void *grp, const void *act, float *y)
{
    const struct blk_q4_K_x8 *x = grp;
    const struct blk_q8_K *a = act;
    for (int r = 0; r < 8; r++) {
        float s = 0;
        for (int64_t i = 0; i < K / 256; i++) {
            int isum = 0, imin = 0;
            for (int sb = 0; sb < 8; sb++) {
                const int c = sb / 2, hi = sb % 2;
                int sum = 0;
                for (int l = 0; l < 32; l++) {
                    const uint8_t q = x[i].qs[c][l / 4][r][l % 4];
                    sum += (hi ? q >> 4 : q & 15) * a[i].qs[32 * sb + l];
                }
                isum += x[i].sc[sb][r] * sum;
                imin += x[i].mn[sb][r] * (a[i].bsums[2 * sb] + a[i].bsums[2 * sb + 1]);
            }
            s += h2f(x[i].d[r]) * a[i].d * (float)isum - h2f(x[i].dmin[r]) * a[i].d * (float)imin;
        }
        y[r] = s;
    }
}

/* ---- scalar reference dot products (ggml_vec_dot_*_generic) ---- */

float qt_vec_dot_ref(int wtype, int64_t n, const void *vw, const void *va)
{
    switch (wtype) {
    case QT_F32: { const float *w = vw, *a = va; double s = 0; for (int64_t i = 0; i < n; i++) s += (double)(w[i] * a[i]); return (float)s; }
    case QT_F16: { const uint16_t *w = vw, *a = va; double s = 0; for (int64_t i = 0; i < n; i++) s += (double)(h2f(w[i]) * h2f(a[i])); return (float)s; }
    case QT_BF16: { const uint16_t *w = vw, *a = va; double s = 0; for (int64_t i = 0; i < n; i++) s += (double)(bf2f(w[i]) * bf2f(a[i])); return (float)s; }
    case QT_Q4_0: case QT_Q5_0: case QT_Q8_0: {
        const struct blk_q8_0 *a = va; float s = 0;
        for (int64_t i = 0; i < n / 32; i++) {
            int sumi = 0; float dw;
            if (wtype == QT_Q4_0) { const struct blk_q4_0 *w = (const struct blk_q4_0 *)vw + i; dw = h2f(w->d);
                for (int j = 0; j < 16; j++) sumi += ((w->qs[j] & 15) - 8) * a[i].qs[j] + ((w->qs[j] >> 4) - 8) * a[i].qs[j + 16]; }
            else if (wtype == QT_Q5_0) { const struct blk_q5_0 *w = (const struct blk_q5_0 *)vw + i; dw = h2f(w->d); uint32_t qh; memcpy(&qh, w->qh, 4);
                for (int j = 0; j < 16; j++) {
                    int x0 = ((w->qs[j] & 15) | (int)(((qh >> j) & 1) << 4)) - 16, x1 = ((w->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
                    sumi += x0 * a[i].qs[j] + x1 * a[i].qs[j + 16]; } }
            else { const struct blk_q8_0 *w = (const struct blk_q8_0 *)vw + i; dw = h2f(w->d);
                for (int j = 0; j < 32; j++) sumi += w->qs[j] * a[i].qs[j]; }
            s += (float)sumi * (dw * h2f(a[i].d));
        }
        return s; }
    case QT_Q4_1: case QT_Q5_1: {
        const struct blk_q8_1 *a = va; float s = 0;
        for (int64_t i = 0; i < n / 32; i++) {
            int sumi = 0; float dw, mw;
            if (wtype == QT_Q4_1) { const struct blk_q4_1 *w = (const struct blk_q4_1 *)vw + i; dw = h2f(w->d); mw = h2f(w->m);
                for (int j = 0; j < 16; j++) sumi += (w->qs[j] & 15) * a[i].qs[j] + (w->qs[j] >> 4) * a[i].qs[j + 16]; }
            else { const struct blk_q5_1 *w = (const struct blk_q5_1 *)vw + i; dw = h2f(w->d); mw = h2f(w->m); uint32_t qh; memcpy(&qh, w->qh, 4);
                for (int j = 0; j < 16; j++) {
                    int x0 = (w->qs[j] & 15) | (int)(((qh >> j) & 1) << 4), x1 = (w->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                    sumi += x0 * a[i].qs[j] + x1 * a[i].qs[j + 16]; } }
            s += (dw * h2f(a[i].d)) * (float)sumi + mw * h2f(a[i].s);
        }
        return s; }
    case QT_Q4_K: case QT_Q5_K: {
        const struct blk_q8_K *a = va; float s = 0;
        for (int64_t i = 0; i < n / 256; i++) {
            const uint8_t *scales, *qs, *qh = NULL; float d, dmin;
            if (wtype == QT_Q4_K) { const struct blk_q4_K *w = (const struct blk_q4_K *)vw + i; scales = w->scales; qs = w->qs; d = h2f(w->d); dmin = h2f(w->dmin); }
            else { const struct blk_q5_K *w = (const struct blk_q5_K *)vw + i; scales = w->scales; qs = w->qs; qh = w->qh; d = h2f(w->d); dmin = h2f(w->dmin); }
            int isum = 0, imin = 0;
            for (int c = 0; c < 4; c++) {
                uint8_t sc1, m1, sc2, m2;
                get_scale_min_k4(2 * c, scales, &sc1, &m1);
                get_scale_min_k4(2 * c + 1, scales, &sc2, &m2);
                int s1 = 0, s2 = 0;
                for (int l = 0; l < 32; l++) {
                    int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
                    if (qh) { lo += ((qh[l] >> (2 * c)) & 1) << 4; hi += ((qh[l] >> (2 * c + 1)) & 1) << 4; }
                    s1 += lo * a[i].qs[64 * c + l];
                    s2 += hi * a[i].qs[64 * c + 32 + l];
                }
                isum += sc1 * s1 + sc2 * s2;
                imin += m1 * (a[i].bsums[4 * c] + a[i].bsums[4 * c + 1]) + m2 * (a[i].bsums[4 * c + 2] + a[i].bsums[4 * c + 3]);
            }
            s += d * a[i].d * (float)isum - dmin * a[i].d * (float)imin;
        }
        return s; }
    case QT_Q6_K: {
        const struct blk_q8_K *a = va; float s = 0;
        for (int64_t i = 0; i < n / 256; i++) {
            const struct blk_q6_K *w = (const struct blk_q6_K *)vw + i;
            int isum = 0;
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = w->ql + 64 * h, *qh = w->qh + 32 * h;
                for (int g = 0; g < 4; g++) {
                    for (int half = 0; half < 2; half++) {
                        int ss = 0;
                        for (int l = 16 * half; l < 16 * half + 16; l++) {
                            int low4 = g == 0 ? ql[l] & 15 : g == 1 ? ql[32 + l] & 15 : g == 2 ? ql[l] >> 4 : ql[32 + l] >> 4;
                            int q = (low4 | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                            ss += q * a[i].qs[128 * h + 32 * g + l];
                        }
                        isum += w->scales[8 * h + 2 * g + half] * ss;
                    }
                }
            }
            s += h2f(w->d) * a[i].d * (float)isum;
        }
        return s; }
    default: abort();
    }
}

/* ---- simple weight quantisers (round to nearest; for test and bench models) ---- */

static void q4k_like(const float *x, void *dst, int64_t n, int five)
{
    for (int64_t i = 0; i < n / 256; i++) {
        const float *v = x + i * 256;
        float sc[8], mn[8];
        for (int k = 0; k < 8; k++) {
            float lo = v[32 * k], hi = v[32 * k];
            for (int l = 1; l < 32; l++) { if (v[32 * k + l] < lo) lo = v[32 * k + l]; if (v[32 * k + l] > hi) hi = v[32 * k + l]; }
            if (lo > 0) lo = 0;
            sc[k] = (hi - lo) / (five ? 31.f : 15.f);
            mn[k] = -lo;
        }
        float msc = 0, mmn = 0;
        for (int k = 0; k < 8; k++) { if (sc[k] > msc) msc = sc[k]; if (mn[k] > mmn) mmn = mn[k]; }
        float d = msc / 63.f, dmin = mmn / 63.f;
        uint16_t hd = f2h(d), hdm = f2h(dmin);
        d = h2f(hd); dmin = h2f(hdm);
        uint8_t ls[8], lm[8];
        for (int k = 0; k < 8; k++) {
            int a = d > 0 ? nearest_int(sc[k] / d) : 0, b = dmin > 0 ? nearest_int(mn[k] / dmin) : 0;
            ls[k] = (uint8_t)(a < 0 ? 0 : a > 63 ? 63 : a);
            lm[k] = (uint8_t)(b < 0 ? 0 : b > 63 ? 63 : b);
        }
        uint8_t scales[12] = { 0 };
        for (int k = 0; k < 8; k++) {
            if (k < 4) { scales[k] = ls[k]; scales[k + 4] = lm[k]; }
            else {
                scales[k + 4] = (uint8_t)((ls[k] & 0xF) | ((lm[k] & 0xF) << 4));
                scales[k - 4] |= (uint8_t)((ls[k] >> 4) << 6);
                scales[k] |= (uint8_t)((lm[k] >> 4) << 6);
            }
        }
        uint8_t q[256];
        int qmax = five ? 31 : 15;
        for (int k = 0; k < 8; k++) {
            float dd = d * ls[k], mm = dmin * lm[k];
            for (int l = 0; l < 32; l++) {
                int qq = dd > 0 ? nearest_int((v[32 * k + l] + mm) / dd) : 0;
                q[32 * k + l] = (uint8_t)(qq < 0 ? 0 : qq > qmax ? qmax : qq);
            }
        }
        if (!five) {
            struct blk_q4_K *b = (struct blk_q4_K *)dst + i;
            b->d = hd; b->dmin = hdm; memcpy(b->scales, scales, 12);
            for (int c = 0; c < 4; c++) for (int l = 0; l < 32; l++) b->qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
        } else {
            struct blk_q5_K *b = (struct blk_q5_K *)dst + i;
            b->d = hd; b->dmin = hdm; memcpy(b->scales, scales, 12); memset(b->qh, 0, 32);
            for (int c = 0; c < 4; c++) for (int l = 0; l < 32; l++) {
                int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
                b->qs[32 * c + l] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
                b->qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
    }
}

void qt_quantize_row(int type, const float *x, void *dst, int64_t n)
{
    switch (type) {
    case QT_F32: case QT_F16: case QT_BF16: qt_quant_act(type, x, dst, n); return;
    case QT_Q8_0: case QT_Q4_0: case QT_Q4_1: case QT_Q5_0: case QT_Q5_1:
        for (int64_t i = 0; i < n / 32; i++) {
            const float *v = x + 32 * i;
            float lo = v[0], hi = v[0], amax = 0, mx = 0;
            for (int j = 0; j < 32; j++) { if (v[j] < lo) lo = v[j]; if (v[j] > hi) hi = v[j]; if (fabsf(v[j]) > amax) { amax = fabsf(v[j]); mx = v[j]; } }
            if (type == QT_Q8_0) {
                struct blk_q8_0 *b = (struct blk_q8_0 *)dst + i; float d = amax / 127.f, id = d ? 1 / d : 0;
                b->d = f2h(d); for (int j = 0; j < 32; j++) b->qs[j] = (int8_t)roundf(v[j] * id);
            } else if (type == QT_Q4_0 || type == QT_Q5_0) {
                int q5 = type == QT_Q5_0; float d = mx / (q5 ? -16.f : -8.f), id = d ? 1 / d : 0;
                uint8_t qq[32];
                for (int j = 0; j < 32; j++) { int t = (int)(v[j] * id + (q5 ? 16.5f : 8.5f)); qq[j] = (uint8_t)(t > (q5 ? 31 : 15) ? (q5 ? 31 : 15) : t < 0 ? 0 : t); }
                if (!q5) { struct blk_q4_0 *b = (struct blk_q4_0 *)dst + i; b->d = f2h(d); for (int j = 0; j < 16; j++) b->qs[j] = (uint8_t)(qq[j] | (qq[j + 16] << 4)); }
                else { struct blk_q5_0 *b = (struct blk_q5_0 *)dst + i; b->d = f2h(d); uint32_t qh = 0;
                    for (int j = 0; j < 16; j++) { b->qs[j] = (uint8_t)((qq[j] & 15) | ((qq[j + 16] & 15) << 4)); qh |= (uint32_t)(qq[j] >> 4) << j; qh |= (uint32_t)(qq[j + 16] >> 4) << (j + 16); }
                    memcpy(b->qh, &qh, 4); }
            } else {
                int q5 = type == QT_Q5_1; float d = (hi - lo) / (q5 ? 31.f : 15.f), id = d ? 1 / d : 0;
                uint8_t qq[32];
                for (int j = 0; j < 32; j++) { int t = (int)((v[j] - lo) * id + 0.5f); qq[j] = (uint8_t)(t > (q5 ? 31 : 15) ? (q5 ? 31 : 15) : t < 0 ? 0 : t); }
                if (!q5) { struct blk_q4_1 *b = (struct blk_q4_1 *)dst + i; b->d = f2h(d); b->m = f2h(lo); for (int j = 0; j < 16; j++) b->qs[j] = (uint8_t)(qq[j] | (qq[j + 16] << 4)); }
                else { struct blk_q5_1 *b = (struct blk_q5_1 *)dst + i; b->d = f2h(d); b->m = f2h(lo); uint32_t qh = 0;
                    for (int j = 0; j < 16; j++) { b->qs[j] = (uint8_t)((qq[j] & 15) | ((qq[j + 16] & 15) << 4)); qh |= (uint32_t)(qq[j] >> 4) << j; qh |= (uint32_t)(qq[j + 16] >> 4) << (j + 16); }
                    memcpy(b->qh, &qh, 4); }
            }
        }
        return;
    case QT_Q4_K: q4k_like(x, dst, n, 0); return;
    case QT_Q5_K: q4k_like(x, dst, n, 1); return;
    case QT_Q6_K:
        for (int64_t i = 0; i < n / 256; i++) {
            const float *v = x + 256 * i;
            struct blk_q6_K *b = (struct blk_q6_K *)dst + i;
            float gs[16], gmax = 0;
            for (int k = 0; k < 16; k++) { float amax = 0, mx = 0; for (int l = 0; l < 16; l++) if (fabsf(v[16 * k + l]) > amax) { amax = fabsf(v[16 * k + l]); mx = v[16 * k + l]; }
                gs[k] = mx / -32.f; if (fabsf(gs[k]) > gmax) gmax = fabsf(gs[k]); }
            float d = gmax / 127.f; b->d = f2h(d); d = h2f(b->d);
            uint8_t q[256];
            for (int k = 0; k < 16; k++) {
                int s = d > 0 ? nearest_int(gs[k] / d) : 0; s = s > 127 ? 127 : s < -128 ? -128 : s; b->scales[k] = (int8_t)s;
                float dd = d * (float)s;
                for (int l = 0; l < 16; l++) { int t = dd != 0 ? nearest_int(v[16 * k + l] / dd) : 0; t = t > 31 ? 31 : t < -32 ? -32 : t; q[16 * k + l] = (uint8_t)(t + 32); }
            }
            memset(b->qh, 0, 64);
            for (int h = 0; h < 2; h++) for (int l = 0; l < 32; l++) {
                uint8_t q1 = q[128 * h + l], q2 = q[128 * h + 32 + l], q3 = q[128 * h + 64 + l], q4 = q[128 * h + 96 + l];
                b->ql[64 * h + l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
                b->ql[64 * h + 32 + l] = (uint8_t)((q2 & 15) | ((q4 & 15) << 4));
                b->qh[32 * h + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
        return;
    default: abort();
    }
}
