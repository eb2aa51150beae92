/*
 * util.c - engine error buffer and float conversions.
 */
#include "util.h"
#include "engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char g_msg[2048];

int eng_err(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return rc;
}

void eng_err_prefix(const char *fmt, ...)
{
    char pre[512], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    /* "pre: old", truncated to the buffer (composed by hand: no truncation warning) */
    size_t lp = strlen(pre), lo = strlen(old), o = 0;
    if (lp > sizeof g_msg - 3) lp = sizeof g_msg - 3;
    memcpy(g_msg, pre, lp); o = lp;
    g_msg[o++] = ':'; g_msg[o++] = ' ';
    if (lo > sizeof g_msg - 1 - o) lo = sizeof g_msg - 1 - o;
    memcpy(g_msg + o, old, lo);
    g_msg[o + lo] = 0;
}

const char *eng_errmsg(void) { return g_msg; }

float eng_f16_table[65536];
static int g_tables_ready;

static float h2f_compute(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) & 1, exp = (h >> 10) & 31, man = h & 1023;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);                 /* zero / subnormal */
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 1024), (int)exp - 25);
    if (exp == 31 && man) {                                     /* keep NaN payload sign */
        uint32_t u = (sign << 31) | 0x7f800000u | (man << 13);
        memcpy(&v, &u, 4);
        return v;
    }
    return sign ? -v : v;
}

void eng_tables_init(void)
{
    if (__atomic_load_n(&g_tables_ready, __ATOMIC_ACQUIRE)) return;
#pragma omp critical(eng_tables)
    {
        if (!g_tables_ready) {
            for (uint32_t i = 0; i < 65536; i++) eng_f16_table[i] = h2f_compute((uint16_t)i);
            __atomic_store_n(&g_tables_ready, 1, __ATOMIC_RELEASE);
        }
    }
}

/* f32 -> f16 with round-to-nearest-even (the classic bit-exact algorithm, as
 * ggml's GGML_FP32_TO_FP16 / F16C _cvtss_sh with rounding mode 0). */
uint16_t f2h(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)                                  /* inf / nan */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {                                  /* result subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign;         /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        int shift = 126 - (int)e;                            /* 14 + (113 - e) - 1 ... */
        /* value = m * 2^(e-150); subnormal unit 2^-24 -> q = m * 2^(e-126) */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax - 0x38000000u;                           /* rebias exponent 127 -> 15 */
    uint32_t q = r >> 13, rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

uint16_t f2bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64); /* quiet nan */
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

size_t eng_utf8_invalid_at(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (len - i <= need) return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += need + 1;
    }
    return len;
}
