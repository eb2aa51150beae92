/*
 * runner.c - `mmsafe run`: job + manifest + scheduler + backend + store +
 * journal + stats, on every rank.  Rank 0 validates the job and manifest once
 * and broadcasts them; work arrives through the queue in comm.h; every rank
 * journals and writes its own rows; counts are combined with MPI reductions
 * and every rank writes the same statistics.  A run-level error on any rank
 * is agreed on before each collective step, so no rank is left hanging.
 */
#include "backend.h"
#include "engine/engine.h"
#include "benchmark.h"
#include "cli.h"
#include "comm.h"
#include "err.h"
#include "groups.h"
#include "image.h"
#include "job.h"
#include "journal.h"
#include "sched.h"
#include "stats.h"
#include "store.h"
#include "runner.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

volatile sig_atomic_t g_run_stop;
#define g_stop g_run_stop
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static const char run_help[] =
    "usage: mmsafe run JOB.json [--fresh] [--model NAME | --model-index I] [--output FILE]\n\n"
    "Runs a job: every (model, item) pair of the job's manifest gets a verdict in one\n"
    "HDF5 results file.  Works as a singleton, under `mpirun -n N` and under `srun`.\n"
    "Rank 0 hands out work in chunks (model affinity: a rank keeps its loaded model);\n"
    "every rank evaluates, journals and writes its own rows; the statistics are\n"
    "reduced over all ranks and printed at the end (same as `mmsafe reduce FILE`).\n\n"
    "  --fresh          start over (delete the results file and its journals)\n"
    "  --model NAME     run only this model of the job (e.g. one Slurm array task)\n"
    "  --model-index I  run only the job's I-th model (0-based)\n"
    "  --output FILE    results file (default: the job's \"output\", relative to the job)\n\n"
    "A judged benchmark (\"benchmark\": \"safebench\") runs in stages instead: every\n"
    "model answers every item in full, then the job's \"judges\" vote on every answer\n"
    "(round 0) and deliberate (\"rounds\"); every answer and vote is kept, and the\n"
    "jury's consensus is the verdict (README \"SafeBench\").  Adding judges to the job\n"
    "and running it on the same output judges the stored answers without regenerating.\n\n"
    "Resume: re-running the same job on the same output continues where it stopped\n"
    "(items with a final verdict are skipped; any number of ranks).  SIGTERM or SIGUSR1\n"
    "make every rank finish its current item, flush and exit 0; rerun to finish.\n"
    "Exit codes: 0 ok (or drained on a signal), 1 run-level error, 2 usage.\n";

struct run_args { const char *job; int fresh; const char *model; int model_index; const char *output; };

static int parse_args(int argc, char **argv, struct run_args *a)
{
    memset(a, 0, sizeof *a);
    a->model_index = -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (cli_is_help(s)) { fputs(run_help, stdout); return -1; }
        else if (!strcmp(s, "--fresh")) a->fresh = 1;
        else if ((!strcmp(s, "--model") || !strcmp(s, "--model-index") || !strcmp(s, "--output")) && i + 1 >= argc)
            return cli_usage_error("run", "%s needs a value", s);
        else if (!strcmp(s, "--model")) a->model = argv[++i];
        else if (!strcmp(s, "--model-index")) {
            long long v;
            if (cli_parse_num("run", s, argv[++i], 0, INT_MAX, &v)) return EXIT_USAGE;
            a->model_index = (int)v;
        } else if (!strcmp(s, "--output")) a->output = argv[++i];
        else if (s[0] == '-' && s[1]) return cli_usage_error("run", "unknown option '%s'", s);
        else if (a->job) return cli_usage_error("run", "more than one job file ('%s', '%s')", a->job, s);
        else a->job = s;
    }
    if (!a->job) return cli_usage_error("run", "no job file given");
    if (a->model && a->model_index >= 0) return cli_usage_error("run", "give --model or --model-index, not both");
    return 0;
}

/* Only the first process prints usage errors (each rank parses the same argv). */
static int env_rank(void)
{
    const char *v[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL };
    for (int i = 0; v[i]; i++) if (getenv(v[i])) return atoi(getenv(v[i]));
    return 0;
}

/* Test hook (fault injection, as SQLite's wrappers do): MMSAFE_FAULT_OPEN=NAME:RANK
 * (or NAME:*) makes loading model or judge NAME fail on that rank (any rank), to
 * test a run-level error that happens mid-run on one rank. */
int run_fault_open(const struct model_spec *ms, int rank)
{
    const char *fault = getenv("MMSAFE_FAULT_OPEN");
    char want[512], any[512];
    snprintf(want, sizeof want, "%s:%d", ms->name, rank);
    snprintf(any, sizeof any, "%s:*", ms->name);
    if (!fault || (strcmp(fault, want) && strcmp(fault, any))) return 0;
    err_set(RC_EIO, "%s '%s': cannot load it on rank %d: injected fault (MMSAFE_FAULT_OPEN)",
            ms->role == ROLE_JUDGE ? "judge" : "model", ms->name, rank);
    return 1;
}

int run_item_input(const struct item *it, int pixels, const struct image_limits *lim, struct image *img, struct eval_out *out)
{
    if (it->bad_utf8_at >= 0) {
        out->error = IE_PROMPT;
        snprintf(out->reason, sizeof out->reason, "prompt is not valid UTF-8 (byte %ld)", it->bad_utf8_at);
    } else if (pixels && !it->image) {
        out->error = IE_NO_IMAGE;
        snprintf(out->reason, sizeof out->reason, "the manifest has no image for this item");
    } else if (pixels && image_load(it->image, lim, img) != RC_OK) {
        out->error = access(it->image, F_OK) == 0 ? IE_IMAGE : IE_NO_IMAGE;
        snprintf(out->reason, sizeof out->reason, "%s", err_msg());
    }
    return out->error;
}

