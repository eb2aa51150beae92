/*
 * vision.c - the CLIP ViT vision tower and LLaVA's two-layer MLP projector
 * (projector type `mlp`) read from an mmproj GGUF, in both vision modes
 * (spec ../shared/docs/gguf-llava-spec.md §5.1-5.6; fixtures README §4, §8,
 * §10, §12).  Pixels come in as RGB bytes (preprocess.c); no image library,
 * no file I/O besides the GGUF.
 *
 *   llama.cpp mode  CLS appended after the patches, positions in sequence
 *                   order, block_count-1 blocks (without feature_layer),
 *                   projector rows 1..n (patches 1..n-1 + CLS), tanh GELU
 *   llava mode      CLS first, all stored blocks (without feature_layer),
 *                   the n patch rows, exact erf GELU; no post_ln (LLaVA takes
 *                   a hidden state, which is before CLIP's post layernorm)
 *
 * Arithmetic: fast (default) reproduces llama.cpp's CPU roundings -- im2col
 * pixels and patch kernel to F16, activations of F16-weight products to F16
 * (mm_run MM_FAST), quick-GELU and tanh-GELU through F16 tables; attention in
 * F32 (flash attention off, the golden setting), or with K and V rounded to
 * F16 when eng_params.kv_type is ENG_KV_F16 (what llama.cpp's default flash
 * attention does to the tower: from 64 queries up, the tiled kernel keeps Q in
 * F32 and widens K/V back; below, the one-chunk kernel also rounds Q and keeps
 * the output accumulator in F16).  exact is plain float32.
 * Matrix products reuse ops.c's mm_run; attention, LayerNorm and activations
 * are here.
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
#include "cpu.h"

_Static_assert((int)ENG_VISION_LLAVA == (int)VISION_MODE_LLAVA &&
               (int)ENG_VISION_LLAMA_CPP == (int)VISION_MODE_LLAMA_CPP,
               "engine.h and preprocess.h agree on the vision modes");

struct vis_layer {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;   /* (D) */
    struct wmat wq, wk, wv, wo;             /* [D, D] */
    float *bq, *bk, *bv, *bo;               /* (D) */
    struct wmat up, down;                   /* after the swap rule: up [D, F], down [F, D] */
    float *b_up, *b_down;                   /* (F), (D) */
};

struct eng_vision {
    struct gguf *g;
    struct vis_hparams hp;
    struct wmat patch;          /* [P*P*3, D] as stored (exact mode) */
    struct wmat patch_f16;      /* the same, rounded to F16 (fast mode: im2col is F16) */
    uint16_t *patch_f16_data;   /* owned backing of patch_f16 */
    float *patch_b;             /* (D) or NULL */
    float *class_embd;          /* (D) */
    float *pos;                 /* (n_patches + 1, D) */
    float *pre_w, *pre_b, *post_w, *post_b;
    struct vis_layer *L;        /* (block_count) */
    struct wmat mm0, mm2;       /* [D, n_mid], [n_mid, n_out] */
    float *mm0_b, *mm2_b;
    uint16_t *gelu_quick_tab;   /* f16(quick_gelu(h2f(i))), ggml's table */
    uint16_t *gelu_tab;         /* f16(gelu_tanh(h2f(i))) */
    struct qvis *q;             /* a Qwen2-VL / Qwen2.5-VL mmproj (vision_qwen.c); then nothing above but the tables */
};

struct eng_vision_ctx {
    const struct eng_vision *v;
    int nt, arith;
    int kv_f16;                 /* K, V rounded to F16 (llama.cpp's flash attention) */
    struct mm_scratch mm;
    float *pre;                 /* (3, S, S) */
    float *cols;                /* (n_patches, P*P*3) im2col */
    float *x, *u, *q, *k, *vv, *att, *tmp;   /* (T, D) each */
    float *qc, *kc, *oc, *vt;   /* per-head Q, K, output (H, T, dh) and V transposed (H, dh, T) */
    float *hff;                 /* (T, max(F, n_mid)) */
#define VIS_QBLOCK 64           /* queries per attention job (T >= 64) */
    float *probs;               /* per thread, (VIS_QBLOCK, T): attention weights of a block of queries */
    float **dbg;
    int dbg_n;
    struct qvis_ctx *qwen;      /* the Qwen tower's scratch (v->q) */
};

/* ------------------------------------------------------------------ loading */

static int tensor_w(const struct gguf *g, const char *name, int64_t K, int64_t N, struct wmat *w)
{
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) return eng_err(RC_EFORMAT, "missing tensor %s", name);
    if (t->n_dims > 2 || t->ne[0] != K || t->ne[1] != N)
        return eng_err(RC_EFORMAT, "tensor %s has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                       "], expected [%" PRId64 ", %" PRId64 "]", name, t->ne[0], t->ne[1], t->ne[2],
                       t->ne[3], K, N);
    if (!qt_weight_ok(t->type) || t->ne[0] % qt_info(t->type)->blck)
        return eng_err(RC_EFORMAT, "tensor %s: type %s is not supported here", name, qt_name(t->type));
    w->type = t->type; w->K = K; w->N = N; w->row_bytes = t->row_bytes; w->data = t->data;
    return RC_OK;
}

/* A tensor of n elements (any shape) decoded to an owned float copy; *out =
 * NULL and RC_OK when optional and absent. */
static int tensor_f32(const struct gguf *g, const char *name, int64_t n, float **out, int optional)
{
    *out = NULL;
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) return optional ? RC_OK : eng_err(RC_EFORMAT, "missing tensor %s", name);
    int64_t ne = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if (ne != n) return eng_err(RC_EFORMAT, "tensor %s has %" PRId64 " elements, expected %" PRId64, name, ne, n);
    if (!qt_weight_ok(t->type) || t->ne[0] % qt_info(t->type)->blck)
        return eng_err(RC_EFORMAT, "tensor %s: type %s is not supported here", name, qt_name(t->type));
    if (!(*out = malloc((size_t)n * sizeof(float)))) return eng_err(RC_ENOMEM, "out of memory");
    int64_t rows = n / t->ne[0];
    for (int64_t r = 0; r < rows; r++)
        qt_dequant_row(t->type, (const uint8_t *)t->data + (size_t)r * t->row_bytes, *out + r * t->ne[0], t->ne[0]);
    return RC_OK;
}

int vis_key_u32(const struct gguf *g, const char *key, int *out, int required)
{
    uint32_t v;
    int rc = gguf_get_u32(g, key, &v);
    if (rc == 1) return required ? eng_err(RC_EFORMAT, "missing required key %s", key) : RC_OK;
    if (rc) return rc;
    if (v > (1u << 24)) return eng_err(RC_EFORMAT, "%s = %u is implausible", key, v);
    *out = (int)v;
    return RC_OK;
}

