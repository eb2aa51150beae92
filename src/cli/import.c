/*
 * import.c - `mmsafe import BENCHMARK DIR -o MANIFEST.jsonl`: converts a
 * benchmark's release layout into a manifest, through the benchmark's own
 * importer (src/benchmarks/: benchmark.h).
 */
#include "benchmark.h"
#include "cli.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

static void print_help(void)
{
    printf("usage: mmsafe import BENCHMARK DIR -o MANIFEST.jsonl\n\n"
           "Converts a benchmark's release into a manifest (JSON Lines).  Image paths are\n"
           "written relative to the manifest's folder.  Benchmarks:\n\n");
    for (int i = 0; benchmark_all()[i]; i++) fputs(benchmark_all()[i]->import_help, stdout);
}

int cmd_import(int argc, char **argv)
{
    const char *kind = NULL, *dir = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { print_help(); return EXIT_OK; }
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc) return cli_usage_error("import", "-o needs a file name");
            out = argv[++i];
        } else if (argv[i][0] == '-') return cli_usage_error("import", "unknown option '%s'", argv[i]);
        else if (!kind) kind = argv[i];
        else if (!dir) dir = argv[i];
        else return cli_usage_error("import", "unexpected argument '%s'", argv[i]);
    }
    if (!kind || !dir || !out) return cli_usage_error("import", "usage: mmsafe import BENCHMARK DIR -o MANIFEST.jsonl");
    const struct benchmark *b = benchmark_find(kind);
    if (!b) return cli_usage_error("import", "unknown benchmark '%s' (known: %s)", kind, benchmark_names());
    return b->import(dir, out);
}
