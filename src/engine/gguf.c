/*
 * gguf.c - bounded GGUF reader over a read-only mmap (see gguf.h).
 */
#include "gguf.h"
#include "quant.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_STRING  (1ull << 30)
#define GGUF_MAX_ARRAY   (1ull << 30)

struct rd { const uint8_t *p; size_t size, pos; };

static int need(struct rd *r, size_t n, const char *what)
{
    if (n > r->size - r->pos)
        return eng_err(RC_EFORMAT, "file truncated while reading %s at byte %zu (needs %zu bytes, %zu left)",
                       what, r->pos, n, r->size - r->pos);
    return RC_OK;
}
static uint32_t rd_u32(struct rd *r) { uint32_t v; memcpy(&v, r->p + r->pos, 4); r->pos += 4; return v; }
static uint64_t rd_u64(struct rd *r) { uint64_t v; memcpy(&v, r->p + r->pos, 8); r->pos += 8; return v; }

/* Reads a u64-length-prefixed string; returns pointer into the map. */
static int rd_str(struct rd *r, const char *what, const uint8_t **s, uint64_t *len)
{
    int rc = need(r, 8, what);
    if (rc) return rc;
    uint64_t n = rd_u64(r);
    if (n > GGUF_MAX_STRING)
        return eng_err(RC_EFORMAT, "%s: string length %" PRIu64 " exceeds the 1 GiB limit", what, n);
    if ((rc = need(r, (size_t)n, what))) return rc;
    *s = r->p + r->pos;
    *len = n;
    r->pos += (size_t)n;
    return RC_OK;
}

