/*
 * cli.c - small argv helpers shared by the commands (kept out of main.c so
 * that tests can link every command).
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_version(void) { return MMSAFE_VERSION " (" MMSAFE_GITREV ")"; }

int cli_is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mmsafe: error: %s\nTry 'mmsafe %s --help'.\n", buf, cmd);
    return EXIT_USAGE;
}

int cli_parse_num(const char *cmd, const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo || x > hi) {
        if (hi >= INT_MAX)
            return cli_usage_error(cmd, "%s needs a number >= %lld, not '%s'", opt, lo, v ? v : "");
        return cli_usage_error(cmd, "%s needs a number from %lld to %lld, not '%s'", opt, lo, hi, v ? v : "");
    }
    *out = x;
    return EXIT_OK;
}
