/*
 * json.h - JSON rendering (parsing is declared in job.h); implemented in
 * json.c, the only cJSON user.  Returned strings are malloc'd; free() them.
 */
#ifndef MMSAFE_JSON_H
#define MMSAFE_JSON_H

#include "job.h"
#include "stats.h"

/* One manifest line (no newline); image/subset/scenario may be NULL. */
char *json_manifest_line(const char *id, const char *image, const char *prompt, const char *label,
                         const char *subset, const char *scenario);

/* A one-line object of string members: kv = key, value, key, value, ..., NULL. */
char *json_strings_object(const char *const *kv);
/* SafeBench's generation wrapper file: {"before": "...", "after": "..."}. */
int json_wrapper_parse(const char *path, const char *text, char **before, char **after);
/* The `reduce --json` document of a SafeBench file (safebench_report.h). */
struct sb_file_report;
char *json_safebench(const struct sb_file_report *r);

/* The `reduce --json` document: {"models": {NAME: {"all", "subsets", "scenarios", "total", ...}}}. */
char *json_report(const struct report *r);

/* A multi-model job from a template job (its first model copied once per
 * checkpoint, name and checkpoint key replaced, paths made absolute). */
int json_sweep_job(const char *tmpl_path, const char *tmpl_text, int n, char *const *names,
                   char *const *paths, char *const *mmprojs /* entries may be NULL */, char **out);

#endif