static const int vsize[GGUF_NTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
static const char *vnames[GGUF_NTYPES] = { "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                           "string", "array", "u64", "i64", "f64" };

const char *gguf_vtype_name(int t) { return t >= 0 && t < GGUF_NTYPES ? vnames[t] : "?"; }

static char *dupn(const uint8_t *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void gguf_close(struct gguf *g)
{
    if (!g) return;
    if (g->kv) for (int64_t i = 0; i < g->n_kv; i++) free(g->kv[i].key);
    free(g->kv);
    free(g->t);
    if (g->mapped && g->map) munmap((void *)g->map, g->size);
    free(g->path);
    free(g);
}

static int parse_kv(struct rd *r, struct gguf_kv *kv, int64_t idx)
{
    const uint8_t *s;
    uint64_t len;
    int rc = rd_str(r, "a metadata key", &s, &len);
    if (rc) return rc;
    if (len == 0) return eng_err(RC_EFORMAT, "metadata entry %" PRId64 " has an empty key", idx);
    if (len > 65535) return eng_err(RC_EFORMAT, "metadata entry %" PRId64 " has a %" PRIu64 "-byte key", idx, len);
    if (memchr(s, 0, (size_t)len))
        return eng_err(RC_EFORMAT, "metadata entry %" PRId64 " has a key containing a NUL byte", idx);
    if (!(kv->key = dupn(s, (size_t)len))) return eng_err(RC_ENOMEM, "out of memory");
    if ((rc = need(r, 4, kv->key))) return rc;
    int32_t t = (int32_t)rd_u32(r);
    if (t < 0 || t >= GGUF_NTYPES)
        return eng_err(RC_EFORMAT, "metadata '%s' has unknown value type %d", kv->key, t);
    kv->type = t;
    kv->arr_type = -1;
    if (t == GGUF_STRING) {
        if ((rc = rd_str(r, kv->key, &kv->data, &kv->n))) return rc;
        return RC_OK;
    }
    if (t != GGUF_ARRAY) {
        if ((rc = need(r, (size_t)vsize[t], kv->key))) return rc;
        kv->data = r->p + r->pos;
        kv->n = 1;
        r->pos += (size_t)vsize[t];
        return RC_OK;
    }
    if ((rc = need(r, 12, kv->key))) return rc;
    int32_t et = (int32_t)rd_u32(r);
    uint64_t n = rd_u64(r);
    if (et < 0 || et >= GGUF_NTYPES)
        return eng_err(RC_EFORMAT, "metadata array '%s' has unknown element type %d", kv->key, et);
    if (et == GGUF_ARRAY)
        return eng_err(RC_EFORMAT, "metadata '%s' is an array of arrays (not supported)", kv->key);
    if (n > GGUF_MAX_ARRAY)
        return eng_err(RC_EFORMAT, "metadata array '%s' has %" PRIu64 " elements (limit 2^30)", kv->key, n);
    kv->arr_type = et;
    kv->n = n;
    kv->data = r->p + r->pos;
    if (et == GGUF_STRING) {
        if (n > (r->size - r->pos) / 8)
            return eng_err(RC_EFORMAT, "metadata array '%s': %" PRIu64 " strings cannot fit in the file", kv->key, n);
        for (uint64_t i = 0; i < n; i++) {
            const uint8_t *es;
            uint64_t el;
            if ((rc = rd_str(r, kv->key, &es, &el))) return rc;
        }
    } else {
        size_t bytes = (size_t)n * (size_t)vsize[et];
        if ((rc = need(r, bytes, kv->key))) return rc;
        r->pos += bytes;
    }
    return RC_OK;
}

static int parse(struct gguf *g)
{
    struct rd r = { g->map, g->size, 0 };
    int rc;
    if (g->size < 4 || memcmp(g->map, "GGUF", 4) != 0)
        return eng_err(RC_EFORMAT, "not a GGUF file (bad magic)");
    r.pos = 4;
    if ((rc = need(&r, 4 + 8 + 8, "the header"))) return rc;
    g->version = rd_u32(&r);
    if ((g->version & 0xffff) == 0)
        return eng_err(RC_EFORMAT, "big-endian (byte-swapped) GGUF file (version field 0x%08x); only little-endian files are supported",
                       g->version);
    if (g->version == 1) return eng_err(RC_EFORMAT, "GGUF version 1 is obsolete (supported: 2, 3)");
    if (g->version < 2 || g->version > 3)
        return eng_err(RC_EFORMAT, "unsupported GGUF version %u (supported: 2, 3)", g->version);
    int64_t nt = (int64_t)rd_u64(&r), nkv = (int64_t)rd_u64(&r);
    size_t left = g->size - r.pos;
    if (nt < 0 || (uint64_t)nt > left / (8 + 4 + 4 + 8))
        return eng_err(RC_EFORMAT, "tensor count %" PRId64 " is impossible for a %zu-byte file", nt, g->size);
    if (nkv < 0 || (uint64_t)nkv > left / (8 + 1 + 4 + 1))
        return eng_err(RC_EFORMAT, "metadata count %" PRId64 " is impossible for a %zu-byte file", nkv, g->size);
    g->kv = calloc((size_t)nkv + 1, sizeof *g->kv);
    g->t = calloc((size_t)nt + 1, sizeof *g->t);
    if (!g->kv || !g->t) return eng_err(RC_ENOMEM, "out of memory");
    g->alignment = 32;
    for (int64_t i = 0; i < nkv; i++) {
        g->n_kv = i + 1;
        if ((rc = parse_kv(&r, &g->kv[i], i))) return rc;
        for (int64_t j = 0; j < i; j++)
            if (!strcmp(g->kv[j].key, g->kv[i].key))
                return eng_err(RC_EFORMAT, "duplicate metadata key '%s'", g->kv[i].key);
        if (!strcmp(g->kv[i].key, "general.alignment")) {
            if (g->kv[i].type != GGUF_U32)
                return eng_err(RC_EFORMAT, "general.alignment must be u32, not %s", gguf_vtype_name(g->kv[i].type));
            uint32_t a;
            memcpy(&a, g->kv[i].data, 4);
            if (a == 0 || (a & (a - 1)))
                return eng_err(RC_EFORMAT, "general.alignment %u is not a power of two", a);
            g->alignment = a;
        }
    }
    for (int64_t i = 0; i < nt; i++) {
        struct gguf_tensor *t = &g->t[i];
        const uint8_t *s;
        uint64_t len;
        g->n_tensors = i + 1;
        if ((rc = rd_str(&r, "a tensor name", &s, &len))) return rc;
        if (len >= GGUF_MAX_NAME)
            return eng_err(RC_EFORMAT, "tensor %" PRId64 " has a %" PRIu64 "-byte name (limit 63)", i, len);
        memcpy(t->name, s, (size_t)len);
        t->name[len] = 0;
        if (strlen(t->name) != len)
            return eng_err(RC_EFORMAT, "tensor %" PRId64 " has a name containing a NUL byte", i);
        if ((rc = need(&r, 4, t->name))) return rc;
        uint32_t nd = rd_u32(&r);
        if (nd > 4) return eng_err(RC_EFORMAT, "tensor '%s' has %u dimensions (max 4)", t->name, nd);
        t->n_dims = (int)nd;
        if ((rc = need(&r, 8 * (size_t)nd + 4 + 8, t->name))) return rc;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            int64_t ne = (int64_t)rd_u64(&r);
            if (ne < 0) return eng_err(RC_EFORMAT, "tensor '%s' has a negative dimension", t->name);
            t->ne[d] = ne;
        }
        int32_t ty = (int32_t)rd_u32(&r);
        t->offset = rd_u64(&r);
        const struct qtype_info *qi = qt_info(ty);
        if (!qi && strcmp(qt_name(ty), "unknown"))
            return eng_err(RC_EFORMAT, "tensor '%s' has type %s (id %d), which is not supported", t->name, qt_name(ty), ty);
        if (!qi) return eng_err(RC_EFORMAT, "tensor '%s' has unknown type id %d", t->name, ty);
        if (!qt_weight_ok(ty))
            return eng_err(RC_EFORMAT, "tensor '%s' has type %s, which is not supported", t->name, qi->name);
        t->type = ty;
        if (t->ne[0] % qi->blck)
            return eng_err(RC_EFORMAT, "tensor '%s': ne[0] = %" PRId64 " is not a multiple of the %s block size %d",
                           t->name, t->ne[0], qi->name, qi->blck);
        /* size with overflow checks */
        uint64_t rows = 1;
        for (int d = 1; d < 4; d++) {
            if (t->ne[d] && rows > UINT64_MAX / (uint64_t)t->ne[d])
                return eng_err(RC_EFORMAT, "tensor '%s': shape overflows", t->name);
            rows *= (uint64_t)t->ne[d];
        }
        uint64_t rb = (uint64_t)(t->ne[0] / qi->blck) * (uint64_t)qi->tsize;
        if (rows && rb > (uint64_t)SIZE_MAX / rows)
            return eng_err(RC_EFORMAT, "tensor '%s': size overflows", t->name);
        if ((uint64_t)t->ne[0] > (uint64_t)INT64_MAX / (rows ? rows : 1))
            return eng_err(RC_EFORMAT, "tensor '%s': element count overflows", t->name);
        t->row_bytes = (size_t)rb;
        t->nbytes = (size_t)(rb * rows);
        for (int64_t j = 0; j < i; j++)
            if (!strcmp(g->t[j].name, t->name))
                return eng_err(RC_EFORMAT, "duplicate tensor name '%s'", t->name);
    }
    /* data section */
    size_t a = g->alignment;
    size_t off = r.pos;
    if (nt > 0) {
        if (off > SIZE_MAX - a) return eng_err(RC_EFORMAT, "data offset overflows");
        off = (off + a - 1) / a * a;
    }
    g->data_offset = off;
    uint64_t expect = 0;
    for (int64_t i = 0; i < nt; i++) {
        struct gguf_tensor *t = &g->t[i];
        if (t->offset % a)
            return eng_err(RC_EFORMAT, "tensor '%s': offset %" PRIu64 " is not a multiple of the alignment %zu",
                           t->name, t->offset, a);
        if (t->offset != expect)
            return eng_err(RC_EFORMAT, "tensor '%s': offset %" PRIu64 " does not follow the previous tensor (expected %" PRIu64 ")",
                           t->name, t->offset, expect);
        if (off > g->size || t->offset > g->size - off || t->nbytes > g->size - off - t->offset)
            return eng_err(RC_EFORMAT, "tensor '%s': data (%zu bytes at offset %" PRIu64 ") runs past the end of the file (%zu bytes)",
                           t->name, t->nbytes, t->offset, g->size);
        t->data = g->map + off + t->offset;
        uint64_t padded = ((uint64_t)t->nbytes + a - 1) / a * a;
        expect += padded;
    }
    return RC_OK;
}

int gguf_parse(const void *buf, size_t size, struct gguf **out)
{
    eng_tables_init();
    *out = NULL;
    struct gguf *g = calloc(1, sizeof *g);
    if (!g) return eng_err(RC_ENOMEM, "out of memory");
    g->map = buf;
    g->size = size;
    int rc = parse(g);
    if (rc) { gguf_close(g); return rc; }
    *out = g;
    return RC_OK;
}

int gguf_open(const char *path, struct gguf **out)
{
    eng_tables_init();
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return eng_err(RC_EIO, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); return eng_err(RC_EIO, "cannot stat: %s", strerror(e)); }
    if (!S_ISREG(st.st_mode)) { close(fd); return eng_err(RC_EIO, "not a regular file"); }
    if (st.st_size < 4) { close(fd); return eng_err(RC_EFORMAT, "not a GGUF file (only %lld bytes)", (long long)st.st_size); }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) return eng_err(RC_EIO, "cannot mmap: %s", strerror(e));
    struct gguf *g = calloc(1, sizeof *g);
    if (!g) { munmap(m, (size_t)st.st_size); return eng_err(RC_ENOMEM, "out of memory"); }
    g->map = m;
    g->size = (size_t)st.st_size;
    g->mapped = 1;
    g->path = strdup(path);
    int rc = g->path ? parse(g) : eng_err(RC_ENOMEM, "out of memory");
    if (rc) { gguf_close(g); return rc; }
    *out = g;
    return RC_OK;
}

