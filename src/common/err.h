/*
 * err.h - one error code enum for the whole program, one message buffer per
 * thread, and rank-tagged logging.  A failing function records what went wrong
 * with err_set() (naming the file, line or item) and returns the code; callers
 * propagate the code unchanged and the top level prints err_msg() once.
 * Used by the engine too: no MPI, HDF5 or other library here.
 */
#ifndef MMSAFE_ERR_H
#define MMSAFE_ERR_H

#include <stdarg.h>

enum rc {
    RC_OK = 0,
    RC_ENOMEM,   /* allocation failed */
    RC_EIO,      /* a file could not be read or written */
    RC_EFORMAT,  /* a file's contents are malformed */
    RC_ECONFIG,  /* job / option error */
    RC_EINPUT,   /* a per-item input problem (image, prompt) */
    RC_ECTX,     /* prompt + image exceed the model's context */
    RC_EMPI,     /* an MPI call failed */
    RC_EHDF5,    /* an HDF5 call failed */
    RC_EUSAGE,   /* bad command line */
    RC_ESTOP,    /* stopped on request (signal) */
};

/* Records a printf-style message for this thread and returns rc. */
int err_set(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to the current message (adds context a lower layer could not know). */
void err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message set on this thread ("" if none). Valid until the next err_set. */
const char *err_msg(void);
void err_clear(void);

/* Logging to stderr: "mmsafe: warning: ..." / "mmsafe: ...", prefixed with
 * "[rN] " when log_set_rank() gave a rank and the world has more than one. */
void log_set_rank(int rank, int size);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Broken invariants (programmer errors) abort with file:line; kept in release builds. */
#define CHECK(cond) do { if (!(cond)) check_failed(__FILE__, __LINE__, #cond); } while (0)
void check_failed(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
