/*
 * t.h - the unit-test harness: each tests/unit/test_x.c is its own program.
 * A check prints a line only when it fails (or always with -v / T_VERBOSE=1);
 * t_done() prints "NAME: N passed, M failed[, K skipped]" -- the line that
 * tests/run.sh adds up -- and returns the exit code.
 */
#ifndef MMSAFE_T_H
#define MMSAFE_T_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail, t_skip, t_verbose = -1;
static const char *t_name = "test";

static inline int t_check(int ok, const char *file, int line, const char *desc)
{
    if (t_verbose < 0) t_verbose = getenv("T_VERBOSE") != NULL;
    if (ok) t_pass++; else t_fail++;
    if (!ok || t_verbose) fprintf(stderr, "%s %s:%d: %s\n", ok ? "ok  " : "FAIL", file, line, desc);
    return ok;
}
#define CHECK_T(cond, desc) t_check(!!(cond), __FILE__, __LINE__, desc)
#define CHECK_EQ_I(a, b, desc) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    char d_[512]; snprintf(d_, sizeof d_, "%s (%lld vs %lld)", desc, a_, b_); \
    t_check(a_ == b_, __FILE__, __LINE__, d_); } while (0)
#define CHECK_NEAR(a, b, tol, desc) do { double a_ = (a), b_ = (b); \
    char d_[512]; snprintf(d_, sizeof d_, "%s (%.9g vs %.9g, tol %g)", desc, a_, b_, (double)(tol)); \
    t_check(fabs(a_ - b_) <= (tol) || (isnan(a_) && isnan(b_)), __FILE__, __LINE__, d_); } while (0)
#define CHECK_STR(a, b, desc) do { const char *a_ = (a), *b_ = (b); \
    char d_[1024]; snprintf(d_, sizeof d_, "%s ('%s' vs '%s')", desc, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    t_check(a_ && b_ && strcmp(a_, b_) == 0, __FILE__, __LINE__, d_); } while (0)
/* Whole file, NUL-terminated (*n excludes the NUL); NULL if it cannot be read.  Caller frees. */
static inline void *t_slurp(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) { free(b); b = NULL; }
    fclose(f);
    if (!b) return NULL;
    b[len] = 0;
    *n = (size_t)len;
    return b;
}
/* Does path's sha256 (by sha256sum) equal the hex digest want? */
static inline int t_sha256_is(const char *path, const char *want)
{
    char cmd[2048], got[80] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    if (fscanf(p, "%64s", got) != 1) got[0] = 0;
    pclose(p);
    return want && !strcmp(got, want);
}
static inline void t_skipped(const char *why) { t_skip++; fprintf(stderr, "skip: %s\n", why); }
static inline int t_done(void)
{
    if (t_skip) printf("%s: %d passed, %d failed, %d skipped\n", t_name, t_pass, t_fail, t_skip);
    else printf("%s: %d passed, %d failed\n", t_name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}
#endif
