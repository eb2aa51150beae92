/*
 * backend_llava.c - the native engine as a backend ("native"; "llava" is an
 * alias): a checkpoint (language-model GGUF + mmproj GGUF: LLaVA-1.5, or
 * Qwen2-VL / Qwen2.5-VL, the family read from the mmproj's projector type and
 * the pair checked before any item) loaded once per rank and model, kept for
 * all of that model's items.  Per item: encode the image with the vision tower
 * + projector, prefill the templated prompt with the image spliced at its
 * marker, and read the verdict off the next-token logits of the answer tokens
 * (p_unsafe = P("No") among the candidates; "Yes" means safe).  Optionally
 * also generate up to max_new_tokens greedily: the text is stored as the
 * response, and its own verdict (the job's parser) is kept beside the logit
 * verdict (text_verdict): reduce reports how often the two agree.
 * Options: model, mmproj, vision_mode (llava = original | llama.cpp), template
 * (auto, the default, or a name engine.h lists: llama3, chatml, mistral-*,
 * vicuna, llava_v1, qwen-vl, raw, ...; auto is qwen-vl for a qwen2vl model),
 * system, answers (["Yes", "No"]), max_new_tokens, threads, arith (fast |
 * exact), n_ctx, and for Qwen min_image_tokens / max_image_tokens (the image
 * buffer is allocated once, at the cap; an image whose prompt does not fit
 * n_ctx is an item error).  The template `auto` resolves to, and why, is
 * reported by check as the model's settings (recorded in the results).
 * Reuse (job keys `reuse`, default on, and `image_cache_mb`): the image rows
 * come from a per-rank cache keyed by the file's bytes and the vision
 * settings (embd_cache.h), and the context keeps the KV cache of the prefix an
 * item shares with the previous one (eng_ctx_set_reuse); what that saved is
 * logged when the model is closed.
 */
#include "backend.h"
#include "embd_cache.h"
#include "engine/engine.h"
#include "err.h"
#include "json.h"
#include "stats.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_keys[] = {
    "model", "mmproj", "vision_mode", "template", "system", "answers", "max_new_tokens", "threads", "arith", "n_ctx",
    "min_image_tokens", "max_image_tokens", NULL
};

struct lopts {
    char *model, *mmproj, *system;
    char yes[64], no[64];
    int vision_mode, tmpl, max_new, threads, arith, n_ctx, min_tokens, max_tokens;
};

#define WHY_CAP 320

struct lctx {
    struct lopts o;
    char *name;
    struct eng_model *m;
    struct eng_vision *v;
    struct eng_ctx *c;
    struct eng_vision_ctx *vc;
    struct eng_answers ans;
    int tmpl;                 /* the template used: o.tmpl with auto / mistral resolved for this model */
    char tmpl_why[WHY_CAP];   /* how auto chose it ("" when named in the job) */
    float *embd;              /* n_img x n_embd: n_img = the most tokens an image can give */
    int n_img, qwen;
    char *text;               /* generated text / answer */
    size_t text_cap;
    struct embd_cache *cache; /* NULL: reuse off */
    int o_reuse;              /* the job's reuse (JOB_REUSE_*) */
    char vis_settings[1200];  /* what shapes an embedding besides the image: part of the cache key */
    long n_images, n_encoded; /* images evaluated / encoded (the rest came from the cache) */
};

static void lopts_release(struct lopts *o) { free(o->model); free(o->mmproj); free(o->system); }

static int str_opt(const struct model_spec *m, const struct job *j, const char *k, const char **out)
{
    const struct opt *o = model_opt(m, k);
    *out = NULL;
    if (!o) return RC_OK;
    if (o->kind != OPT_STR) return err_set(RC_ECONFIG, "%s: model '%s': \"%s\" must be a string", j->path, m->name, k);
    *out = o->str;
    return RC_OK;
}

static int int_opt(const struct model_spec *m, const struct job *j, const char *k, int lo, int hi, int *out)
{
    const struct opt *o = model_opt(m, k);
    if (!o) return RC_OK;
    if (o->kind != OPT_NUM || o->num != floor(o->num) || o->num < lo || o->num > hi)
        return err_set(RC_ECONFIG, "%s: model '%s': \"%s\" must be an integer in [%d, %d]", j->path, m->name, k, lo, hi);
    *out = (int)o->num;
    return RC_OK;
}

