/*
 * vision_qwen.c - the Qwen2-VL and Qwen2.5-VL vision towers (mmproj projector
 * types qwen2vl_merger and qwen2.5vl_merger) and their dynamic-resolution
 * input (../shared/docs/qwen-vl-reference-notes.md; the reference's graph is
 * tools/mtmd/models/qwen2vl.cpp at llama.cpp 3f545be, read for facts only).
 * Reached through the eng_vision_* API (vision.c dispatches here when the
 * mmproj is a Qwen one).
 *
 * The computation, for an image preprocessed to W x H pixels (multiples of 28):
 *   1. 14-px patches, px = W/14 by py = H/14, through both temporal patch
 *      kernels (v.patch_embd.weight and .weight.1: a still image is the same
 *      frame twice) and the two products summed; no bias, no class token, no
 *      absolute position embedding.
 *   2. The sequence is ordered by 2x2 merge unit: unit (my, mx) of the
 *      gw x gh = px/2 x py/2 grid holds patches (2my+dy, 2mx+dx), dy then dx.
 *      Qwen2.5-VL with window attention orders the units window by window
 *      (windows of 112 px = 4 x 4 units, row major; edge windows smaller) and
 *      restores the row-major unit order after the merger, as the reference.
 *   3. Blocks: x += attn(norm1(x)); x += mlp(norm2(x)).  Norm: LayerNorm
 *      (Qwen2-VL) or RMSNorm (Qwen2.5-VL), epsilon from the file.  Attention:
 *      Q/K/V with biases, 2-D rotary embedding (pairs (i, i + dh/2); the first
 *      dh/4 pairs turn with the patch row, the next dh/4 with its column, each
 *      at theta = pos * 10000^(-4j/dh)), softmax over the whole image, or, on
 *      Qwen2.5-VL blocks l with (l+1) % n_wa_pattern != 0, over the window.
 *      MLP: quick-GELU (Qwen2-VL) or SiLU-gated (Qwen2.5-VL, clip.use_silu).
 *   4. v.post_ln (the merger's ln_q), then each unit's 4 rows concatenated
 *      (4D) through mm.0, GELU, mm.2: one LM input row per unit.
 * llama.cpp mode: the merger's GELU is the tanh approximation (the original
 * uses erf: original mode).  Arithmetic as the CLIP tower (vision.c): fast =
 * the reference's CPU roundings (F16 im2col, F16 activations for F16 weights,
 * quick-GELU / GELU tables), exact = plain float32.  Attention runs query block
 * by query block, so memory grows linearly with the image, not quadratically.
 */
#include "vision.h"
#include "gguf.h"
#include "ops.h"
#include "quant.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QV_MERGE 2          /* spatial_merge_size: only 2 exists (Qwen2/2.5-VL) */
#define QV_WINDOW_PX 112    /* Qwen2.5-VL window; the reference hard-codes it (no GGUF key) */
#define QV_CHUNK 1024       /* rows per chunk of im2col, MLP and merger scratch */
#define QV_QBLOCK 256       /* query rows per attention block */

struct qv_layer {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;   /* (D); biases only with LayerNorm */
    struct wmat wq, wk, wv, wo;             /* [D, D] */
    float *bq, *bk, *bv, *bo;
    struct wmat gate, up, down;             /* gate [D, F] (Qwen2.5-VL) or absent; up [D, F]; down [F, D] */
    float *b_gate, *b_up, *b_down;
};

struct qvis {
    int qwen25;                 /* projector qwen2.5vl_merger */
    int rms;                    /* RMSNorm (Qwen2.5-VL) instead of LayerNorm */
    int act;                    /* MLP activation: VIS_ACT_QUICK_GELU or VIS_ACT_SILU */
    int D, H, dh, F, n_layer, P, n_wa, M, n_out;
    float eps;
    float mean[3], std[3];
    int min_tok, max_tok;       /* user limits on merged tokens (0: the mode's default) */
    const uint16_t *tq, *tg;    /* the owner's F16 tables of quick GELU and tanh GELU (fast mode) */
    struct wmat patch[2];       /* as stored */
    struct wmat patch_f16[2];   /* rounded to F16 (fast mode: im2col is F16) */
    uint16_t *patch_f16_data[2];
    struct qv_layer *L;
    float *post_w, *post_b;
    struct wmat mm0, mm2;
    float *mm0_b, *mm2_b;
};

struct qvis_ctx {
    const struct qvis *q;
    int nt, arith;
    int T_max;                  /* patches the scratch holds: 4 x max tokens */
    struct mm_scratch mm;
    float *pre;                 /* (3, H, W) of the largest image */
    float *cols;                /* (QV_CHUNK, P*P*3) */
    float *x, *u, *qb, *kb, *vb;/* (T, D) */
    float *rc, *rs;             /* (T, dh/2) rotary cos / sin */
    float *qh, *kh, *vt;        /* per thread: (QV_QBLOCK, dh), one head's K (T, dh) and V^T (dh, T) */
    float *probs;               /* per thread: (QV_QBLOCK, T) */
    int *rg, *jobs;             /* attention ranges [rg[2i], rg[2i+1]) and their first jobs (+ end) */
    float *h1, *h2;             /* (QV_CHUNK, max(F, M)) */
    float *y;                   /* (QV_CHUNK, n_out) */
    int *uord, *wins;           /* unit order (slot -> row-major unit); window starts in units (+ end) */
};

/* ------------------------------------------------------------------ loading */

