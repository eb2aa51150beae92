/*
 * cli.c - small argv helpers shared by the commands (kept out of main.c so
 * that tests can link every command).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
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
