/*
 * util.h - small helpers with no library dependencies: whole-file reads,
 * paths relative to a file, SHA-256, UTF-8 validation, time stamps, a
 * growable byte buffer.
 */
#ifndef MMSAFE_UTIL_H
#define MMSAFE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a NUL-terminated malloc'd buffer (*len excludes the
 * NUL).  Errors name the path.  Caller frees *out. */
int util_read_file(const char *path, char **out, size_t *len);
/* Writes len bytes to path atomically (tmp + rename). */
int util_write_file(const char *path, const void *data, size_t len);

/* Directory part of path ("." when none); malloc'd. */
char *util_dirname(const char *path);
/* rel if absolute, else dir/rel; malloc'd. */
char *util_join(const char *dir, const char *rel);
char *util_strdup(const char *s);
char *util_strndup(const char *s, size_t n);
/* malloc'd printf. */
char *util_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void util_sha256(const void *data, size_t len, uint8_t out[32]);
void util_hex(const uint8_t *in, size_t n, char *out /* 2n+1 */);

/* Returns -1 if s[0..n) is valid UTF-8, else the byte offset of the first bad byte. */
long util_utf8_invalid_at(const char *s, size_t n);

double util_now(void);               /* monotonic seconds */
void util_iso8601(char out[32]);     /* current UTC time, 2026-11-23T20:30:11Z */

struct buf { char *p; size_t n, cap; };
int buf_add(struct buf *b, const void *data, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_release(struct buf *b);

#endif