int run_kernels(struct comm *c, char **out)
{
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    char *mine = util_fmt("%s=%s", host, engine_cpu_path());
    int rc = mine ? comm_gather_unique(c, mine, out) : err_set(RC_ENOMEM, "out of memory");
    free(mine);
    return rc;
}

/* Identity of the files the selected models read (checkpoints, mmproj,
 * recorded responses): path, size and modification time.  Hashing
 * multi-GB checkpoints would cost minutes; size + mtime is what make trusts. */
static void inputs_of(struct run *r, char *what, size_t what_cap)
{
    static const char *const keys[] = { "model", "mmproj", "responses", NULL };
    struct buf b = { 0 };
    what[0] = 0;
    for (int i = 0; i < r->n_sel; i++) {
        const struct model_spec *m = &r->job.models[r->sel[i]];
        for (int k = 0; keys[k]; k++) {
            const struct opt *o = model_opt(m, keys[k]);
            if (!o || o->kind != OPT_STR) continue;
            char *p = util_join(r->job.dir, o->str);
            struct stat st;
            long long sz = -1, mt = -1;
            if (p && stat(p, &st) == 0) { sz = (long long)st.st_size; mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec; }
            buf_printf(&b, "%s%c%s%c%lld%c%lld%c", m->name, 0, keys[k], 0, sz, 0, mt, 0);
            if (strlen(what) + strlen(p ? p : "") + 4 < what_cap)
                snprintf(what + strlen(what), what_cap - strlen(what), "%s%s", what[0] ? ", " : "", p ? p : "?");
            free(p);
        }
    }
    uint8_t d[32];
    util_sha256(b.p ? b.p : "", b.n, d);
    util_hex(d, 32, r->inputs);
    buf_release(&b);
}

static void key_of(struct run *r)
{
    struct buf b = { 0 };
    buf_add(&b, r->job.text, strlen(r->job.text));
    for (int i = 0; i < r->n_sel; i++) buf_printf(&b, "%c%s", 0, r->job.models[r->sel[i]].name);
    buf_printf(&b, "%c%s", 0, r->inputs);
    uint8_t d[32];
    util_sha256(b.p, b.n, d);
    util_hex(d, 32, r->run_key);
    buf_release(&b);
}

static int select_models(struct run *r, const struct run_args *a)
{
    r->sel = malloc((size_t)r->job.n_models * sizeof *r->sel);
    if (!r->sel) return err_set(RC_ENOMEM, "out of memory");
    if (a->model) {
        int i = job_find_model(&r->job, a->model);
        if (i < 0) return err_set(RC_ECONFIG, "%s: no model named '%s' in the job", r->job.path, a->model);
        r->sel[r->n_sel++] = i;
    } else if (a->model_index >= 0) {
        if (a->model_index >= r->job.n_models)
            return err_set(RC_ECONFIG, "%s: --model-index %d but the job has %d model(s)", r->job.path, a->model_index, r->job.n_models);
        r->sel[r->n_sel++] = a->model_index;
    } else {
        for (int i = 0; i < r->job.n_models; i++) r->sel[r->n_sel++] = i;
    }
    return RC_OK;
}

/* --- rank 0: resume ------------------------------------------------------- */

struct replay_ctx { struct run *r; size_t n_new; };

static void on_record(void *arg, int m, uint32_t item, const struct row *row)
{
    struct replay_ctx *x = arg;
    struct run *r = x->r;
    if (m < 0 || m >= r->n_sel || item >= r->man.n || row->verdict < V_SAFE || row->verdict > V_ERROR) return;
    if (r->verdict[m][item] == V_PENDING) x->n_new++;
    r->verdict[m][item] = row->verdict;
    r->textv[m][item] = row->ext ? row->text_verdict : -1;
    r->score[m][item] = row->p_unsafe;
    struct row *dst = &r->recovered[m][item];
    free(r->rec_text[m][2 * item]);
    free(r->rec_text[m][2 * item + 1]);
    *dst = *row;
    dst->rank = row->rank;
    r->rec_text[m][2 * item] = util_strdup(row->response ? row->response : "");
    r->rec_text[m][2 * item + 1] = util_strdup(row->reason ? row->reason : "");
    dst->response = r->rec_text[m][2 * item];
    dst->reason = r->rec_text[m][2 * item + 1];
}

static int mkdirs_for(const char *file)
{
    char *d = util_dirname(file);
    for (char *p = d + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(d, 0777); *p = '/'; }
    int rc = (mkdir(d, 0777) == 0 || errno == EEXIST) ? RC_OK
             : err_set(RC_EIO, "cannot create folder '%s' for the results: %s", d, strerror(errno));
    free(d);
    return rc;
}