static int parse_opts(const struct model_spec *m, const struct job *j, struct lopts *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->yes, sizeof o->yes, "Yes");
    snprintf(o->no, sizeof o->no, "No");
    o->threads = j->threads > 0 ? j->threads : 1;
    int rc = backend_check_keys(m, j, known_keys);
    const char *s;
    if (!rc) rc = str_opt(m, j, "model", &s);
    if (!rc && !s) rc = err_set(RC_ECONFIG, "%s: model '%s': backend %s needs \"model\": \"LM.gguf\"", j->path, m->name, m->backend);
    if (!rc) o->model = util_join(j->dir, s);
    if (!rc) rc = str_opt(m, j, "mmproj", &s);
    if (!rc && !s && m->role != ROLE_JUDGE)
        rc = err_set(RC_ECONFIG, "%s: model '%s': backend %s needs \"mmproj\": \"mmproj.gguf\"", j->path, m->name, m->backend);
    if (!rc && s && m->role == ROLE_JUDGE)
        rc = err_set(RC_ECONFIG, "%s: judge '%s': a judge reads text only (the query and the answer): remove \"mmproj\"", j->path, m->name);
    if (!rc && s) o->mmproj = util_join(j->dir, s);
    if (!rc) rc = str_opt(m, j, "vision_mode", &s);
    if (!rc && eng_vision_mode_parse(s ? s : "llava", &o->vision_mode))
        rc = err_set(RC_ECONFIG, "%s: model '%s': \"vision_mode\" must be \"llava\" or \"llama.cpp\" (\"original\" = \"llava\")", j->path, m->name);
    if (!rc) rc = str_opt(m, j, "template", &s);
    if (!rc && eng_template_parse(s ? s : "auto", &o->tmpl))
        rc = err_set(RC_ECONFIG, "%s: model '%s': %s", j->path, m->name, eng_errmsg());
    if (!rc) rc = str_opt(m, j, "system", &s);
    if (!rc && s) o->system = util_strdup(s);
    if (!rc && o->system && *o->system && o->tmpl == ENG_TMPL_RAW)
        rc = err_set(RC_ECONFIG, "%s: model '%s': \"system\" does not apply to the raw template (write it into the prompt)", j->path, m->name);
    if (!rc) rc = str_opt(m, j, "arith", &s);
    if (!rc && eng_arith_parse(s ? s : "fast", &o->arith))
        rc = err_set(RC_ECONFIG, "%s: model '%s': \"arith\" must be \"fast\" or \"exact\"", j->path, m->name);
    if (!rc) rc = int_opt(m, j, "max_new_tokens", 0, 4096, &o->max_new);
    if (!rc) rc = int_opt(m, j, "threads", 1, 4096, &o->threads);
    if (!rc) rc = int_opt(m, j, "n_ctx", 64, 1 << 20, &o->n_ctx);
    if (!rc) rc = int_opt(m, j, "min_image_tokens", 1, 1 << 20, &o->min_tokens);
    if (!rc) rc = int_opt(m, j, "max_image_tokens", 1, 1 << 20, &o->max_tokens);
    if (!rc && o->min_tokens && o->max_tokens && o->min_tokens > o->max_tokens)
        rc = err_set(RC_ECONFIG, "%s: model '%s': \"min_image_tokens\" %d is above \"max_image_tokens\" %d", j->path, m->name,
                     o->min_tokens, o->max_tokens);
    const struct opt *a = model_opt(m, "answers");
    if (!rc && a) {
        /* ["Yes", "No"]: the safe answer first */
        char y[64], n[64];
        if (a->kind != OPT_ARRAY || sscanf(a->str, "[\"%63[^\"]\",\"%63[^\"]\"]", y, n) != 2)
            rc = err_set(RC_ECONFIG, "%s: model '%s': \"answers\" must be [\"SAFE-WORD\", \"UNSAFE-WORD\"], e.g. [\"Yes\", \"No\"]", j->path, m->name);
        else { snprintf(o->yes, sizeof o->yes, "%s", y); snprintf(o->no, sizeof o->no, "%s", n); }
    }
    if (rc) lopts_release(o);
    return rc;
}

