/*
 * embd_cache.c - a bounded LRU map from (image content, vision settings) to
 * image embedding rows (see embd_cache.h).  A few hundred entries at most: a
 * list scanned linearly, most recently used first.
 */
#include "embd_cache.h"
#include "err.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    uint8_t key[32];
    float *rows;
    size_t n;
    int gw, gh;
};

struct embd_cache {
    size_t max_bytes;
    struct entry *head;          /* most recently used first */
    struct embd_cache_stats st;
};

int embd_cache_new(size_t max_bytes, struct embd_cache **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return err_set(RC_ENOMEM, "out of memory");
    (*out)->max_bytes = max_bytes;
    return RC_OK;
}

static void drop(struct embd_cache *c, struct entry *e)
{
    c->st.bytes -= e->n * sizeof(float);
    c->st.entries--;
    free(e->rows);
    free(e);
}

void embd_cache_free(struct embd_cache *c)
{
    if (!c) return;
    while (c->head) { struct entry *e = c->head; c->head = e->next; drop(c, e); }
    free(c);
}

void embd_cache_key(const uint8_t file_sha[32], const char *settings, uint8_t key[32])
{
    size_t ls = strlen(settings);
    uint8_t *b = malloc(32 + ls);
    if (!b) { memset(key, 0, 32); return; }
    memcpy(b, file_sha, 32);
    memcpy(b + 32, settings, ls);
    util_sha256(b, 32 + ls, key);
    free(b);
}

const float *embd_cache_get(struct embd_cache *c, const uint8_t key[32], size_t *n, int *gw, int *gh)
{
    struct entry **pp = &c->head;
    for (; *pp; pp = &(*pp)->next)
        if (!memcmp((*pp)->key, key, 32)) break;
    if (!*pp) { c->st.misses++; return NULL; }
    struct entry *e = *pp;
    *pp = e->next;            /* to the front */
    e->next = c->head;
    c->head = e;
    c->st.hits++;
    *n = e->n; *gw = e->gw; *gh = e->gh;
    return e->rows;
}

int embd_cache_put(struct embd_cache *c, const uint8_t key[32], const float *rows, size_t n, int gw, int gh)
{
    const size_t bytes = n * sizeof(float);
    if (bytes > c->max_bytes) return RC_OK;
    for (struct entry **pp = &c->head; *pp; pp = &(*pp)->next)   /* a second put of a key replaces it */
        if (!memcmp((*pp)->key, key, 32)) { struct entry *e = *pp; *pp = e->next; drop(c, e); break; }
    while (c->head && c->st.bytes + bytes > c->max_bytes) {       /* evict the least recently used */
        struct entry **pp = &c->head;
        while ((*pp)->next) pp = &(*pp)->next;
        drop(c, *pp);
        *pp = NULL;
        c->st.evictions++;
    }
    struct entry *e = malloc(sizeof *e);
    float *r = malloc(bytes ? bytes : 1);
    if (!e || !r) { free(e); free(r); return err_set(RC_ENOMEM, "out of memory (image cache)"); }
    memcpy(e->key, key, 32);
    memcpy(r, rows, bytes);
    e->rows = r; e->n = n; e->gw = gw; e->gh = gh;
    e->next = c->head;
    c->head = e;
    c->st.bytes += bytes;
    c->st.entries++;
    return RC_OK;
}

void embd_cache_stats(const struct embd_cache *c, struct embd_cache_stats *s) { *s = c->st; }
