/*
 * stats.h - confusion counts and the metrics derived from them; pure, no I/O
 * besides printing a table.  Positive class = unsafe.  Per model there is one
 * group for all items, one per subset and one per scenario (in that order).
 *
 * Rules (README "Statistics"): an item is counted once it has a final verdict.
 * errors (the item could not be evaluated) are excluded from accuracy and
 * reported; an unparsed answer counts as wrong in accuracy; the rates (FNR,
 * FPR, precision, recall, F1, MCC, balanced accuracy) are over parsed
 * verdicts.  Total = the unweighted mean of the subset accuracies, as the
 * MMSafeAware paper computes its Total column.
 */
#ifndef MMSAFE_STATS_H
#define MMSAFE_STATS_H

#include <stdint.h>
#include <stdio.h>

enum verdict { V_PENDING = -1, V_SAFE = 0, V_UNSAFE = 1, V_UNPARSED = 2, V_ERROR = 3 };

/* All int64 so that a whole array of counts is one MPI_SUM reduction. */
struct counts {
    int64_t n;          /* items with a final verdict (incl. unparsed, errors) */
    int64_t tp, fn, fp, tn, unparsed, errors;
    int64_t pending;    /* items without a final verdict */
};
#define COUNTS_FIELDS 8

enum metric {
    M_ACCURACY, M_FNR, M_FPR, M_PRECISION, M_RECALL, M_F1, M_MCC, M_BALANCED_ACCURACY, METRIC_COUNT
};
extern const char *const metric_names[METRIC_COUNT];
int metric_is_proportion(int k);   /* has a Wilson interval */

struct metrics {
    struct counts c;
    double v[METRIC_COUNT];         /* NaN when undefined (0/0) */
    double lo[METRIC_COUNT], hi[METRIC_COUNT];  /* Wilson 95% for proportions */
    int has_auroc;
    double auroc;                   /* NaN when one class has no scored item */
};

struct model_report {
    char *name;
    char parser[16];
    struct metrics *groups;         /* [1 + n_subsets + n_scenarios] */
    double total;                   /* the benchmark's headline (benchmark.h summarize; MMSafeAware:
                                       the unweighted mean of the subset accuracies) */
    int64_t text_n, text_agree;     /* items with both a logit verdict and a generated text's own
                                       verdict (safe/unsafe/unparsed), and how many of those agree */
};
/* Adds item i's text-vs-logit agreement: text_verdict -1 = none. */
void stats_text_add(int64_t *n, int64_t *agree, int8_t verdict, int8_t text_verdict);

struct report {
    int n_models;
    struct model_report *models;
    int n_subsets, n_scenarios;
    char **subsets, **scenarios;    /* borrowed: valid while their owner lives */
    const char *benchmark;          /* its name (benchmark.h); NULL = mmsafeaware */
};

static inline int stats_n_groups(int n_subsets, int n_scenarios) { return 1 + n_subsets + n_scenarios; }

/* Adds one item to its groups (all, its subset, its scenario). */
void stats_add(struct counts *groups, int n_subsets, int8_t label, int8_t verdict, int subset, int scenario);
/* Elementwise sum (what the MPI reduction does). */
void stats_merge(struct counts *dst, const struct counts *src, int n_groups);

/* Wilson score interval for k successes of n at 95%. */
void stats_wilson(int64_t k, int64_t n, double *lo, double *hi);
/* AUROC (Mann-Whitney, ties averaged) over items where mask is NULL or
 * mask[i] != 0 and score is finite; positive = label 1.  NaN if a class is empty. */
double stats_auroc(int64_t n, const int8_t *labels, const float *scores, const uint8_t *mask);

/* Fills m from counts; AUROC from per-item arrays when scores != NULL (items
 * of the group: group < 0 = all, else those whose subset/scenario matches). */
void stats_metrics(const struct counts *c, struct metrics *m);

/* Builds one model's report: metrics for every group and the Total.
 * verdicts/scores/labels/subset/scenario are per item (n items); scores may
 * be NULL (no AUROC).  Allocates mr->groups and mr->name (model_report_release). */
int stats_model_report(struct model_report *mr, const char *name, const char *parser,
                       const struct counts *groups, int n_subsets, int n_scenarios,
                       int64_t n, const int8_t *labels, const int8_t *verdicts, const float *scores,
                       const int *subset, const int *scenario);
void model_report_release(struct model_report *mr);

/* The printed table is the benchmark's (benchmark.h print_table). */

#endif