static void lclose(void *ctx)
{
    struct lctx *l = ctx;
    if (!l) return;
    if (l->c && l->n_images > 0) {
        long long ev = 0, sk = 0;
        eng_ctx_reuse_stats(l->c, &ev, &sk);
        log_info("model '%s': reuse %s: %ld of %ld image encodes saved (%.1f%%), %lld of %lld prefill positions saved (%.1f%%)",
                 l->name, !l->cache ? "off" : l->o_reuse == JOB_REUSE_POSITIONS ? "positions" : "chunks", l->n_images - l->n_encoded, l->n_images,
                 100.0 * (double)(l->n_images - l->n_encoded) / (double)l->n_images, sk, ev + sk,
                 ev + sk ? 100.0 * (double)sk / (double)(ev + sk) : 0.0);
    }
    embd_cache_free(l->cache);
    eng_vision_ctx_free(l->vc);
    eng_ctx_free(l->c);
    eng_vision_free(l->v);
    eng_model_free(l->m);
    free(l->embd);
    free(l->text);
    free(l->name);
    lopts_release(&l->o);
    free(l);
}

static int text_reserve(struct lctx *l, size_t need)
{
    if (need <= l->text_cap) return RC_OK;
    size_t cap = l->text_cap ? l->text_cap : 256;
    while (cap < need) cap *= 2;
    char *t = realloc(l->text, cap);
    if (!t) return err_set(RC_ENOMEM, "out of memory");
    l->text = t;
    l->text_cap = cap;
    return RC_OK;
}

/* A judge: the language model alone (no tower); the context holds the judge
 * prompt (query + answer, or the reviews of a deliberation) and its text. */
static int ltext_load(struct lctx *l, const struct model_spec *ms, const struct job *j, int full)
{
    int rc = eng_template_resolve(l->m, l->o.tmpl, &l->tmpl, l->tmpl_why, sizeof l->tmpl_why);
    if (rc) return err_set(RC_ECONFIG, "%s: judge '%s': %s: %s", j->path, ms->name, l->o.model, eng_errmsg());
    if (!full) return RC_OK;
    int n_ctx = l->o.n_ctx > 0 ? l->o.n_ctx : eng_n_ctx_train(l->m);
    if (!l->o.n_ctx && n_ctx > 4096) n_ctx = 4096;
    struct eng_params p = { .n_threads = l->o.threads, .arith = l->o.arith, .kv_type = ENG_KV_AUTO, .n_ctx = n_ctx };
    if ((rc = eng_ctx_new(l->m, &p, &l->c))) return err_set(rc, "%s: %s", l->o.model, eng_errmsg());
    return text_reserve(l, 4096);
}

