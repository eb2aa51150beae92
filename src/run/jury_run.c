/*
 * jury_run.c - `mmsafe run` for judged benchmarks (SafeBench): every selected
 * model answers every item in full, then a jury of judge models votes on each
 * answer, round 0 alone and rounds 1..R in deliberation, and the consensus of
 * the last round is the item's verdict.  Every answer and every vote is a row
 * of a column of the results file (store.h); the consensus is recomputed from
 * the votes at the end of every run.
 *
 * Stages.  A run goes through stage 0 (answers: units (model, item)) and
 * stages 1..R+1 (round R-1's votes: units (judge, model, item)), each one a
 * pass of the work queue (sched.h: a judge is the queue's "model", so a rank
 * keeps its judge loaded across evaluated models; the unit's index is
 * model * n + item).  A vote is ready when its inputs exist: the answer (not
 * an error), and in deliberation every judge's vote of the round before.  At
 * the end of a stage every rank writes its rows (store_cols_flush: the ranks
 * agree on the text width first), the file is closed and every rank reads the
 * state back -- the texts the next stage's prompts need -- and reopens it.
 * Until then a row lives in the rank's journal, so kill -9 loses nothing
 * finished: the next run folds the journals in before its first stage.
 *
 * Identity.  Each column records a spec (what made it: the model or judge
 * JSON, the prompt files' sha256, the answer length, the jury for
 * deliberation).  A rerun of the same file with more judges (or more models)
 * adds their columns and reuses every stored answer and vote; a column whose
 * spec changed is refused, except deliberation rounds, which are derived from
 * the jury and recomputed when it changes.
 */
#include "backend.h"
#include "comm.h"
#include "err.h"
#include "image.h"
#include "judge_parse.h"
#include "json.h"
#include "jury.h"
#include "runner.h"
#include "safebench_report.h"
#include "sched.h"
#include "stats.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_JUDGE_MAX_NEW 512

/* One column of this job: an answer column per selected model, a vote column
 * per (round, judge, model), in that order (journal records name them by index). */
struct jcol {
    int kind, model, judge, round;   /* model: slot in r->sel; judge, round: -1 for answers */
    char *path, *spec;
};

/* Rows this rank produced in the current stage (or folded from journals). */
struct pend_row { uint32_t item; size_t seq; struct row row; char *text, *reason; };
struct pend { struct pend_row *v; size_t n, cap; };

struct jr {
    struct run *r;
    int M, J, R;                 /* models, judges, rounds after round 0 */
    size_t n;
    struct jcol *cols;
    int n_cols;
    struct col_data *state;      /* [n_cols] the file as of the last stage */
    struct pend *pend;           /* [n_cols] */
    char *wrap_before, *wrap_after;
    char **jprompt;              /* [J] judge prompt texts */
    size_t *jprompt_len;
    char *dhead, *dtail;
    size_t dhead_len, dtail_len;
    enum jury_tie tie;
    /* the loaded backend */
    const struct backend_ops *ops;
    void *ctx;
    int cur_kind, cur_index;     /* 0 model / 1 judge; -1 none */
    struct image_limits lim;
    struct journal *jn;
    struct store *st;
    char fatal_msg[2048];
    /* progress (rank 0) */
    size_t total_work;
    double t0, last_print;
    int tty, stage;
};

static int col_of_vote(const struct jr *x, int round, int judge, int model) { return x->M + (round * x->J + judge) * x->M + model; }

static char *file_sha(const char *path, char **text, size_t *len)
{
    char *t = NULL;
    size_t l = 0;
    if (util_read_file(path, &t, &l)) return NULL;
    uint8_t d[32];
    char hex[65];
    util_sha256(t, l, d);
    util_hex(d, 32, hex);
    if (text) { *text = t; *len = l; } else free(t);
    return util_strdup(hex);
}

static int judge_max_new(const struct model_spec *m)
{
    const struct opt *o = model_opt(m, "max_new_tokens");
    return o && o->kind == OPT_NUM && o->num >= 1 ? (int)o->num : DEFAULT_JUDGE_MAX_NEW;
}

/* === set-up (every rank) ================================================== */

