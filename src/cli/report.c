/*
 * report.c - `mmsafe report RESULTS.h5 [MORE.h5 ...] -o DIR`: the picture of a
 * sweep (tables, curves, trade-off, heat-map, significance, ROC/calibration).
 * The work is done by analysis/report.py with Debian's python3-h5py, numpy and
 * matplotlib; this command finds the script next to the binary, checks the
 * arguments it can check without Python, and execs the interpreter.
 *   script:      $MMSAFE_REPORT_SCRIPT, else analysis/report.py in the folder of
 *                the binary or the one above it (build-asan/mmsafe), else
 *                ../share/mmsafe/analysis/report.py (an installed tree)
 *   interpreter: $MMSAFE_PYTHON, else /usr/bin/python3, else python3 on PATH
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char report_help[] =
    "usage: mmsafe report RESULTS.h5 [MORE.h5 ...] -o DIR [--baseline NAME]\n"
    "                     [--order auto|step|job] [--manifest FILE]\n"
    "                     [--cluster auto|content|path|item] [--bootstrap B] [--seed S]\n\n"
    "Writes the report of a sweep of checkpoints or ablations into DIR: report.html\n"
    "(one page, figures beside it), report.md, tables.tex (booktabs), summary.json\n"
    "and every figure as PNG and SVG: the paper's table with 95% intervals, accuracy\n"
    "curves across checkpoints, the safety/helpfulness trade-off with its Pareto\n"
    "front, the scenario heat-map against the baseline, McNemar (Holm-corrected) and\n"
    "image-clustered bootstrap intervals for every checkpoint against the baseline\n"
    "and its predecessor, ROC and calibration where P(unsafe) scores exist.  Takes\n"
    "a single run, the merged file of a Slurm sweep, or several files of one\n"
    "manifest (files of different manifests are refused); SafeBench files (or their\n"
    "`mmsafe reduce --json` output, as FILE.json) give the SafeBench table and heat-map.\n\n"
    "  -o DIR       the output folder (created)\n"
    "  --baseline NAME  the model the others are compared with (default: the first)\n"
    "  --order      checkpoint order: step = the step number in the model names\n"
    "               (ckpt-1200, step_500), job = the order the job/files list them;\n"
    "               auto (default): step when every name has a distinct one\n"
    "  --manifest FILE  the manifest, when the path recorded in the file is gone\n"
    "  --cluster    what the bootstrap resamples: auto (default: image content when\n"
    "               readable, else image path), content, path, or item\n"
    "  --bootstrap B    bootstrap replicates (default 2000)\n"
    "  --seed S     bootstrap seed (default 20240601; recorded in summary.json)\n\n"
    "Needs /usr/bin/python3 with python3-h5py, python3-numpy, python3-matplotlib\n"
    "(make deps); MMSAFE_PYTHON and MMSAFE_REPORT_SCRIPT override what is found.\n";

static int readable(const char *p) { return p && access(p, R_OK) == 0; }

/* analysis/report.py relative to the running binary. */
static int find_script(char *out, size_t n)
{
    const char *env = getenv("MMSAFE_REPORT_SCRIPT");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return readable(out);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return 0;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = 0;
    static const char *const rel[] = { "/analysis/report.py", "/../analysis/report.py",
                                       "/../share/mmsafe/analysis/report.py" };
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        if ((size_t)snprintf(out, n, "%s%s", exe, rel[i]) < n && readable(out)) return 1;
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    int have_out = 0, n_files = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { fputs(report_help, stdout); return EXIT_OK; }
        const char *a = argv[i];
        if (!strcmp(a, "-o") || !strcmp(a, "--baseline") || !strcmp(a, "--order") || !strcmp(a, "--manifest") ||
            !strcmp(a, "--cluster") || !strcmp(a, "--bootstrap") || !strcmp(a, "--seed")) {
            if (i + 1 >= argc) return cli_usage_error("report", "%s needs a value", a);
            if (!strcmp(a, "-o")) have_out = 1;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("report", "unknown option '%s'", a);
        } else {
            n_files++;
        }
    }
    if (!n_files) return cli_usage_error("report", "no results file given");
    if (!have_out) return cli_usage_error("report", "no output folder given (-o DIR)");
    char script[PATH_MAX + 64];
    if (!find_script(script, sizeof script)) {
        fprintf(stderr, "mmsafe: error: cannot find analysis/report.py next to the mmsafe binary%s%s%s; "
                        "set MMSAFE_REPORT_SCRIPT=/path/to/analysis/report.py\n",
                getenv("MMSAFE_REPORT_SCRIPT") ? " (MMSAFE_REPORT_SCRIPT=" : "",
                getenv("MMSAFE_REPORT_SCRIPT") ? getenv("MMSAFE_REPORT_SCRIPT") : "",
                getenv("MMSAFE_REPORT_SCRIPT") ? " is not readable)" : "");
        return EXIT_ERR;
    }
    const char *py = getenv("MMSAFE_PYTHON");
    if (!py || !*py) py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    /* the script runs `mmsafe reduce` for SafeBench files: this binary */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) { exe[len] = 0; setenv("MMSAFE", exe, 1); }
    char **av = calloc((size_t)argc + 2, sizeof *av);
    if (!av) { fprintf(stderr, "mmsafe: error: out of memory\n"); return EXIT_ERR; }
    av[0] = (char *)py;
    av[1] = script;
    for (int i = 1; i < argc; i++) av[i + 1] = argv[i];
    fflush(NULL);
    execvp(py, av);
    fprintf(stderr, "mmsafe: error: cannot run %s (%s): report needs Python 3 with Debian's python3-h5py, "
                    "python3-numpy and python3-matplotlib (make deps); set MMSAFE_PYTHON\n", py, strerror(errno));
    free(av);
    return EXIT_ERR;
}
