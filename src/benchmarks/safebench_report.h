/*
 * safebench_report.h - a SafeBench results file's figures: per evaluated
 * model, the consensus and every judge's rounds as ASR/SRI per major category
 * (the paper's table: CO CI CS ET IC VI IS IO, AVG = their unweighted mean),
 * per scenario and pooled, plus the jury's agreement (Fleiss' kappa, pairwise
 * agreement, deliberation's changes, parse paths).  Read from the file
 * (store.h), computed with safebench_metrics.h; printed by `run` and
 * `reduce`, and as JSON (`reduce --json`, json.c).
 */
#ifndef MMSAFE_SAFEBENCH_REPORT_H
#define MMSAFE_SAFEBENCH_REPORT_H

#include "judge_parse.h"
#include "safebench_metrics.h"

#include <stdint.h>
#include <stdio.h>

struct sb_judge_report {
    char *name;
    int n_rounds;
    struct sb_report *round;            /* [n_rounds] the judge's own votes as verdicts */
    int64_t result_paths[JP_PATH_COUNT];   /* how its results were parsed, every round */
    int64_t errors;                     /* votes that failed (the judge's backend) */
    struct sb_changes changes;          /* round 0 -> last round */
};

struct sb_model_report {
    char *name;
    int64_t n, answered, answer_errors, answer_pending;
    int64_t tokens_generated, stopped_at_max;   /* answers: total tokens, how many hit max_new_tokens */
    struct sb_report consensus;
    int n_judges;
    struct sb_judge_report *judges;
    /* agreement in the last round */
    double kappa;
    int64_t kappa_items;
    int64_t *pair_both, *pair_agree;    /* [n_judges * n_judges] */
};

struct sb_file_report {
    char *benchmark, *jury;             /* jury: the run's {"judges", "rounds", "tie"} */
    int64_t n_items;
    int n_models;
    struct sb_model_report *models;
};

/* Reads and computes everything; errors name the file. */
int sb_file_report_read(const char *path, struct sb_file_report *out /* out */);
void sb_file_report_release(struct sb_file_report *r);
/* The paper's table and the jury's figures, as text. */
void sb_file_report_print(FILE *f, const struct sb_file_report *r);
/* Read + print (run's last step). */
int sb_report_print_file(FILE *f, const char *path);

#endif