static int load_texts(struct jr *x)
{
    struct job *j = &x->r->job;
    x->jprompt = calloc((size_t)x->J + 1, sizeof *x->jprompt);
    x->jprompt_len = calloc((size_t)x->J + 1, sizeof *x->jprompt_len);
    if (!x->jprompt || !x->jprompt_len) return err_set(RC_ENOMEM, "out of memory");
    for (int k = 0; k < x->J; k++) {
        const char *p = j->judges[k].prompt ? j->judges[k].prompt : j->judge_prompt;
        if (!p) return err_set(RC_ECONFIG, "%s: judge '%s' has no prompt: give the job a \"judge_prompt\" (SafeBench's "
                               "judge-prompt.txt) or the judge a \"prompt\"", j->path, j->judges[k].name);
        if (util_read_file(p, &x->jprompt[k], &x->jprompt_len[k]))
            return err_prefix("%s: judge '%s': the judge prompt", j->path, j->judges[k].name), RC_ECONFIG;
    }
    if (x->R > 0) {
        if (!j->delib_head)
            return err_set(RC_ECONFIG, "%s: %d deliberation round(s) need \"deliberation_prompt\": [HEAD, TAIL] (SafeBench's "
                           "deliberation-prompt-head.txt and -tail.txt), or \"rounds\": 0", j->path, x->R);
        if (util_read_file(j->delib_head, &x->dhead, &x->dhead_len) || util_read_file(j->delib_tail, &x->dtail, &x->dtail_len))
            return err_prefix("%s: \"deliberation_prompt\"", j->path), RC_ECONFIG;
    }
    if (j->gen_wrapper) {
        char *t = NULL;
        size_t l = 0;
        int rc = util_read_file(j->gen_wrapper, &t, &l);
        if (!rc) rc = json_wrapper_parse(j->gen_wrapper, t, &x->wrap_before, &x->wrap_after);
        free(t);
        if (rc) return err_prefix("%s: \"generation_wrapper\"", j->path), RC_ECONFIG;
    }
    if (jury_tie_from_name(j->tie, &x->tie)) return err_set(RC_ECONFIG, "%s: unknown \"tie\" '%s'", j->path, j->tie);
    return RC_OK;
}

/* The columns and their specs: the same on every rank (from the job text and
 * the files every rank reads). */
static int build_cols(struct jr *x)
{
    struct run *r = x->r;
    struct job *j = &r->job;
    x->n_cols = x->M + (x->R + 1) * x->J * x->M;
    x->cols = calloc((size_t)x->n_cols + 1, sizeof *x->cols);
    if (!x->cols) return err_set(RC_ENOMEM, "out of memory");
    char *wsha = j->gen_wrapper ? file_sha(j->gen_wrapper, NULL, NULL) : util_strdup("raw query");
    char *dsha = NULL;
    if (x->R > 0) {
        struct buf b = { 0 };
        buf_add(&b, x->dhead, x->dhead_len);
        buf_add(&b, "\0", 1);
        buf_add(&b, x->dtail, x->dtail_len);
        uint8_t d[32];
        char hex[65];
        util_sha256(b.p, b.n, d);
        util_hex(d, 32, hex);
        dsha = util_strdup(hex);
        buf_release(&b);
    }
    struct buf jury = { 0 };
    for (int k = 0; k < x->J; k++) buf_printf(&jury, "%s%s", k ? "," : "", j->judges[k].name);
    int rc = RC_OK;
    for (int m = 0; m < x->M; m++) {
        const struct model_spec *ms = &j->models[r->sel[m]];
        struct jcol *c = &x->cols[m];
        c->kind = COL_ANSWER; c->model = m; c->judge = -1; c->round = -1;
        c->path = util_fmt("/models/%s", ms->name);
        const char *kv[] = { "model", ms->json, "max_new_tokens", NULL, "generation_wrapper", wsha ? wsha : "?", NULL };
        char mx[32];
        snprintf(mx, sizeof mx, "%d", j->max_new_tokens);
        kv[3] = mx;
        c->spec = json_strings_object(kv);
    }
    for (int rd = 0; rd <= x->R; rd++)
        for (int k = 0; k < x->J; k++)
            for (int m = 0; m < x->M; m++) {
                const struct model_spec *js = &j->judges[k];
                struct jcol *c = &x->cols[col_of_vote(x, rd, k, m)];
                c->kind = COL_VOTE; c->model = m; c->judge = k; c->round = rd;
                c->path = util_fmt("/models/%s/judges/%s/round%d", j->models[r->sel[m]].name, js->name, rd);
                uint8_t d[32];
                char psha[65], mx[32];
                util_sha256(x->jprompt[k], x->jprompt_len[k], d);
                util_hex(d, 32, psha);
                snprintf(mx, sizeof mx, "%d", judge_max_new(js));
                const char *kv0[] = { "judge", js->json, "prompt", psha, "max_new_tokens", mx, NULL };
                const char *kvr[] = { "judge", js->json, "prompt", psha, "max_new_tokens", mx, "deliberation", dsha ? dsha : "",
                                      "jury", jury.p ? jury.p : "", NULL };
                c->spec = json_strings_object(rd == 0 ? kv0 : kvr);
            }
    for (int i = 0; i < x->n_cols; i++) if (!x->cols[i].path || !x->cols[i].spec) rc = err_set(RC_ENOMEM, "out of memory");
    free(wsha); free(dsha);
    buf_release(&jury);
    return rc;
}

