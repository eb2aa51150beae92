/*
 * embd_cache.h - the image-embedding cache of the native backend: a rank
 * encodes each distinct image once per model (MMSafeAware asks about most of
 * its images with several sentences).  Keyed by the image's content -- the
 * sha256 of the file's bytes -- and the vision settings that shape the
 * embedding (mmproj, vision mode, arithmetic, token limits), so a different
 * setting can never return another computation's rows.  Bounded: entries are
 * evicted least recently used first when a new one would pass max_bytes; an
 * entry bigger than the bound is not kept.  Pure (no engine, no I/O).
 */
#ifndef MMSAFE_EMBD_CACHE_H
#define MMSAFE_EMBD_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct embd_cache;
struct embd_cache_stats { long hits, misses, evictions, entries; size_t bytes; };

/* max_bytes 0: a cache that keeps nothing (every lookup misses). */
int embd_cache_new(size_t max_bytes, struct embd_cache **out);
void embd_cache_free(struct embd_cache *c);   /* accepts NULL */
/* key = sha256(sha256(file bytes) || settings): file_sha is the file's sha256. */
void embd_cache_key(const uint8_t file_sha[32], const char *settings, uint8_t key[32]);
/* The rows stored under key (n_floats, grid gw x gh) or NULL; valid until the next put. */
const float *embd_cache_get(struct embd_cache *c, const uint8_t key[32], size_t *n_floats, int *gw, int *gh);
/* Stores a copy.  RC_OK (also when it is too big to keep) or RC_ENOMEM. */
int embd_cache_put(struct embd_cache *c, const uint8_t key[32], const float *rows, size_t n_floats, int gw, int gh);
void embd_cache_stats(const struct embd_cache *c, struct embd_cache_stats *s);

#endif