void gguf_drop_pages(const struct gguf *g, const void *p, size_t n)
{
    if (!g->mapped || n == 0) return;
    const uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)p + ps - 1) & ~(ps - 1), b = ((uintptr_t)p + n) & ~(ps - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

void gguf_prefault(const struct gguf *g)
{
    if (!g->mapped) return;
#ifdef MADV_POPULATE_READ
    if (madvise((void *)g->map, g->size, MADV_POPULATE_READ) == 0) return;
#endif
    /* kernels before 5.14: touch a byte a page */
    const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    volatile const uint8_t *m = g->map;
    uint8_t x = 0;
    for (size_t i = 0; i < g->size; i += ps) x ^= m[i];
    (void)x;
}

const struct gguf_kv *gguf_find_kv(const struct gguf *g, const char *key)
{
    for (int64_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf *g, const char *name)
{
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->t[i].name, name)) return &g->t[i];
    return NULL;
}

/* Reads an integer scalar of any width as int64 (unsigned 64 clipped). */
static int kv_int(const struct gguf_kv *kv, int64_t *v)
{
    const uint8_t *d = kv->data;
    switch (kv->type) {
    case GGUF_U8:  *v = d[0]; return 1;
    case GGUF_I8:  *v = (int8_t)d[0]; return 1;
    case GGUF_BOOL: *v = d[0] != 0; return 1;
    case GGUF_U16: { uint16_t x; memcpy(&x, d, 2); *v = x; return 1; }
    case GGUF_I16: { int16_t x; memcpy(&x, d, 2); *v = x; return 1; }
    case GGUF_U32: { uint32_t x; memcpy(&x, d, 4); *v = x; return 1; }
    case GGUF_I32: { int32_t x; memcpy(&x, d, 4); *v = x; return 1; }
    case GGUF_U64: { uint64_t x; memcpy(&x, d, 8); *v = x > INT64_MAX ? INT64_MAX : (int64_t)x; return 1; }
    case GGUF_I64: { int64_t x; memcpy(&x, d, 8); *v = x; return 1; }
    default: return 0;
    }
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out)
{
    const struct gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    int64_t v;
    if (kv->type == GGUF_BOOL || !kv_int(kv, &v))
        return eng_err(RC_EFORMAT, "metadata '%s' should be an integer, not %s", key,
                       kv->type == GGUF_ARRAY ? "an array" : gguf_vtype_name(kv->type));
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return eng_err(RC_EFORMAT, "metadata '%s' = %" PRId64 " is out of range", key, v);
    *out = (uint32_t)v;
    return RC_OK;
}

