/*
 * check.c - `mmsafe check JOB.json`: the preflight before an expensive Slurm
 * job.  Validates the job, the manifest, every model's files (cheaply: no
 * weights loaded) and decodes every image; prints a summary.  Exits non-zero
 * only on run-level errors: unreadable images are reported, since the run
 * would record them as per-item errors.
 */
#include "backend.h"
#include "benchmark.h"
#include "runner.h"
#include "cli.h"
#include "err.h"
#include "image.h"
#include "job.h"
#include "util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char check_help[] =
    "usage: mmsafe check JOB.json [--threads N] [--no-images]\n\n"
    "Validates a job before submitting it: the job file (unknown keys are errors),\n"
    "the manifest (every line), each model's backend options and files, and decodes\n"
    "every image (format sniffed from the bytes).  Prints items, per-subset and\n"
    "per-label counts, items without an image, and every unreadable image with the\n"
    "reason.  Exit 0 when the job can run (bad images become per-item errors in the\n"
    "run), 1 on a run-level error, 2 on usage errors.\n\n"
    "  --threads N   decode images with N threads (default: all cores)\n"
    "  --no-images   skip decoding the images (the manifest's image paths are not opened)\n";

int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    int threads = 0, no_images = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { fputs(check_help, stdout); return EXIT_OK; }
        else if (!strcmp(argv[i], "--threads")) {
            long long v;
            if (i + 1 >= argc) return cli_usage_error("check", "--threads needs a value");
            if (cli_parse_num("check", "--threads", argv[++i], 1, 4096, &v)) return EXIT_USAGE;
            threads = (int)v;
        }
        else if (!strcmp(argv[i], "--no-images")) no_images = 1;
        else if (argv[i][0] == '-') return cli_usage_error("check", "unknown option '%s'", argv[i]);
        else if (path) return cli_usage_error("check", "one job file at a time");
        else path = argv[i];
    }
    if (!path) return cli_usage_error("check", "no job file given");
    struct job job;
    struct manifest man = { 0 };
    int rc = job_load(path, &job);
    if (!rc) rc = manifest_load(job.manifest, &man);
    const struct benchmark *bench = NULL;
    if (!rc && !(bench = benchmark_find_runnable(job.benchmark))) { err_prefix("%s", job.path); rc = RC_ECONFIG; }
    if (!rc && !bench->judged) rc = benchmark_check_parser(bench, job.parser, job.path);
    if (!rc && !bench->judged && job.has_jury_keys)
        rc = err_set(RC_ECONFIG, "%s: judges, max_new_tokens, generation_wrapper, judge_prompt, deliberation_prompt, rounds "
                     "and tie are for judged benchmarks (safebench, safebench-mini), not %s", job.path, bench->name);
    if (!rc && bench->judged) rc = jury_check(&job);
    if (rc) { log_error("%s", err_msg()); job_release(&job); manifest_release(&man); return EXIT_ERR; }
    if (bench->judged)
        printf("job %s: %s, %d model(s), %d judge(s), manifest %s, output %s\n", job.path, bench->name, job.n_models, job.n_judges,
               man.path, job.output);
    else
        printf("job %s: %d model(s), manifest %s, output %s, parser %s\n", job.path, job.n_models, man.path, job.output, job.parser);
    for (int m = 0; m < job.n_models + job.n_judges && !rc; m++) {
        const struct model_spec *ms = m < job.n_models ? &job.models[m] : &job.judges[m - job.n_models];
        const struct backend_ops *ops = backend_find(ms->backend);
        if (!ops) { err_prefix("%s: %s '%s'", job.path, ms->role == ROLE_JUDGE ? "judge" : "model", ms->name); rc = RC_ECONFIG; break; }
        if (bench->judged && !ops->generate) {
            rc = err_set(RC_ECONFIG, "%s: '%s': backend %s cannot generate answers or judge texts", job.path, ms->name, ops->name);
            break;
        }
        char settings[4096];
        rc = ops->check(ms, &job, &man, settings, sizeof settings);
        if (!rc) printf("%s %s: backend %s: ok%s%s\n", ms->role == ROLE_JUDGE ? "judge" : "model", ms->name, ms->backend,
                        settings[0] ? " " : "", settings);
    }
    if (rc) { log_error("%s", err_msg()); manifest_release(&man); job_release(&job); return EXIT_ERR; }

    size_t n_safe = 0, bad_utf8 = 0;
    printf("manifest: %zu items (sha256 %s)\n", man.n, man.sha256);
    for (size_t i = 0; i < man.n; i++) { n_safe += man.items[i].label == 0; bad_utf8 += man.items[i].bad_utf8_at >= 0; }
    printf("  labels: %zu safe, %zu unsafe\n", n_safe, man.n - n_safe);
    for (int s = 0; s < man.n_subsets; s++) {
        size_t k = 0, u = 0;
        for (size_t i = 0; i < man.n; i++) if (man.items[i].subset == s) { k++; u += man.items[i].label; }
        printf("  subset %-12s %5zu items (%zu unsafe)\n", man.subsets[s], k, u);
    }
    for (int s = 0; s < man.n_scenarios; s++) {
        size_t k = 0;
        for (size_t i = 0; i < man.n; i++) k += man.items[i].scenario == s;
        printf("  scenario %-24s %5zu items\n", man.scenarios[s], k);
    }
    if (bad_utf8) {
        printf("  %zu prompt(s) are not valid UTF-8 (they will be errors):", bad_utf8);
        for (size_t i = 0; i < man.n; i++) if (man.items[i].bad_utf8_at >= 0) printf(" %s", man.items[i].id);
        printf("\n");
    }
    if (man.n_no_image) {
        printf("  %d item(s) have no image in the manifest:", man.n_no_image);
        int shown = 0;
        for (size_t i = 0; i < man.n; i++)
            if (!man.items[i].image && shown++ < 100) printf(" %s", man.items[i].id);
        printf("%s\n", man.n_no_image > 100 ? " ..." : "");
    }
    if (man.n_no_image_key)
        printf("  warning: %d line(s) have no \"image\" key (the first: line %d); they are taken as items "
               "without an image (write \"image\": null to say so)\n", man.n_no_image_key, man.first_no_image_key);
    if (!no_images) {
        char **why = calloc(man.n, sizeof *why);
        long long px = 0;
        size_t decoded = 0;
        double t0 = util_now();
        struct image_limits lim = { job.max_image_pixels };
        if (threads > 0) omp_set_num_threads(threads);
        int used = omp_get_max_threads();
        #pragma omp parallel for schedule(dynamic, 4) reduction(+:px, decoded)
        for (size_t i = 0; i < man.n; i++) {
            if (!man.items[i].image) continue;
            struct image img;
            if (image_load(man.items[i].image, &lim, &img) == RC_OK) {
                px += (long long)img.w * img.h;
                decoded++;
                image_release(&img);
            } else {
                why[i] = util_strdup(err_msg());
            }
        }
        double dt = util_now() - t0;
        size_t bad = 0;
        for (size_t i = 0; i < man.n; i++) bad += why[i] != NULL;
        printf("images: %zu decoded, %zu unreadable, %.1f Mpixel in %.2f s (%.0f images/s, %d thread(s))\n", decoded, bad,
               (double)px / 1e6, dt, dt > 0 ? (double)decoded / dt : 0, used);
        for (size_t i = 0; i < man.n; i++)
            if (why[i]) { printf("  unreadable: item %s: %s\n", man.items[i].id, why[i]); free(why[i]); }
        free(why);
    }
    printf("ok: the job can run (%zu items x %d model(s))\n", man.n, job.n_models);
    manifest_release(&man);
    job_release(&job);
    return EXIT_OK;
}