static int open_cols(struct jr *x)
{
    struct run *r = x->r;
    struct store_col *sc = calloc((size_t)x->n_cols + 1, sizeof *sc);
    char ***attrs = calloc((size_t)x->n_cols + 1, sizeof *attrs);
    char (*rounds)[16] = calloc((size_t)x->n_cols + 1, sizeof *rounds);
    if (!sc || !attrs || !rounds) { free(sc); free(attrs); free(rounds); return err_set(RC_ENOMEM, "out of memory"); }
    for (int i = 0; i < x->n_cols; i++) {
        struct jcol *c = &x->cols[i];
        const struct model_spec *ms = c->kind == COL_ANSWER ? &r->job.models[r->sel[c->model]] : &r->job.judges[c->judge];
        const char *settings = c->kind == COL_ANSWER ? r->settings[c->model] : r->judge_settings[c->judge];
        snprintf(rounds[i], sizeof rounds[i], "%d", c->round);
        attrs[i] = calloc(13, sizeof(char *));
        if (!attrs[i]) continue;
        const char *kv[] = { "backend", ms->backend, "model_json", ms->json, "settings", settings ? settings : "",
                             "model", r->job.models[r->sel[c->model]].name, "judge", c->judge >= 0 ? ms->name : "",
                             "round", rounds[i] };
        for (int k = 0; k < 12; k++) attrs[i][k] = (char *)kv[k];
        sc[i] = (struct store_col){ c->path, c->kind, c->spec, c->round >= 1, (const char *const *)attrs[i] };
    }
    int rc = store_cols_open(x->st, x->n_cols, sc);
    for (int i = 0; i < x->n_cols; i++) free(attrs[i]);
    free(attrs); free(sc); free(rounds);
    return rc;
}

/* === the state, read back after each stage ================================= */

static void state_release(struct jr *x)
{
    for (int i = 0; x->state && i < x->n_cols; i++) col_data_release(&x->state[i]);
    free(x->state);
    x->state = NULL;
}

static int state_read(struct jr *x)
{
    state_release(x);
    x->state = calloc((size_t)x->n_cols + 1, sizeof *x->state);
    const char **paths = calloc((size_t)x->n_cols + 1, sizeof *paths);
    if (!x->state || !paths) { free(paths); return err_set(RC_ENOMEM, "out of memory"); }
    for (int i = 0; i < x->n_cols; i++) paths[i] = x->cols[i].path;
    int rc = store_cols_read(x->r->output, x->n, x->n_cols, paths, 1, x->state);
    free(paths);
    for (int i = 0; !rc && i < x->n_cols; i++)
        if (!x->state[i].exists) rc = err_set(RC_EFORMAT, "'%s' has no %s after it was written", x->r->output, x->cols[i].path);
    return rc;
}

/* Is the answer (m, i) there and not an error? */
static int answer_ok(const struct jr *x, int m, size_t i) { return x->state[m].status[i] == 0; }

/* Has every judge voted on (m, i) in round rd (any outcome)? */
static int round_done(const struct jr *x, int rd, int m, size_t i)
{
    for (int k = 0; k < x->J; k++)
        if (x->state[col_of_vote(x, rd, k, m)].status[i] < 0) return 0;
    return 1;
}

/* Rank 0: the units of stage s still to do, per queue slot (a model in stage
 * 0, a judge after); ownership passes to sched_init. */
static size_t stage_pending(const struct jr *x, int s, uint32_t ***out, size_t **n_out, int *n_slots)
{
    int slots = s == 0 ? x->M : x->J;
    uint32_t **p = calloc((size_t)slots + 1, sizeof *p);
    size_t *np = calloc((size_t)slots + 1, sizeof *np), total = 0;
    for (int q = 0; q < slots; q++) p[q] = malloc((s == 0 ? x->n : x->n * (size_t)x->M) * sizeof **p + 4);
    for (int q = 0; q < slots; q++)
        for (int m = 0; m < (s == 0 ? 1 : x->M); m++)
            for (size_t i = 0; i < x->n; i++) {
                if (s == 0) {
                    if (x->state[q].status[i] < 0) p[q][np[q]++] = (uint32_t)i;
                } else {
                    int rd = s - 1;
                    if (x->state[col_of_vote(x, rd, q, m)].status[i] < 0 && answer_ok(x, m, i) &&
                        (rd == 0 || round_done(x, rd - 1, m, i)))
                        p[q][np[q]++] = (uint32_t)((size_t)m * x->n + i);
                }
            }
    for (int q = 0; q < slots; q++) total += np[q];
    *out = p;
    *n_out = np;
    *n_slots = slots;
    return total;
}

/* === work ================================================================== */

static int pend_add(struct jr *x, int col, uint32_t item, const struct row *row)
{
    struct pend *p = &x->pend[col];
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        struct pend_row *v = realloc(p->v, cap * sizeof *v);
        if (!v) return err_set(RC_ENOMEM, "out of memory");
        p->v = v;
        p->cap = cap;
    }
    struct pend_row *e = &p->v[p->n];
    e->seq = p->n++;
    e->item = item;
    e->row = *row;
    e->text = util_strdup(row->response ? row->response : "");
    e->reason = util_strdup(row->reason ? row->reason : "");
    e->row.response = e->text;
    e->row.reason = e->reason;
    return e->text && e->reason ? RC_OK : err_set(RC_ENOMEM, "out of memory");
}

static int cmp_pend(const void *a, const void *b)
{
    const struct pend_row *x = a, *y = b;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;   /* qsort is not stable: the order they came in */
}

/* Collective: every column's rows of this rank into the file; later rows of
 * an item win (a journal record folded, then evaluated again). */
