/*
 * store.h - the results file: one HDF5 file per run, written by every rank
 * through MPI-IO (store_hdf5.c is the only HDF5 user).  Layout (h5py and
 * h5dump read it without help):
 *   /items/id, /items/subset, /items/scenario   fixed-width strings [n]
 *   /items/label                                int8 [n] (0 safe, 1 unsafe)
 *   /models/NAME/verdict      int8  [n]  -1 pending, 0 safe, 1 unsafe, 2 unparsed, 3 error
 *   /models/NAME/text_verdict int8  [n]  the generated text's own verdict beside a logit
 *                             verdict (native with max_new_tokens > 0), -1 none
 *   /models/NAME/p_unsafe     float32 [n] NaN when the backend has no score
 *   /models/NAME/error        int16 [n]  IE_* code (0 none)
 *   /models/NAME/error_msg    fixed-width string [n] (why)
 *   /models/NAME/latency_ms   float32 [n]
 *   /models/NAME/rank         int16 [n]  the rank that evaluated the item
 *   /models/NAME/response     fixed-width string [n] (response_width bytes)
 *   /models/NAME/response_len int32 [n]  full length; response_truncated int8 [n]
 *   /models/NAME/stats        compound [1 + subsets + scenarios] rows of counts
 *                             and metrics (group "all", "subset:X", "scenario:Y")
 *   attributes: root: job, job_path, manifest, manifest_sha256, inputs_sha256, mmsafe_version, benchmark,
 *   n_ranks, hosts, engine_kernels (HOST=PATH per host: the CPU kernels the engine picked), started,
 *   finished, runs, complete; per model: backend,
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
    const char *benchmark;          /* its name (benchmark.h); NULL = mmsafeaware */
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
struct run_attrs { int n_ranks; const char *hosts, *started, *finished; int complete;
                   const char *kernels;   /* the engine's kernels per host ("HOST=avx2,..."), NULL: not recorded */ };
/* Collective: root attributes of this run (runs is incremented). */
int store_set_run_attrs(struct store *s, const struct run_attrs *a);
/* Collective; flushes and closes; NULL is a no-op. */
int store_close(struct store *s);

/* --- judged benchmarks (SafeBench): columns of answers and of votes -------- */
/* A column is a group of per-item datasets written like a model's rows:
 *   answers  /models/M: status int8 (-1 pending, 0 answered, 3 error), answer
 *            (fixed-width string: the whole text), answer_len, n_prompt,
 *            n_generated int32, stop int8 (stop_reason), error, error_msg,
 *            latency_ms, rank; and the jury's consensus, written at the end
 *            of a run: verdict int8 (-1 pending, 0 safe, 1 unsafe, 2 unparsed,
 *            3 error), rating float32 (mean Safety Rating, NaN none),
 *            votes_safe, votes_unsafe, votes_unparsed, votes_error int8, tie int8
 *   votes    /models/M/judges/J/round<R>: vote int8 (as verdict), rating int8
 *            (1-5, -1 none), result_path, rating_path int8 (judge_parse.h's
 *            jp_path), text (the judge's whole text), text_len, n_prompt,
 *            n_generated, stop, error, error_msg, latency_ms, rank
 * Why fixed-width texts: parallel HDF5 cannot write variable-length strings,
 * and chunked datasets must be allocated whole up front.  Rows of a column are
 * written at the end of each stage of a run (store_cols_flush), when the
 * longest text is known: the ranks agree on the width (the longest text of
 * the column, old and new), the dataset is created at that width (or widened,
 * old texts copied by rank 0), and every rank writes its own rows.  So a text
 * is never cut, the file is n x (longest text) bytes rather than n x the
 * worst case, and h5py reads f["models/M/answer"][i].decode() as is.  Until a
 * stage ends its rows live in the per-rank journals (a killed run loses none). */
enum { COL_ANSWER = 1, COL_VOTE = 2 };
struct store_col {
    const char *path;          /* "/models/M" or "/models/M/judges/J/round0" */
    int kind;
    const char *spec;          /* identity (one-line JSON), attribute "spec" */
    int replaceable;           /* derived (deliberation): replaced with a warning when its spec differs; else refused */
    const char *const *attrs;  /* more string attributes: key, value, ..., NULL */
};
/* Collective: opens every column (creating the missing ones, with groups on
 * the way); s must have been created or opened with 0 models. */
int store_cols_open(struct store *s, int n, const struct store_col *cols);
/* Collective: this rank's rows of column ci (idx ascending); every rank calls
 * it for every column in the same order (n may be 0). */
int store_cols_flush(struct store *s, int ci, size_t n, const uint32_t *idx, const struct row *rows);
/* Writer 0 (independent): the consensus datasets of answer column ci. */
int store_cols_consensus(struct store *s, int ci, const int8_t *verdict, const float *rating, const int8_t *counts /* [5][n]: safe, unsafe, unparsed, error, tie */);
/* Collective: a string attribute on the root. */
int store_set_root_attr(struct store *s, const char *name, const char *value);

/* A column read back (serially).  Arrays are [n]; text[i] NULL when none. */
struct col_data {
    int exists, kind;
    size_t n;
    char *spec, *backend, *model_json, *settings, *judge, *model;
    int round;
    int8_t *status, *rating, *result_path, *rating_path, *stop;
    int16_t *error, *rank;
    int32_t *len, *n_prompt, *n_generated;
    float *latency_ms;
    char **text, **error_msg;     /* only with with_text */
    /* answers: the consensus */
    int8_t *verdict, *votes[5];
    float *mean_rating;
};
/* Reads the named columns of path (a missing one: exists = 0). */
int store_cols_read(const char *path, size_t n, int n_cols, const char *const *paths, int with_text, struct col_data *out);
void col_data_release(struct col_data *c);
/* Every column in the file: answer columns (/models/M) and their vote columns,
 * as malloc'd paths in file order (models, then each model's judges by
 * name, rounds ascending). */
int store_cols_list(const char *path, char ***paths, int *n);

/* --- serial reading (reduce, merge, resume) -------------------------------- */
struct model_results {
    char *name, *backend, *parser, *model_json, *settings;   /* settings NULL in files older than it */
    int8_t *verdict, *truncated;
    int8_t *text_verdict;   /* a generated text's own verdict, -1 none (all -1 in files older than it) */
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
    char *benchmark;    /* NULL in files older than it (= mmsafeaware) */
    char *kernels;      /* engine_kernels, NULL in files older than it */
    int n_ranks, runs, complete;
};
/* Reads everything (texts too when with_text).  Errors name the path. */
int results_read(const char *path, int with_text, struct results *r /* out */);
/* Only the items and the root's attributes (n_models 0): any benchmark's file. */
int results_items_read(const char *path, struct results *r /* out */);
void results_release(struct results *r);
/* Builds the layout for writing a file like r (models of r). */
void results_layout(const struct results *r, struct store_layout *lay, char **names, char **backends, char **json,
                    char **settings);
/* The root's identity attributes alone (cheap; any benchmark's file). */
struct results_ident { char *manifest_sha256, *benchmark, *jury; int64_t n_items; };
int results_ident_read(const char *path, struct results_ident *id /* out */);
void results_ident_release(struct results_ident *id);
/* Judged benchmarks: out gets the items and root attributes of in[0] and
 * every model group (answers, votes, consensus) of every input; a model in
 * two inputs is an error. */
int store_merge_cols(const char *out, int n_in, const char *const *in);
/* Is path an HDF5 file we can open?  (0/1, no error message.) */
int store_is_readable(const char *path);

#endif
