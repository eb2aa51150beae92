/*
 * store.h - the results file: one HDF5 file per run, written by every rank
 * through MPI-IO (store_hdf5.c is the only HDF5 user).  Layout (h5py and
 * h5dump read it without help):
 *   /items/id, /items/subset, /items/scenario   fixed-width strings [n]
 *   /items/label                                int8 [n] (0 safe, 1 unsafe)
 *   /models/NAME/verdict      int8  [n]  -1 pending, 0 safe, 1 unsafe, 2 unparsed, 3 error
 *   /models/NAME/p_unsafe     float32 [n] NaN when the backend has no score
 *   /models/NAME/error        int16 [n]  IE_* code (0 none)
 *   /models/NAME/error_msg    fixed-width string [n] (why)
 *   /models/NAME/latency_ms   float32 [n]
 *   /models/NAME/rank         int16 [n]  the rank that evaluated the item
 *   /models/NAME/response     fixed-width string [n] (response_width bytes)
 *   /models/NAME/response_len int32 [n]  full length; response_truncated int8 [n]
 *   /models/NAME/stats        compound [1 + subsets + scenarios] rows of counts
 *                             and metrics (group "all", "subset:X", "scenario:Y")
 *   attributes: root: job, job_path, manifest, manifest_sha256, inputs_sha256, mmsafe_version,
 *   n_ranks, hosts, started, finished, runs, complete; per model: backend,
 *   parser, model_json, settings (what the backend resolved from its files, e.g.
 *   the chat template `auto` chose; one-line JSON, "" for none); stats: total, parser.
 * Every dataset is created when the file is created (collective), so a run
 * only writes raw rows (independent I/O, no metadata changes), which keeps
 * the file readable if a rank is killed mid-run.  c == NULL means serial.
 */
#ifndef MMSAFE_STORE_H
#define MMSAFE_STORE_H

#include "journal.h"
#include "stats.h"

#include <stddef.h>
#include <stdint.h>

struct comm;
struct store;

#define STORE_ERRMSG_WIDTH 160

struct store_layout {
    size_t n_items;
    char *const *ids;
    const int8_t *labels;
    const int *subset, *scenario;   /* per item, -1 none */
    int n_subsets, n_scenarios;
    char *const *subsets, *const *scenarios;
    int n_models;
    char *const *model_names, *const *backends, *const *model_json;
    char *const *settings;          /* per model, may be NULL (all "") */
    const char *parser;
    int response_width;
    const char *job_text, *job_path, *manifest_path, *manifest_sha256;
    const char *inputs_sha256;      /* identity of the models' files (may be NULL) */
};

/* Creates path (replacing it) with every dataset.  Collective when c != NULL. */
int store_create(struct store **s, const char *path, struct comm *c, const struct store_layout *lay);
/* Opens an existing file for writing rows of the named models.  Collective. */
int store_open(struct store **s, const char *path, struct comm *c, int n_models, char *const *names);
/* Independent: rows for the ascending item indices idx[0..n) of model slot m. */
int store_write_rows(struct store *s, int m, size_t n, const uint32_t *idx, const struct row *rows);
/* Collective: the model's stats rows and attributes (identical on every rank). */
int store_write_stats(struct store *s, int m, const struct model_report *mr, const struct report *r);
struct run_attrs { int n_ranks; const char *hosts, *started, *finished; int complete; };
/* Collective: root attributes of this run (runs is incremented). */
int store_set_run_attrs(struct store *s, const struct run_attrs *a);
/* Collective; flushes and closes; NULL is a no-op. */
int store_close(struct store *s);

/* --- serial reading (reduce, merge, resume) -------------------------------- */
struct model_results {
    char *name, *backend, *parser, *model_json, *settings;   /* settings NULL in files older than it */
    int8_t *verdict, *truncated;
    float *p_unsafe, *latency_ms;
    int16_t *error, *rank;
    int32_t *response_len;
    char *response;     /* [n][width] not NUL-terminated at full width */
    char *error_msg;    /* [n][STORE_ERRMSG_WIDTH] */
    int width;
};
struct results {
    size_t n;
    char **ids;
    int8_t *labels;
    int *subset, *scenario;
    int n_subsets, n_scenarios;
    char **subsets, **scenarios;
    int n_models;
    struct model_results *models;
    char *job, *job_path, *manifest, *manifest_sha256, *inputs_sha256, *version, *hosts, *started, *finished;
    int n_ranks, runs, complete;
};
/* Reads everything (texts too when with_text).  Errors name the path. */
int results_read(const char *path, int with_text, struct results *r /* out */);
void results_release(struct results *r);
/* Builds the layout for writing a file like r (models of r). */
void results_layout(const struct results *r, struct store_layout *lay, char **names, char **backends, char **json,
                    char **settings);
/* Is path an HDF5 file we can open?  (0/1, no error message.) */
int store_is_readable(const char *path);

#endif