static int key_bool(const struct gguf *g, const char *key, int *out)
{
    int rc = gguf_get_bool(g, key, out);
    return rc == 1 ? RC_OK : rc;
}

static int key_f32_array3(const struct gguf *g, const char *key, float out[3])
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

/* max(clip.vision.feature_layer), 0 when absent. */
static int key_feature_layer(const struct gguf *g, int *out)
{
    *out = 0;
    const struct gguf_kv *kv = gguf_find_kv(g, "clip.vision.feature_layer");
    if (!kv) return RC_OK;
    if (kv->type != GGUF_ARRAY || kv->n == 0 || kv->n > 64 || (kv->arr_type != GGUF_I32 && kv->arr_type != GGUF_U32))
        return eng_err(RC_EFORMAT, "clip.vision.feature_layer should be a non-empty array of int32");
    int32_t mx = -1;
    for (uint64_t i = 0; i < kv->n; i++) {
        int32_t v;
        memcpy(&v, kv->data + 4 * i, 4);
        if (v > mx) mx = v;
    }
    if (mx < 1) return eng_err(RC_EFORMAT, "clip.vision.feature_layer has no positive layer");
    *out = mx;
    return RC_OK;
}

static uint16_t *make_table(float (*fn)(float))
{
    uint16_t *t = malloc(65536 * sizeof *t);
    if (!t) return NULL;
    for (uint32_t i = 0; i < 65536; i++) t[i] = f2h(fn(h2f((uint16_t)i)));
    return t;
}

/* ggml's scalar definitions (ggml-cpu/vec.h), evaluated in float32. */
static float gelu_quick_f32(float x) { return x * (1.0f / (1.0f + expf(-1.702f * x))); }
static float gelu_tanh_f32(float x)
{
    const float SQRT_2_OVER_PI = 0.79788456080286535587989211986876f, GELU_COEF_A = 0.044715f;
    return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * x * (1.0f + GELU_COEF_A * x * x)));
}
static float gelu_erf_f32(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440084436210484f)); }
static float silu_f32(float x) { return x / (1.0f + expf(-x)); }

void eng_vision_free(struct eng_vision *v)
{
    if (!v) return;
    if (v->L)
        for (int i = 0; i < v->hp.block_count; i++) {
            struct vis_layer *l = &v->L[i];
            free(l->ln1_w); free(l->ln1_b); free(l->ln2_w); free(l->ln2_b);
            free(l->bq); free(l->bk); free(l->bv); free(l->bo); free(l->b_up); free(l->b_down);
        }
    free(v->L);
    free(v->patch_f16_data); free(v->patch_b); free(v->class_embd); free(v->pos);
    free(v->pre_w); free(v->pre_b); free(v->post_w); free(v->post_b);
    free(v->mm0_b); free(v->mm2_b);
    free(v->gelu_quick_tab); free(v->gelu_tab);
    qvis_free(v->q);
    gguf_close(v->g);
    free(v);
}

static int load_hparams(struct eng_vision *v)
{
    const struct gguf *g = v->g;
    struct vis_hparams *hp = &v->hp;
    const char *s;
    size_t n;
    int rc;
    if (gguf_get_str(g, "general.architecture", &s, &n) == RC_OK && !(n == 4 && !memcmp(s, "clip", 4)))
        return eng_err(RC_EFORMAT, "not an mmproj file: general.architecture is '%.*s', not 'clip'", (int)n, s);
    int has_vision = 1;
    if ((rc = key_bool(g, "clip.has_vision_encoder", &has_vision))) return rc;
    if (!has_vision) return eng_err(RC_EFORMAT, "clip.has_vision_encoder is false: no vision tower");
    rc = gguf_get_str(g, "clip.projector_type", &s, &n);
    if (rc == 1) rc = gguf_get_str(g, "clip.vision.projector_type", &s, &n);
    if (rc == 1) return eng_err(RC_EFORMAT, "missing required key clip.projector_type");
    if (rc) return rc;
    if (!(n == 3 && !memcmp(s, "mlp", 3)))
        return eng_err(RC_EFORMAT, "projector type '%.*s' is not supported (only mlp, LLaVA-1.5)", (int)n, s);
    if (gguf_find_tensor(g, "mm.3.weight"))
        return eng_err(RC_EFORMAT, "mm.3.weight present: an mlp_norm (Yi-VL style) projector, not supported");
    if (gguf_find_kv(g, "clip.vision.image_grid_pinpoints"))
        return eng_err(RC_EFORMAT, "clip.vision.image_grid_pinpoints present: LLaVA-1.6 anyres is not supported");
    if (gguf_get_str(g, "clip.vision.mm_patch_merge_type", &s, &n) == RC_OK && n == 13 && !memcmp(s, "spatial_unpad", 13))
        return eng_err(RC_EFORMAT, "mm_patch_merge_type spatial_unpad: LLaVA-1.6 is not supported");

    if ((rc = vis_key_u32(g, "clip.vision.image_size", &hp->image_size, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.patch_size", &hp->patch_size, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.embedding_length", &hp->n_embd, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.feed_forward_length", &hp->n_ff, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.attention.head_count", &hp->n_head, 1)) ||
        (rc = vis_key_u32(g, "clip.vision.block_count", &hp->block_count, 1)))
        return rc;
    int n_head_kv = hp->n_head;
    hp->head_dim = 0;
    if ((rc = vis_key_u32(g, "clip.vision.attention.head_count_kv", &n_head_kv, 0)) ||
        (rc = vis_key_u32(g, "clip.vision.attention.head_dim", &hp->head_dim, 0)))
        return rc;
    rc = gguf_get_f32(g, "clip.vision.attention.layer_norm_epsilon", &hp->eps);
    if (rc == 1) return eng_err(RC_EFORMAT, "missing required key clip.vision.attention.layer_norm_epsilon");
    if (rc) return rc;
    if ((rc = key_f32_array3(g, "clip.vision.image_mean", hp->pre.mean)) ||
        (rc = key_f32_array3(g, "clip.vision.image_std", hp->pre.std)) ||
        (rc = key_feature_layer(g, &hp->feature_layer)))
        return rc;
    int use_gelu = 0, use_silu = 0;
    if ((rc = key_bool(g, "clip.use_gelu", &use_gelu)) || (rc = key_bool(g, "clip.use_silu", &use_silu))) return rc;
    hp->act = use_gelu ? VIS_ACT_GELU : use_silu ? VIS_ACT_SILU : VIS_ACT_QUICK_GELU;

    if (hp->image_size <= 0 || hp->patch_size <= 0 || hp->image_size % hp->patch_size || hp->image_size > 4096)
        return eng_err(RC_EFORMAT, "image_size %d is not a multiple of patch_size %d", hp->image_size, hp->patch_size);
    if (hp->n_embd <= 0 || hp->n_head <= 0 || hp->n_ff <= 0 || hp->block_count <= 0)
        return eng_err(RC_EFORMAT, "vision hyper-parameters must be positive");
    if (!hp->head_dim) {
        if (hp->n_embd % hp->n_head) return eng_err(RC_EFORMAT, "embedding_length %d is not a multiple of head_count %d", hp->n_embd, hp->n_head);
        hp->head_dim = hp->n_embd / hp->n_head;
    }
    if (hp->head_dim * hp->n_head != hp->n_embd)
        return eng_err(RC_EFORMAT, "head_dim %d x head_count %d != embedding_length %d", hp->head_dim, hp->n_head, hp->n_embd);
    if (hp->head_dim > 256) return eng_err(RC_EFORMAT, "head_dim %d is above 256", hp->head_dim);
    if (n_head_kv != hp->n_head) return eng_err(RC_EFORMAT, "head_count_kv %d != head_count %d: not a CLIP tower", n_head_kv, hp->n_head);
    if (hp->feature_layer > hp->block_count)
        return eng_err(RC_EFORMAT, "feature_layer %d but only %d blocks stored", hp->feature_layer, hp->block_count);
    if (!hp->feature_layer && hp->block_count < 2)
        return eng_err(RC_EFORMAT, "block_count %d: llama.cpp would run no block", hp->block_count);
    if (!(hp->eps > 0 && hp->eps < 1)) return eng_err(RC_EFORMAT, "layer_norm_epsilon %g is implausible", (double)hp->eps);
    for (int c = 0; c < 3; c++)
        if (!(hp->pre.std[c] > 0)) return eng_err(RC_EFORMAT, "clip.vision.image_std[%d] must be positive", c);
    int G = hp->image_size / hp->patch_size;
    hp->n_patches = G * G;
    hp->pre.image_size = hp->image_size;
    return RC_OK;
}

