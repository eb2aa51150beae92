/*
 * safebench.c - SafeBench (Ying et al. 2024; 2,300 harmful image-query pairs,
 * 23 scenarios, 8 major categories) and its MiniBench subset as benchmark
 * modules (benchmark.h).  What exists: the importer (safebench_import.c), the
 * judge-text parser (judge_parse.c), the jury prompts and consensus (jury.c)
 * and the metrics (safebench_metrics.c); a job is run by src/run/jury_run.c
 * (answers, then the jury's rounds) and reported by safebench_report.c.
 */
#include "benchmark.h"
#include "safebench_import.h"

#include <stddef.h>

static const char import_help[] =
    "  mmsafe import safebench DIR -o MANIFEST.jsonl\n"
    "    SafeBench's release layout (DIR/text/{k}.csv + DIR/high_img_gene/{k}/{i+1}.png):\n"
    "    row i (raw, blank rows counted) gets image i+1; a header row is reported and\n"
    "    dropped; scenario and major category from DIR/category.csv or the paper's\n"
    "    taxonomy; every item unsafe (README \"SafeBench\").\n"
    "  mmsafe import safebench-mini DIR -o MANIFEST.jsonl\n"
    "    The MiniBench layout (DIR/minitext/ + DIR/mini_bench/), the same rules.\n";

static int import_full(const char *dir, const char *out) { return safebench_import_cmd("safebench", dir, out); }
static int import_mini(const char *dir, const char *out) { return safebench_import_cmd("safebench-mini", dir, out); }

const struct benchmark benchmark_safebench = {
    .name = "safebench", .import_help = import_help, .import = import_full, .judged = 1,
};
const struct benchmark benchmark_safebench_mini = {
    .name = "safebench-mini", .import_help = "", .import = import_mini, .judged = 1,
};