static int flush_all(struct jr *x)
{
    int rc = RC_OK;
    for (int c = 0; c < x->n_cols; c++) {
        struct pend *p = &x->pend[c];
        if (p->n) qsort(p->v, p->n, sizeof *p->v, cmp_pend);   /* equal items: the later one is kept below */
        size_t k = 0;
        for (size_t i = 0; i < p->n; i++) {
            if (k && p->v[k - 1].item == p->v[i].item) {
                free(p->v[k - 1].text); free(p->v[k - 1].reason);
                p->v[k - 1] = p->v[i];
            } else p->v[k++] = p->v[i];
        }
        p->n = k;
        uint32_t *idx = malloc((k ? k : 1) * sizeof *idx);
        struct row *rows = malloc((k ? k : 1) * sizeof *rows);
        if (!idx || !rows) rc = err_set(RC_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < k; i++) { idx[i] = p->v[i].item; rows[i] = p->v[i].row; }
        int frc = store_cols_flush(x->st, c, rc ? 0 : k, idx, rows);
        if (!rc) rc = frc;
        free(idx); free(rows);
        for (size_t i = 0; i < p->n; i++) { free(p->v[i].text); free(p->v[i].reason); }
        p->n = 0;
    }
    return rc;
}

static int switch_to(struct jr *x, int kind, int index)
{
    struct run *r = x->r;
    if (x->ctx) { x->ops->close(x->ctx); x->ctx = NULL; }
    x->cur_kind = kind;
    x->cur_index = index;
    const struct model_spec *ms = kind == 0 ? &r->job.models[r->sel[index]] : &r->job.judges[index];
    x->ops = backend_find(ms->backend);
    if (!x->ops) return RC_ECONFIG;
    if (run_fault_open(ms, r->rank)) return RC_EIO;
    int rc = x->ops->open(&x->ctx, ms, &r->job, &r->man);
    if (rc) err_prefix("%s '%s'", kind ? "judge" : "model", ms->name);
    return rc;
}

/* A generated text as valid UTF-8: a byte that starts no valid sequence (a
 * small model's stray byte token) becomes U+FFFD, as Python's
 * decode(errors="replace") does, so the file reads as text and a judge with a
 * byte-level BPE vocabulary can take it.  NULL when the text is valid (or on
 * allocation failure, keeping the original). */
static char *utf8_fixed(const char *t)
{
    size_t n = strlen(t);
    if (util_utf8_invalid_at(t, n) < 0) return NULL;
    struct buf b = { 0 };
    size_t i = 0;
    while (i < n) {
        size_t k = 1;
        unsigned char c = (unsigned char)t[i];
        size_t want = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (want && i + want <= n && util_utf8_invalid_at(t + i, want) < 0) k = want;
        else want = 0;
        if (want) buf_add(&b, t + i, k);
        else buf_add(&b, "\xef\xbf\xbd", 3);
        i += k;
    }
    buf_add(&b, "", 1);
    return b.p;
}

static void fill_row(struct jr *x, struct row *row, const struct eval_out *out, double t)
{
    memset(row, 0, sizeof *row);
    row->ext = 1;
    row->text_verdict = -1;
    row->error = out->error;
    row->rank = (int16_t)x->r->rank;
    row->p_unsafe = NAN;
    row->n_prompt = out->n_prompt;
    row->n_generated = out->n_generated;
    row->stop = out->stop;
    row->rating = -1;
    row->response = out->text ? out->text : "";
    row->response_len = (uint32_t)strlen(row->response);
    row->reason = out->reason;
    row->latency_ms = (float)((util_now() - t) * 1000.0);
}

/* Stage 0: model m answers item i. */
static int do_answer(struct jr *x, int m, uint32_t i)
{
    struct run *r = x->r;
    const struct item *it = &r->man.items[i];
    struct eval_out out = { .p_unsafe = NAN };
    int pixels = x->ops->needs_pixels || (x->ops->wants_pixels && x->ops->wants_pixels(x->ctx));
    struct image img = { 0 };
    double t = util_now();
    int rc = RC_OK;
    char *fixed = NULL;
    if (!run_item_input(it, pixels, &x->lim, &img, &out)) {
        /* SafeBench wraps the query for open models (before + QUERY + after, no space added) */
        char *prompt = x->wrap_before ? util_fmt("%s%s%s", x->wrap_before, it->prompt, x->wrap_after) : util_strdup(it->prompt);
        struct gen_req q = { prompt, pixels ? &img : NULL, r->job.max_new_tokens, r->job.models[r->sel[m]].name, i, it, -1 };
        rc = prompt ? x->ops->generate(x->ctx, &q, &out) : err_set(RC_ENOMEM, "out of memory");
        free(prompt);
        if (out.text && (fixed = utf8_fixed(out.text))) out.text = fixed;
        if (rc != RC_OK && out.error == IE_NONE) {
            out.error = IE_BACKEND;
            snprintf(out.reason, sizeof out.reason, "%s", err_msg());
            rc = RC_OK;
        }
    }
    image_release(&img);
    struct row row;
    fill_row(x, &row, &out, t);
    row.verdict = out.error ? V_ERROR : 0;
    if (out.error)
        log_warn("item '%s' (model %s): %s", it->id, r->job.models[r->sel[m]].name, out.reason);
    if (!(rc = journal_append(x->jn, m, i, &row))) rc = pend_add(x, m, i, &row);
    free(fixed);
    return rc;
}