static int load_layer(struct eng_vision *v, int i)
{
    const struct gguf *g = v->g;
    const int64_t D = v->hp.n_embd, F = v->hp.n_ff;
    struct vis_layer *l = &v->L[i];
    char n[96];
    int rc;
#define VEC(field, suffix, len) \
    (snprintf(n, sizeof n, "v.blk.%d.%s", i, suffix), tensor_f32(g, n, len, &l->field, 0))
#define MAT(field, suffix, K, N) \
    (snprintf(n, sizeof n, "v.blk.%d.%s", i, suffix), tensor_w(g, n, K, N, &l->field))
    if ((rc = VEC(ln1_w, "ln1.weight", D)) || (rc = VEC(ln1_b, "ln1.bias", D)) ||
        (rc = VEC(ln2_w, "ln2.weight", D)) || (rc = VEC(ln2_b, "ln2.bias", D)) ||
        (rc = MAT(wq, "attn_q.weight", D, D)) || (rc = VEC(bq, "attn_q.bias", D)) ||
        (rc = MAT(wk, "attn_k.weight", D, D)) || (rc = VEC(bk, "attn_k.bias", D)) ||
        (rc = MAT(wv, "attn_v.weight", D, D)) || (rc = VEC(bv, "attn_v.bias", D)) ||
        (rc = MAT(wo, "attn_out.weight", D, D)) || (rc = VEC(bo, "attn_out.bias", D)))
        return rc;
    /* FFN swap rule (spec §5.2): if ffn_down.weight has ne[0] == D it is fc1. */
    snprintf(n, sizeof n, "v.blk.%d.ffn_down.weight", i);
    const struct gguf_tensor *td = gguf_find_tensor(g, n);
    int swapped = td && td->ne[0] == D && D != F;
    if (i == 0) v->hp.ffn_swapped = swapped;
    else if (swapped != v->hp.ffn_swapped) return eng_err(RC_EFORMAT, "blocks disagree on the FFN tensor naming (block %d)", i);
    const char *up = swapped ? "ffn_down" : "ffn_up", *down = swapped ? "ffn_up" : "ffn_down";
    char a[64], b[64];
    snprintf(a, sizeof a, "%s.weight", up);
    snprintf(b, sizeof b, "%s.bias", up);
    if ((rc = MAT(up, a, D, F)) || (rc = VEC(b_up, b, F))) return rc;
    snprintf(a, sizeof a, "%s.weight", down);
    snprintf(b, sizeof b, "%s.bias", down);
    if ((rc = MAT(down, a, F, D)) || (rc = VEC(b_down, b, D))) return rc;
#undef VEC
#undef MAT
    return RC_OK;
}

