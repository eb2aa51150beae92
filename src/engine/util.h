/*
 * util.h - engine-internal helpers: the engine's own error message buffer
 * (the engine links without src/common/err.c, so it cannot call err_set; it returns
 * the same enum rc codes and keeps the message here, see eng_errmsg() in
 * engine.h), F16/BF16 conversions and the thread-count setting.
 */
#ifndef ENGINE_UTIL_H
#define ENGINE_UTIL_H

#include <stdint.h>
#include <string.h>

#include "err.h"   /* enum rc only: the engine never calls err_set() */

/* Records a message for this thread and returns rc (like err_set). */
int eng_err(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to this thread's message. */
void eng_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exact binary16 -> f32 (table driven) and f32 -> binary16 (round to nearest even). */
extern float eng_f16_table[65536];
void eng_tables_init(void);            /* idempotent, thread-safe after first call */
static inline float h2f(uint16_t h) { return eng_f16_table[h]; }
uint16_t f2h(float f);
static inline float bf2f(uint16_t b) { uint32_t u = (uint32_t)b << 16; float f; memcpy(&f, &u, 4); return f; }
uint16_t f2bf(float f);                /* round to nearest even, like ggml_compute_fp32_to_bf16 */
static inline float f16_round(float f) { return h2f(f2h(f)); }

#endif