/* Loads the files and checks they fit together; with full, also allocates the run state. */
static int lload(struct lctx *l, const struct model_spec *ms, const struct job *j, int full)
{
    int rc = eng_model_open(l->o.model, &l->m);
    if (rc) return err_set(rc, "%s: %s", l->o.model, eng_errmsg());
    if (!l->o.mmproj) return ltext_load(l, ms, j, full);   /* a judge: text only */
    rc = eng_vision_open(l->o.mmproj, &l->v);
    if (rc) return err_set(rc, "%s: %s", l->o.mmproj, eng_errmsg());
    /* a mismatched pair is a run-level error, before any item */
    if (eng_vision_n_embd(l->v) != eng_n_embd(l->m))
        return err_set(RC_ECONFIG, "%s: model '%s': the projector of %s outputs %d values per image token but %s has n_embd %d "
                       "(an mmproj for another model size?)", j->path, ms->name, l->o.mmproj, eng_vision_n_embd(l->v),
                       l->o.model, eng_n_embd(l->m));
    if (eng_vl_check_pair(l->m, l->v))
        return err_set(RC_ECONFIG, "%s: model '%s': %s and %s are not a pair: %s", j->path, ms->name, l->o.model,
                       l->o.mmproj, eng_errmsg());
    l->qwen = eng_vision_family(l->v) != ENG_VISION_CLIP;
    if (eng_vision_set_token_limits(l->v, l->o.min_tokens, l->o.max_tokens))
        return err_set(RC_ECONFIG, "%s: model '%s': %s", j->path, ms->name, eng_errmsg());
    rc = eng_answers_resolve(l->m, l->o.yes, l->o.no, &l->ans);
    if (rc) return err_set(RC_ECONFIG, "%s: model '%s': %s", j->path, ms->name, eng_errmsg());
    rc = eng_template_resolve(l->m, l->o.tmpl, &l->tmpl, l->tmpl_why, sizeof l->tmpl_why);
    if (rc) return err_set(RC_ECONFIG, "%s: model '%s': %s: %s", j->path, ms->name, l->o.model, eng_errmsg());
    if (!full) return RC_OK;
    /* an item needs ~650 positions with LLaVA, the image's tokens (at most the cap) + the
     * text with Qwen; the KV cache is sized by n_ctx */
    const int want = l->qwen ? eng_vision_n_tokens(l->v) + 512 : 2048;
    int n_ctx = l->o.n_ctx > 0 ? l->o.n_ctx : eng_n_ctx_train(l->m);
    if (!l->o.n_ctx && n_ctx > want) n_ctx = want;
    struct eng_params p = { .n_threads = l->o.threads, .arith = l->o.arith, .kv_type = ENG_KV_AUTO, .n_ctx = n_ctx,
                            .file_eps = l->qwen && l->o.vision_mode == ENG_VISION_LLAVA };
    if ((rc = eng_ctx_new(l->m, &p, &l->c))) return err_set(rc, "%s: %s", l->o.model, eng_errmsg());
    if ((rc = eng_vision_ctx_new(l->v, &p, &l->vc))) return err_set(rc, "%s: %s", l->o.mmproj, eng_errmsg());
    l->o_reuse = j->reuse;
    if (j->reuse) {
        eng_ctx_set_reuse(l->c, j->reuse);   /* JOB_REUSE_* = enum eng_reuse */
        if ((rc = embd_cache_new((size_t)j->image_cache_mb << 20, &l->cache))) return rc;
    }
    snprintf(l->vis_settings, sizeof l->vis_settings, "mmproj=%s;vision_mode=%d;arith=%d;kv=%d;min_image_tokens=%d;max_image_tokens=%d",
             l->o.mmproj, l->o.vision_mode, l->o.arith, p.kv_type, l->o.min_tokens, l->o.max_tokens);
    l->n_img = eng_vision_n_tokens(l->v);
    l->embd = malloc((size_t)l->n_img * (size_t)eng_n_embd(l->m) * sizeof(float));
    if (!l->embd || text_reserve(l, 64 + (size_t)l->o.max_new * 64)) return err_set(RC_ENOMEM, "out of memory allocating the image buffer of model '%s'", ms->name);
    return RC_OK;
}

/* Parses the options and loads the files; with full, also the run state.
 * On success *out owns everything (lclose frees it). */
static int lnew(struct lctx **out, const struct model_spec *ms, const struct job *j, int full)
{
    *out = NULL;
    struct lctx *l = calloc(1, sizeof *l);
    if (!l) return err_set(RC_ENOMEM, "out of memory");
    int rc = parse_opts(ms, j, &l->o);
    if (rc) { free(l); return rc; }
    l->name = util_strdup(ms->name);
    rc = lload(l, ms, j, full);
    if (rc) { lclose(l); return rc; }
    *out = l;
    return RC_OK;
}

static int lopen(void **ctx, const struct model_spec *ms, const struct job *j, const struct manifest *man)
{
    (void)man;
    struct lctx *l;
    int rc = lnew(&l, ms, j, 1);
    *ctx = l;
    return rc;
}

/* The answer pieces' ids, space-separated. */
static void ids_text(const int32_t *v, int n, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n && k + 16 < cap; i++) k += (size_t)snprintf(out + k, cap - k, "%s%d", i ? " " : "", v[i]);
}

static int lcheck(const struct model_spec *ms, const struct job *j, const struct manifest *man, char *settings, size_t cap)
{
    (void)man;
    struct lctx *l;
    if (settings && cap) settings[0] = 0;
    int rc = lnew(&l, ms, j, 0);
    if (!rc && settings) {
        char yes[200], no[200];
        ids_text(l->ans.pos, l->ans.n_pos, yes, sizeof yes);
        ids_text(l->ans.neg, l->ans.n_neg, no, sizeof no);
        const char *kv[] = { "template", eng_template_name(l->tmpl), "template_from", l->tmpl_why[0] ? l->tmpl_why : "the job",
                             ms->role == ROLE_JUDGE ? NULL : "answer_ids_yes", yes, "answer_ids_no", no, NULL };
        char *js = json_strings_object(kv);
        if (!js) rc = err_set(RC_ENOMEM, "out of memory");
        else if (strlen(js) >= cap) rc = err_set(RC_ECONFIG, "model '%s': its settings do not fit in %zu bytes", ms->name, cap);
        else memcpy(settings, js, strlen(js) + 1);
        free(js);
        if (!rc && l->tmpl_why[0]) log_info("%s '%s': template %s (%s)", ms->role == ROLE_JUDGE ? "judge" : "model", ms->name, eng_template_name(l->tmpl), l->tmpl_why);
    }
    lclose(l);
    return rc;
}