static int load_tensors(struct eng_vision *v)
{
    const struct gguf *g = v->g;
    struct vis_hparams *hp = &v->hp;
    const int64_t D = hp->n_embd, P = hp->patch_size, T = hp->n_patches + 1;
    int rc;
    const struct gguf_tensor *pt = gguf_find_tensor(g, "v.patch_embd.weight");
    if (!pt) return eng_err(RC_EFORMAT, "missing tensor v.patch_embd.weight");
    if (pt->ne[0] != P || pt->ne[1] != P || pt->ne[2] != 3 || pt->ne[3] != D)
        return eng_err(RC_EFORMAT, "v.patch_embd.weight has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                       "], expected [%" PRId64 ", %" PRId64 ", 3, %" PRId64 "]", pt->ne[0], pt->ne[1], pt->ne[2],
                       pt->ne[3], P, P, D);
    if (pt->type != QT_F32 && pt->type != QT_F16 && pt->type != QT_BF16)
        return eng_err(RC_EFORMAT, "v.patch_embd.weight: type %s is not supported (F32/F16/BF16)", qt_name(pt->type));
    const int64_t KP = P * P * 3;
    v->patch = (struct wmat){ pt->type, KP, D, qt_row_bytes(pt->type, KP), pt->data, NULL };
    /* the F16 copy the fast path multiplies with (ggml's im2col works in F16) */
    if (!(v->patch_f16_data = malloc((size_t)KP * (size_t)D * 2))) return eng_err(RC_ENOMEM, "out of memory");
    float *row = malloc((size_t)KP * sizeof(float));
    if (!row) return eng_err(RC_ENOMEM, "out of memory");
    for (int64_t o = 0; o < D; o++) {
        qt_dequant_row(pt->type, (const uint8_t *)pt->data + (size_t)o * v->patch.row_bytes, row, KP);
        for (int64_t k = 0; k < KP; k++) v->patch_f16_data[o * KP + k] = f2h(row[k]);
    }
    free(row);
    v->patch_f16 = (struct wmat){ QT_F16, KP, D, (size_t)KP * 2, (const uint8_t *)v->patch_f16_data, NULL };

    if ((rc = tensor_f32(g, "v.patch_embd.bias", D, &v->patch_b, 1)) ||
        (rc = tensor_f32(g, "v.class_embd", D, &v->class_embd, 0)))
        return rc;
    const struct gguf_tensor *pe = gguf_find_tensor(g, "v.position_embd.weight");
    if (pe && (pe->ne[0] != D || pe->ne[1] != T))
        return eng_err(RC_EFORMAT, "v.position_embd.weight has %" PRId64 " rows of %" PRId64 ", expected %" PRId64
                       " of %" PRId64 " ((image_size/patch_size)^2 + 1)", pe->ne[1], pe->ne[0], T, D);
    if ((rc = tensor_f32(g, "v.position_embd.weight", T * D, &v->pos, 0)) ||
        (rc = tensor_f32(g, "v.pre_ln.weight", D, &v->pre_w, 1)) ||
        (rc = tensor_f32(g, "v.pre_ln.bias", D, &v->pre_b, 1)) ||
        (rc = tensor_f32(g, "v.post_ln.weight", D, &v->post_w, 1)) ||
        (rc = tensor_f32(g, "v.post_ln.bias", D, &v->post_b, 1)))
        return rc;
    if (!v->pre_w != !v->pre_b || !v->post_w != !v->post_b)
        return eng_err(RC_EFORMAT, "a layer norm has a weight without a bias (or the reverse)");
    hp->has_pre_ln = v->pre_w != NULL;
    hp->has_post_ln = v->post_w != NULL;

    if (!(v->L = calloc((size_t)hp->block_count, sizeof *v->L))) return eng_err(RC_ENOMEM, "out of memory");
    for (int i = 0; i < hp->block_count; i++)
        if ((rc = load_layer(v, i))) return rc;

    const struct gguf_tensor *m0 = gguf_find_tensor(g, "mm.0.weight"), *m2 = gguf_find_tensor(g, "mm.2.weight");
    if (!m0 || !m2) return eng_err(RC_EFORMAT, "missing tensor %s", m0 ? "mm.2.weight" : "mm.0.weight");
    if (m0->ne[0] != D) return eng_err(RC_EFORMAT, "mm.0.weight takes %" PRId64 " inputs, the tower gives %" PRId64, m0->ne[0], D);
    if (m2->ne[0] != m0->ne[1]) return eng_err(RC_EFORMAT, "mm.2.weight takes %" PRId64 " inputs, mm.0 gives %" PRId64, m2->ne[0], m0->ne[1]);
    if (m0->ne[1] <= 0 || m0->ne[1] > (1 << 20) || m2->ne[1] <= 0 || m2->ne[1] > (1 << 20))
        return eng_err(RC_EFORMAT, "projector widths are implausible");
    hp->n_mid = (int)m0->ne[1];
    hp->n_out = (int)m2->ne[1];
    if ((rc = tensor_w(g, "mm.0.weight", D, hp->n_mid, &v->mm0)) ||
        (rc = tensor_f32(g, "mm.0.bias", hp->n_mid, &v->mm0_b, 0)) ||
        (rc = tensor_w(g, "mm.2.weight", hp->n_mid, hp->n_out, &v->mm2)) ||
        (rc = tensor_f32(g, "mm.2.bias", hp->n_out, &v->mm2_b, 0)))
        return rc;
    return RC_OK;
}

/* 1: clip.projector_type qwen2vl_merger, 2: qwen2.5vl_merger, 0: anything else
 * (load_hparams accepts mlp and explains the rest). */
static int qwen_projector(const struct gguf *g)
{
    const char *s;
    size_t n;
    int rc = gguf_get_str(g, "clip.projector_type", &s, &n);
    if (rc == 1) rc = gguf_get_str(g, "clip.vision.projector_type", &s, &n);
    if (rc) return 0;
    if (n == 14 && !memcmp(s, "qwen2vl_merger", 14)) return 1;
    if (n == 16 && !memcmp(s, "qwen2.5vl_merger", 16)) return 2;
    return 0;
}

int eng_vision_open(const char *path, struct eng_vision **out)
{
    *out = NULL;
    eng_tables_init();
    struct eng_vision *v = calloc(1, sizeof *v);
    if (!v) return eng_err(RC_ENOMEM, "out of memory");
    int rc = gguf_open(path, &v->g);
    const int qwen = rc ? 0 : qwen_projector(v->g);
    if (!rc && qwen) rc = qvis_load(v->g, qwen == 2, &v->q);
    if (!rc && !qwen) rc = load_hparams(v);
    if (!rc && !qwen) rc = load_tensors(v);
    if (!rc && (!(v->gelu_quick_tab = make_table(gelu_quick_f32)) || !(v->gelu_tab = make_table(gelu_tanh_f32))))
        rc = eng_err(RC_ENOMEM, "out of memory");
    if (!rc && v->q) qvis_set_tables(v->q, v->gelu_quick_tab, v->gelu_tab);
    if (rc) {
        eng_vision_free(v);
        return rc;
    }
    *out = v;
    return RC_OK;
}

/* `mmsafe inspect` on an mmproj file: what the tower and projector are, as
 * loaded and validated (called by eng_inspect after the metadata and the
 * tensor table). */
int vis_inspect(const char *path, void *fp)
{
    FILE *f = fp;
    struct eng_vision *v = NULL;
    int rc = eng_vision_open(path, &v);
    fprintf(f, "\nmodel:\n");
    if (rc) {
        fprintf(f, "  kind: mmproj (general.architecture clip): vision tower + projector\n");
        fprintf(f, "\nvalidation problems:\n  %s\n", eng_errmsg());
        return rc;
    }
    if (v->q) {
        qvis_describe(v->q, f);
        fprintf(f, "\nvalidation: ok\n");
        eng_vision_free(v);
        return RC_OK;
    }
    const struct vis_hparams *hp = &v->hp;
    static const char *acts[] = { "quick_gelu", "gelu", "silu", "gelu_erf" };
    int G = hp->image_size / hp->patch_size;
    fprintf(f, "  kind: mmproj (general.architecture clip): CLIP ViT vision tower + LLaVA-1.5 MLP projector\n");
    fprintf(f, "  vision: image_size %d, patch_size %d (%dx%d = %d patches + CLS), n_embd %d, n_head %d, head_dim %d, n_ff %d,\n"
               "  blocks %d stored (run: %d in llama.cpp mode, %d in llava mode), feature_layer %d, layer_norm_eps %g,\n"
               "  activation %s, pre_ln %s, post_ln %s, FFN naming %s\n",
            hp->image_size, hp->patch_size, G, G, hp->n_patches, hp->n_embd, hp->n_head, hp->head_dim, hp->n_ff,
            hp->block_count, eng_vision_n_layers_run(v, ENG_VISION_LLAMA_CPP), eng_vision_n_layers_run(v, ENG_VISION_LLAVA),
            hp->feature_layer, (double)hp->eps, acts[hp->act], hp->has_pre_ln ? "yes" : "no", hp->has_post_ln ? "yes" : "no",
            hp->ffn_swapped ? "legacy (ffn_down holds fc1: swapped)" : "standard");
    fprintf(f, "  projector: mlp, %d -> %d -> %d (GELU between); %d image tokens of width %d (the LM's n_embd must be %d)\n",
            hp->n_embd, hp->n_mid, hp->n_out, hp->n_patches, hp->n_out, hp->n_out);
    fprintf(f, "  image_mean %.8g %.8g %.8g, image_std %.8g %.8g %.8g\n", (double)hp->pre.mean[0], (double)hp->pre.mean[1],
            (double)hp->pre.mean[2], (double)hp->pre.std[0], (double)hp->pre.std[1], (double)hp->pre.std[2]);
    fprintf(f, "\nvalidation: ok\n");
    eng_vision_free(v);
    return RC_OK;
}

