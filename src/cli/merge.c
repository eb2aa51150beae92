/*
 * merge.c - `mmsafe merge A.h5 B.h5 ... -o ALL.h5` (one file with every
 * model's verdicts and statistics, e.g. after a checkpoint sweep) and
 * `mmsafe sweep-job TEMPLATE.json LIST -o SWEEP.json` (the multi-model job a
 * sweep's array tasks run, one model each).
 */
#include "benchmark.h"
#include "cli.h"
#include "err.h"
#include "json.h"
#include "reduce.h"
#include "safebench_report.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char merge_help[] =
    "usage: mmsafe merge A.h5 B.h5 ... -o ALL.h5\n\n"
    "Writes one results file holding every model of the inputs, with statistics\n"
    "recomputed.  All inputs must come from the same manifest (same sha256 and item\n"
    "ids); a model present in two inputs must be identical there, else it is an\n"
    "error naming both files.\n";

/* The same file under two spellings ("out.h5", "./out.h5", a link)? */
static int same_file(const char *a, const char *b)
{
    if (!strcmp(a, b)) return 1;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int same_model(const struct model_results *a, const struct model_results *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a->verdict[i] != b->verdict[i] || a->error[i] != b->error[i] || a->response_len[i] != b->response_len[i]) return 0;
        if (!(isnan(a->p_unsafe[i]) && isnan(b->p_unsafe[i])) && a->p_unsafe[i] != b->p_unsafe[i]) return 0;
    }
    return a->width == b->width && !memcmp(a->response, b->response, n * (size_t)a->width);
}

int cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    const char **in = calloc((size_t)argc, sizeof *in);
    int n_in = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { fputs(merge_help, stdout); free(in); return EXIT_OK; }
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc) { free(in); return cli_usage_error("merge", "-o needs a file name"); }
            out = argv[++i];
        } else if (argv[i][0] == '-') { free(in); return cli_usage_error("merge", "unknown option '%s'", argv[i]); }
        else in[n_in++] = argv[i];
    }
    if (!out || n_in < 1) { free(in); return cli_usage_error("merge", "usage: mmsafe merge A.h5 B.h5 ... -o ALL.h5"); }
    {   /* judged benchmarks (SafeBench): the model groups are copied whole */
        struct results_ident id0;
        int jrc = results_ident_read(in[0], &id0);
        const struct benchmark *b = jrc ? NULL : benchmark_find(id0.benchmark);
        if (b && b->judged) {
            for (int i = 0; i < n_in && !jrc; i++) {
                struct results_ident id;
                if (same_file(in[i], out)) jrc = err_set(RC_ECONFIG, "the output '%s' is also an input", out);
                else if (!(jrc = results_ident_read(in[i], &id))) {
                    if (!id.manifest_sha256 || !id0.manifest_sha256 || strcmp(id.manifest_sha256, id0.manifest_sha256))
                        jrc = err_set(RC_ECONFIG, "'%s' and '%s' hold results of different manifests; only results of one "
                                      "benchmark manifest can be merged", in[0], in[i]);
                    else if (!id.benchmark || strcmp(id.benchmark, id0.benchmark))
                        jrc = err_set(RC_ECONFIG, "'%s' and '%s' are results of different benchmarks (%s, %s)", in[0], in[i],
                                      id0.benchmark, id.benchmark ? id.benchmark : "mmsafeaware");
                    results_ident_release(&id);
                }
            }
            char *tmp = util_fmt("%s.tmp", out);
            if (!jrc) jrc = store_merge_cols(tmp, n_in, in);
            if (!jrc && rename(tmp, out) != 0) jrc = err_set(RC_EIO, "cannot rename '%s' to '%s'", tmp, out);
            if (jrc) unlink(tmp);
            free(tmp);
            if (!jrc) jrc = sb_report_print_file(stdout, out);
            if (!jrc) printf("merged %d file(s) into %s\n", n_in, out);
            else log_error("%s", err_msg());
            results_ident_release(&id0);
            free(in);
            return jrc ? EXIT_ERR : EXIT_OK;
        }
        if (!jrc) results_ident_release(&id0);
    }
    struct results *r = calloc((size_t)n_in, sizeof *r);
    int rc = RC_OK;
    for (int i = 0; i < n_in && !rc; i++) {
        if (same_file(in[i], out)) { rc = err_set(RC_ECONFIG, "the output '%s' is also an input ('%s')", out, in[i]); break; }
        rc = results_read(in[i], 1, &r[i]);
        if (rc) break;
        if (i > 0 && (!r[i].manifest_sha256 || !r[0].manifest_sha256 || strcmp(r[i].manifest_sha256, r[0].manifest_sha256) ||
                      r[i].n != r[0].n)) {
            rc = err_set(RC_ECONFIG, "'%s' and '%s' come from different manifests (sha256 %.12s... vs %.12s...); "
                         "only results of one benchmark manifest can be merged", in[0], in[i],
                         r[0].manifest_sha256 ? r[0].manifest_sha256 : "?", r[i].manifest_sha256 ? r[i].manifest_sha256 : "?");
            break;
        }
        if (i > 0 && strcmp(r[i].benchmark ? r[i].benchmark : "mmsafeaware", r[0].benchmark ? r[0].benchmark : "mmsafeaware")) {
            rc = err_set(RC_ECONFIG, "'%s' and '%s' are results of different benchmarks (%s, %s)", in[0], in[i],
                         r[0].benchmark ? r[0].benchmark : "mmsafeaware", r[i].benchmark ? r[i].benchmark : "mmsafeaware");
            break;
        }
        for (size_t k = 0; i > 0 && k < r[i].n; k++)
            if (strcmp(r[i].ids[k], r[0].ids[k]) || r[i].labels[k] != r[0].labels[k]) {
                rc = err_set(RC_ECONFIG, "'%s' and '%s' differ at item %zu ('%s' vs '%s')", in[0], in[i], k, r[0].ids[k], r[i].ids[k]);
                break;
            }
    }
    /* Collect models; duplicates must be identical. */
    struct results all = { 0 };
    struct model_results **pick = calloc(64 + (size_t)n_in * 64, sizeof *pick);
    const char **from = calloc(64 + (size_t)n_in * 64, sizeof *from);
    int n_m = 0;
    for (int i = 0; i < n_in && !rc; i++)
        for (int m = 0; m < r[i].n_models && !rc; m++) {
            struct model_results *mr = &r[i].models[m];
            int dup = -1;
            for (int k = 0; k < n_m; k++) if (!strcmp(pick[k]->name, mr->name)) dup = k;
            if (dup >= 0) {
                if (!same_model(pick[dup], mr, r[0].n))
                    rc = err_set(RC_ECONFIG, "model '%s' is in both '%s' and '%s' with different results; rename one or drop a file",
                                 mr->name, from[dup], in[i]);
                else log_warn("model '%s' is in both '%s' and '%s' (identical; kept once)", mr->name, from[dup], in[i]);
                continue;
            }
            pick[n_m] = mr;
            from[n_m++] = in[i];
        }
    if (!rc) {
        all = r[0];
        all.n_models = n_m;
        all.models = calloc((size_t)n_m + 1, sizeof *all.models);
        for (int k = 0; k < n_m; k++) all.models[k] = *pick[k];
        char **names = calloc((size_t)n_m + 1, sizeof *names), **backs = calloc((size_t)n_m + 1, sizeof *backs),
             **json = calloc((size_t)n_m + 1, sizeof *json), **sets = calloc((size_t)n_m + 1, sizeof *sets);
        struct store_layout lay;
        results_layout(&all, &lay, names, backs, json, sets);
        int width = 16;
        for (int k = 0; k < n_m; k++) if (all.models[k].width > width) width = all.models[k].width;
        lay.response_width = width;
        struct store *st = NULL;
        char *tmp = util_fmt("%s.tmp", out);
        rc = store_create(&st, tmp, NULL, &lay);
        struct report rep = { 0 };
        if (!rc) rc = reduce_results(&all, &rep);
        size_t n = all.n;
        uint32_t *ix = malloc(n * sizeof *ix);
        struct row *rows = calloc(n, sizeof *rows);
        char *rbuf = malloc((size_t)width + 1);
        char **texts = calloc(2 * n, sizeof *texts);
        for (int k = 0; k < n_m && !rc; k++) {
            const struct model_results *m = &all.models[k];
            for (size_t i = 0; i < n; i++) {
                ix[i] = (uint32_t)i;
                texts[2 * i] = util_strndup(m->response + i * (size_t)m->width, strnlen(m->response + i * (size_t)m->width, (size_t)m->width));
                texts[2 * i + 1] = util_strndup(m->error_msg + i * STORE_ERRMSG_WIDTH, strnlen(m->error_msg + i * STORE_ERRMSG_WIDTH, STORE_ERRMSG_WIDTH));
                rows[i] = (struct row){ .verdict = m->verdict[i], .truncated = m->truncated[i], .error = m->error[i],
                                        .rank = m->rank[i], .p_unsafe = m->p_unsafe[i], .latency_ms = m->latency_ms[i],
                                        .response_len = (uint32_t)m->response_len[i], .response = texts[2 * i],
                                        .reason = texts[2 * i + 1], .ext = 1, .text_verdict = m->text_verdict[i] };
            }
            rc = store_write_rows(st, k, n, ix, rows);
            if (!rc) rc = store_write_stats(st, k, &rep.models[k], &rep);
            for (size_t i = 0; i < 2 * n; i++) { free(texts[i]); texts[i] = NULL; }
        }
        long long pend = 0;
        for (int k = 0; k < n_m; k++) pend += rep.models[k].groups[0].c.pending;
        char stamp[32];
        util_iso8601(stamp);
        struct buf kb = { 0 };   /* every input's kernels, once each */
        for (int i = 0; i < n_in; i++) {
            if (!r[i].kernels || !r[i].kernels[0] || (kb.p && strstr(kb.p, r[i].kernels))) continue;
            if (kb.n) buf_add(&kb, ",", 1);
            buf_add(&kb, r[i].kernels, strlen(r[i].kernels));
            buf_add(&kb, "", 1);
            kb.n--;
        }
        struct run_attrs ra = { r[0].n_ranks, r[0].hosts, r[0].started, stamp, pend == 0, kb.p };
        if (!rc) rc = store_set_run_attrs(st, &ra);
        buf_release(&kb);
        int crc = store_close(st);
        if (!rc) rc = crc;
        if (!rc && rename(tmp, out) != 0) rc = err_set(RC_EIO, "cannot rename '%s' to '%s'", tmp, out);
        if (rc) unlink(tmp);
        if (!rc) {
            benchmark_find(rep.benchmark)->print_table(stdout, &rep);
            printf("merged %d model(s) from %d file(s) into %s\n", n_m, n_in, out);
        }
        report_release(&rep);
        free(tmp); free(ix); free(rows); free(rbuf); free(texts); free(names); free(backs); free(json); free(sets);
        free(all.models);
    }
    if (rc) log_error("%s", err_msg());
    for (int i = 0; i < n_in; i++) results_release(&r[i]);
    free(r); free(in); free(pick); free(from);
    return rc ? EXIT_ERR : EXIT_OK;
}

