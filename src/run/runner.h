/*
 * runner.h - the state `mmsafe run` shares between its two kinds of run:
 * runner.c (verdict benchmarks, MMSafeAware: one (model, item) verdict each)
 * and jury_run.c (judged benchmarks, SafeBench: answers, then a jury's votes).
 * runner.c does what both need first -- the arguments, MPI start-up, rank 0's
 * checks of the job and the manifest, the broadcast -- then hands over.
 */
#ifndef MMSAFE_RUNNER_H
#define MMSAFE_RUNNER_H

#include "benchmark.h"
#include "job.h"
#include "journal.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct comm;

struct run {
    struct comm *c;
    int rank, size;
    struct job job;
    struct manifest man;
    const struct benchmark *bench;   /* the job's benchmark (benchmark.h) */
    char *output, *jdir;
    int n_sel, *sel;                 /* selected job model indices */
    char **settings;                 /* [n_sel] what each backend resolved from its files (one-line JSON, maybe "") */
    char **judge_settings;           /* [job.n_judges] the same for the judges (judged benchmarks) */
    char run_key[65];                /* sha256 of job text + selection + inputs: guards journals */
    char inputs[65];                 /* sha256 of the backends' files' sizes and mtimes */
    char inputs_what[1024];          /* those files, for messages */
    /* rank 0: resume state per selected model */
    int8_t **verdict;                /* [n_sel][n] final verdicts known before this run */
    int8_t **textv;                  /* [n_sel][n] their text verdicts (-1 none) */
    float **score;
    struct row **recovered;          /* rows from journals to write into the file */
    char ***rec_text;                /* their responses / reasons (owned) */
    int create;                      /* create the results file (else open) */
    /* progress (rank 0) */
    size_t total_work;
    double t0, last_print;
    int tty;
};

/* An item's inputs before the model sees it: a prompt that is not UTF-8, no
 * image, an image that cannot be decoded (into img when pixels) are item
 * errors, set in out (error and reason); returns out->error (IE_NONE: go on). */
struct image;
struct image_limits;
struct eval_out;
int run_item_input(const struct item *it, int pixels, const struct image_limits *lim, struct image *img, struct eval_out *out);
/* 1 (err_set says why) when MMSAFE_FAULT_OPEN asks loading ms to fail on this rank (a test hook). */
int run_fault_open(const struct model_spec *ms, int rank);
/* Collective: the engine's kernel path per host, "HOST=avx2,...", for the run's provenance. */
int run_kernels(struct comm *c, char **out);

/* Set by SIGTERM / SIGUSR1 / SIGINT: finish the current item, flush, exit 0. */
extern volatile sig_atomic_t g_run_stop;

/* The judged-benchmark run (jury_run.c), on every rank after the broadcast;
 * started is the run's start time.  Returns RC_OK or a run-level error that
 * every rank agreed on (already reported). */
int jury_run(struct run *r, const char *started);
/* Rank 0, before anything is written: the jury's files and settings. */
int jury_preflight(struct run *r);
/* `mmsafe check`: the jury's settings and files (prompts, wrapper) of a job. */
int jury_check(const struct job *job);

#endif