const struct vis_hparams *eng_vision_hparams(const struct eng_vision *v) { return &v->hp; }
int eng_vision_image_size(const struct eng_vision *v) { return v->q ? 0 : v->hp.image_size; }
int eng_vision_n_tokens(const struct eng_vision *v) { return v->q ? qvis_max_tokens(v->q) : v->hp.n_patches; }
int eng_vision_n_embd(const struct eng_vision *v) { return v->q ? qvis_n_out(v->q) : v->hp.n_out; }
int eng_vision_family(const struct eng_vision *v)
{
    return !v->q ? ENG_VISION_CLIP : qvis_is_25(v->q) ? ENG_VISION_QWEN25VL : ENG_VISION_QWEN2VL;
}
const char *eng_vision_family_name(int family)
{
    return family == ENG_VISION_QWEN2VL ? "Qwen2-VL" : family == ENG_VISION_QWEN25VL ? "Qwen2.5-VL" : "LLaVA (CLIP + mlp)";
}
int eng_vision_set_token_limits(struct eng_vision *v, int min_tokens, int max_tokens)
{
    if (!v->q) return RC_OK;   /* a fixed-size tower: nothing to limit */
    return qvis_set_limits(v->q, min_tokens, max_tokens);
}

int eng_vision_geometry(const struct eng_vision *v, int mode, int w, int h, int *in_w, int *in_h, int *gw, int *gh)
{
    if (w <= 0 || h <= 0) return eng_err(RC_EINPUT, "empty image (%dx%d)", w, h);
    if (!v->q) {
        *in_w = *in_h = v->hp.image_size;
        *gw = v->hp.n_patches;
        *gh = 1;
        return RC_OK;
    }
    int rc = qvis_geometry(v->q, mode, w, h, in_w, in_h);
    if (rc) return rc;
    *gw = *in_w / qvis_align(v->q);
    *gh = *in_h / qvis_align(v->q);
    return RC_OK;
}
const char *eng_vision_mode_name(int mode) { return vision_mode_name(mode); }
int eng_vision_mode_parse(const char *s, int *mode) { return vision_mode_parse(s, mode); }

int eng_vision_n_layers_run(const struct eng_vision *v, int mode)
{
    if (v->hp.feature_layer) return v->hp.feature_layer;
    return mode == ENG_VISION_LLAMA_CPP ? v->hp.block_count - 1 : v->hp.block_count;
}

int eng_vision_preprocess(const struct eng_vision *v, int mode, const uint8_t *rgb, int w, int h, float *out)
{
    if (v->q) {
        int tw, th;
        return qvis_preprocess(v->q, mode, rgb, w, h, out, &tw, &th);
    }
    return preprocess_image(mode, rgb, w, h, &v->hp.pre, out);
}

/* ------------------------------------------------------------------ context */

void eng_vision_ctx_free(struct eng_vision_ctx *c)
{
    if (!c) return;
    qvis_ctx_free(c->qwen);
    mm_scratch_release(&c->mm);
    free(c->pre); free(c->cols); free(c->x); free(c->u); free(c->q); free(c->k); free(c->vv);
    free(c->att); free(c->tmp); free(c->qc); free(c->kc); free(c->oc); free(c->vt); free(c->hff); free(c->probs);
    free(c);
}

int eng_vision_ctx_new(const struct eng_vision *v, const struct eng_params *p, struct eng_vision_ctx **out)
{
    *out = NULL;
    struct eng_params def = ENG_PARAMS_DEFAULT;
    if (!p) p = &def;
    struct eng_vision_ctx *c = calloc(1, sizeof *c);
    if (!c) return eng_err(RC_ENOMEM, "out of memory");
    const struct vis_hparams *hp = &v->hp;
    c->v = v;
    /* the tower's weights (the whole file) are read in now, as the reference reads
     * them at load: the first image's encode does not take ~150k page faults (here,
     * not in eng_vision_open: `inspect` and `preprocess` encode nothing) */
    gguf_prefault(v->g);
    c->nt = p->n_threads > 0 ? p->n_threads : 1;
    c->arith = p->arith == ENG_ARITH_EXACT ? ENG_ARITH_EXACT : ENG_ARITH_FAST;
    if (v->q) {
        /* scratch for the largest image the token cap allows (eng_vision_set_token_limits) */
        int rc = qvis_ctx_new(v->q, c->nt, c->arith, &c->qwen);
        if (rc) { free(c); return rc; }
        *out = c;
        return RC_OK;
    }
    /* Only on request: the goldens (and ENG_KV_AUTO) use F32 attention, as
     * llama.cpp does with flash attention off. */
    c->kv_f16 = p->kv_type == ENG_KV_F16;
    const size_t S = (size_t)hp->image_size, T = (size_t)hp->n_patches + 1, D = (size_t)hp->n_embd;
    const size_t KP = (size_t)hp->patch_size * hp->patch_size * 3;
    const size_t W = (size_t)(hp->n_ff > hp->n_mid ? hp->n_ff : hp->n_mid);
    const size_t wide = W > D ? W : D;
    c->pre = malloc(3 * S * S * 4);
    c->cols = malloc((size_t)hp->n_patches * KP * 4);
    c->x = malloc(T * D * 4); c->u = malloc(T * D * 4); c->q = malloc(T * D * 4);
    c->k = malloc(T * D * 4); c->vv = malloc(T * D * 4); c->att = malloc(T * D * 4);
    c->tmp = malloc(T * D * 4);
    c->qc = malloc(T * D * 4); c->kc = malloc(T * D * 4); c->oc = malloc(T * D * 4); c->vt = malloc(T * D * 4);
    c->hff = malloc(T * W * 4);
    c->probs = malloc((size_t)c->nt * VIS_QBLOCK * T * 4);
    int64_t maxK = (int64_t)(KP > wide ? KP : wide);
    int rc = RC_OK;
    if (!c->pre || !c->cols || !c->x || !c->u || !c->q || !c->k || !c->vv || !c->att || !c->tmp || !c->qc || !c->kc ||
        !c->oc || !c->vt || !c->hff || !c->probs)
        rc = eng_err(RC_ENOMEM, "out of memory (vision scratch)");
    if (!rc) rc = mm_scratch_init(&c->mm, maxK, (int)T, c->nt);
    if (rc) { eng_vision_ctx_free(c); return rc; }
    *out = c;
    return RC_OK;
}

