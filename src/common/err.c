/*
 * err.c - per-thread error message buffer and rank-tagged logging.
 */
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[2048];
static int g_rank = -1, g_size = 1;

int err_set(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return rc;
}

void err_prefix(const char *fmt, ...)
{
    char pre[512], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    /* "pre: old", cut at the buffer's end (assembled by hand: snprintf would
     * warn, rightly, that it may truncate) */
    size_t n = 0, cap = sizeof g_msg - 1;
    const char *parts[3] = { pre, ": ", old };
    for (int k = 0; k < 3; k++)
        for (const char *q = parts[k]; *q && n < cap; q++) g_msg[n++] = *q;
    g_msg[n] = 0;
}

const char *err_msg(void) { return g_msg; }
void err_clear(void) { g_msg[0] = 0; }

void log_set_rank(int rank, int size) { g_rank = rank; g_size = size; }

static void vlog(const char *kind, const char *fmt, va_list ap)
{
    char buf[4096];
    int n = 0;
    if (g_rank >= 0 && g_size > 1)
        n = snprintf(buf, sizeof buf, "[r%d] ", g_rank);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "mmsafe: %s", kind);
    if (n < (int)sizeof buf)
        n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    if (n >= (int)sizeof buf - 1) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    fwrite(buf, 1, (size_t)n, stderr); /* one write: lines from ranks do not interleave */
}

void log_info(const char *fmt, ...)  { va_list ap; va_start(ap, fmt); vlog("", fmt, ap); va_end(ap); }
void log_warn(const char *fmt, ...)  { va_list ap; va_start(ap, fmt); vlog("warning: ", fmt, ap); va_end(ap); }
void log_error(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vlog("error: ", fmt, ap); va_end(ap); }

void check_failed(const char *file, int line, const char *what)
{
    fprintf(stderr, "mmsafe: internal error: %s:%d: CHECK(%s) failed\n", file, line, what);
    abort();
}