static int prepare_resume(struct run *r, const struct run_args *a)
{
    size_t n = r->man.n;
    r->verdict = calloc((size_t)r->n_sel, sizeof *r->verdict);
    r->textv = calloc((size_t)r->n_sel, sizeof *r->textv);
    r->score = calloc((size_t)r->n_sel, sizeof *r->score);
    r->recovered = calloc((size_t)r->n_sel, sizeof *r->recovered);
    r->rec_text = calloc((size_t)r->n_sel, sizeof *r->rec_text);
    if (!r->verdict || !r->textv || !r->score || !r->recovered || !r->rec_text) return err_set(RC_ENOMEM, "out of memory");
    for (int m = 0; m < r->n_sel; m++) {
        r->verdict[m] = malloc(n);
        r->textv[m] = malloc(n + 1);
        if (!r->textv[m]) return err_set(RC_ENOMEM, "out of memory");
        memset(r->textv[m], -1, n + 1);
        r->score[m] = malloc(n * sizeof(float));
        r->recovered[m] = calloc(n, sizeof(struct row));
        r->rec_text[m] = calloc(2 * n, sizeof(char *));
        if (!r->verdict[m] || !r->score[m] || !r->recovered[m] || !r->rec_text[m]) return err_set(RC_ENOMEM, "out of memory");
        memset(r->verdict[m], V_PENDING, n);
        for (size_t i = 0; i < n; i++) r->score[m][i] = NAN;
    }
    int rc = mkdirs_for(r->output);
    if (rc) return rc;
    if (a->fresh) {
        if (unlink(r->output) != 0 && errno != ENOENT)
            return err_set(RC_EIO, "cannot remove '%s': %s", r->output, strerror(errno));
        if ((rc = journal_remove_all(r->jdir))) return rc;
        r->create = 1;
        return RC_OK;
    }
    r->create = 1;
    if (access(r->output, F_OK) == 0) {
        struct results old;
        if (results_read(r->output, 0, &old) != RC_OK) {
            char stamp[32];
            util_iso8601(stamp);
            char *bad = util_fmt("%s.damaged-%s", r->output, stamp);
            log_warn("%s; moved it to '%s' and rebuilding it from the journals in '%s'", err_msg(), bad, r->jdir);
            if (rename(r->output, bad) != 0) { free(bad); return err_set(RC_EIO, "cannot move damaged '%s' aside", r->output); }
            free(bad);
        } else {
            rc = RC_OK;
            if (!old.manifest_sha256 || strcmp(old.manifest_sha256, r->man.sha256))
                rc = err_set(RC_ECONFIG, "'%s' holds results for another manifest (sha256 %.12s..., now %.12s... from %s); "
                             "use --fresh to start over or another \"output\"", r->output,
                             old.manifest_sha256 ? old.manifest_sha256 : "?", r->man.sha256, r->man.path);
            else if (!old.job || strcmp(old.job, r->job.text))
                rc = err_set(RC_ECONFIG, "'%s' was written by a different job text than %s (the job changed since); "
                             "use --fresh to start over or another \"output\"", r->output, r->job.path);
            else if (old.inputs_sha256 && strcmp(old.inputs_sha256, r->inputs))
                rc = err_set(RC_ECONFIG, "the files the job's models read (%s) changed since '%s' was written "
                             "(size or modification time); use --fresh to evaluate them, or another \"output\"",
                             r->inputs_what, r->output);
            else if (old.n != n || old.n_models != r->n_sel)
                rc = err_set(RC_ECONFIG, "'%s' holds %d model(s) but this run selects %d; use --output for a per-model run, or --fresh",
                             r->output, old.n_models, r->n_sel);
            for (int m = 0; !rc && m < r->n_sel; m++) {
                const char *want = r->job.models[r->sel[m]].name;
                if (strcmp(old.models[m].name, want)) {
                    rc = err_set(RC_ECONFIG, "'%s' holds model '%s' where this run has '%s'; use --fresh or another --output",
                                 r->output, old.models[m].name, want);
                    break;
                }
                memcpy(r->verdict[m], old.models[m].verdict, n);
                memcpy(r->textv[m], old.models[m].text_verdict, n);
                memcpy(r->score[m], old.models[m].p_unsafe, n * sizeof(float));
            }
            results_release(&old);
            if (rc) return rc;
            r->create = 0;
        }
    }
    /* Fold the journals: records whose rows never reached the file. */
    struct replay_ctx x = { r, 0 };
    size_t nrec = 0;
    int8_t **in_file = malloc((size_t)r->n_sel * sizeof *in_file);
    for (int m = 0; m < r->n_sel; m++) { in_file[m] = malloc(n); memcpy(in_file[m], r->verdict[m], n); }
    rc = journal_replay(r->jdir, r->man.sha256, r->run_key, on_record, &x, &nrec);
    size_t folded = 0;
    for (int m = 0; m < r->n_sel; m++) {
        for (size_t i = 0; i < n; i++)
            if (in_file[m][i] != V_PENDING || !r->rec_text[m][2 * i]) r->recovered[m][i].response = NULL;
            else folded++;
        free(in_file[m]);
    }
    free(in_file);
    if (!rc && folded) log_info("folded %zu result(s) from the journals in '%s' into the results file", folded, r->jdir);
    return rc;
}

/* --- progress ------------------------------------------------------------- */

static void tick(void *arg)
{
    struct run *r = arg;
    double now = util_now();
    size_t done = wq_done(r->c);
    int final = done >= r->total_work;
    if (!r->tty && !final && now - r->last_print < r->job.progress_every) return;
    if (!r->tty && final && r->last_print < 0) return;
    double el = now - r->t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(r->total_work - done) / rate : 0;
    fprintf(stderr, "%smmsafe: progress: %zu/%zu items (%.1f%%), %.1f items/s, elapsed %.0fs, ETA %.0fs%s",
            r->tty ? "\r" : "", done, r->total_work, r->total_work ? 100.0 * (double)done / (double)r->total_work : 100.0,
            rate, el, eta, r->tty ? "   " : "\n");
    fflush(stderr);
    r->last_print = final && !r->tty ? -1 : now;
}