int gguf_get_f32(const struct gguf *g, const char *key, float *out)
{
    const struct gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    if (kv->type == GGUF_F32) { memcpy(out, kv->data, 4); return RC_OK; }
    if (kv->type == GGUF_F64) { double d; memcpy(&d, kv->data, 8); *out = (float)d; return RC_OK; }
    return eng_err(RC_EFORMAT, "metadata '%s' should be f32, not %s", key,
                   kv->type == GGUF_ARRAY ? "an array" : gguf_vtype_name(kv->type));
}

int gguf_get_bool(const struct gguf *g, const char *key, int *out)
{
    const struct gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    if (kv->type != GGUF_BOOL)
        return eng_err(RC_EFORMAT, "metadata '%s' should be bool, not %s", key, gguf_vtype_name(kv->type));
    *out = kv->data[0] != 0;
    return RC_OK;
}

int gguf_get_str(const struct gguf *g, const char *key, const char **s, size_t *len)
{
    const struct gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    if (kv->type != GGUF_STRING)
        return eng_err(RC_EFORMAT, "metadata '%s' should be a string, not %s", key,
                       kv->type == GGUF_ARRAY ? "an array" : gguf_vtype_name(kv->type));
    *s = (const char *)kv->data;
    *len = (size_t)kv->n;
    return RC_OK;
}

