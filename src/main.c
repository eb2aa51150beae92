/*
 * main.c - mmsafe's entry point: finds the command in the table and runs it.
 * Nothing else lives here; MPI is initialised by the commands that need it
 * (only `run`), so the others work on a login node without mpirun.
 */
#include "cli.h"
#include "err.h"
#include "engine/engine.h"

#include <stdio.h>
#include <string.h>

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    int computes;   /* runs the engine's kernels: refused when engine_cpu_check() fails */
};

static const struct cmd commands[] = {
    { "import",   cmd_import,   "convert a benchmark release into a manifest (JSON Lines)", 0 },
    { "check",    cmd_check,    "preflight a job: job, manifest, every image, model files", 0 },
    { "run",      cmd_run,      "run a job (singleton, under mpirun -n N, or under srun)", 1 },
    { "reduce",   cmd_reduce,   "recompute and print every statistic from a results file", 0 },
    { "merge",    cmd_merge,    "merge results files of one manifest into one file", 0 },
    { "sweep-job", cmd_sweep_job, "write the multi-model job of a checkpoint sweep", 0 },
    { "report",   cmd_report,   "tables, figures and significance tests of a sweep (HTML/MD/TeX/JSON)", 0 },
    { "inspect",  cmd_inspect,  "describe a GGUF model file and validate it", 0 },
    { "tokenize", cmd_tokenize, "print a prompt's token ids as a JSON array", 0 },
    { "logits",   cmd_logits,   "prefill a prompt and write the last position's logits", 1 },
    { "generate", cmd_generate, "greedy continuation of a prompt", 1 },
    { "preprocess", cmd_preprocess, "write the vision tower's input tensor for an image", 0 },
    { "embed-image", cmd_embed_image, "write an image's projected embeddings (CLIP + projector)", 1 },
    { NULL, NULL, NULL, 0 },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mmsafe COMMAND [ARGS...]\n"
               "       mmsafe COMMAND --help\n"
               "       mmsafe --version\n\n"
               "Evaluates multimodal models on safety-awareness benchmarks as an MPI batch job.\n\n"
               "commands:\n");
    for (const struct cmd *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nexit codes: 0 ok, 1 run-level error, 2 usage error\n"
               "typical use: mpirun -n 2 ./mmsafe run jobs/demo.json\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    if (cli_is_help(argv[1])) { usage(stdout); return EXIT_OK; }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mmsafe %s\nengine kernels: %s\n", cli_version(), engine_cpu_desc());
        return EXIT_OK;
    }
    for (const struct cmd *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) {
            /* a CPU without AVX2 (or a bad MMSAFE_CPU): refused before any work */
            if (c->computes && engine_cpu_check() && !(argc > 2 && cli_is_help(argv[2]))) {
                fprintf(stderr, "mmsafe: error: %s\n", eng_errmsg());
                return EXIT_ERR;
            }
            return c->fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "mmsafe: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
