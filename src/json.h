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

/* The `reduce --json` document: {"models": {NAME: {"all", "subsets", "scenarios", "total", ...}}}. */
char *json_report(const struct report *r);

/* A multi-model job from a template job (its first model copied once per
 * checkpoint, name and checkpoint key replaced, paths made absolute). */
int json_sweep_job(const char *tmpl_path, const char *tmpl_text, int n, char *const *names,
                   char *const *paths, char *const *mmprojs /* entries may be NULL */, char **out);

#endif