int gguf_str_array(const struct gguf_kv *kv, const char **ptrs, uint32_t *lens, uint64_t n)
{
    if (kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING)
        return eng_err(RC_EFORMAT, "metadata '%s' should be an array of strings", kv->key);
    if (n > kv->n) n = kv->n;
    const uint8_t *p = kv->data;   /* already bounds-checked by the parser */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        memcpy(&len, p, 8);
        if (len > UINT32_MAX) return eng_err(RC_EFORMAT, "metadata '%s': string %" PRIu64 " too long", kv->key, i);
        ptrs[i] = (const char *)p + 8;
        lens[i] = (uint32_t)len;
        p += 8 + len;
    }
    return RC_OK;
}

static void fmt_scalar(int type, const uint8_t *d, char *buf, size_t cap)
{
    struct gguf_kv tmp = { 0 };
    tmp.type = type;
    tmp.data = d;
    int64_t v;
    if (type == GGUF_BOOL) snprintf(buf, cap, "%s", d[0] ? "true" : "false");
    else if (type == GGUF_F32) { float f; memcpy(&f, d, 4); snprintf(buf, cap, "%.9g", f); }
    else if (type == GGUF_F64) { double f; memcpy(&f, d, 8); snprintf(buf, cap, "%.17g", f); }
    else if (type == GGUF_U64) { uint64_t x; memcpy(&x, d, 8); snprintf(buf, cap, "%" PRIu64, x); }
    else if (kv_int(&tmp, &v)) snprintf(buf, cap, "%" PRId64, v);
    else snprintf(buf, cap, "?");
}

static void fmt_str(const uint8_t *s, uint64_t n, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap < 8) { if (cap) buf[0] = 0; return; }
    buf[o++] = '"';
    for (uint64_t i = 0; i < n && o + 6 < cap; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') { buf[o++] = '\\'; buf[o++] = (char)c; }
        else if (c == '\n') { buf[o++] = '\\'; buf[o++] = 'n'; }
        else if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        else buf[o++] = (char)c;
        if (i + 1 < n && o + 6 >= cap) { buf[o++] = '.'; buf[o++] = '.'; break; }
    }
    buf[o++] = '"';
    buf[o] = 0;
}

void gguf_kv_format(const struct gguf_kv *kv, char *buf, size_t cap)
{
    if (kv->type == GGUF_STRING) { fmt_str(kv->data, kv->n, buf, cap); return; }
    if (kv->type != GGUF_ARRAY) { fmt_scalar(kv->type, kv->data, buf, cap); return; }
    size_t o = (size_t)snprintf(buf, cap, "[%s x %" PRIu64 "]", gguf_vtype_name(kv->arr_type), kv->n);
    if (kv->n == 0 || o + 8 >= cap) return;
    o += (size_t)snprintf(buf + o, cap - o, " ");
    const uint8_t *p = kv->data;
    for (uint64_t i = 0; i < kv->n && i < 4 && o + 40 < cap; i++) {
        char e[64];
        if (kv->arr_type == GGUF_STRING) {
            uint64_t len;
            memcpy(&len, p, 8);
            fmt_str(p + 8, len, e, sizeof e);
            p += 8 + len;
        } else {
            fmt_scalar(kv->arr_type, p, e, sizeof e);
            p += vsize[kv->arr_type];
        }
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", e);
    }
    if (kv->n > 4 && o + 5 < cap) snprintf(buf + o, cap - o, ", ...");
}