static int q_tensor_w(const struct gguf *g, const char *name, int64_t K, int64_t N, struct wmat *w, int optional)
{
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) {
        memset(w, 0, sizeof *w);
        return optional ? RC_OK : eng_err(RC_EFORMAT, "missing tensor %s", name);
    }
    if (t->n_dims > 2 || t->ne[0] != K || t->ne[1] != N)
        return eng_err(RC_EFORMAT, "tensor %s has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                       "], expected [%" PRId64 ", %" PRId64 "]", name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], K, N);
    if (!qt_weight_ok(t->type) || t->ne[0] % qt_info(t->type)->blck)
        return eng_err(RC_EFORMAT, "tensor %s: type %s is not supported here", name, qt_name(t->type));
    w->type = t->type; w->K = K; w->N = N; w->row_bytes = t->row_bytes; w->data = t->data;
    return RC_OK;
}

static int q_tensor_f32(const struct gguf *g, const char *name, int64_t n, float **out, int optional)
{
    *out = NULL;
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) return optional ? RC_OK : eng_err(RC_EFORMAT, "missing tensor %s", name);
    if (t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] != n || t->n_dims > 1)
        return eng_err(RC_EFORMAT, "tensor %s should be a vector of %" PRId64 " elements", name, n);
    if (!qt_weight_ok(t->type) || t->ne[0] % qt_info(t->type)->blck)
        return eng_err(RC_EFORMAT, "tensor %s: type %s is not supported here", name, qt_name(t->type));
    if (!(*out = malloc((size_t)n * sizeof(float)))) return eng_err(RC_ENOMEM, "out of memory");
    qt_dequant_row(t->type, t->data, *out, n);
    return RC_OK;
}

static int q_f32x3(const struct gguf *g, const char *key, float out[3])
{
    const struct gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return eng_err(RC_EFORMAT, "missing required key %s", key);
    if (kv->type != GGUF_ARRAY || kv->n < 3 || (kv->arr_type != GGUF_F32 && kv->arr_type != GGUF_F64))
        return eng_err(RC_EFORMAT, "%s should be an array of at least 3 floats", key);
    for (int c = 0; c < 3; c++) {
        if (kv->arr_type == GGUF_F32) memcpy(&out[c], kv->data + 4 * c, 4);
        else { double d; memcpy(&d, kv->data + 8 * c, 8); out[c] = (float)d; }
        if (!isfinite(out[c])) return eng_err(RC_EFORMAT, "%s[%d] is not finite", key, c);
    }
    return RC_OK;
}

void qvis_free(struct qvis *q)
{
    if (!q) return;
    if (q->L)
        for (int i = 0; i < q->n_layer; i++) {
            struct qv_layer *l = &q->L[i];
            free(l->ln1_w); free(l->ln1_b); free(l->ln2_w); free(l->ln2_b);
            free(l->bq); free(l->bk); free(l->bv); free(l->bo); free(l->b_gate); free(l->b_up); free(l->b_down);
        }
    free(q->L);
    free(q->patch_f16_data[0]); free(q->patch_f16_data[1]);
    free(q->post_w); free(q->post_b); free(q->mm0_b); free(q->mm2_b);
    free(q);
}

static int load_layer(const struct gguf *g, struct qvis *q, int i)
{
    const int64_t D = q->D, F = q->F;
    struct qv_layer *l = &q->L[i];
    char n[96];
    int rc;
#define VEC(field, suffix, len, opt) (snprintf(n, sizeof n, "v.blk.%d.%s", i, suffix), q_tensor_f32(g, n, len, &l->field, opt))
#define MAT(field, suffix, K, N, opt) (snprintf(n, sizeof n, "v.blk.%d.%s", i, suffix), q_tensor_w(g, n, K, N, &l->field, opt))
    if ((rc = VEC(ln1_w, "ln1.weight", D, 0)) || (rc = VEC(ln1_b, "ln1.bias", D, 1)) ||
        (rc = VEC(ln2_w, "ln2.weight", D, 0)) || (rc = VEC(ln2_b, "ln2.bias", D, 1)) ||
        (rc = MAT(wq, "attn_q.weight", D, D, 0)) || (rc = VEC(bq, "attn_q.bias", D, 0)) ||
        (rc = MAT(wk, "attn_k.weight", D, D, 0)) || (rc = VEC(bk, "attn_k.bias", D, 0)) ||
        (rc = MAT(wv, "attn_v.weight", D, D, 0)) || (rc = VEC(bv, "attn_v.bias", D, 0)) ||
        (rc = MAT(wo, "attn_out.weight", D, D, 0)) || (rc = VEC(bo, "attn_out.bias", D, 0)))
        return rc;
    if (!q->rms && (!l->ln1_b || !l->ln2_b))
        return eng_err(RC_EFORMAT, "block %d: Qwen2-VL's LayerNorms need ln1.bias and ln2.bias", i);
    /* the reference swaps ffn_up and ffn_down (weights and biases) when ffn_down's
     * first dimension is the tower width (legacy naming), for these projectors too */
    snprintf(n, sizeof n, "v.blk.%d.ffn_down.weight", i);
    const struct gguf_tensor *td = gguf_find_tensor(g, n);
    const int swapped = td && td->ne[0] == D;
    const char *up = swapped ? "ffn_down" : "ffn_up", *down = swapped ? "ffn_up" : "ffn_down";
    char a[64], b[64];
    snprintf(a, sizeof a, "%s.weight", up);
    snprintf(b, sizeof b, "%s.bias", up);
    if ((rc = MAT(up, a, D, F, 0)) || (rc = VEC(b_up, b, F, 1))) return rc;
    snprintf(a, sizeof a, "%s.weight", down);
    snprintf(b, sizeof b, "%s.bias", down);
    if ((rc = MAT(down, a, F, D, 0)) || (rc = VEC(b_down, b, D, 1))) return rc;
    if ((rc = MAT(gate, "ffn_gate.weight", D, F, 1))) return rc;
    if (l->gate.data && (rc = VEC(b_gate, "ffn_gate.bias", F, 1))) return rc;
#undef VEC
#undef MAT
    return RC_OK;
}

