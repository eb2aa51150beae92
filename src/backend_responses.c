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
 */
#include "backend.h"
#include "err.h"
#include "stats.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rctx { struct responses r; double delay_ms; int check_images; };

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
    rc = responses_load(path, man, &c->r);
    free(path);
    if (rc) { free(c); return rc; }
    c->delay_ms = delay;
    const struct opt *ci = model_opt(m, "check_images");
    c->check_images = ci && ci->num != 0;
    *ctx = c;
    return RC_OK;
}

static int resp_check(const struct model_spec *m, const struct job *j, const struct manifest *man, char *settings, size_t cap)
{
    if (settings && cap) settings[0] = 0;
    void *ctx;
    int rc = resp_open(&ctx, m, j, man);
    if (rc) return rc;
    struct rctx *c = ctx;
    if (c->r.n_found < man->n)
        log_warn("model '%s': %zu of %zu items have no recorded response (they will be errors)",
                 m->name, man->n - c->r.n_found, man->n);
    responses_release(&c->r);
    free(c);
    return RC_OK;
}

static int resp_eval(void *ctx, size_t idx, const struct item *it, const struct image *img, struct eval_out *out)
{
    (void)img;
    struct rctx *c = ctx;
    if (c->delay_ms > 0) {
        struct timespec ts = { (time_t)(c->delay_ms / 1000), (long)(fmod(c->delay_ms, 1000.0) * 1e6) };
        nanosleep(&ts, NULL);
    }
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
    free(c);
}

const struct backend_ops backend_responses = {
    .name = "responses",
    .needs_pixels = 0,
    .wants_pixels = resp_wants_pixels,
    .check = resp_check,
    .open = resp_open,
    .eval = resp_eval,
    .close = resp_close,
};