void eng_vision_ctx_set_debug(struct eng_vision_ctx *c, float **rows, int n_stages)
{
    c->dbg = rows;
    c->dbg_n = rows ? n_stages : 0;
}

/* ------------------------------------------------------------------ forward */

static void mm(struct eng_vision_ctx *c, const struct wmat *w, int T, const float *X, float *Y, const float *bias)
{
    mm_run(w, T, X, Y, c->arith == ENG_ARITH_EXACT ? MM_EXACT : MM_FAST, &c->mm, c->nt, 1);
    if (bias) {
        const int64_t N = w->N;
#pragma omp parallel for num_threads(c->nt) schedule(static)
        for (int t = 0; t < T; t++)
            for (int64_t n = 0; n < N; n++) Y[(int64_t)t * N + n] += bias[n];
    }
}

/* ggml_compute_forward_norm_f32, then ggml_mul by w and ggml_add of b: the mean
 * summed in double, the variance from float squares summed in double,
 * scale = 1/sqrtf(var + eps). */
static void layer_norm(struct eng_vision_ctx *c, float *y, const float *x, int T, int D, const float *w,
                       const float *b, float eps)
{
    vis_norm_rows(c->nt, y, x, T, D, w, b, eps, 0);
}

/* One LayerNorm row */
static inline void ln_row(float *yr, const float *xr, int D, const float *w, const float *b, float eps)
{
    double sum = 0.0;
    for (int i = 0; i < D; i++) sum += (double)xr[i];
    const float mean = (float)(sum / D);
    double sum2 = 0.0;
    for (int i = 0; i < D; i++) {
        float d = xr[i] - mean;
        yr[i] = d;
        sum2 += (double)(d * d);
    }
    const float var = (float)(sum2 / D);
    const float scale = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < D; i++) yr[i] = yr[i] * scale * w[i] + b[i];
}

/* One row of vis_norm_rows (y may be x) */
static inline void norm_row(float *yr, const float *xr, int D, const float *w, const float *b, float eps, int rms)
{
    if (!rms) { ln_row(yr, xr, D, w, b, eps); return; }
    op_rmsnorm(yr, xr, w, D, eps);
    if (b)
#pragma omp simd
        for (int i = 0; i < D; i++) yr[i] += b[i];
}

void vis_norm_rows(int nt, float *y, const float *x, int T, int D, const float *w, const float *b, float eps, int rms)
{
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < T; t++) norm_row(y + (size_t)t * D, x + (size_t)t * D, D, w, b, eps, rms);
}

/* vision.h.  y + b is ggml's add of the bias, then x + that its add of the
 * residual: one pass over each row instead of three. */
void vis_residual_norm(int nt, float *x, const float *y, const float *b, int T, int D,
                       float *u, const float *w, const float *lb, float eps, int rms)
{
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < T; t++) {
        float *restrict xr = x + (size_t)t * D;
        const float *restrict yr = y + (size_t)t * D;
        if (b) {
#pragma omp simd
            for (int i = 0; i < D; i++) xr[i] += yr[i] + b[i];
        } else {
#pragma omp simd
            for (int i = 0; i < D; i++) xr[i] += yr[i];
        }
        if (w) norm_row(u + (size_t)t * D, xr, D, w, lb, eps, rms);
    }
}

/* One softmax row in place: s *= scale, then exp(s - max) / sum, the sum in double. */
void vis_softmax_row(float *s, int T, float scale, int fast)
{
    const float mx = scale_max(s, T, scale);
    /* fast: the kernel set's e^x (AVX2: a polynomial within 2 ulp of expf) */
    const double sum = fast ? g_kern.exp_sub_sum(s, T, mx) : kern_scalar.exp_sub_sum(s, T, mx);
    const float inv = (float)(1.0 / sum);
    for (int j = 0; j < T; j++) s[j] *= inv;
}

/* y = x + b (b NULL: a copy), element by element */
static inline void add_bias(float *restrict y, const float *restrict x, const float *restrict b, int n)
{
    if (!b) { memcpy(y, x, (size_t)n * sizeof *y); return; }
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] = x[i] + b[i];
}

/* Full (non-causal) softmax attention per head, F32 as ggml without flash
 * attention: scores = (q.k) * scale, softmax with the exponential sum in
 * double, then the weighted sum of V.  Both products go through mm_run's F32
 * path (BLAS when built with it), on contiguous per-head copies, a block of
 * queries of one head per job. */
