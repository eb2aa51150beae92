/*
 * json_mini.h - a small JSON reader for the engine tests (the engine tests
 * link libengine.a only, so no cJSON).  Parses a whole document into a tree;
 * strings are decoded (\uXXXX with surrogate pairs -> UTF-8) and kept with
 * their byte length, since prompts may contain NUL-free control bytes.
 */
#ifndef JSON_MINI_H
#define JSON_MINI_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JN_NULL, JN_BOOL, JN_NUM, JN_STR, JN_ARR, JN_OBJ };
struct jn {
    int type;
    double num;
    char *str; size_t len;       /* JN_STR; also the key for object members */
    char *key;
    struct jn *kids; int n;      /* JN_ARR / JN_OBJ */
};

struct jp { const char *s; size_t i, n; int err; };

static void jp_ws(struct jp *p) { while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i]) p->i++; }

static int jp_hex4(struct jp *p, unsigned *v)
{
    if (p->i + 4 > p->n) return -1;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    return 0;
}

static char *jp_str(struct jp *p, size_t *len)
{
    p->i++; /* opening quote */
    size_t cap = 16, o = 0;
    char *b = malloc(cap);
    while (p->i < p->n && p->s[p->i] != '"') {
        if (o + 8 > cap) { cap *= 2; b = realloc(b, cap); }
        char c = p->s[p->i++];
        if (c != '\\') { b[o++] = c; continue; }
        if (p->i >= p->n) break;
        c = p->s[p->i++];
        switch (c) {
        case 'n': b[o++] = '\n'; break; case 't': b[o++] = '\t'; break; case 'r': b[o++] = '\r'; break;
        case 'b': b[o++] = '\b'; break; case 'f': b[o++] = '\f'; break;
        case 'u': {
            unsigned u;
            if (jp_hex4(p, &u)) { p->err = 1; break; }
            if (u >= 0xD800 && u < 0xDC00 && p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
                unsigned lo;
                p->i += 2;
                if (jp_hex4(p, &lo)) { p->err = 1; break; }
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (u < 0x80) b[o++] = (char)u;
            else if (u < 0x800) { b[o++] = (char)(0xC0 | (u >> 6)); b[o++] = (char)(0x80 | (u & 63)); }
            else if (u < 0x10000) { b[o++] = (char)(0xE0 | (u >> 12)); b[o++] = (char)(0x80 | ((u >> 6) & 63)); b[o++] = (char)(0x80 | (u & 63)); }
            else { b[o++] = (char)(0xF0 | (u >> 18)); b[o++] = (char)(0x80 | ((u >> 12) & 63)); b[o++] = (char)(0x80 | ((u >> 6) & 63)); b[o++] = (char)(0x80 | (u & 63)); }
            break; }
        default: b[o++] = c;
        }
    }
    p->i++; /* closing quote */
    b[o] = 0;
    *len = o;
    return b;
}

static void jp_val(struct jp *p, struct jn *v)
{
    memset(v, 0, sizeof *v);
    jp_ws(p);
    if (p->i >= p->n) { p->err = 1; return; }
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v->type = obj ? JN_OBJ : JN_ARR;
        p->i++;
        int cap = 0;
        for (;;) {
            jp_ws(p);
            if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) { p->i++; break; }
            if (v->n == cap) { cap = cap ? 2 * cap : 4; v->kids = realloc(v->kids, (size_t)cap * sizeof *v->kids); }
            struct jn *k = &v->kids[v->n];
            char *key = NULL;
            if (obj) {
                size_t kl;
                jp_ws(p);
                if (p->i >= p->n || p->s[p->i] != '"') { p->err = 1; return; }
                key = jp_str(p, &kl);
                jp_ws(p);
                if (p->i >= p->n || p->s[p->i] != ':') { p->err = 1; free(key); return; }
                p->i++;
            }
            jp_val(p, k);
            k->key = key;
            v->n++;
            if (p->err) return;
            jp_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') p->i++;
        }
    } else if (c == '"') { v->type = JN_STR; v->str = jp_str(p, &v->len); }
    else if (!strncmp(p->s + p->i, "true", 4)) { v->type = JN_BOOL; v->num = 1; p->i += 4; }
    else if (!strncmp(p->s + p->i, "false", 5)) { v->type = JN_BOOL; p->i += 5; }
    else if (!strncmp(p->s + p->i, "null", 4)) { v->type = JN_NULL; p->i += 4; }
    else { char *e; v->type = JN_NUM; v->num = strtod(p->s + p->i, &e); if (e == p->s + p->i) p->err = 1; p->i = (size_t)(e - p->s); }
}

static void jn_release(struct jn *v)
{
    for (int i = 0; i < v->n; i++) jn_release(&v->kids[i]);
    free(v->kids); free(v->str); free(v->key);
}
static void jn_free(struct jn *v) { if (v) { jn_release(v); free(v); } }

/* Loads and parses a file; NULL when missing or malformed. */
static struct jn *jn_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(s); return NULL; }
    fclose(f);
    s[n] = 0;
    struct jp p = { s, 0, (size_t)n, 0 };
    struct jn *root = calloc(1, sizeof *root);
    jp_val(&p, root);
    free(s);
    if (p.err) { jn_free(root); return NULL; }
    return root;
}

static const struct jn *jn_get(const struct jn *o, const char *key)
{
    if (!o || o->type != JN_OBJ) return NULL;
    for (int i = 0; i < o->n; i++) if (o->kids[i].key && !strcmp(o->kids[i].key, key)) return &o->kids[i];
    return NULL;
}
static const char *jn_str(const struct jn *o, const char *key) { const struct jn *v = jn_get(o, key); return v && v->type == JN_STR ? v->str : NULL; }
static double jn_num(const struct jn *o, const char *key, double def) { const struct jn *v = jn_get(o, key); return v && (v->type == JN_NUM || v->type == JN_BOOL) ? v->num : def; }

#endif