/* Reuse: a model that reads images gets the items of one image consecutively
 * (sched_group), so the rank that evaluates them encodes the image once and
 * keeps the prompt prefix they share. */
static int group_items(struct run *r, struct sched *s)
{
    int any = 0;
    for (int m = 0; m < r->n_sel; m++) {
        const struct backend_ops *ops = backend_find(r->job.models[r->sel[m]].backend);
        any |= ops && ops->needs_pixels;
    }
    if (!r->job.reuse || !any || !r->man.n) return RC_OK;
    double t = util_now();
    size_t ng = 0, bytes = 0;
    uint32_t *gid = malloc(r->man.n * sizeof *gid);
    int rc = gid ? image_groups(&r->man, gid, &ng, &bytes) : err_set(RC_ENOMEM, "out of memory");
    for (int m = 0; !rc && m < r->n_sel; m++) {
        const struct backend_ops *ops = backend_find(r->job.models[r->sel[m]].backend);
        if (ops && ops->needs_pixels) rc = sched_group(s, m, gid);
    }
    free(gid);
    if (!rc)
        log_info("reuse: %zu items, %zu distinct images or items without one (%.1f MB of image files hashed in %.2f s); "
                 "the items of an image go to one rank in turn", r->man.n, ng, (double)bytes / 1e6, util_now() - t);
    return rc;
}

/* --- evaluation ------------------------------------------------------------ */

struct worker {
    struct run *r;
    const struct backend_ops *ops;
    void *ctx;
    int model;                 /* slot in r->sel, -1 none */
    struct image_limits lim;
    struct journal *jn;
    struct store *st;
    /* per model local results for the stats reduction */
    struct counts **counts;    /* [n_sel][groups] */
    int64_t *text;             /* [n_sel][2]: text-vs-logit items, agreeing */
    float **score;             /* [n_sel][n], -inf = none */
    /* row buffer */
    struct row *rows;
    uint32_t *idx;
    char **texts;              /* owned copies of response/reason per buffered row */
    int n_rows;
    double last_flush;
    char fatal_msg[2048];      /* the first run-level error here, reported once by rank 0 */
};

/* The file takes rows in ascending item order; grouped chunks are not ascending. */
static void sort_rows(struct worker *w)
{
    for (int i = 1; i < w->n_rows; i++)
        for (int j = i; j > 0 && w->idx[j] < w->idx[j - 1]; j--) {
            uint32_t ti = w->idx[j]; w->idx[j] = w->idx[j - 1]; w->idx[j - 1] = ti;
            struct row tr = w->rows[j]; w->rows[j] = w->rows[j - 1]; w->rows[j - 1] = tr;
            for (int k = 0; k < 2; k++) { char *tt = w->texts[2 * j + k]; w->texts[2 * j + k] = w->texts[2 * j - 2 + k]; w->texts[2 * j - 2 + k] = tt; }
        }
}

static int flush_rows(struct worker *w)
{
    if (!w->n_rows) return RC_OK;
    sort_rows(w);
    int rc = journal_sync(w->jn);
    if (!rc) {
        comm_mpi_enter(w->r->c);
        rc = store_write_rows(w->st, w->model, (size_t)w->n_rows, w->idx, w->rows);
        comm_mpi_leave(w->r->c);
    }
    for (int i = 0; i < 2 * w->n_rows; i++) { free(w->texts[i]); w->texts[i] = NULL; }
    w->n_rows = 0;
    w->last_flush = util_now();
    return rc;
}

static void eval_item(struct worker *w, uint32_t i, struct row *row, char **resp_out, char **reason_out)
{
    struct run *r = w->r;
    const struct item *it = &r->man.items[i];
    struct eval_out out = { .text = NULL, .verdict = V_PENDING, .p_unsafe = NAN, .error = IE_NONE };
    int pixels = w->ops->needs_pixels || (w->ops->wants_pixels && w->ops->wants_pixels(w->ctx));
    struct image img = { 0 };
    double t = util_now();
    if (!run_item_input(it, pixels, &w->lim, &img, &out)) {
        /* the text the model sees: the benchmark's rendering of the item, or its prompt */
        struct item view = *it;
        char *prompt = r->bench->prompt ? r->bench->prompt(&r->job, it) : NULL;
        if (prompt) view.prompt = prompt;
        int rc = r->bench->prompt && !prompt ? err_set(RC_ENOMEM, "out of memory")
                                             : w->ops->eval(w->ctx, i, &view, pixels ? &img : NULL, &out);
        free(prompt);
        if (rc != RC_OK && out.error == IE_NONE) {
            out.error = IE_BACKEND;
            snprintf(out.reason, sizeof out.reason, "%s", err_msg());
        }
    }
    image_release(&img);
    const char *text = out.text ? out.text : "";
    size_t full = strlen(text), width = (size_t)r->job.response_width;
    memset(row, 0, sizeof *row);
    row->error = out.error;
    row->p_unsafe = out.p_unsafe;
    row->rank = (int16_t)r->rank;
    row->response_len = (uint32_t)full;
    row->truncated = full > width;
    row->text_verdict = -1;
    if (out.error != IE_NONE) row->verdict = V_ERROR;
    else if (out.verdict != V_PENDING) row->verdict = out.verdict;
    else row->verdict = r->bench->verdict(r->job.parser, text, it->label);
    if (out.error == IE_NONE && out.generated && out.verdict != V_PENDING) {
        /* a generated answer beside the logit verdict: its own verdict, for their agreement */
        row->text_verdict = r->bench->verdict(r->job.parser, text, it->label);
        row->ext = 1;
    }
    *resp_out = util_strndup(text, full > width ? width : full);
    *reason_out = util_strdup(out.reason);
    row->response = *resp_out;
    row->reason = *reason_out;
    row->latency_ms = (float)((util_now() - t) * 1000.0);
    if (out.error != IE_NONE)
        log_warn("item '%s' (model %s): %s", it->id, r->job.models[r->sel[w->model]].name, out.reason);
}