/* The image's rows: from the cache when this rank has encoded the same file
 * with the same settings, else encoded (and kept).  *rows points into the
 * cache or at l->embd.  RC_OK; -1: an item error, in out; else a run-level error. */
static int image_rows(struct lctx *l, const struct item *it, const struct image *img, struct eval_out *out,
                      const float **rows, int *gw, int *gh)
{
    uint8_t key[32];
    int keyed = 0;
    l->n_images++;
    if (l->cache && it->image) {
        char *bytes = NULL;
        size_t len = 0;
        if (util_read_file(it->image, &bytes, &len) == RC_OK) {   /* it was just decoded: in the page cache */
            uint8_t sha[32];
            util_sha256(bytes, len, sha);
            embd_cache_key(sha, l->vis_settings, key);
            keyed = 1;
            size_t n;
            *rows = embd_cache_get(l->cache, key, &n, gw, gh);
            if (*rows) { free(bytes); return RC_OK; }
        }
        free(bytes);
    }
    int rc = eng_vision_encode_grid(l->vc, l->o.vision_mode, img->rgb, img->w, img->h, l->embd, gw, gh);
    if (rc) {
        out->error = rc == RC_ENOMEM ? IE_BACKEND : IE_IMAGE;
        snprintf(out->reason, sizeof out->reason, "cannot encode the image: %s", eng_errmsg());
        return -1;
    }
    l->n_encoded++;
    *rows = l->embd;
    if (keyed && (rc = embd_cache_put(l->cache, key, l->embd, (size_t)*gw * (size_t)*gh * (size_t)eng_n_embd(l->m), *gw, *gh)))
        return rc;
    return RC_OK;
}

static int leval(void *ctx, size_t idx, const struct item *it, const struct image *img, struct eval_out *out)
{
    (void)idx;
    struct lctx *l = ctx;
    out->text = NULL;
    int gw = 0, gh = 0;
    const float *rows = NULL;
    int rc = image_rows(l, it, img, out, &rows, &gw, &gh);
    if (rc < 0) return RC_OK;
    if (rc) return rc;
    char *prompt = NULL;
    rc = eng_chat_prompt(l->tmpl, l->o.system, it->prompt, 1, &prompt);
    if (rc) return err_set(rc, "%s", eng_errmsg());
    eng_ctx_reset(l->c);
    int n_pos = 0;
    rc = eng_vl_prefill(l->c, prompt, rows, gw, gh, 0, &n_pos);
    free(prompt);
    if (rc) {
        out->error = rc == RC_ECTX ? IE_CONTEXT : rc == RC_EINPUT ? IE_PROMPT : IE_BACKEND;
        snprintf(out->reason, sizeof out->reason, "%s", eng_errmsg());
        return rc == RC_ENOMEM ? err_set(rc, "%s", eng_errmsg()) : RC_OK;
    }
    double delta, p_no, mass;
    eng_answers_score(&l->ans, eng_logits(l->c), eng_n_vocab(l->m), &delta, &p_no, &mass);
    out->p_unsafe = (float)p_no;
    out->verdict = p_no > 0.5 ? V_UNSAFE : V_SAFE;
    if (l->o.max_new > 0) {
        /* greedy until an end-of-generation token (EOS, <|eot_id|>, <|im_end|>, ...);
         * decoded as a stream so a character split over tokens is kept whole */
        size_t n = 0;
        int full = 0;             /* a piece did not fit: the text stops there */
        struct eng_utf8_hold hold = { { 0 }, 0 };
        char piece[1100];
        for (int k = 0; k < l->o.max_new; k++) {
            int32_t t = eng_argmax(l->c);
            if (eng_token_is_eog(l->m, t)) break;
            int pl = eng_token_piece_stream(l->m, &hold, t, 0, piece, (int)sizeof piece);
            if (!full && n + (size_t)pl < l->text_cap) { memcpy(l->text + n, piece, (size_t)pl); n += (size_t)pl; }
            else full = 1;
            if (k + 1 == l->o.max_new || eng_ctx_n_past(l->c) >= eng_ctx_n_ctx(l->c)) break;   /* done, or the context is full */
            if (eng_decode(l->c, t)) break;
        }
        int pl = eng_token_flush(&hold, piece, (int)sizeof piece);
        if (!full && n + (size_t)pl < l->text_cap) { memcpy(l->text + n, piece, (size_t)pl); n += (size_t)pl; }
        l->text[n] = 0;
        out->generated = 1;
    } else {
        snprintf(l->text, l->text_cap, "%s", out->verdict == V_UNSAFE ? l->o.no : l->o.yes);
    }
    out->text = l->text;
    return RC_OK;
}