static const char sweep_help[] =
    "usage: mmsafe sweep-job TEMPLATE.json CHECKPOINTS.txt -o SWEEP.json\n\n"
    "Writes a multi-model job for a checkpoint sweep: one model per line\n"
    "`name path [mmproj]` of CHECKPOINTS.txt (blank lines and # comments skipped;\n"
    "paths relative to the list's folder), each a copy of the template's first\n"
    "model with its name and checkpoint key replaced (`model` and `mmproj` for\n"
    "backend llava, `responses` for backend responses); every path is made\n"
    "absolute.  Array task I then runs `mmsafe run SWEEP.json --model-index I`.\n"
    "Prints what it wrote: the number of models and their names in task order.\n";

int cmd_sweep_job(int argc, char **argv)
{
    const char *tmpl = NULL, *list = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { fputs(sweep_help, stdout); return EXIT_OK; }
        if (!strcmp(argv[i], "-o")) {
            if (i + 1 >= argc) return cli_usage_error("sweep-job", "-o needs a file name");
            out = argv[++i];
        } else if (argv[i][0] == '-') return cli_usage_error("sweep-job", "unknown option '%s'", argv[i]);
        else if (!tmpl) tmpl = argv[i];
        else if (!list) list = argv[i];
        else return cli_usage_error("sweep-job", "unexpected argument '%s'", argv[i]);
    }
    if (!tmpl || !list || !out) return cli_usage_error("sweep-job", "usage: mmsafe sweep-job TEMPLATE.json CHECKPOINTS.txt -o SWEEP.json");
    char *text = NULL, *lt = NULL, *res = NULL;
    size_t len, ll;
    struct job check;
    int rc = job_load(tmpl, &check);
    job_release(&check);
    if (!rc) rc = util_read_file(tmpl, &text, &len);
    if (!rc) rc = util_read_file(list, &lt, &ll);
    char *ldir = util_dirname(list), labs[4096];
    if (!rc && !realpath(ldir, labs)) rc = err_set(RC_EIO, "cannot resolve '%s'", ldir);
    char **names = NULL, **paths = NULL, **mm = NULL;
    int n = 0, line = 0;
    for (char *save = NULL, *s = rc ? NULL : strtok_r(lt, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
        line++;
        char *f[4] = { 0 };
        int nf = 0;
        for (char *sv = NULL, *t = strtok_r(s, " \t\r", &sv); t && nf < 4; t = strtok_r(NULL, " \t\r", &sv)) f[nf++] = t;
        if (nf == 0 || f[0][0] == '#') continue;
        if (nf < 2 || nf > 3) { rc = err_set(RC_EFORMAT, "%s:%d: expected `name path [mmproj]`", list, line); break; }
        names = realloc(names, (size_t)(n + 1) * sizeof *names);
        paths = realloc(paths, (size_t)(n + 1) * sizeof *paths);
        mm = realloc(mm, (size_t)(n + 1) * sizeof *mm);
        names[n] = util_strdup(f[0]);
        paths[n] = f[1][0] == '/' ? util_strdup(f[1]) : util_fmt("%s/%s", labs, f[1]);
        mm[n] = nf == 3 ? (f[2][0] == '/' ? util_strdup(f[2]) : util_fmt("%s/%s", labs, f[2])) : NULL;
        for (int k = 0; k < n; k++)
            if (!strcmp(names[k], names[n])) rc = err_set(RC_EFORMAT, "%s:%d: checkpoint name '%s' appears twice", list, line, names[n]);
        n++;
        if (rc) break;
    }
    if (!rc && n == 0) rc = err_set(RC_EFORMAT, "%s: no checkpoints listed", list);
    if (!rc) rc = json_sweep_job(tmpl, text, n, names, paths, mm, &res);
    if (!rc) {
        /* validate what we wrote, like any job */
        struct job j;
        rc = job_parse(out, res, &j);
        job_release(&j);
    }
    if (!rc) rc = util_write_file(out, res, strlen(res));
    if (!rc) {
        printf("wrote %s: %d model(s), one per checkpoint (array tasks 0..%d: `mmsafe run %s --model-index I`):", out, n, n - 1, out);
        for (int k = 0; k < n; k++) printf(" %s", names[k]);
        printf("\n");
    }
    else log_error("%s", err_msg());
    for (int k = 0; k < n; k++) { free(names[k]); free(paths[k]); free(mm[k]); }
    free(names); free(paths); free(mm); free(text); free(lt); free(res); free(ldir);
    return rc ? EXIT_ERR : EXIT_OK;
}
