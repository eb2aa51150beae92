/*
 * util.c - file reads, paths, SHA-256 (FIPS 180-4), UTF-8 checks, time.
 */
#include "util.h"
#include "engine/engine.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int util_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(RC_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(RC_EIO, "'%s' is not a regular file", path);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *p = malloc(cap);
    if (!p) { fclose(f); return err_set(RC_ENOMEM, "out of memory reading '%s'", path); }
    for (;;) {
        size_t r = fread(p + n, 1, cap - n - 1, f);
        n += r;
        if (n < cap - 1) break;
        char *q = realloc(p, cap * 2);          /* file grew while we read it */
        if (!q) { free(p); fclose(f); return err_set(RC_ENOMEM, "out of memory reading '%s'", path); }
        p = q; cap *= 2;
    }
    if (ferror(f)) {
        int e = errno;
        free(p); fclose(f);
        return err_set(RC_EIO, "cannot read '%s': %s", path, strerror(e));
    }
    fclose(f);
    p[n] = 0;
    *out = p;
    if (len) *len = n;
    return RC_OK;
}

int util_write_file(const char *path, const void *data, size_t len)
{
    char *tmp = util_fmt("%s.tmp.%d", path, (int)getpid());
    if (!tmp) return err_set(RC_ENOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    if (!f) { int e = errno; free(tmp); return err_set(RC_EIO, "cannot create '%s': %s", path, strerror(e)); }
    int ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp); free(tmp);
        return err_set(RC_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    free(tmp);
    return RC_OK;
}

char *util_strdup(const char *s) { return s ? util_strndup(s, strlen(s)) : NULL; }

char *util_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *util_fmt(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

char *util_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return util_strdup(".");
    if (slash == path) return util_strdup("/");
    return util_strndup(path, (size_t)(slash - path));
}

char *util_join(const char *dir, const char *rel)
{
    if (rel[0] == '/' || !dir || !strcmp(dir, ".")) return util_strdup(rel);
    return util_fmt("%s/%s", dir, rel);
}

/* --- SHA-256 ------------------------------------------------------------- */
static const uint32_t K256[64] = {
    0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
    0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
    0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
    0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
    0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
    0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
    0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
    0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2 };
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4*i] << 24 | (uint32_t)p[4*i+1] << 16 | (uint32_t)p[4*i+2] << 8 | p[4*i+3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3);
        uint32_t s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
        w[i] = w[i-16] + s0 + w[i-7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void util_sha256(const void *data, size_t len, uint8_t out[32])
{
    uint32_t h[8] = { 0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19 };
    const uint8_t *p = data;
    size_t n = len;
    while (n >= 64) { sha256_block(h, p); p += 64; n -= 64; }
    uint8_t tail[128] = { 0 };
    memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = n < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_block(h, tail);
    if (tl == 128) sha256_block(h, tail + 64);
    for (int i = 0; i < 8; i++) {
        out[4*i] = (uint8_t)(h[i] >> 24); out[4*i+1] = (uint8_t)(h[i] >> 16);
        out[4*i+2] = (uint8_t)(h[i] >> 8); out[4*i+3] = (uint8_t)h[i];
    }
}

void util_hex(const uint8_t *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) { out[2*i] = hx[in[i] >> 4]; out[2*i+1] = hx[in[i] & 15]; }
    out[2*n] = 0;
}

long util_utf8_invalid_at(const char *s, size_t n)
{
    size_t bad = eng_utf8_invalid_at(s, n);   /* the engine's validator: one definition of valid UTF-8 */
    return bad < n ? (long)bad : -1;
}

double util_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void util_iso8601(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int buf_add(struct buf *b, const void *data, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return err_set(RC_ENOMEM, "out of memory");
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return RC_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) return err_set(RC_ENOMEM, "out of memory");
    int rc = buf_add(b, s, (size_t)n);
    free(s);
    return rc;
}

void buf_release(struct buf *b) { free(b->p); b->p = NULL; b->n = b->cap = 0; }