/* A judge's review of (m, i) in round rd, as the others see it (jury.h). */
static void review_of(const struct jr *x, int rd, int k, int m, size_t i, struct buf *b)
{
    const char *t = x->state[col_of_vote(x, rd, k, m)].text[i];
    if (!t) t = "";
    struct judgment jd;
    judge_parse(t, strlen(t), &jd);
    jury_review(&jd, t, strlen(t), b);
}

/* Stages 1..: judge k votes on model m's answer to item i in round rd. */
static int do_vote(struct jr *x, int k, int m, uint32_t i, int rd)
{
    struct run *r = x->r;
    const struct item *it = &r->man.items[i];
    const char *answer = x->state[m].text[i] ? x->state[m].text[i] : "";
    struct buf p = { 0 };
    int rc;
    if (rd == 0) {
        rc = jury_judge_prompt(x->jprompt[k], x->jprompt_len[k], it->prompt, strlen(it->prompt), answer, strlen(answer), &p);
        if (rc) err_prefix("judge '%s': its prompt file", r->job.judges[k].name);
    } else {
        struct buf own = { 0 };
        struct buf *others = calloc((size_t)x->J, sizeof *others);
        const char **ov = calloc((size_t)x->J, sizeof *ov);
        size_t *ol = calloc((size_t)x->J, sizeof *ol);
        int no = 0;
        rc = others && ov && ol ? RC_OK : err_set(RC_ENOMEM, "out of memory");
        if (!rc) {
            review_of(x, rd - 1, k, m, i, &own);
            for (int o = 0; o < x->J; o++) {
                if (o == k) continue;
                review_of(x, rd - 1, o, m, i, &others[no]);
                ov[no] = others[no].p ? others[no].p : "";
                ol[no] = others[no].n;
                no++;
            }
            rc = jury_deliberation_prompt(x->dhead, x->dhead_len, x->dtail, x->dtail_len, own.p ? own.p : "", own.n, no, ov, ol, &p);
        }
        buf_release(&own);
        for (int o = 0; others && o < no; o++) buf_release(&others[o]);
        free(others); free(ov); free(ol);
    }
    if (rc) { buf_release(&p); return rc; }
    buf_add(&p, "", 1);   /* NUL-terminated */
    struct eval_out out = { .p_unsafe = NAN };
    struct gen_req q = { p.p, NULL, judge_max_new(&r->job.judges[k]), r->job.models[r->sel[m]].name, i, it, rd };
    double t = util_now();
    rc = x->ops->generate(x->ctx, &q, &out);
    buf_release(&p);
    char *fixed = out.text ? utf8_fixed(out.text) : NULL;
    if (fixed) out.text = fixed;
    if (rc != RC_OK && out.error == IE_NONE) {
        out.error = IE_BACKEND;
        snprintf(out.reason, sizeof out.reason, "%s", err_msg());
    }
    rc = RC_OK;
    struct row row;
    fill_row(x, &row, &out, t);
    if (out.error) {
        row.verdict = V_ERROR;
        log_warn("item '%s' (model %s, judge %s, round %d): %s", it->id, r->job.models[r->sel[m]].name,
                 r->job.judges[k].name, rd, out.reason);
    } else {
        struct judgment jd;
        judge_parse(row.response, row.response_len, &jd);
        row.verdict = jd.result.value == 1 ? V_UNSAFE : jd.result.value == 0 ? V_SAFE : V_UNPARSED;
        row.rating = (int8_t)jd.rating.value;
        row.result_path = (int8_t)jd.result.path;
        row.rating_path = (int8_t)jd.rating.path;
    }
    int col = col_of_vote(x, rd, k, m);
    if (!(rc = journal_append(x->jn, col, i, &row))) rc = pend_add(x, col, i, &row);
    free(fixed);
    return rc;
}

static void tick(void *arg)
{
    struct jr *x = arg;
    struct run *r = x->r;
    double now = util_now();
    size_t done = wq_done(r->c);
    int final = done >= x->total_work;
    if (!x->tty && !final && now - x->last_print < r->job.progress_every) return;
    if (!x->tty && final && x->last_print < 0) return;
    double el = now - x->t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(x->total_work - done) / rate : 0;
    char what[32];
    if (x->stage == 0) snprintf(what, sizeof what, "answers");
    else snprintf(what, sizeof what, "votes, round %d", x->stage - 1);
    fprintf(stderr, "%smmsafe: progress: %zu/%zu %s (%.1f%%), %.1f/s, elapsed %.0fs, ETA %.0fs%s", x->tty ? "\r" : "",
            done, x->total_work, what, x->total_work ? 100.0 * (double)done / (double)x->total_work : 100.0, rate, el, eta,
            x->tty ? "   " : "\n");
    fflush(stderr);
    x->last_print = final && !x->tty ? -1 : now;
}