static int switch_model(struct worker *w, int m)
{
    struct run *r = w->r;
    if (w->ctx) { flush_rows(w); w->ops->close(w->ctx); w->ctx = NULL; }
    w->model = m;
    const struct model_spec *ms = &r->job.models[r->sel[m]];
    w->ops = backend_find(ms->backend);
    if (!w->ops) return RC_ECONFIG;
    if (run_fault_open(ms, r->rank)) return RC_EIO;
    int rc = w->ops->open(&w->ctx, ms, &r->job, &r->man);
    if (rc) err_prefix("model '%s'", ms->name);
    return rc;
}

static int work(struct worker *w)
{
    struct run *r = w->r;
    uint32_t idx[SCHED_MAX_CHUNK * 4];
    int n_done = 0, flags = 0, fatal = RC_OK, model;
    double t_chunk = util_now(), ms = 0;
    for (;;) {
        if (g_stop) flags |= WQ_DRAIN;
        if (n_done) ms = (util_now() - t_chunk) * 1000.0 / n_done;
        int n = wq_next(r->c, n_done, ms, flags, &model, idx, SCHED_MAX_CHUNK * 4);
        t_chunk = util_now();
        n_done = 0;
        if (n == 0) break;
        if (model != w->model || !w->ctx) {
            int rc = switch_model(w, model);
            if (rc) {
                fatal = rc;
                snprintf(w->fatal_msg, sizeof w->fatal_msg, "%s", err_msg());
                flags |= WQ_FATAL;      /* rank 0 stops handing out work; every rank winds down */
                continue;
            }
        }
        for (int k = 0; k < n && !g_stop; k++) {
            struct row *row = &w->rows[w->n_rows];
            eval_item(w, idx[k], row, &w->texts[2 * w->n_rows], &w->texts[2 * w->n_rows + 1]);
            int rc = journal_append(w->jn, model, idx[k], row);
            if (rc) { fatal = rc; flags |= WQ_FATAL; snprintf(w->fatal_msg, sizeof w->fatal_msg, "%s", err_msg()); break; }
            w->idx[w->n_rows++] = idx[k];
            const struct item *it = &r->man.items[idx[k]];
            stats_add(w->counts[model], r->man.n_subsets, it->label, row->verdict, it->subset, it->scenario);
            stats_text_add(&w->text[2 * model], &w->text[2 * model + 1], row->verdict, row->ext ? row->text_verdict : -1);
            w->score[model][idx[k]] = isfinite(row->p_unsafe) && row->verdict != V_ERROR ? row->p_unsafe : -INFINITY;
            n_done++;
            /* Slow items: write each row as it comes; fast ones: one write per chunk. */
            if (util_now() - w->last_flush > 1.0 && (rc = flush_rows(w))) {
                fatal = rc; flags |= WQ_FATAL; snprintf(w->fatal_msg, sizeof w->fatal_msg, "%s", err_msg()); break;
            }
        }
        int rc = flush_rows(w);
        if (rc && !fatal) { fatal = rc; flags |= WQ_FATAL; snprintf(w->fatal_msg, sizeof w->fatal_msg, "%s", err_msg()); }
    }
    if (w->ctx) { w->ops->close(w->ctx); w->ctx = NULL; }
    return fatal;
}

/* === the command =========================================================== */

static void run_release(struct run *r)
{
    for (int m = 0; m < r->n_sel; m++) {
        if (r->verdict) free(r->verdict[m]);
        if (r->textv) free(r->textv[m]);
        if (r->score) free(r->score[m]);
        if (r->recovered) free(r->recovered[m]);
        if (r->rec_text && r->rec_text[m]) {
            for (size_t i = 0; i < 2 * r->man.n; i++) free(r->rec_text[m][i]);
            free(r->rec_text[m]);
        }
        if (r->settings) free(r->settings[m]);
    }
    free(r->settings);
    for (int j = 0; r->judge_settings && j < r->job.n_judges; j++) free(r->judge_settings[j]);
    free(r->judge_settings);
    free(r->verdict); free(r->textv); free(r->score); free(r->recovered); free(r->rec_text);
    free(r->sel); free(r->output); free(r->jdir);
    job_release(&r->job);
    manifest_release(&r->man);
}

