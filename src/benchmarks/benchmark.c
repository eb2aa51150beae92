/*
 * benchmark.c - the list of benchmarks (benchmark.h).
 */
#include "benchmark.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

extern const struct benchmark benchmark_mmsafeaware, benchmark_safebench, benchmark_safebench_mini;

static const struct benchmark *const ALL[] = { &benchmark_mmsafeaware, &benchmark_safebench, &benchmark_safebench_mini, NULL };

const struct benchmark *const *benchmark_all(void) { return ALL; }

const char *benchmark_names(void)
{
    static char names[256];
    if (!names[0])
        for (int i = 0; ALL[i]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", ALL[i]->name);
    return names;
}

const struct benchmark *benchmark_find(const char *name)
{
    if (!name || !*name) return ALL[0];
    for (int i = 0; ALL[i]; i++) if (!strcmp(ALL[i]->name, name)) return ALL[i];
    err_set(RC_ECONFIG, "unknown benchmark '%s' (known: %s)", name, benchmark_names());
    return NULL;
}

const struct benchmark *benchmark_find_runnable(const char *name)
{
    const struct benchmark *b = benchmark_find(name);
    if (b && b->not_runnable) { err_set(RC_ECONFIG, "benchmark '%s' cannot be run yet: %s", b->name, b->not_runnable); return NULL; }
    return b;
}

int benchmark_check_parser(const struct benchmark *b, const char *parser, const char *where)
{
    char known[128] = "";
    for (int i = 0; b->parsers[i]; i++) {
        if (!strcmp(b->parsers[i], parser)) return RC_OK;
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s\"%s\"", i ? (b->parsers[i + 1] ? ", " : " or ") : "", b->parsers[i]);
    }
    return err_set(RC_ECONFIG, "%s: \"parser\" must be %s for %s, not '%s'", where, known, b->name, parser);
}