static void attention(struct eng_vision_ctx *c, const float *Q, const float *K, const float *V, const float *bq,
                      const float *bk, const float *bv, float *O, int T)
{
    const int D = c->v->hp.n_embd, H = c->v->hp.n_head, dh = c->v->hp.head_dim;
    const float scale = 1.0f / sqrtf((float)dh);
    const int kv16 = c->kv_f16;
    /* per-head copies: Q and K (H, T, dh), V transposed (H, dh, T), each with its
     * projection's bias added (the products leave it out); K and V rounded to
     * F16 when emulating llama.cpp's default flash attention */
#pragma omp parallel for num_threads(c->nt) schedule(static)
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            const size_t src = (size_t)t * D + (size_t)h * dh;
            const float *q = Q + src, *k = K + src, *v = V + src;
            float *qd = c->qc + ((size_t)h * T + t) * dh, *kd = c->kc + ((size_t)h * T + t) * dh;
            float kb[256], vb[256];   /* head_dim <= 256 (checked at load) */
            add_bias(qd, q, bq ? bq + h * dh : NULL, dh);
            add_bias(kb, k, bk ? bk + h * dh : NULL, dh);
            add_bias(vb, v, bv ? bv + h * dh : NULL, dh);
            if (kv16) {
                uint16_t k16[256], v16[256];   /* f16_round, SIMD */
                g_kern.f32_to_f16(kb, k16, dh);
                g_kern.f32_to_f16(vb, v16, dh);
                for (int d = 0; d < dh; d++) {
                    kd[d] = h2f(k16[d]);
                    c->vt[((size_t)h * dh + d) * T + t] = h2f(v16[d]);
                }
            } else {
                memcpy(kd, kb, (size_t)dh * sizeof(float));
                for (int d = 0; d < dh; d++) c->vt[((size_t)h * dh + d) * T + t] = vb[d];
            }
        }
    if (kv16 && T < 64) {
        /* ggml_compute_forward_flash_attn_ext_f16_one_chunk (fewer than 64
         * queries): Q rounded to F16, online softmax over the keys in order,
         * the output accumulator kept in F16 and rounded after every key. */
#pragma omp parallel for num_threads(c->nt) schedule(static)
        for (int hi = 0; hi < H * T; hi++) {
            const int h = hi / T, i = hi % T;
            float q[256], acc[256];   /* head_dim <= 256 (checked at load) */
            const float *qs = c->qc + ((size_t)h * T + i) * dh;
            for (int d = 0; d < dh; d++) { q[d] = f16_round(qs[d]); acc[d] = 0.0f; }
            float M = -INFINITY, S = 0.0f;
            for (int j = 0; j < T; j++) {
                const float sc = dot_f32(dh, c->kc + ((size_t)h * T + j) * dh, q) * scale;
                const float Mold = M;
                float ms = 1.0f, vs = 1.0f;
                if (sc > M) {
                    M = sc;
                    ms = expf(Mold - M);
                    for (int d = 0; d < dh; d++) acc[d] = f16_round(acc[d] * ms);
                } else {
                    vs = expf(sc - M);
                }
                const float *vcol = c->vt + (size_t)h * dh * T + j;
                for (int d = 0; d < dh; d++) acc[d] = f16_round(acc[d] + vcol[(size_t)d * T] * vs);
                S = S * ms + vs;
            }
            const float inv = S == 0.0f ? 0.0f : 1.0f / S;
            float *o = c->oc + ((size_t)h * T + i) * dh;
            for (int d = 0; d < dh; d++) o[d] = acc[d] * inv;
        }
    } else {
        /* jobs of (head, block of <= VIS_QBLOCK queries), one per thread at a time,
         * each with its products on one thread: the block's weights stay in L2
         * and the heads need no barrier between them.  mm_run's panels are a
         * function of the sizes alone, so the sums do not depend on the threads. */
        const int nqb = (T + VIS_QBLOCK - 1) / VIS_QBLOCK, qb = (T + nqb - 1) / nqb;
        const int fast = c->arith == ENG_ARITH_FAST;
#pragma omp parallel for num_threads(c->nt) schedule(dynamic, 1)
        for (int job = 0; job < H * nqb; job++) {
            const int h = job / nqb, i0 = (job % nqb) * qb, nq = T - i0 < qb ? T - i0 : qb;
            float *P = c->probs + (size_t)omp_get_thread_num() * VIS_QBLOCK * T;
            /* K_h as the "weight": T rows of dh; scores (nq, T) = Q_h K_h^T */
            const struct wmat kw = { QT_F32, dh, T, (size_t)dh * sizeof(float), (const uint8_t *)(c->kc + (size_t)h * T * dh), NULL };
            mm_run(&kw, nq, c->qc + ((size_t)h * T + i0) * dh, P, MM_EXACT, &c->mm, 1, 1);
            for (int i = 0; i < nq; i++) vis_softmax_row(P + (size_t)i * T, T, scale, fast);
            /* V_h^T as the "weight": dh rows of T; out (nq, dh) = P V_h */
            const struct wmat vw = { QT_F32, T, dh, (size_t)T * sizeof(float), (const uint8_t *)(c->vt + (size_t)h * dh * T), NULL };
            mm_run(&vw, nq, P, c->oc + ((size_t)h * T + i0) * dh, MM_EXACT, &c->mm, 1, 1);
        }
    }
#pragma omp parallel for num_threads(c->nt) schedule(static)
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            memcpy(O + (size_t)t * D + (size_t)h * dh, c->oc + ((size_t)h * T + t) * dh, (size_t)dh * sizeof(float));
}

/* In place over n values.  fast: ggml's F16 tables (input rounded to F16, the
 * table holds f16(g(x))); tanh-GELU also passes x <= -10 -> 0, x >= 10 -> x. */
static void activation(struct eng_vision_ctx *c, float *x, size_t n, int which)
{
    vis_act_rows(c->nt, c->arith == ENG_ARITH_FAST, x, n, which, c->v->gelu_quick_tab, c->v->gelu_tab, NULL, 0);
}