/* A whole answer (with the item's image) or a judge's text (text only):
 * greedy until an end-of-generation token, q->max_new tokens or a full
 * context, decoded as a stream; the text grows as needed (never cut). */
static int lgenerate(void *ctx, const struct gen_req *q, struct eval_out *out)
{
    struct lctx *l = ctx;
    out->text = NULL;
    int gw = 0, gh = 0;
    const float *img = NULL;
    if (q->img) {   /* through the image cache, as for verdicts */
        if (!l->vc) return err_set(RC_ECONFIG, "model '%s' has no mmproj: it cannot see images", l->name);
        int rc = image_rows(l, q->it, q->img, out, &img, &gw, &gh);
        if (rc < 0) return RC_OK;
        if (rc) return rc;
    }
    char *prompt = NULL;
    int rc = eng_chat_prompt(l->tmpl, l->o.system, q->prompt, img != NULL, &prompt);
    if (rc) return err_set(rc, "%s", eng_errmsg());
    eng_ctx_reset(l->c);
    int n_pos = 0;
    rc = eng_vl_prefill(l->c, prompt, img, gw, gh, 0, &n_pos);
    free(prompt);
    if (rc) {
        out->error = rc == RC_ECTX ? IE_CONTEXT : rc == RC_EINPUT ? IE_PROMPT : IE_BACKEND;
        snprintf(out->reason, sizeof out->reason, "%s", eng_errmsg());
        return rc == RC_ENOMEM ? err_set(rc, "%s", eng_errmsg()) : RC_OK;
    }
    out->n_prompt = n_pos;
    out->stop = STOP_MAX;
    size_t n = 0;
    struct eng_utf8_hold hold = { { 0 }, 0 };
    char piece[1100];
    int k;
    for (k = 0; k < q->max_new; k++) {
        int32_t t = eng_argmax(l->c);
        if (eng_token_is_eog(l->m, t)) { out->stop = STOP_EOG; break; }
        int pl = eng_token_piece_stream(l->m, &hold, t, 0, piece, (int)sizeof piece);
        if ((rc = text_reserve(l, n + (size_t)pl + 8))) return rc;
        memcpy(l->text + n, piece, (size_t)pl);
        n += (size_t)pl;
        if (k + 1 == q->max_new) { k++; break; }
        if (eng_ctx_n_past(l->c) >= eng_ctx_n_ctx(l->c)) { k++; out->stop = STOP_CTX; break; }
        if ((rc = eng_decode(l->c, t))) {
            out->error = IE_BACKEND;
            snprintf(out->reason, sizeof out->reason, "decoding failed after %d token(s): %s", k + 1, eng_errmsg());
            return rc == RC_ENOMEM ? err_set(rc, "%s", eng_errmsg()) : RC_OK;
        }
    }
    out->n_generated = k;
    int pl = eng_token_flush(&hold, piece, (int)sizeof piece);
    if ((rc = text_reserve(l, n + (size_t)pl + 1))) return rc;
    memcpy(l->text + n, piece, (size_t)pl);
    n += (size_t)pl;
    l->text[n] = 0;
    out->text = l->text;
    return RC_OK;
}

const struct backend_ops backend_llava = {
    .name = "native",
    .needs_pixels = 1,
    .check = lcheck,
    .open = lopen,
    .eval = leval,
    .close = lclose,
    .generate = lgenerate,
};