static int work(struct jr *x, int s)
{
    struct run *r = x->r;
    uint32_t idx[SCHED_MAX_CHUNK * 4];
    int n_done = 0, flags = 0, fatal = RC_OK, slot;
    double t_chunk = util_now(), ms = 0;
    for (;;) {
        if (g_run_stop) flags |= WQ_DRAIN;
        if (n_done) ms = (util_now() - t_chunk) * 1000.0 / n_done;
        int n = wq_next(r->c, n_done, ms, flags, &slot, idx, SCHED_MAX_CHUNK * 4);
        t_chunk = util_now();
        n_done = 0;
        if (n == 0) break;
        int kind = s == 0 ? 0 : 1;
        if (kind != x->cur_kind || slot != x->cur_index || !x->ctx) {
            int rc = switch_to(x, kind, slot);
            if (rc) {
                fatal = rc;
                snprintf(x->fatal_msg, sizeof x->fatal_msg, "%s", err_msg());
                flags |= WQ_FATAL;
                continue;
            }
        }
        for (int k = 0; k < n && !g_run_stop; k++) {
            int rc = s == 0 ? do_answer(x, slot, idx[k])
                            : do_vote(x, slot, (int)(idx[k] / x->n), (uint32_t)(idx[k] % x->n), s - 1);
            if (rc) { fatal = rc; flags |= WQ_FATAL; snprintf(x->fatal_msg, sizeof x->fatal_msg, "%s", err_msg()); break; }
            n_done++;
        }
        int rc = journal_sync(x->jn);
        if (rc && !fatal) { fatal = rc; flags |= WQ_FATAL; snprintf(x->fatal_msg, sizeof x->fatal_msg, "%s", err_msg()); }
    }
    return fatal;
}

/* === journals (rank 0, before the first stage) ============================ */

static void on_record(void *arg, int col, uint32_t item, const struct row *row)
{
    struct jr *x = arg;
    if (col < 0 || col >= x->n_cols || item >= x->n || !row->ext) return;
    if (x->state[col].status[item] >= 0) return;    /* already in the file */
    pend_add(x, col, item, row);
}

/* === consensus and report ================================================= */

/* Rank 0: the consensus of the last round per (model, item), into the file. */
static int consensus(struct jr *x)
{
    size_t n = x->n;
    int8_t *v = malloc(n), *cnt = malloc(5 * n);
    float *rt = malloc(n * sizeof *rt);
    int *res = calloc((size_t)x->J + 1, sizeof *res), *rat = calloc((size_t)x->J + 1, sizeof *rat);
    int rc = v && cnt && rt && res && rat ? RC_OK : err_set(RC_ENOMEM, "out of memory");
    for (int m = 0; !rc && m < x->M; m++) {
        for (size_t i = 0; i < n; i++) {
            int8_t st = x->state[m].status[i];
            v[i] = V_PENDING;
            rt[i] = NAN;
            for (int k = 0; k < 5; k++) cnt[(size_t)k * n + i] = 0;
            if (st == V_ERROR) { v[i] = V_ERROR; continue; }
            if (st < 0 || x->J == 0 || !round_done(x, x->R, m, i)) continue;
            for (int k = 0; k < x->J; k++) {
                const struct col_data *c = &x->state[col_of_vote(x, x->R, k, m)];
                int s = c->status[i];
                res[k] = s == V_SAFE ? 0 : s == V_UNSAFE ? 1 : s == V_UNPARSED ? JURY_VOTE_UNPARSED : JURY_VOTE_ERROR;
                rat[k] = s == V_ERROR ? -1 : c->rating[i];
            }
            struct jury_consensus jc;
            jury_consensus(x->J, res, rat, x->tie, &jc);
            v[i] = jc.verdict == 1 ? V_UNSAFE : jc.verdict == 0 ? V_SAFE : V_UNPARSED;
            rt[i] = (float)jc.mean_rating;
            cnt[i] = (int8_t)jc.n_safe;
            cnt[n + i] = (int8_t)jc.n_unsafe;
            cnt[2 * n + i] = (int8_t)jc.n_unparsed;
            cnt[3 * n + i] = (int8_t)jc.n_errors;
            cnt[4 * n + i] = (int8_t)jc.tie;
        }
        rc = store_cols_consensus(x->st, m, v, rt, cnt);
    }
    free(v); free(cnt); free(rt); free(res); free(rat);
    return rc;
}

/* === the run ================================================================ */

int jury_check(const struct job *job)
{
    struct run r = { .job = *job };
    struct jr x = { .r = &r, .J = job->n_judges };
    x.R = job->rounds >= 0 ? job->rounds : x.J >= 2 ? 1 : 0;
    if (x.R > 0 && x.J < 2)
        return err_set(RC_ECONFIG, "%s: \"rounds\": %d but deliberation needs at least 2 judges (there %s %d)", job->path,
                       x.R, x.J == 1 ? "is" : "are", x.J);
    int rc = load_texts(&x);
    for (int k = 0; x.jprompt && k < x.J; k++) free(x.jprompt[k]);
    free(x.jprompt); free(x.jprompt_len); free(x.dhead); free(x.dtail); free(x.wrap_before); free(x.wrap_after);
    return rc;
}