/* Rank 0: everything that can fail before any file is touched. */
static int preflight(struct run *r, const struct run_args *a, char **man_bytes, size_t *man_len)
{
    int rc = job_load(a->job, &r->job);
    if (!rc) rc = util_read_file(r->job.manifest, man_bytes, man_len);
    if (!rc) rc = manifest_parse(r->job.manifest, *man_bytes, *man_len, &r->man);
    if (!rc && !(r->bench = benchmark_find_runnable(r->job.benchmark))) { err_prefix("%s", r->job.path); rc = RC_ECONFIG; }
    if (!rc && !r->bench->judged && r->job.has_jury_keys)
        rc = err_set(RC_ECONFIG, "%s: judges, max_new_tokens, generation_wrapper, judge_prompt, deliberation_prompt, rounds "
                     "and tie are for judged benchmarks (safebench, safebench-mini), not %s", r->job.path, r->bench->name);
    if (!rc) rc = select_models(r, a);
    if (!rc && !(r->settings = calloc((size_t)r->n_sel, sizeof *r->settings))) rc = err_set(RC_ENOMEM, "out of memory");
    if (!rc && !(r->judge_settings = calloc((size_t)r->job.n_judges + 1, sizeof *r->judge_settings))) rc = err_set(RC_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < r->n_sel + r->job.n_judges; i++) {
        const struct model_spec *m = i < r->n_sel ? &r->job.models[r->sel[i]] : &r->job.judges[i - r->n_sel];
        const struct backend_ops *ops = backend_find(m->backend);
        if (!ops) { err_prefix("%s: %s '%s'", r->job.path, m->role == ROLE_JUDGE ? "judge" : "model", m->name); rc = RC_ECONFIG; break; }
        if (r->bench->judged && !ops->generate) {
            rc = err_set(RC_ECONFIG, "%s: '%s': backend %s cannot generate answers or judge texts", r->job.path, m->name, ops->name);
            break;
        }
        char settings[4096];
        rc = ops->check(m, &r->job, &r->man, settings, sizeof settings);
        if (!rc) {
            if (i < r->n_sel) r->settings[i] = util_strdup(settings);
            else r->judge_settings[i - r->n_sel] = util_strdup(settings);
        }
    }
    if (rc) return rc;
    if (!r->bench->judged && (rc = benchmark_check_parser(r->bench, r->job.parser, r->job.path))) return rc;
    r->output = util_strdup(a->output ? a->output : r->job.output);
    r->jdir = util_fmt("%s.journal", r->output);
    inputs_of(r, r->inputs_what, sizeof r->inputs_what);
    key_of(r);
    if (r->man.n_no_image)
        log_warn("%s: %d item(s) have no image", r->man.path, r->man.n_no_image);
    if (r->man.n_no_image_key)
        log_warn("%s: %d line(s) have no \"image\" key (the first: line %d); they are taken as items without "
                 "an image and will be errors for a vision model (write \"image\": null to say so)",
                 r->man.path, r->man.n_no_image_key, r->man.first_no_image_key);
    if (r->bench->judged) {
        if ((rc = mkdirs_for(r->output))) return rc;
        if (a->fresh) {
            if (unlink(r->output) != 0 && errno != ENOENT)
                return err_set(RC_EIO, "cannot remove '%s': %s", r->output, strerror(errno));
            if ((rc = journal_remove_all(r->jdir))) return rc;
        }
        return jury_preflight(r);
    }
    return prepare_resume(r, a);
}