void vis_act_rows(int nt, int fast, float *x, size_t n, int which, const uint16_t *tq, const uint16_t *tg, const float *bias, size_t row)
{
    enum { CH = 256 };
    const size_t nch = (n + CH - 1) / CH;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t ch = 0; ch < nch; ch++) {
        float *xc = x + ch * CH;
        const size_t m = n - ch * CH < CH ? n - ch * CH : CH;
        if (bias)   /* rows of row values: x += bias first, a piece of a row at a time */
            for (size_t i = 0, j = (ch * CH) % row; i < m;) {
                const size_t k = m - i < row - j ? m - i : row - j;
                float *restrict xi = xc + i;
                const float *restrict bj = bias + j;
#pragma omp simd
                for (size_t e = 0; e < k; e++) xi[e] += bj[e];
                i += k;
                j = 0;
            }
        uint16_t hx[CH];   /* f16(x): the index into ggml's tables (fast) */
        if (fast && (which == VIS_ACT_QUICK_GELU || which == VIS_ACT_GELU)) g_kern.f32_to_f16(xc, hx, (int64_t)m);
        for (size_t i = 0; i < m; i++) {
            float v = xc[i];
            switch (which) {
            case VIS_ACT_QUICK_GELU: v = fast ? h2f(tq[hx[i]]) : gelu_quick_f32(v); break;
            case VIS_ACT_GELU:
                if (fast) v = v <= -10.0f ? 0.0f : v >= 10.0f ? v : h2f(tg[hx[i]]);
                else v = gelu_tanh_f32(v);
                break;
            case VIS_ACT_SILU: v = silu_f32(v); break;
            default: v = gelu_erf_f32(v); break;   /* VIS_ACT_GELU_ERF: exact, no table */
            }
            xc[i] = v;
        }
    }
}
void vis_add(int nt, float *restrict x, const float *restrict y, size_t n)
{
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

static void debug_copy(struct eng_vision_ctx *c, int stage, const float *x, size_t n)
{
    if (c->dbg && stage < c->dbg_n && c->dbg[stage]) memcpy(c->dbg[stage], x, n * sizeof(float));
}

int eng_vision_encode_pre(struct eng_vision_ctx *c, int mode, const float *pre, float *out)
{
    const struct eng_vision *v = c->v;
    const struct vis_hparams *hp = &v->hp;
    if (mode != ENG_VISION_LLAVA && mode != ENG_VISION_LLAMA_CPP) return eng_err(RC_ECONFIG, "bad vision mode %d", mode);
    if (v->q) return eng_err(RC_ECONFIG, "a Qwen-VL input has a size: use eng_vision_encode_pre_wh");
    const int S = hp->image_size, P = hp->patch_size, G = S / P, N = hp->n_patches, T = N + 1, D = hp->n_embd;
    const int KP = P * P * 3, fast = c->arith == ENG_ARITH_FAST, lcpp = mode == ENG_VISION_LLAMA_CPP;
    const size_t TD = (size_t)T * D;

    /* E1 patch embedding as im2col + product: cols[p][(ch*P + ky)*P + kx] */
#pragma omp parallel for num_threads(c->nt) schedule(static)
    for (int p = 0; p < N; p++) {
        const int py = p / G, px = p % G;
        float *col = c->cols + (size_t)p * KP;
        for (int ch = 0; ch < 3; ch++)
            for (int ky = 0; ky < P; ky++)
                for (int kx = 0; kx < P; kx++) {
                    float val = pre[((size_t)ch * S + (size_t)(P * py + ky)) * S + (size_t)(P * px + kx)];
                    col[(ch * P + ky) * P + kx] = fast ? f16_round(val) : val;
                }
    }
    /* E2 sequence: llama.cpp [patches.., CLS]; llava [CLS, patches..] */
    float *x = c->x;
    float *patches = lcpp ? x : x + D;
    mm(c, fast ? &v->patch_f16 : &v->patch, N, c->cols, patches, v->patch_b);
    memcpy(lcpp ? x + (size_t)N * D : x, v->class_embd, (size_t)D * sizeof(float));
    /* E3 row r gets position r (identity positions in both modes) */
    vis_add(c->nt, x, v->pos, TD);
    /* E4 pre_ln */
    if (hp->has_pre_ln) layer_norm(c, x, x, T, D, v->pre_w, v->pre_b, hp->eps);
    debug_copy(c, 0, x, TD);

    /* E5 blocks */
    const int n_run = eng_vision_n_layers_run(v, mode);
    for (int l = 0; l < n_run; l++) {
        const struct vis_layer *L = &v->L[l];
        /* each product's bias is added in the pass that reads its output next */
        if (l == 0) layer_norm(c, c->u, x, T, D, L->ln1_w, L->ln1_b, hp->eps);
        {
            const struct wmat *ws[3] = { &L->wq, &L->wk, &L->wv };
            float *ys[3] = { c->q, c->k, c->vv };
            mm_run_n(3, ws, T, c->u, ys, fast ? MM_FAST : MM_EXACT, &c->mm, c->nt, 1);
        }
        attention(c, c->q, c->k, c->vv, L->bq, L->bk, L->bv, c->att, T);
        mm(c, &L->wo, T, c->att, c->tmp, NULL);
        vis_residual_norm(c->nt, x, c->tmp, L->bo, T, D, c->u, L->ln2_w, L->ln2_b, hp->eps, 0);
        mm(c, &L->up, T, c->u, c->hff, NULL);
        vis_act_rows(c->nt, fast, c->hff, (size_t)T * hp->n_ff, hp->act, v->gelu_quick_tab, v->gelu_tab, L->b_up, hp->n_ff);
        mm(c, &L->down, T, c->hff, c->tmp, NULL);
        /* and the next block's first norm */
        const int more = l + 1 < n_run;
        vis_residual_norm(c->nt, x, c->tmp, L->b_down, T, D, c->u, more ? L[1].ln1_w : NULL, more ? L[1].ln1_b : NULL, hp->eps, 0);
        debug_copy(c, 1 + l, x, TD);
    }
    /* E6 post_ln: llama.cpp applies it when present; LLaVA's hidden state is before it */
    if (hp->has_post_ln && lcpp) layer_norm(c, x, x, T, D, v->post_w, v->post_b, hp->eps);

    /* E7 rows 1..N (llama.cpp: patches 1..N-1 + CLS; llava: the N patches), E8 projector */
    const float *F = x + D;
    mm(c, &v->mm0, N, F, c->hff, v->mm0_b);
    activation(c, c->hff, (size_t)N * hp->n_mid, lcpp ? VIS_ACT_GELU : VIS_ACT_GELU_ERF);
    mm(c, &v->mm2, N, c->hff, out, v->mm2_b);
    for (size_t i = 0; i < (size_t)N * hp->n_out; i++)
        if (!isfinite(out[i])) return eng_err(RC_EINPUT, "the image embedding is not finite");
    return RC_OK;
}

int eng_vision_encode_pre_wh(struct eng_vision_ctx *c, int mode, const float *pre, int in_w, int in_h, float *out)
{
    if (mode != ENG_VISION_LLAVA && mode != ENG_VISION_LLAMA_CPP) return eng_err(RC_ECONFIG, "bad vision mode %d", mode);
    if (c->v->q) return qvis_encode_pre(c->qwen, mode, pre, in_w, in_h, out);
    if (in_w != c->v->hp.image_size || in_h != c->v->hp.image_size)
        return eng_err(RC_EINPUT, "a %dx%d input: this tower takes %dx%d", in_w, in_h, c->v->hp.image_size, c->v->hp.image_size);
    return eng_vision_encode_pre(c, mode, pre, out);
}

int eng_vision_encode_grid(struct eng_vision_ctx *c, int mode, const uint8_t *rgb, int w, int h, float *out, int *gw, int *gh)
{
    if (mode != ENG_VISION_LLAVA && mode != ENG_VISION_LLAMA_CPP) return eng_err(RC_ECONFIG, "bad vision mode %d", mode);
    if (c->v->q) return qvis_encode(c->qwen, mode, rgb, w, h, out, gw, gh);
    if (gw) *gw = c->v->hp.n_patches;
    if (gh) *gh = 1;
    return eng_vision_encode(c, mode, rgb, w, h, out);
}

int eng_vision_encode(struct eng_vision_ctx *c, int mode, const uint8_t *rgb, int w, int h, float *out)
{
    if (c->v->q) {
        if (mode != ENG_VISION_LLAVA && mode != ENG_VISION_LLAMA_CPP) return eng_err(RC_ECONFIG, "bad vision mode %d", mode);
        return qvis_encode(c->qwen, mode, rgb, w, h, out, NULL, NULL);
    }
    int rc = preprocess_image(mode, rgb, w, h, &c->v->hp.pre, c->pre);
    if (rc) return rc;
    return eng_vision_encode_pre(c, mode, c->pre, out);
}
