/*
 * backend_responses.c - replays responses recorded elsewhere (a JSONL of
 * {"id": ..., "response": "..."}, the shape MMSafeAware's result files use,
 * with an optional "p_unsafe" in [0, 1]: a recorded score, e.g. from an API's
 * log-probs, which gives the model an AUROC like the native engine's logits):
 * how API models such as GPT-4V are scored, and the model-free backend the
 * pipeline tests run through.  Options: "responses" (path, relative to the
 * job file), "delay_ms" (simulated per-item latency, for exercising the
 * scheduler, drain and resume with a fast backend), "check_images" (decode
 * each item's image first and record missing or unreadable ones as errors,
 * as a vision backend would: scores of replayed API models then count the
 * same items as the native engine's).
 * In a judged benchmark (SafeBench) the same file gives the answers (an empty
 * one, or one that reads as an API's error, is an item error, never judged);
 * as a judge ("judges" in the job) "responses" names recorded judge texts
 * (JSON Lines of {"judge", "model", "id", "round", "text"}, job.h).
 */
#include "backend.h"
#include "err.h"
#include "stats.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct rctx { struct responses r; struct judge_records jr; int judge; char *name; double delay_ms; int check_images; };

static const char *const known_keys[] = { "responses", "delay_ms", "check_images", NULL };

static int resp_paths(const struct model_spec *m, const struct job *j, char **path, double *delay)
{
    int rc = backend_check_keys(m, j, known_keys);
    if (rc) return rc;
    const struct opt *o = model_opt(m, "responses");
    if (!o || o->kind != OPT_STR)
        return err_set(RC_ECONFIG, "%s: model '%s': backend responses needs \"responses\": \"FILE.jsonl\"", j->path, m->name);
    const struct opt *d = model_opt(m, "delay_ms");
    if (d && (d->kind != OPT_NUM || d->num < 0))
        return err_set(RC_ECONFIG, "%s: model '%s': \"delay_ms\" must be a number >= 0", j->path, m->name);
    *delay = d ? d->num : 0;
    const struct opt *ci = model_opt(m, "check_images");
    if (ci && ci->kind != OPT_BOOL)
        return err_set(RC_ECONFIG, "%s: model '%s': \"check_images\" must be true or false", j->path, m->name);
    *path = util_join(j->dir, o->str);
    return *path ? RC_OK : err_set(RC_ENOMEM, "out of memory");
}

static int resp_open(void **ctx, const struct model_spec *m, const struct job *j, const struct manifest *man)
{
    *ctx = NULL;
    char *path = NULL;
    double delay = 0;
    int rc = resp_paths(m, j, &path, &delay);
    if (rc) return rc;
    struct rctx *c = calloc(1, sizeof *c);
    if (!c) { free(path); return err_set(RC_ENOMEM, "out of memory"); }
    c->judge = m->role == ROLE_JUDGE;
    rc = c->judge ? judge_records_load(path, m->name, man, &c->jr) : responses_load(path, man, &c->r);
    free(path);
    if (rc) { free(c); return rc; }
    c->name = util_strdup(m->name);
    c->delay_ms = delay;
    const struct opt *ci = model_opt(m, "check_images");
    c->check_images = ci && ci->num != 0;
    *ctx = c;
    return RC_OK;
}

static void resp_close(void *ctx);

static int resp_check(const struct model_spec *m, const struct job *j, const struct manifest *man, char *settings, size_t cap)
{
    if (settings && cap) settings[0] = 0;
    void *ctx;
    int rc = resp_open(&ctx, m, j, man);
    if (rc) return rc;
    struct rctx *c = ctx;
    if (c->judge && c->jr.n == 0)
        log_warn("judge '%s': no text in its file is this judge's (lines name their \"judge\"): every vote will be an error", m->name);
    else if (!c->judge && c->r.n_found < man->n)
        log_warn("model '%s': %zu of %zu items have no recorded response (they will be errors)",
                 m->name, man->n - c->r.n_found, man->n);
    resp_close(c);
    return RC_OK;
}

/* delay_ms: the simulated latency of one item or vote. */
static void resp_delay(const struct rctx *c)
{
    if (c->delay_ms <= 0) return;
    struct timespec ts = { (time_t)(c->delay_ms / 1000), (long)(fmod(c->delay_ms, 1000.0) * 1e6) };
    nanosleep(&ts, NULL);
}

static int resp_eval(void *ctx, size_t idx, const struct item *it, const struct image *img, struct eval_out *out)
{
    (void)img;
    struct rctx *c = ctx;
    resp_delay(c);
    const char *r = c->r.resp[idx];
    if (!r) {
        out->error = IE_NO_RESPONSE;
        snprintf(out->reason, sizeof out->reason, "no recorded response for id '%s'", it->id);
        return RC_OK;
    }
    out->text = r;
    out->verdict = V_PENDING;       /* the runner parses the text */
    out->p_unsafe = c->r.p_unsafe[idx];   /* recorded score, NaN when none */
    return RC_OK;
}

static int resp_wants_pixels(void *ctx) { return ((struct rctx *)ctx)->check_images; }

static void resp_close(void *ctx)
{
    struct rctx *c = ctx;
    if (!c) return;
    responses_release(&c->r);
    judge_records_release(&c->jr);
    free(c->name);
    free(c);
}

/* An API's failure recorded as if it were the answer: empty (or white space
 * only), or text that starts like an error report.  SafeBench's code judged
 * such texts as answers; here they are item errors. */
static const char *api_error_kind(const char *t)
{
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    if (!*t) return "the recorded answer is empty";
    static const char *const starts[] = { "error:", "error code:", "api error", "apierror", "openai.error", "{\"error\"",
                                          "traceback (most recent call last)", "request failed", "rate limit", NULL };
    for (int i = 0; starts[i]; i++)
        if (!strncasecmp(t, starts[i], strlen(starts[i]))) return "the recorded answer is an error message";
    return NULL;
}

static int resp_generate(void *ctx, const struct gen_req *q, struct eval_out *out)
{
    struct rctx *c = ctx;
    resp_delay(c);
    if (c->judge) {
        const char *t = q->round >= 0 ? judge_records_find(&c->jr, q->model, (uint32_t)q->item, q->round) : NULL;
        if (!t) {
            out->error = IE_NO_RESPONSE;
            snprintf(out->reason, sizeof out->reason, "no recorded text of judge '%s' for id '%s', model '%s', round %d",
                     c->name, q->it->id, q->model, q->round);
            return RC_OK;
        }
        out->text = t;
        return RC_OK;
    }
    const char *r = c->r.resp[q->item];
    const char *bad = r ? api_error_kind(r) : NULL;
    if (!r) {
        out->error = IE_NO_RESPONSE;
        snprintf(out->reason, sizeof out->reason, "no recorded answer for id '%s'", q->it->id);
    } else if (bad) {
        out->error = IE_API;
        snprintf(out->reason, sizeof out->reason, "%s (an API error?): not judged", bad);
        out->text = r;   /* kept in the file, as recorded */
    } else {
        out->text = r;
    }
    return RC_OK;
}

const struct backend_ops backend_responses = {
    .name = "responses",
    .needs_pixels = 0,
    .wants_pixels = resp_wants_pixels,
    .check = resp_check,
    .open = resp_open,
    .eval = resp_eval,
    .close = resp_close,
    .generate = resp_generate,
};