int jury_preflight(struct run *r)
{
    int rc = jury_check(&r->job);
    if (rc) return rc;
    if (access(r->output, F_OK) == 0) {
        /* an existing file must hold this manifest's items */
        struct results_ident id;
        if (results_ident_read(r->output, &id) == RC_OK) {
            if (!id.manifest_sha256 || strcmp(id.manifest_sha256, r->man.sha256))
                rc = err_set(RC_ECONFIG, "'%s' holds results for another manifest (sha256 %.12s..., now %.12s... from %s); "
                             "use --fresh to start over or another \"output\"", r->output,
                             id.manifest_sha256 ? id.manifest_sha256 : "?", r->man.sha256, r->man.path);
            else if (!id.benchmark || strcmp(id.benchmark, r->bench->name))
                rc = err_set(RC_ECONFIG, "'%s' holds %s results, not %s; use --fresh or another \"output\"", r->output,
                             id.benchmark ? id.benchmark : "mmsafeaware", r->bench->name);
            results_ident_release(&id);
            r->create = 0;
        } else {
            char stamp[32];
            util_iso8601(stamp);
            char *bad = util_fmt("%s.damaged-%s", r->output, stamp);
            log_warn("%s; moved it to '%s' and starting it again (the journals in '%s' are folded in)", err_msg(), bad, r->jdir);
            if (rename(r->output, bad) != 0) rc = err_set(RC_EIO, "cannot move damaged '%s' aside", r->output);
            free(bad);
            r->create = 1;
        }
    } else r->create = 1;
    return rc;
}

static int reopen(struct jr *x)
{
    struct run *r = x->r;
    int rc = store_close(x->st);
    x->st = NULL;
    rc = comm_agree(r->c, rc);
    if (!rc) rc = state_read(x);
    rc = comm_agree(r->c, rc);
    if (!rc) rc = store_open(&x->st, r->output, r->c, 0, NULL);
    rc = comm_agree(r->c, rc);
    if (!rc) rc = comm_agree(r->c, open_cols(x));
    return rc;
}

