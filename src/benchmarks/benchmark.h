/*
 * benchmark.h - what is specific to a benchmark, as a table of operations (one
 * static const instance per benchmark, listed in benchmark.c), the way model
 * backends are (backend.h).  Adding a benchmark = one new file here and one
 * line in benchmark.c.  A job names its benchmark ("benchmark", default
 * "mmsafeaware"); the results file records it, so reduce and merge print the
 * benchmark's own table.
 *   mmsafeaware  (mmsafeaware.c) Yes/No verdicts on unsafe and benign pairs.
 *   safebench, safebench-mini (safebench.c) answers judged by a jury of LLMs.
 */
#ifndef MMSAFE_BENCHMARK_H
#define MMSAFE_BENCHMARK_H

#include "job.h"
#include "stats.h"

#include <stdint.h>
#include <stdio.h>

struct benchmark {
    const char *name;
    const char *import_help;    /* its paragraph of `mmsafe import --help` */
    /* `mmsafe import NAME DIR -o OUT`: the release layout -> a manifest; an exit code */
    int (*import)(const char *dir, const char *out);
    /* How an item becomes the text the model sees (malloc'd); NULL: the manifest's prompt as is. */
    char *(*prompt)(const struct job *job, const struct item *it);
    /* How a text answer becomes a verdict (V_SAFE, V_UNSAFE, V_UNPARSED), by the
     * job's "parser", one of parsers (NULL-terminated, the default first). */
    const char *const *parsers;
    int8_t (*verdict)(const char *parser, const char *answer, int8_t label);
    /* Fills the benchmark's headline figure (mr->total) from the group metrics. */
    void (*summarize)(struct model_report *mr, int n_subsets);
    /* The table `run`, `reduce` and `merge` print. */
    void (*print_table)(FILE *f, const struct report *r);
    /* Non-NULL: why jobs of this benchmark cannot be run yet (it can be imported);
     * the run operations above are then NULL. */
    const char *not_runnable;
    /* Judged (SafeBench): the model answers in full and a jury of judge models
     * decides (src/run/jury_run.c, safebench_report.c); prompt, parsers,
     * verdict, summarize and print_table are then unused (NULL). */
    int judged;
};

/* NULL-terminated list of every benchmark. */
const struct benchmark *const *benchmark_all(void);
/* The benchmark called name, or NULL (err_set names the known ones); NULL or ""
 * is the default, mmsafeaware (results files from before benchmarks were recorded). */
const struct benchmark *benchmark_find(const char *name);
/* As benchmark_find, but NULL (err_set says why) for a benchmark that cannot be run yet. */
const struct benchmark *benchmark_find_runnable(const char *name);
/* "mmsafeaware, ..." for messages. */
const char *benchmark_names(void);
/* RC_OK when parser is one of b's parsers; else RC_ECONFIG naming them. */
int benchmark_check_parser(const struct benchmark *b, const char *parser, const char *where);

#endif