int cmd_run(int argc, char **argv)
{
    struct run_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        if (prc < 0) return EXIT_OK;
        return env_rank() == 0 ? prc : EXIT_USAGE;
    }
    /* Before MPI start-up, which can take seconds: a time-limit warning that
     * arrives early must drain the run, not kill it. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct run r = { 0 };
    int rc = comm_init(&argc, &argv, &r.c);
    if (rc) { log_error("%s", err_msg()); return EXIT_ERR; }
    r.rank = comm_rank(r.c);
    r.size = comm_size(r.c);
    log_set_rank(r.rank, r.size);

    char started[32];
    util_iso8601(started);
    char *man_bytes = NULL, *job_text = NULL, *hdr = NULL;
    size_t man_len = 0, job_len = 0, hdr_len = 0;
    if (r.rank == 0) {
        rc = preflight(&r, &a, &man_bytes, &man_len);
        if (!rc) {
            job_text = r.job.text;
            job_len = strlen(job_text);
            struct buf b = { 0 };
            buf_printf(&b, "%s %d %d %s", r.inputs, r.create, r.n_sel, r.output);
            for (int i = 0; i < r.n_sel; i++) buf_printf(&b, "%c%d", 0, r.sel[i]);
            for (int i = 0; i < r.n_sel; i++) buf_printf(&b, "%c%s", 0, r.settings[i]);
            for (int i = 0; i < r.job.n_judges; i++) buf_printf(&b, "%c%s", 0, r.judge_settings[i]);
            hdr = b.p;
            hdr_len = b.n;
        }
    }
    rc = comm_agree(r.c, rc);
    if (rc) {
        if (r.rank == 0) log_error("%s", err_msg());
        goto out;
    }
    /* Everyone gets the same job and manifest bytes as rank 0 validated. */
    if ((rc = comm_bcast_bytes(r.c, &job_text, &job_len, 0)) || (rc = comm_bcast_bytes(r.c, &man_bytes, &man_len, 0)) ||
        (rc = comm_bcast_bytes(r.c, &hdr, &hdr_len, 0))) {
        log_error("%s", err_msg());
        comm_abort(r.c, EXIT_ERR);
    }
    if (r.rank != 0) {
        char *jp = util_strdup(a.job);
        rc = job_parse(jp, job_text, &r.job);
        free(jp);
        if (!rc) rc = manifest_parse(r.job.manifest, man_bytes, man_len, &r.man);
        if (!rc && !(r.bench = benchmark_find_runnable(r.job.benchmark))) rc = RC_ECONFIG;   /* rank 0 checked it */
        if (!rc) {
            int off = 0;
            char outp[4096];
            sscanf(hdr, "%64s %d %d %n", r.inputs, &r.create, &r.n_sel, &off);
            snprintf(outp, sizeof outp, "%s", hdr + off);
            r.output = util_strdup(outp);
            r.jdir = util_fmt("%s.journal", r.output);
            r.sel = malloc((size_t)r.n_sel * sizeof *r.sel);
            const char *p = hdr + strlen(hdr) + 1;
            for (int i = 0; i < r.n_sel; i++) { r.sel[i] = atoi(p); p += strlen(p) + 1; }
            r.settings = calloc((size_t)r.n_sel, sizeof *r.settings);
            for (int i = 0; r.settings && i < r.n_sel; i++) { r.settings[i] = util_strdup(p); p += strlen(p) + 1; }
            r.judge_settings = calloc((size_t)r.job.n_judges + 1, sizeof *r.judge_settings);
            for (int i = 0; r.judge_settings && i < r.job.n_judges; i++) { r.judge_settings[i] = util_strdup(p); p += strlen(p) + 1; }
            if (!r.settings || !r.judge_settings) rc = err_set(RC_ENOMEM, "out of memory");
            key_of(&r);
        }
        free(job_text);
    }
    free(hdr);
    rc = comm_agree(r.c, rc);
    if (rc) { if (r.rank == 0) log_error("%s", err_msg()); goto out; }
    if (r.bench->judged) {   /* answers and a jury: jury_run.c */
        rc = jury_run(&r, started);
        goto out;
    }

    /* Open (or create) the shared results file: collective. */
    struct store *st = NULL;
    char **names = malloc((size_t)r.n_sel * sizeof *names), **backs = malloc((size_t)r.n_sel * sizeof *backs),
         **json = malloc((size_t)r.n_sel * sizeof *json);
    for (int i = 0; i < r.n_sel; i++) {
        names[i] = r.job.models[r.sel[i]].name;
        backs[i] = r.job.models[r.sel[i]].backend;
        json[i] = r.job.models[r.sel[i]].json;
    }
    size_t n = r.man.n;
    int8_t *labels = malloc(n);
    int *sub = malloc(n * sizeof(int)), *scen = malloc(n * sizeof(int));
    char **ids = malloc(n * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        labels[i] = r.man.items[i].label; sub[i] = r.man.items[i].subset;
        scen[i] = r.man.items[i].scenario; ids[i] = r.man.items[i].id;
    }
    if (r.create) {
        struct store_layout lay = {
            .n_items = n, .ids = ids, .labels = labels, .subset = sub, .scenario = scen,
            .n_subsets = r.man.n_subsets, .n_scenarios = r.man.n_scenarios,
            .subsets = r.man.subsets, .scenarios = r.man.scenarios,
            .n_models = r.n_sel, .model_names = names, .backends = backs, .model_json = json, .settings = r.settings,
            .parser = r.job.parser, .benchmark = r.bench->name, .response_width = r.job.response_width,
            .job_text = r.job.text, .job_path = r.job.path, .manifest_path = r.man.path,
            .manifest_sha256 = r.man.sha256, .inputs_sha256 = r.inputs,
        };
        rc = store_create(&st, r.output, r.c, &lay);
    } else {
        rc = store_open(&st, r.output, r.c, r.n_sel, names);
    }
    rc = comm_agree(r.c, rc);
    if (rc) { if (r.rank == 0) log_error("%s", err_msg()); store_close(st); goto out_free; }

    /* Rank 0: rows recovered from journals go in first; then the work list. */
    uint32_t **pending = NULL;
    size_t *n_pending = NULL;
    int lrc = RC_OK;
    if (r.rank == 0) {
        pending = calloc((size_t)r.n_sel, sizeof *pending);
        n_pending = calloc((size_t)r.n_sel, sizeof *n_pending);
        uint32_t *ix = malloc(n * sizeof *ix);
        struct row *rows = malloc(n * sizeof *rows);
        for (int m = 0; m < r.n_sel && !lrc; m++) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (r.recovered[m][i].response) { ix[k] = (uint32_t)i; rows[k++] = r.recovered[m][i]; }
            lrc = store_write_rows(st, m, k, ix, rows);
            pending[m] = malloc(n * sizeof **pending + 4);
            for (size_t i = 0; i < n; i++)
                if (r.verdict[m][i] == V_PENDING) pending[m][n_pending[m]++] = (uint32_t)i;
            r.total_work += n_pending[m];
        }
        free(ix);
        free(rows);
        if (!lrc && r.total_work < (size_t)r.n_sel * n)
            log_info("resuming: %zu of %zu (model, item) pairs already have a verdict", (size_t)r.n_sel * n - r.total_work,
                     (size_t)r.n_sel * n);
    }
    struct journal *jn = NULL;
    if (!lrc) lrc = journal_open(&jn, r.jdir, r.rank, r.man.sha256, r.run_key);
    char *hosts = NULL;
    rc = comm_agree(r.c, lrc);
    if (!rc) rc = comm_hosts(r.c, &hosts);
    char *kernels = NULL;
    if (!rc) rc = run_kernels(r.c, &kernels);
    struct sched sched = { 0 };
    if (!rc && r.rank == 0) {
        rc = sched_init(&sched, r.n_sel, r.size, r.job.chunk, pending, n_pending);
        pending = NULL; n_pending = NULL;
        if (!rc) rc = group_items(&r, &sched);
    }
    free(pending); free(n_pending);
    rc = comm_agree(r.c, rc);
    if (rc) { if (r.rank == 0) log_error("%s", err_msg()); journal_close(jn); store_close(st); free(hosts); free(kernels); goto out_free; }

    /* Work. */
    struct worker w = { .r = &r, .model = -1, .jn = jn, .st = st };
    w.lim.max_pixels = r.job.max_image_pixels;
    int ng = stats_n_groups(r.man.n_subsets, r.man.n_scenarios);
    w.counts = calloc((size_t)r.n_sel, sizeof *w.counts);
    w.text = calloc(2 * (size_t)r.n_sel + 2, sizeof *w.text);
    w.score = calloc((size_t)r.n_sel, sizeof *w.score);
    for (int m = 0; m < r.n_sel; m++) {
        w.counts[m] = calloc((size_t)ng, sizeof(struct counts));
        w.score[m] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) w.score[m][i] = -INFINITY;
    }
    w.rows = calloc(SCHED_MAX_CHUNK * 4, sizeof *w.rows);
    w.idx = calloc(SCHED_MAX_CHUNK * 4, sizeof *w.idx);
    w.texts = calloc(SCHED_MAX_CHUNK * 8, sizeof *w.texts);
    w.last_flush = util_now();
    r.t0 = util_now();
    r.last_print = r.t0;
    r.tty = isatty(2);
    wq_start(r.c, r.rank == 0 ? &sched : NULL, tick, &r);
    int fatal = RC_OK;
    if (r.rank != 0 || wq_rank0_works(r.c)) fatal = work(&w);
    wq_finish(r.c);
    journal_close(jn);
    if (r.rank == 0 && r.tty) fputc('\n', stderr);

    /* Rank 0 contributes what earlier runs finished; then one reduction. */
    if (r.rank == 0)
        for (int m = 0; m < r.n_sel; m++)
            for (size_t i = 0; i < n; i++)
                if (r.verdict[m][i] != V_PENDING) {
                    const struct item *it = &r.man.items[i];
                    stats_add(w.counts[m], r.man.n_subsets, it->label, r.verdict[m][i], it->subset, it->scenario);
                    stats_text_add(&w.text[2 * m], &w.text[2 * m + 1], r.verdict[m][i], r.textv[m][i]);
                    w.score[m][i] = isfinite(r.score[m][i]) && r.verdict[m][i] != V_ERROR ? r.score[m][i] : -INFINITY;
                }
    struct report rep = { .n_models = r.n_sel, .n_subsets = r.man.n_subsets, .n_scenarios = r.man.n_scenarios,
                          .subsets = r.man.subsets, .scenarios = r.man.scenarios };
    rep.models = calloc((size_t)r.n_sel, sizeof *rep.models);
    int64_t pend_total = 0;
    int8_t *vdummy = malloc(n);
    for (int m = 0; m < r.n_sel; m++) {
        comm_allreduce_sum_i64(r.c, (int64_t *)w.counts[m], (size_t)ng * COUNTS_FIELDS);
        comm_allreduce_sum_i64(r.c, &w.text[2 * m], 2);
        comm_allreduce_max_f32(r.c, w.score[m], n);
        /* pending = group size - final */
        struct counts *g = w.counts[m];
        int64_t *size_g = calloc((size_t)ng, sizeof *size_g);
        for (size_t i = 0; i < n; i++) {
            const struct item *it = &r.man.items[i];
            size_g[0]++;
            if (it->subset >= 0) size_g[1 + it->subset]++;
            if (it->scenario >= 0) size_g[1 + r.man.n_subsets + it->scenario]++;
            if (!isfinite(w.score[m][i])) w.score[m][i] = NAN;
            vdummy[i] = V_SAFE;   /* scores of errors/pending are already NaN */
        }
        for (int k = 0; k < ng; k++) g[k].pending = size_g[k] - g[k].n;
        free(size_g);
        pend_total += g[0].pending;
        stats_model_report(&rep.models[m], names[m], r.job.parser, g, r.man.n_subsets, r.man.n_scenarios,
                           (int64_t)n, labels, vdummy, w.score[m], sub, scen);
        r.bench->summarize(&rep.models[m], r.man.n_subsets);
        rep.models[m].text_n = w.text[2 * m];
        rep.models[m].text_agree = w.text[2 * m + 1];
        int src = store_write_stats(st, m, &rep.models[m], &rep);
        if (src && !fatal) fatal = src;
    }
    free(vdummy);
    char finished[32];
    util_iso8601(finished);
    struct run_attrs ra = { r.size, hosts, started, finished, pend_total == 0, kernels };
    int arc = store_set_run_attrs(st, &ra);
    int crc = store_close(st);
    if (fatal && w.fatal_msg[0]) err_set(fatal, "%s", w.fatal_msg);   /* the work-phase error, not a later one */
    if (!fatal) fatal = arc ? arc : crc;
    rc = comm_agree(r.c, fatal);
    if (r.rank == 0) {
        r.bench->print_table(stdout, &rep);
        if (rc) log_error("%s", err_msg());
        else if (g_stop || pend_total)
            printf("incomplete: %lld (model, item) pair(s) pending%s; rerun the same command to resume\n",
                   (long long)pend_total, g_stop ? " (stopped by a signal)" : "");
        printf("results: %s\n", r.output);
        fflush(stdout);
    }
    for (int m = 0; m < r.n_sel; m++) { model_report_release(&rep.models[m]); free(w.counts[m]); free(w.score[m]); }
    free(rep.models); free(w.counts); free(w.text); free(w.score); free(w.rows); free(w.idx);
    for (int i = 0; i < SCHED_MAX_CHUNK * 8; i++) free(w.texts[i]);
    free(w.texts);
    free(hosts);
    free(kernels);
    if (r.rank == 0) sched_release(&sched);
out_free:
    free(names); free(backs); free(json); free(labels); free(sub); free(scen); free(ids);
out:
    free(man_bytes);
    run_release(&r);
    comm_finalize(r.c);
    return rc ? EXIT_ERR : EXIT_OK;
}