int jury_run(struct run *r, const char *started)
{
    struct jr x = { .r = r, .M = r->n_sel, .J = r->job.n_judges, .n = r->man.n, .cur_kind = -1, .cur_index = -1 };
    x.R = r->job.rounds >= 0 ? r->job.rounds : x.J >= 2 ? 1 : 0;
    x.lim.max_pixels = r->job.max_image_pixels;
    int rc = load_texts(&x);
    if (!rc) rc = build_cols(&x);
    if (!rc && !(x.pend = calloc((size_t)x.n_cols + 1, sizeof *x.pend))) rc = err_set(RC_ENOMEM, "out of memory");
    rc = comm_agree(r->c, rc);
    if (rc) { if (r->rank == 0) log_error("%s", err_msg()); goto out; }

    /* the file: created with the items, or opened; then every column */
    if (r->create) {
        size_t n = x.n;
        int8_t *labels = malloc(n + 1);
        int *sub = malloc((n + 1) * sizeof(int)), *scen = malloc((n + 1) * sizeof(int));
        char **ids = malloc((n + 1) * sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            labels[i] = r->man.items[i].label; sub[i] = r->man.items[i].subset;
            scen[i] = r->man.items[i].scenario; ids[i] = r->man.items[i].id;
        }
        struct store_layout lay = {
            .n_items = n, .ids = ids, .labels = labels, .subset = sub, .scenario = scen,
            .n_subsets = r->man.n_subsets, .n_scenarios = r->man.n_scenarios,
            .subsets = r->man.subsets, .scenarios = r->man.scenarios, .n_models = 0,
            .parser = "jury", .benchmark = r->bench->name, .response_width = 16,
            .job_text = r->job.text, .job_path = r->job.path, .manifest_path = r->man.path,
            .manifest_sha256 = r->man.sha256, .inputs_sha256 = r->inputs,
        };
        rc = store_create(&x.st, r->output, r->c, &lay);
        free(labels); free(sub); free(scen); free(ids);
    } else {
        rc = store_open(&x.st, r->output, r->c, 0, NULL);
    }
    rc = comm_agree(r->c, rc);
    if (!rc) rc = comm_agree(r->c, open_cols(&x));
    if (!rc) {
        char jury[1024];
        snprintf(jury, sizeof jury, "{\"judges\": %d, \"rounds\": %d, \"tie\": \"%s\"}", x.J, x.R, jury_tie_name(x.tie));
        rc = comm_agree(r->c, store_set_root_attr(x.st, "job", r->job.text));
        if (!rc) rc = comm_agree(r->c, store_set_root_attr(x.st, "job_path", r->job.path));
        if (!rc) rc = comm_agree(r->c, store_set_root_attr(x.st, "jury", jury));
    }
    if (rc) { if (r->rank == 0) log_error("%s", err_msg()); goto out_store; }

    /* rank 0 folds the journals of an earlier run of this job that never reached the file */
    rc = reopen(&x);
    if (!rc && r->rank == 0) {
        size_t nrec = 0, before = 0, after = 0;
        for (int c = 0; c < x.n_cols; c++) before += x.pend[c].n;
        rc = journal_replay(r->jdir, r->man.sha256, r->run_key, on_record, &x, &nrec);
        for (int c = 0; c < x.n_cols; c++) after += x.pend[c].n;
        if (!rc && after > before) log_info("folded %zu answer(s) and vote(s) from the journals in '%s' into the results file", after - before, r->jdir);
    }
    rc = comm_agree(r->c, rc);
    if (!rc) rc = comm_agree(r->c, journal_open(&x.jn, r->jdir, r->rank, r->man.sha256, r->run_key));
    if (!rc) rc = flush_all(&x);
    if (!rc) rc = reopen(&x);
    if (rc) { if (r->rank == 0) log_error("%s", err_msg()); goto out_store; }

    char *hosts = NULL;
    char *kernels = NULL;
    rc = comm_hosts(r->c, &hosts);
    if (!rc) rc = run_kernels(r->c, &kernels);
    int fatal = RC_OK, stopped = 0;
    for (int s = 0; !rc && !fatal && !stopped && s <= x.R + 1; s++) {
        if (s > 0 && x.J == 0) break;
        struct sched sched = { 0 };
        int64_t total = 0;
        if (r->rank == 0) {
            uint32_t **pending;
            size_t *npend;
            int slots;
            x.total_work = stage_pending(&x, s, &pending, &npend, &slots);
            total = (int64_t)x.total_work;
            rc = sched_init(&sched, slots, r->size, r->job.chunk, pending, npend);
        }
        rc = comm_agree(r->c, rc);
        if (!rc) rc = comm_allreduce_sum_i64(r->c, &total, 1);
        if (rc) break;
        if (total == 0) { if (r->rank == 0) sched_release(&sched); continue; }
        x.stage = s;
        x.t0 = x.last_print = util_now();
        x.tty = isatty(2);
        wq_start(r->c, r->rank == 0 ? &sched : NULL, tick, &x);
        int f = RC_OK;
        if (r->rank != 0 || wq_rank0_works(r->c)) f = work(&x, s);
        wq_finish(r->c);
        if (r->rank == 0 && x.tty) fputc('\n', stderr);
        int32_t flag[2] = { f ? 1 : 0, g_run_stop ? 1 : 0 };
        if (r->rank == 0) { if (wq_stopped(r->c)) flag[1] = 1; sched_release(&sched); }
        comm_allreduce_max_i32(r->c, flag, 2);
        stopped = flag[1];
        if (x.ctx && (s == x.R + 1 || stopped)) { x.ops->close(x.ctx); x.ctx = NULL; x.cur_kind = -1; }
        rc = flush_all(&x);          /* rows reach the file even when a rank failed or a signal drained the run */
        if (f) { fatal = f; err_set(f, "%s", x.fatal_msg); }
        int frc = comm_agree(r->c, fatal);
        if (frc) { fatal = frc; break; }
        if (!rc) rc = reopen(&x);
    }
    if (x.ctx) { x.ops->close(x.ctx); x.ctx = NULL; }
    journal_close(x.jn);
    x.jn = NULL;

    /* the consensus, the run's attributes, the table */
    int crc = RC_OK;
    if (!rc && !fatal && r->rank == 0) crc = consensus(&x);
    rc = comm_agree(r->c, rc ? rc : fatal ? fatal : crc);
    char finished[32];
    util_iso8601(finished);
    int64_t pending = 0;
    for (int m = 0; x.state && m < x.M; m++)
        for (size_t i = 0; i < x.n; i++) {
            if (x.state[m].status[i] < 0) pending++;
            else if (x.state[m].status[i] == 0 && x.J > 0 && !round_done(&x, x.R, m, i)) pending++;
        }
    struct run_attrs ra = { r->size, hosts, started, finished, !rc && pending == 0, kernels };
    if (x.st) {
        int arc = store_set_run_attrs(x.st, &ra);
        int src = store_close(x.st);
        x.st = NULL;
        int e = comm_agree(r->c, arc ? arc : src);
        if (!rc) rc = e;
    }
    free(hosts);
    free(kernels);
    if (r->rank == 0) {
        if (!rc) rc = sb_report_print_file(stdout, r->output);
        if (rc) log_error("%s", err_msg());
        else if (stopped || pending)
            printf("incomplete: %lld answer(s) not judged to the end%s; rerun the same command to resume\n", (long long)pending,
                   stopped ? " (stopped by a signal)" : "");
        printf("results: %s\n", r->output);
        fflush(stdout);
    }
    goto out;
out_store:
    journal_close(x.jn);
    store_close(x.st);
out:
    state_release(&x);
    for (int c = 0; x.pend && c < x.n_cols; c++) {
        for (size_t i = 0; i < x.pend[c].n; i++) { free(x.pend[c].v[i].text); free(x.pend[c].v[i].reason); }
        free(x.pend[c].v);
    }
    free(x.pend);
    for (int c = 0; x.cols && c < x.n_cols; c++) { free(x.cols[c].path); free(x.cols[c].spec); }
    free(x.cols);
    for (int k = 0; x.jprompt && k < x.J; k++) free(x.jprompt[k]);
    free(x.jprompt); free(x.jprompt_len); free(x.dhead); free(x.dtail); free(x.wrap_before); free(x.wrap_after);
    return rc;
}