int qvis_load(const struct gguf *g, int qwen25, struct qvis **out)
{
    *out = NULL;
    struct qvis *q = calloc(1, sizeof *q);
    if (!q) return eng_err(RC_ENOMEM, "out of memory");
    q->qwen25 = q->rms = qwen25;
    int rc, use_gelu = 0, use_silu = 0, merge = QV_MERGE, proj_dim = 0;
    if ((rc = vis_key_u32(g, "clip.vision.patch_size", &q->P, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.embedding_length", &q->D, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.feed_forward_length", &q->F, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.attention.head_count", &q->H, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.block_count", &q->n_layer, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.n_wa_pattern", &q->n_wa, 0)) ||
        (rc = vis_key_u32(g, "clip.vision.spatial_merge_size", &merge, 0)) ||
        (rc = vis_key_u32(g, "clip.vision.projection_dim", &proj_dim, 0)) ||
        (rc = q_f32x3(g, "clip.vision.image_mean", q->mean)) || (rc = q_f32x3(g, "clip.vision.image_std", q->std)))
        goto fail;
    rc = gguf_get_f32(g, "clip.vision.attention.layer_norm_epsilon", &q->eps);
    if (rc == 1) rc = eng_err(RC_EFORMAT, "missing required key clip.vision.attention.layer_norm_epsilon");
    if (rc) goto fail;
    if ((rc = gguf_get_bool(g, "clip.use_gelu", &use_gelu)) > 1 || (rc = gguf_get_bool(g, "clip.use_silu", &use_silu)) > 1) goto fail;
    rc = RC_OK;
    if (use_gelu) { rc = eng_err(RC_EFORMAT, "clip.use_gelu with a Qwen-VL projector is not supported"); goto fail; }
    q->act = use_silu ? VIS_ACT_SILU : VIS_ACT_QUICK_GELU;
    if (qwen25 && !gguf_find_kv(g, "clip.vision.n_wa_pattern")) {
        rc = eng_err(RC_EFORMAT, "missing required key clip.vision.n_wa_pattern (Qwen2.5-VL window attention)");
        goto fail;
    }
    if (!qwen25) q->n_wa = 0;   /* the reference's Qwen2-VL graph has no windows */
    if (merge != QV_MERGE) { rc = eng_err(RC_EFORMAT, "spatial_merge_size %d is not supported (2)", merge); goto fail; }
    if (q->P <= 0 || q->P > 64 || q->D <= 0 || q->H <= 0 || q->F <= 0 || q->n_layer <= 0 || q->D % q->H) {
        rc = eng_err(RC_EFORMAT, "implausible vision hyper-parameters (patch %d, width %d, heads %d, FFN %d, blocks %d)",
                     q->P, q->D, q->H, q->F, q->n_layer);
        goto fail;
    }
    q->dh = q->D / q->H;
    if (q->dh % 4 || q->dh > 256) {
        rc = eng_err(RC_EFORMAT, "head dimension %d: the 2-D rotary embedding needs a multiple of 4 (at most 256)", q->dh);
        goto fail;
    }
    if (!(q->eps > 0 && q->eps < 1)) { rc = eng_err(RC_EFORMAT, "layer_norm_epsilon %g is implausible", (double)q->eps); goto fail; }
    for (int c = 0; c < 3; c++)
        if (!(q->std[c] > 0)) { rc = eng_err(RC_EFORMAT, "clip.vision.image_std[%d] must be positive", c); goto fail; }
    if (gguf_find_tensor(g, "v.patch_embd.bias") || gguf_find_tensor(g, "v.class_embd")) {
        rc = eng_err(RC_EFORMAT, "a patch bias or class embedding in a Qwen-VL mmproj (the reference refuses it)");
        goto fail;
    }
    const int64_t P = q->P, D = q->D, KP = P * P * 3;
    for (int k = 0; k < 2; k++) {
        const char *nm = k ? "v.patch_embd.weight.1" : "v.patch_embd.weight";
        const struct gguf_tensor *pt = gguf_find_tensor(g, nm);
        if (!pt) { rc = eng_err(RC_EFORMAT, "missing tensor %s (Qwen-VL has two temporal patch kernels)", nm); goto fail; }
        if (pt->ne[0] != P || pt->ne[1] != P || pt->ne[2] != 3 || pt->ne[3] != D) {
            rc = eng_err(RC_EFORMAT, "%s has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "], expected [%" PRId64
                         ", %" PRId64 ", 3, %" PRId64 "]", nm, pt->ne[0], pt->ne[1], pt->ne[2], pt->ne[3], P, P, D);
            goto fail;
        }
        if (pt->type != QT_F32 && pt->type != QT_F16 && pt->type != QT_BF16) {
            rc = eng_err(RC_EFORMAT, "%s: type %s is not supported (F32/F16/BF16)", nm, qt_name(pt->type));
            goto fail;
        }
        q->patch[k] = (struct wmat){ pt->type, KP, D, qt_row_bytes(pt->type, KP), pt->data, NULL };
        uint16_t *h = malloc((size_t)KP * (size_t)D * 2);
        float *row = malloc((size_t)KP * sizeof *row);
        if (!h || !row) { free(h); free(row); rc = eng_err(RC_ENOMEM, "out of memory"); goto fail; }
        for (int64_t o = 0; o < D; o++) {
            qt_dequant_row(pt->type, (const uint8_t *)pt->data + (size_t)o * q->patch[k].row_bytes, row, KP);
            for (int64_t e = 0; e < KP; e++) h[o * KP + e] = f2h(row[e]);
        }
        free(row);
        q->patch_f16_data[k] = h;
        q->patch_f16[k] = (struct wmat){ QT_F16, KP, D, (size_t)KP * 2, (const uint8_t *)h, NULL };
    }
    if (!(q->L = calloc((size_t)q->n_layer, sizeof *q->L))) { rc = eng_err(RC_ENOMEM, "out of memory"); goto fail; }
    for (int i = 0; i < q->n_layer; i++)
        if ((rc = load_layer(g, q, i))) goto fail;
    if ((rc = q_tensor_f32(g, "v.post_ln.weight", D, &q->post_w, 1)) || (rc = q_tensor_f32(g, "v.post_ln.bias", D, &q->post_b, 1)))
        goto fail;
    if (!q->post_w && q->post_b) { rc = eng_err(RC_EFORMAT, "v.post_ln.bias without v.post_ln.weight"); goto fail; }
    const struct gguf_tensor *m0 = gguf_find_tensor(g, "mm.0.weight"), *m2 = gguf_find_tensor(g, "mm.2.weight");
    if (!m0 || !m2) { rc = eng_err(RC_EFORMAT, "missing tensor %s", m0 ? "mm.2.weight" : "mm.0.weight"); goto fail; }
    if (m0->ne[0] != 4 * D) {
        rc = eng_err(RC_EFORMAT, "mm.0.weight takes %" PRId64 " inputs, the merger gives 4 x %" PRId64, m0->ne[0], D);
        goto fail;
    }
    if (m0->ne[1] <= 0 || m0->ne[1] > (1 << 20) || m2->ne[1] <= 0 || m2->ne[1] > (1 << 20) || m2->ne[0] != m0->ne[1]) {
        rc = eng_err(RC_EFORMAT, "merger widths are inconsistent (mm.0 gives %" PRId64 ", mm.2 takes %" PRId64 ")", m0->ne[1], m2->ne[0]);
        goto fail;
    }
    q->M = (int)m0->ne[1];
    q->n_out = (int)m2->ne[1];
    if (proj_dim && proj_dim != q->n_out) {
        rc = eng_err(RC_EFORMAT, "clip.vision.projection_dim %d but mm.2 gives %d", proj_dim, q->n_out);
        goto fail;
    }
    if ((rc = q_tensor_w(g, "mm.0.weight", 4 * D, q->M, &q->mm0, 0)) || (rc = q_tensor_f32(g, "mm.0.bias", q->M, &q->mm0_b, 0)) ||
        (rc = q_tensor_w(g, "mm.2.weight", q->M, q->n_out, &q->mm2, 0)) || (rc = q_tensor_f32(g, "mm.2.bias", q->n_out, &q->mm2_b, 0)))
        goto fail;
    *out = q;
    return RC_OK;
fail:
    qvis_free(q);
    return rc;
}

/* ------------------------------------------------------------ geometry */

int qvis_set_limits(struct qvis *q, int min_tokens, int max_tokens)
{
    if (min_tokens < 0 || max_tokens < 0 || max_tokens > (1 << 20) || (max_tokens && min_tokens > max_tokens))
        return eng_err(RC_ECONFIG, "image token limits %d..%d: need 0 <= min <= max", min_tokens, max_tokens);
    q->min_tok = min_tokens;
    q->max_tok = max_tokens;
    return RC_OK;
}

/* The token limits in force: the user's, else the reference's 8..4096 (llama.cpp
 * mode) or the original processor's minimum of 4 tokens (56 x 56 px) with the
 * same cap (Hugging Face's preprocessor_config allows up to 16384 tokens; set
 * max_image_tokens to match it for images that large). */
static void limits(const struct qvis *q, int mode, int *mn, int *mx)
{
    *mn = q->min_tok ? q->min_tok : mode == ENG_VISION_LLAMA_CPP ? 8 : 4;
    *mx = q->max_tok ? q->max_tok : 4096;
    if (*mn > *mx) *mn = *mx;
}

int qvis_max_tokens(const struct qvis *q)
{
    int mn, mx;
    limits(q, ENG_VISION_LLAMA_CPP, &mn, &mx);
    return mx;
}

int qvis_n_out(const struct qvis *q) { return q->n_out; }
void qvis_set_tables(struct qvis *q, const uint16_t *quick_gelu, const uint16_t *gelu) { q->tq = quick_gelu; q->tg = gelu; }
int qvis_is_25(const struct qvis *q) { return q->qwen25; }
int qvis_align(const struct qvis *q) { return q->P * QV_MERGE; }

int qvis_geometry(const struct qvis *q, int mode, int w, int h, int *tw, int *th)
{
    int mn, mx;
    limits(q, mode, &mn, &mx);
    const int align = q->P * QV_MERGE;
    const int64_t a2 = (int64_t)align * align;
    int rc = preprocess_qwen_size(mode, w, h, align, mn * a2, mx * a2, tw, th);
    if (rc) return rc;
    /* the min-pixel branch can overshoot the cap for extreme aspect ratios */
    if ((int64_t)(*tw / align) * (*th / align) > mx)
        return eng_err(RC_EINPUT, "a %dx%d image needs %d x %d image tokens, more than the cap of %d", w, h, *tw / align, *th / align, mx);
    return RC_OK;
}

int qvis_preprocess(const struct qvis *q, int mode, const uint8_t *rgb, int w, int h, float *out, int *tw, int *th)
{
    int rc = qvis_geometry(q, mode, w, h, tw, th);
    if (rc) return rc;
    uint8_t *img = malloc((size_t)*tw * (size_t)*th * 3);
    if (!img) return eng_err(RC_ENOMEM, "out of memory preprocessing an image");
    rc = preprocess_qwen_resized(mode, rgb, w, h, *tw, *th, img);
    if (!rc) preprocess_normalize_wh(img, *tw, *th, q->mean, q->std, out);
    free(img);
    return rc;
}

/* ------------------------------------------------------------ context */

void qvis_ctx_free(struct qvis_ctx *c)
{
    if (!c) return;
    mm_scratch_release(&c->mm);
    free(c->pre); free(c->cols); free(c->x); free(c->u); free(c->qb); free(c->kb); free(c->vb);
    free(c->rc); free(c->rs); free(c->qh); free(c->kh); free(c->vt); free(c->probs); free(c->rg); free(c->jobs); free(c->h1); free(c->h2);
    free(c->y); free(c->uord); free(c->wins);
    free(c);
}

int qvis_ctx_new(const struct qvis *q, int n_threads, int arith, struct qvis_ctx **out)
{
    *out = NULL;
    struct qvis_ctx *c = calloc(1, sizeof *c);
    if (!c) return eng_err(RC_ENOMEM, "out of memory");
    c->q = q;
    c->nt = n_threads > 0 ? n_threads : 1;
    c->arith = arith;
    const int U = qvis_max_tokens(q);
    const size_t T = (size_t)U * 4, D = (size_t)q->D, KP = (size_t)q->P * q->P * 3, dh = (size_t)q->dh;
    const size_t W = (size_t)(q->F > q->M ? q->F : q->M), CH = QV_CHUNK;
    c->T_max = (int)T;
    c->pre = malloc(T * (size_t)q->P * q->P * 3 * sizeof(float));   /* 3 x H x W = T patches of P*P*3 */
    c->cols = malloc(CH * KP * sizeof(float));
    c->x = malloc(T * D * 4); c->u = malloc(T * D * 4);
    c->qb = malloc(T * D * 4); c->kb = malloc(T * D * 4); c->vb = malloc(T * D * 4);
    c->rc = malloc(T * dh / 2 * 4); c->rs = malloc(T * dh / 2 * 4);
    const size_t nt = (size_t)c->nt;
    c->qh = malloc(nt * QV_QBLOCK * dh * 4); c->kh = malloc(nt * T * dh * 4); c->vt = malloc(nt * T * dh * 4);
    c->probs = malloc(nt * QV_QBLOCK * T * 4);
    c->rg = malloc(((size_t)U + 1) * 2 * sizeof *c->rg); c->jobs = malloc(((size_t)U + 2) * sizeof *c->jobs);
    c->h1 = malloc(CH * W * 4); c->h2 = malloc(CH * W * 4);
    c->y = malloc(CH * (size_t)q->n_out * 4);
    c->uord = malloc((size_t)U * sizeof *c->uord);
    c->wins = malloc(((size_t)U + 1) * sizeof *c->wins);
    int rc = RC_OK;
    if (!c->pre || !c->cols || !c->x || !c->u || !c->qb || !c->kb || !c->vb || !c->rc || !c->rs || !c->qh || !c->kh ||
        !c->vt || !c->probs || !c->h1 || !c->h2 || !c->y || !c->uord || !c->wins || !c->rg || !c->jobs)
        rc = eng_err(RC_ENOMEM, "out of memory (vision scratch for %d image tokens)", U);
    size_t maxK = KP > D ? KP : D;
    if ((size_t)q->F > maxK) maxK = (size_t)q->F;
    if (4 * D > maxK) maxK = 4 * D;
    if ((size_t)q->M > maxK) maxK = (size_t)q->M;
    if (!rc) rc = mm_scratch_init(&c->mm, (int64_t)maxK, (int)CH, c->nt);
    if (rc) { qvis_ctx_free(c); return rc; }
    *out = c;
    return RC_OK;
}

float *qvis_ctx_pre(struct qvis_ctx *c) { return c->pre; }

/* ------------------------------------------------------------ forward */

/* Y += bias in each of T rows of N */
static void add_bias(struct qvis_ctx *c, float *Y, const float *bias, int T, int64_t N)
{
#pragma omp parallel for num_threads(c->nt) schedule(static)
    for (int t = 0; t < T; t++) {
        float *restrict y = Y + (int64_t)t * N;
#pragma omp simd
        for (int64_t n = 0; n < N; n++) y[n] += bias[n];
    }
}

/* Y = X W^T + bias over T rows, QV_CHUNK rows per product: the matmul scratch
 * (activations converted for F16 / quantised weights) holds QV_CHUNK rows. */
static void mmb(struct qvis_ctx *c, const struct wmat *w, int T, const float *X, float *Y, const float *bias)
{
    for (int t0 = 0; t0 < T; t0 += QV_CHUNK) {
        const int R = T - t0 < QV_CHUNK ? T - t0 : QV_CHUNK;
        mm_run(w, R, X + (size_t)t0 * w->K, Y + (size_t)t0 * w->N, c->arith == ENG_ARITH_EXACT ? MM_EXACT : MM_FAST, &c->mm, c->nt, 1);
    }
    if (bias) add_bias(c, Y, bias, T, w->N);
}

/* The gated MLP between its products, R rows of F: g = act(g + bg) (u + bu)
 * (bg, bu NULL when the file has none), ggml's order (the biases, the
 * activation, the product).  SiLU (Qwen2.5-VL's) in one pass a row: silu_mul,
 * fast with the kernel set's e^x as ggml's vector SiLU; another activation
 * first over all rows as vis_act_rows does it. */
static void glu_rows(struct qvis_ctx *c, float *g, float *u, int R, const float *bg, const float *bu)
{
    const struct qvis *q = c->q;
    const int F = q->F, fast = c->arith == ENG_ARITH_FAST, silu = q->act == VIS_ACT_SILU;
    if (!silu) vis_act_rows(c->nt, fast, g, (size_t)R * F, q->act, q->tq, q->tg, bg, (size_t)F);
#pragma omp parallel for num_threads(c->nt) schedule(static)
    for (int r = 0; r < R; r++) {
        float *restrict gr = g + (size_t)r * F, *restrict ur = u + (size_t)r * F;
        if (bu) {
#pragma omp simd
            for (int i = 0; i < F; i++) ur[i] += bu[i];
        }
        if (!silu) {
#pragma omp simd
            for (int i = 0; i < F; i++) gr[i] *= ur[i];
            continue;
        }
        if (bg) {
#pragma omp simd
            for (int i = 0; i < F; i++) gr[i] += bg[i];
        }
        silu_mul(gr, ur, F, fast);
    }
}

/* The 2-D rotary embedding of ggml_rope_multi in vision mode: sections of dh/4
 * pairs, each section's theta restarting from its own position. */
static void rope_tables(struct qvis_ctx *c, const int *py, const int *px, int T)
{
    const int dh = c->q->dh, half = dh / 2, quarter = dh / 4;
    const float theta_scale = powf(10000.0f, -2.0f / (float)half);
    for (int t = 0; t < T; t++) {
        float ty = (float)py[t], tx = (float)px[t];
        for (int i = 0; i < half; i++) {
            if (i == quarter) tx = (float)px[t];   /* the second section restarts at its position */
            const float th = i < quarter ? ty : tx;
            c->rc[(size_t)t * half + i] = cosf(th);
            c->rs[(size_t)t * half + i] = sinf(th);
            ty *= theta_scale;
            tx *= theta_scale;
        }
    }
}

/* x += bias (the product's, before the rotation as in ggml), then rotate: one pass */
static void rope_apply(struct qvis_ctx *c, float *x, int T, const float *bias)
{
    const int D = c->q->D, H = c->q->H, dh = c->q->dh, half = dh / 2;
#pragma omp parallel for num_threads(c->nt) schedule(static)
    for (int t = 0; t < T; t++) {
        const float *cs = c->rc + (size_t)t * half, *sn = c->rs + (size_t)t * half;
        float *restrict xr = x + (size_t)t * D;
#pragma omp simd
        for (int i = 0; i < D; i++) xr[i] += bias[i];
        for (int h = 0; h < H; h++) {
            float *v = x + (size_t)t * D + (size_t)h * dh;
            for (int i = 0; i < half; i++) {
                const float x0 = v[i], x1 = v[i + half];
                v[i] = x0 * cs[i] - x1 * sn[i];
                v[i + half] = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}

/* Softmax attention within each of the nr ranges [rg[2i], rg[2i+1]) of the
 * sequence (the whole of it, or Qwen2.5-VL's windows), Q/K/V rows of qb/kb/vb
 * into att.  Jobs of (range, head, block of <= QV_QBLOCK queries), one per
 * thread at a time: the thread copies the head's K and V^T of the range (kept
 * while its next job has the same range and head) and its query block, and runs
 * both products itself (mm_run's F32 route with one thread, no shared scratch).
 * The blocks and panels are those of one head at a time on all threads, so
 * the same sums at any thread count. */
static void attend_ranges(struct qvis_ctx *c, int nr, float *att)
{
    const struct qvis *q = c->q;
    const int D = q->D, H = q->H, dh = q->dh, fast = c->arith == ENG_ARITH_FAST;
    const float scale = 1.0f / sqrtf((float)dh);
    const int *rg = c->rg;
    int *jobs = c->jobs;
    jobs[0] = 0;
    for (int r = 0; r < nr; r++) jobs[r + 1] = jobs[r] + H * ((rg[2 * r + 1] - rg[2 * r] + QV_QBLOCK - 1) / QV_QBLOCK);
#pragma omp parallel num_threads(c->nt)
    {
        const size_t th = (size_t)omp_get_thread_num();
        float *qh = c->qh + th * QV_QBLOCK * dh, *kh = c->kh + th * c->T_max * dh, *vt = c->vt + th * c->T_max * dh;
        float *P = c->probs + th * QV_QBLOCK * c->T_max;
        int have_r = -1, have_h = -1;
#pragma omp for schedule(dynamic, 1)
        for (int j = 0; j < jobs[nr]; j++) {
            int lo = 0, hi = nr - 1;   /* the range r with jobs[r] <= j < jobs[r + 1] */
            while (lo < hi) {
                const int mid = (lo + hi + 1) / 2;
                if (jobs[mid] <= j) lo = mid; else hi = mid - 1;
            }
            const int r = lo, a = rg[2 * r], Tr = rg[2 * r + 1] - a, nqb = (Tr + QV_QBLOCK - 1) / QV_QBLOCK;
            const int h = (j - jobs[r]) / nqb, r0 = (j - jobs[r]) % nqb * QV_QBLOCK;
            const int R = Tr - r0 < QV_QBLOCK ? Tr - r0 : QV_QBLOCK;
            if (r != have_r || h != have_h) {
                for (int t = 0; t < Tr; t++) {
                    const size_t src = (size_t)(a + t) * D + (size_t)h * dh;
                    memcpy(kh + (size_t)t * dh, c->kb + src, (size_t)dh * sizeof(float));
                    for (int d = 0; d < dh; d++) vt[(size_t)d * Tr + t] = c->vb[src + d];
                }
                have_r = r;
                have_h = h;
            }
            for (int i = 0; i < R; i++)
                memcpy(qh + (size_t)i * dh, c->qb + (size_t)(a + r0 + i) * D + (size_t)h * dh, (size_t)dh * sizeof(float));
            const struct wmat kw = { QT_F32, dh, Tr, (size_t)dh * sizeof(float), (const uint8_t *)kh, NULL };
            const struct wmat vw = { QT_F32, Tr, dh, (size_t)Tr * sizeof(float), (const uint8_t *)vt, NULL };
            mm_run(&kw, R, qh, P, MM_EXACT, &c->mm, 1, 1);
            for (int i = 0; i < R; i++) vis_softmax_row(P + (size_t)i * Tr, Tr, scale, fast);
            mm_run(&vw, R, P, qh, MM_EXACT, &c->mm, 1, 1);   /* out over the block's queries */
            for (int i = 0; i < R; i++)
                memcpy(att + (size_t)(a + r0 + i) * D + (size_t)h * dh, qh + (size_t)i * dh, (size_t)dh * sizeof(float));
        }
    }
}

int qvis_encode_pre(struct qvis_ctx *c, int mode, const float *pre, int W, int Hpx, float *out)
{
    const struct qvis *q = c->q;
    const int P = q->P, D = q->D, align = P * QV_MERGE, fast = c->arith == ENG_ARITH_FAST;
    if (W <= 0 || Hpx <= 0 || W % align || Hpx % align)
        return eng_err(RC_EINPUT, "a %dx%d vision input: sides must be multiples of %d", W, Hpx, align);
    const int gw = W / align, gh = Hpx / align, U = gw * gh, T = 4 * U, KP = P * P * 3;
    if (T > c->T_max)
        return eng_err(RC_EINPUT, "an image of %d tokens is above the cap of %d the context was made for", U, c->T_max / 4);
    /* unit order: row major, or window by window (Qwen2.5-VL with window attention) */
    int nwin = 0;
    const int gwin = QV_WINDOW_PX / align > 0 ? QV_WINDOW_PX / align : 1;
    if (q->n_wa > 0) {
        int k = 0;
        for (int wy = 0; wy < gh; wy += gwin)
            for (int wx = 0; wx < gw; wx += gwin) {
                const int hh = gh - wy < gwin ? gh - wy : gwin, ww = gw - wx < gwin ? gw - wx : gwin;
                c->wins[nwin++] = k;
                for (int dy = 0; dy < hh; dy++)
                    for (int dx = 0; dx < ww; dx++) c->uord[k++] = (wy + dy) * gw + wx + dx;
            }
        c->wins[nwin] = U;
    } else {
        for (int k = 0; k < U; k++) c->uord[k] = k;
    }
    /* patch rows in sequence order, positions (row, column) of each */
    int *py = malloc((size_t)T * 2 * sizeof *py);
    if (!py) return eng_err(RC_ENOMEM, "out of memory");
    int *pxs = py + T;
    for (int s = 0; s < T; s++) {
        const int u = c->uord[s / 4], sub = s % 4;
        py[s] = 2 * (u / gw) + sub / 2;
        pxs[s] = 2 * (u % gw) + sub % 2;
    }
    /* 1. patch embedding: both temporal kernels on the same frame, summed */
    float *x = c->x, *tmp = c->u;
    for (int s0 = 0; s0 < T; s0 += QV_CHUNK) {
        const int R = T - s0 < QV_CHUNK ? T - s0 : QV_CHUNK;
#pragma omp parallel for num_threads(c->nt) schedule(static)
        for (int r = 0; r < R; r++) {
            const int s = s0 + r;
            float *col = c->cols + (size_t)r * KP;
            for (int ch = 0; ch < 3; ch++)
                for (int ky = 0; ky < P; ky++) {
                    const float *src = pre + ((size_t)ch * Hpx + (size_t)(P * py[s] + ky)) * W + (size_t)(P * pxs[s]);
                    for (int kx = 0; kx < P; kx++) col[(ch * P + ky) * P + kx] = fast ? f16_round(src[kx]) : src[kx];
                }
        }
        mmb(c, fast ? &q->patch_f16[0] : &q->patch[0], R, c->cols, x + (size_t)s0 * D, NULL);
        mmb(c, fast ? &q->patch_f16[1] : &q->patch[1], R, c->cols, tmp + (size_t)s0 * D, NULL);
    }
    vis_add(c->nt, x, tmp, (size_t)T * D);
    rope_tables(c, py, pxs, T);
    free(py);

    /* 3. blocks */
    for (int l = 0; l < q->n_layer; l++) {
        const struct qv_layer *L = &q->L[l];
        if (l == 0) vis_norm_rows(c->nt, c->u, x, T, D, L->ln1_w, L->ln1_b, q->eps, q->rms);   /* later: the block before's last pass */
        {
            const struct wmat *ws[3] = { &L->wq, &L->wk, &L->wv };
            for (int t0 = 0; t0 < T; t0 += QV_CHUNK) {   /* the scratch holds QV_CHUNK rows */
                const int R = T - t0 < QV_CHUNK ? T - t0 : QV_CHUNK;
                float *ys[3] = { c->qb + (size_t)t0 * D, c->kb + (size_t)t0 * D, c->vb + (size_t)t0 * D };
                mm_run_n(3, ws, R, c->u + (size_t)t0 * D, ys, c->arith == ENG_ARITH_EXACT ? MM_EXACT : MM_FAST, &c->mm, c->nt, 1);
            }
            add_bias(c, c->vb, L->bv, T, D);
        }
        rope_apply(c, c->qb, T, L->bq);
        rope_apply(c, c->kb, T, L->bk);
        const int full = q->n_wa <= 0 || (l + 1) % q->n_wa == 0;
        int nr = 1;
        c->rg[0] = 0; c->rg[1] = T;
        if (!full)
            for (nr = 0; nr < nwin; nr++) { c->rg[2 * nr] = 4 * c->wins[nr]; c->rg[2 * nr + 1] = 4 * c->wins[nr + 1]; }
        attend_ranges(c, nr, c->u);
        mmb(c, &L->wo, T, c->u, c->qb, NULL);
        vis_residual_norm(c->nt, x, c->qb, L->bo, T, D, c->u, L->ln2_w, L->ln2_b, q->eps, q->rms);
        for (int s0 = 0; s0 < T; s0 += QV_CHUNK) {
            const int R = T - s0 < QV_CHUNK ? T - s0 : QV_CHUNK;
            const float *in = c->u + (size_t)s0 * D;
            float *h = c->h1;
            if (L->gate.data) {
                const struct wmat *ws[2] = { &L->up, &L->gate };
                float *ys[2] = { c->h1, c->h2 };
                mm_run_n(2, ws, R, in, ys, c->arith == ENG_ARITH_EXACT ? MM_EXACT : MM_FAST, &c->mm, c->nt, 1);
                glu_rows(c, c->h2, c->h1, R, L->b_gate, L->b_up);
                h = c->h2;
            } else {
                mmb(c, &L->up, R, in, c->h1, NULL);
                vis_act_rows(c->nt, fast, c->h1, (size_t)R * q->F, q->act, q->tq, q->tg, L->b_up, (size_t)q->F);
            }
            mmb(c, &L->down, R, h, c->qb + (size_t)s0 * D, NULL);
        }
        /* the residual with down's bias, and the next block's first norm */
        const int more = l + 1 < q->n_layer;
        vis_residual_norm(c->nt, x, c->qb, L->b_down, T, D, c->u, more ? L[1].ln1_w : NULL, more ? L[1].ln1_b : NULL, q->eps, q->rms);
    }
    /* 4. merger: ln_q, 4 rows -> one, mm.0, GELU, mm.2; rows back in row-major unit order */
    if (q->post_w) vis_norm_rows(c->nt, x, x, T, D, q->post_w, q->post_b, q->eps, q->rms);
    const int n_out = q->n_out, UC = QV_CHUNK / 4 > 0 ? QV_CHUNK / 4 : 1;
    for (int k0 = 0; k0 < U; k0 += UC) {
        const int R = U - k0 < UC ? U - k0 : UC;
        mmb(c, &q->mm0, R, x + (size_t)k0 * 4 * D, c->h1, NULL);
        vis_act_rows(c->nt, fast, c->h1, (size_t)R * q->M, mode == ENG_VISION_LLAMA_CPP ? VIS_ACT_GELU : VIS_ACT_GELU_ERF, q->tq, q->tg,
                     q->mm0_b, (size_t)q->M);
        mmb(c, &q->mm2, R, c->h1, c->y, q->mm2_b);
        for (int r = 0; r < R; r++)
            memcpy(out + (size_t)c->uord[k0 + r] * n_out, c->y + (size_t)r * n_out, (size_t)n_out * sizeof(float));
    }
    for (size_t i = 0; i < (size_t)U * n_out; i++)
        if (!isfinite(out[i])) return eng_err(RC_EINPUT, "the image embedding is not finite");
    return RC_OK;
}

int qvis_encode(struct qvis_ctx *c, int mode, const uint8_t *rgb, int w, int h, float *out, int *gw, int *gh)
{
    int tw, th;
    int rc = qvis_geometry(c->q, mode, w, h, &tw, &th);
    if (rc) return rc;
    const int align = c->q->P * QV_MERGE;
    if ((int64_t)(tw / align) * (th / align) * 4 > c->T_max)
        return eng_err(RC_EINPUT, "a %dx%d image needs %d image tokens, above the cap of %d the context was made for", w, h,
                       (tw / align) * (th / align), c->T_max / 4);
    if ((rc = qvis_preprocess(c->q, mode, rgb, w, h, c->pre, &tw, &th))) return rc;
    if (gw) *gw = tw / align;
    if (gh) *gh = th / align;
    return qvis_encode_pre(c, mode, c->pre, tw, th, out);
}

void qvis_describe(const struct qvis *q, void *fp)
{
    FILE *f = fp;
    fprintf(f, "  kind: mmproj (general.architecture clip): %s vision tower + patch merger\n", q->qwen25 ? "Qwen2.5-VL" : "Qwen2-VL");
    fprintf(f, "  vision: patch_size %d (dynamic resolution: sides multiples of %d, 2x2 patches per image token), n_embd %d,\n"
               "  n_head %d, head_dim %d (2-D rotary), n_ff %d, %d blocks, %s eps %g, MLP %s%s\n",
            q->P, q->P * QV_MERGE, q->D, q->H, q->dh, q->F, q->n_layer, q->rms ? "RMSNorm" : "LayerNorm", (double)q->eps,
            q->act == VIS_ACT_SILU ? "SiLU" : "quick GELU", q->L && q->L[0].gate.data ? " (gated)" : "");
    if (q->n_wa > 0)
        fprintf(f, "  window attention: windows of %d px (%dx%d image tokens); full attention on blocks %d, %d, ... (n_wa_pattern %d)\n",
                QV_WINDOW_PX, QV_WINDOW_PX / (q->P * QV_MERGE), QV_WINDOW_PX / (q->P * QV_MERGE), q->n_wa - 1, 2 * q->n_wa - 1, q->n_wa);
    fprintf(f, "  merger: ln_q %s, %d -> %d -> %d (GELU between); image tokens per image: 8..4096 by default (the reference's "
               "limits), width %d (the LM's n_embd must be %d)\n",
            q->post_w ? "yes" : "no", 4 * q->D, q->M, q->n_out, q->n_out, q->n_out);
    fprintf(f, "  image_mean %.8g %.8g %.8g, image_std %.8g %.8g %.8g\n", (double)q->mean[0], (double)q->mean[1],
            (double)q->mean[2], (double)q->std[0], (double)q->std[1], (double)q->std[2]);
}
