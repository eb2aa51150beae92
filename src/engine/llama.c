/*
 * llama.c - the decoder-only language models (spec §3): model loading and
 * validation, the context (KV cache + scratch), batched prefill and
 * single-token decode.  One forward pass serves the three architectures the
 * engine loads; they differ only in the few places the table `ARCHS` names:
 *   llama  LLaMA 1/2/3 (Vicuna, Mistral, LLaVA-1.5's LM): RoPE on interleaved
 *          pairs, optional Q/K/V/O biases, Llama-3.1 frequency factors
 *          (rope_freqs.weight);
 *   qwen2  Qwen2/2.5 and the text half of InternVL/Qwen2-VL-style files: biases
 *          on Q, K, V (and the output head), NeoX RoPE (the two halves of each
 *          head rotated together);
 *   qwen3  Qwen3: per-head RMSNorm on Q and K before RoPE, no biases, NeoX RoPE,
 *          a head dimension that need not be n_embd / n_head;
 *   qwen2vl the language model of Qwen2-VL / Qwen2.5-VL: qwen2 with multimodal
 *          rotary positions (M-RoPE).  Every position is four numbers (t, y, x, e):
 *          a text token at p is (p, p, p, 0), an image token (p0, p0 + row,
 *          p0 + column, 0) (eng_image_positions).  Rotary pair i takes its angle
 *          from the component its section names (rope.dimension_sections: pairs
 *          [0, s0) t, [s0, s0+s1) y, then x, then e; i counted modulo the sum).
 *          The reference runs its RMSNorms with epsilon 0 (it never reads the
 *          file's layer_norm_rms_epsilon for this architecture); so do we, unless
 *          eng_params.file_eps asks for the model as written.
 * The forward pass takes positions as input (one row of four per evaluated
 * position); for the 1-D architectures only the first is used.
 */
#include "engine.h"
#include "gguf.h"
#include "ops.h"
#include "quant.h"
#include "tokenizer.h"
#include "bpe.h"
#include "util.h"
#include "vision.h"

#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UBATCH 512           /* positions per evaluated micro-batch (as llama.cpp's n_ubatch) */

struct layer {
    float *attn_norm, *ffn_norm;             /* owned f32 copies */
    float *bq, *bk, *bv, *bo;                /* optional biases (owned) or NULL */
    float *q_norm, *k_norm;                  /* qwen3: per-head RMSNorm weights [head_dim] */
    struct wmat wq, wk, wv, wo, wg, wu, wd;
};

/* What distinguishes the architectures (see the comment at the top). */
struct arch {
    const char *name;
    int rope_neox;      /* rotate (x[i], x[i + n_rot/2]) instead of (x[2i], x[2i+1]) */
    int qk_norm;        /* attn_q_norm / attn_k_norm required */
    int rope_freqs;     /* rope_freqs.weight honoured (llama only, as the reference) */
    int wo_bias;        /* attn_output.bias allowed (llama) */
    int out_bias;       /* output.bias allowed (qwen2) */
    int mrope;          /* multimodal rotary positions (rope.dimension_sections required) */
};
static const struct arch ARCHS[] = {
    { "llama", 0, 0, 1, 1, 0, 0 },
    { "qwen2", 1, 0, 0, 0, 1, 0 },
    { "qwen3", 1, 1, 0, 0, 0, 0 },
    { "qwen2vl", 1, 0, 0, 0, 1, 1 },
};
/* Architectures people will try that are refused with what is missing. */
static const struct { const char *name, *why; } NOT_YET[] = {
    { "qwen3vl", "M-RoPE and deepstack are not implemented yet" },
    { "qwen2moe", "mixture-of-experts layers are not implemented" },
    { "qwen3moe", "mixture-of-experts layers are not implemented" },
    { "llama4", "mixture-of-experts and chunked attention are not implemented" },
    { "gemma3", "Gemma's norms, GELU FFN and sliding-window attention are not implemented" },
};

struct eng_model {
    struct gguf *g;
    struct vocab voc;
    const struct arch *arch;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    int n_q;                                 /* n_head * head_dim: the width of Q and of wo's input */
    float eps, rope_base, freq_scale;
    float *rope_ff;                          /* rope_freqs.weight (owned) or NULL */
    int sect[4];                             /* M-RoPE: rotary pairs per position component (t, y, x, e) */
    struct wmat tok_embd, output;
    float *output_norm, *output_b;           /* output_b: optional bias of the output head (owned) */
    struct layer *L;
};

struct eng_ctx {
    const struct eng_model *m;
    int nt, arith, kv_f16, n_ctx, n_past, use_blas;
    int pos_next;                            /* the next text position (= n_past unless an M-RoPE image advanced it less) */
    float eps;                               /* the RMSNorm epsilon evaluated (0 for qwen2vl as the reference) */
    int32_t *posb;                           /* [UBATCH][4] positions of the batch being evaluated */
    size_t kv_elt;                           /* bytes per cache element */
    uint8_t *kc, *vc;                        /* [layer][n_ctx][n_embd_kv] */
    float *x, *xb, *xb2, *q, *k, *v, *att, *hb, *hb2, *logits, *rc, *rs, *scores;
    uint16_t *fa;                            /* per thread: f16 query and accumulator */
    struct mm_scratch mm;
    int have_logits;
    /* prefix reuse (eng_ctx_set_reuse): what each KV slot holds, so that after a reset
     * the slots [0, n_keep) of the previous sequence are kept while the new one repeats them */
    uint64_t *skey;                          /* [n_ctx] input identity: token id, or a hash of the embedding row */
    int32_t *spos;                           /* [n_ctx][4] its position */
    int reuse, n_keep;
    long long n_evaluated, n_skipped;        /* positions computed / taken from the kept prefix */
};

const char *eng_arith_name(int a) { return a == ENG_ARITH_EXACT ? "exact" : "fast"; }
int eng_arith_parse(const char *s, int *a)
{
    if (!strcmp(s, "fast")) { *a = ENG_ARITH_FAST; return RC_OK; }
    if (!strcmp(s, "exact")) { *a = ENG_ARITH_EXACT; return RC_OK; }
    return eng_err(RC_ECONFIG, "unknown arith '%s' (fast or exact)", s);
}

/* ---- loading ---- */

static int req_u32(const struct gguf *g, const char *arch, const char *key, uint32_t *v, int required)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    const struct gguf_kv *kv = gguf_find_kv(g, k);
    if (kv && kv->type == GGUF_ARRAY) return eng_err(RC_EFORMAT, "%s: per-layer arrays are not supported", k);
    int rc = gguf_get_u32(g, k, v);
    if (rc == 1) return required ? eng_err(RC_EFORMAT, "missing required key %s", k) : RC_OK;
    return rc;
}
static int opt_f32(const struct gguf *g, const char *arch, const char *key, float *v, int required)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    int rc = gguf_get_f32(g, k, v);
    if (rc == 1) return required ? eng_err(RC_EFORMAT, "missing required key %s", k) : RC_OK;
    return rc;
}

static int get_w(const struct gguf *g, const char *name, int64_t K, int64_t N, struct wmat *w, int optional)
{
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) {
        if (optional) { memset(w, 0, sizeof *w); return 1; }
        return eng_err(RC_EFORMAT, "missing tensor %s", name);
    }
    if (t->n_dims > 2 || t->ne[0] != K || t->ne[1] != N || t->ne[2] != 1 || t->ne[3] != 1)
        return eng_err(RC_EFORMAT, "tensor %s has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "], expected [%" PRId64 ", %" PRId64 "]",
                       name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], K, N);
    w->type = t->type; w->K = K; w->N = N; w->row_bytes = t->row_bytes; w->data = t->data;
    return RC_OK;
}

/* 1-D tensor of n elements, decoded to an owned f32 copy. */
static int get_vec(const struct gguf *g, const char *name, int64_t n, float **out, int optional)
{
    struct wmat w;
    *out = NULL;
    int rc = get_w(g, name, n, 1, &w, optional);
    if (rc) return rc;
    if (!(*out = malloc((size_t)n * sizeof(float)))) return eng_err(RC_ENOMEM, "out of memory");
    qt_dequant_row(w.type, w.data, *out, n);
    return RC_OK;
}

void eng_model_free(struct eng_model *m)
{
    if (!m) return;
    if (m->L)
        for (int i = 0; i < m->n_layer; i++) {
            struct layer *l = &m->L[i];
            free(l->attn_norm); free(l->ffn_norm); free(l->bq); free(l->bk); free(l->bv); free(l->bo);
            free(l->q_norm); free(l->k_norm);
            wmat_release(&l->wq); wmat_release(&l->wk); wmat_release(&l->wv); wmat_release(&l->wo);
            wmat_release(&l->wg); wmat_release(&l->wu); wmat_release(&l->wd);
        }
    if (m->output.data != m->tok_embd.data) wmat_release(&m->output);
    free(m->L); free(m->output_norm); free(m->output_b); free(m->rope_ff);
    vocab_release(&m->voc);
    gguf_close(m->g);
    free(m);
}

/* Every tensor of the file must be one the architecture uses: the reference
 * refuses a file with tensors it does not know ("wrong number of tensors"), and
 * so do we, rather than computing something else than the file describes. */
static int check_all_used(const struct eng_model *m, int n_used)
{
    const struct gguf *g = m->g;
    if (n_used == g->n_tensors) return RC_OK;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const char *n = g->t[i].name;
        int used = !strcmp(n, "token_embd.weight") || !strcmp(n, "output.weight") || (m->arch->out_bias && !strcmp(n, "output.bias")) ||
                   !strcmp(n, "output_norm.weight") || (m->arch->rope_freqs && !strcmp(n, "rope_freqs.weight"));
        unsigned il;
        char rest[GGUF_MAX_NAME];
        if (!used && sscanf(n, "blk.%u.%63s", &il, rest) == 2 && il < (unsigned)m->n_layer) {
            static const char *const known[] = {
                "attn_norm.weight", "ffn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                "attn_output.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                "attn_q.bias", "attn_k.bias", "attn_v.bias",
            };
            for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) used |= !strcmp(rest, known[k]);
            if (m->arch->wo_bias) used |= !strcmp(rest, "attn_output.bias");
            if (m->arch->qk_norm) used |= !strcmp(rest, "attn_q_norm.weight") || !strcmp(rest, "attn_k_norm.weight");
        }
        if (!used)
            return eng_err(RC_EFORMAT, "tensor %s is not part of a '%s' model (the architecture does not use it; "
                           "a file of another architecture with the wrong general.architecture?)", n, m->arch->name);
    }
    return eng_err(RC_EFORMAT, "%" PRId64 " tensors in the file but %d used (duplicate names?)", g->n_tensors, n_used);
}

static int load(struct eng_model *m)
{
    const struct gguf *g = m->g;
    const char *an;
    size_t alen;
    int rc = gguf_get_str(g, "general.architecture", &an, &alen);
    if (rc == 1) return eng_err(RC_EFORMAT, "missing required key general.architecture");
    if (rc) return rc;
    m->arch = NULL;
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (alen == strlen(ARCHS[i].name) && !memcmp(an, ARCHS[i].name, alen)) m->arch = &ARCHS[i];
    if (!m->arch) {
        const int shown = (int)(alen > 40 ? 40 : alen);
        for (size_t i = 0; i < sizeof NOT_YET / sizeof NOT_YET[0]; i++)
            if (alen == strlen(NOT_YET[i].name) && !memcmp(an, NOT_YET[i].name, alen))
                return eng_err(RC_EFORMAT, "architecture '%.*s' is not supported: %s (supported: llama, qwen2, qwen2vl, qwen3)",
                               shown, an, NOT_YET[i].why);
        return eng_err(RC_EFORMAT, "architecture '%.*s' is not supported (supported: llama, qwen2, qwen2vl, qwen3)", shown, an);
    }
    const char *A = m->arch->name;
    uint32_t ctx = 0, embd = 0, nl = 0, ff = 0, nh = 0, nhkv = 0, rot = 0, kl = 0, vl = 0, nexp = 0, vs = 0;
    if ((rc = req_u32(g, A, "context_length", &ctx, 1)) || (rc = req_u32(g, A, "embedding_length", &embd, 1)) ||
        (rc = req_u32(g, A, "block_count", &nl, 1)) || (rc = req_u32(g, A, "feed_forward_length", &ff, 1)) ||
        (rc = req_u32(g, A, "attention.head_count", &nh, 1)) || (rc = req_u32(g, A, "attention.head_count_kv", &nhkv, 0)) ||
        (rc = req_u32(g, A, "rope.dimension_count", &rot, 0)) || (rc = req_u32(g, A, "attention.key_length", &kl, 0)) ||
        (rc = req_u32(g, A, "attention.value_length", &vl, 0)) || (rc = req_u32(g, A, "expert_count", &nexp, 0)) ||
        (rc = req_u32(g, A, "vocab_size", &vs, 0)))
        return rc;
    m->eps = 0; m->rope_base = 10000.f;
    float factor = 0;
    /* qwen2vl: the reference never reads the epsilon (it evaluates 0), so it may be absent */
    if ((rc = opt_f32(g, A, "attention.layer_norm_rms_epsilon", &m->eps, !m->arch->mrope)) ||
        (rc = opt_f32(g, A, "rope.freq_base", &m->rope_base, 0)) ||
        (rc = opt_f32(g, A, "rope.scaling.factor", &factor, 0)))
        return rc;
    if (factor == 0 && (rc = opt_f32(g, A, "rope.scale_linear", &factor, 0))) return rc;
    const char *st;
    size_t stl;
    char k[128];
    snprintf(k, sizeof k, "%s.rope.scaling.type", A);
    rc = gguf_get_str(g, k, &st, &stl);
    if (rc > 1) return rc;
    if (rc == 0 && !((stl == 4 && !memcmp(st, "none", 4)) || (stl == 6 && !memcmp(st, "linear", 6))))
        return eng_err(RC_EFORMAT, "%s '%.*s' is not supported (none or linear)", k, (int)(stl > 20 ? 20 : stl), st);
    if (nhkv == 0) nhkv = nh;
    if (embd == 0 || nl == 0 || ff == 0 || nh == 0 || ctx == 0)
        return eng_err(RC_EFORMAT, "zero hyper-parameter (embedding_length %u, block_count %u, feed_forward_length %u, head_count %u, context_length %u)", embd, nl, ff, nh, ctx);
    if (embd > (1u << 20) || ff > (1u << 22) || nl > 4096 || nh > 4096 || kl > 4096)
        return eng_err(RC_EFORMAT, "implausible hyper-parameters (embedding_length %u, feed_forward_length %u, block_count %u, head_count %u, key_length %u)", embd, ff, nl, nh, kl);
    if (nh % nhkv) return eng_err(RC_EFORMAT, "inconsistent shapes: head_count %u is not a multiple of head_count_kv %u", nh, nhkv);
    if (nexp) return eng_err(RC_EFORMAT, "mixture-of-experts models (expert_count %u) are not supported", nexp);
    /* the head dimension: attention.key_length when given (Qwen3: 128 with n_embd 1024 and 16
     * heads; llama too), else n_embd / n_head */
    if (!kl && embd % nh) return eng_err(RC_EFORMAT, "inconsistent shapes: head_count %u does not divide embedding_length %u", nh, embd);
    if (kl && (!strcmp(A, "qwen2") || !strcmp(A, "qwen2vl")) && (embd % nh || kl != embd / nh))   /* as the reference's qwen2 */
        return eng_err(RC_EFORMAT, "%s needs attention.key_length = embedding_length / head_count (%u != %u / %u)", A, kl, embd, nh);
    uint32_t hd = kl ? kl : embd / nh;
    if (vl && vl != hd)
        return eng_err(RC_EFORMAT, "attention.value_length %u != key_length %u: different K and V head sizes are not supported", vl, hd);
    if (hd % 2) return eng_err(RC_EFORMAT, "inconsistent shapes: head dimension %u is odd", hd);
    if (rot == 0) rot = hd;
    if (rot != hd) return eng_err(RC_EFORMAT, "partial rotary embeddings are not supported: rope.dimension_count %u != head dimension %u", rot, hd);
    if (ctx > (1u << 24)) return eng_err(RC_EFORMAT, "implausible context_length %u", ctx);
    m->n_ctx_train = (int)ctx; m->n_embd = (int)embd; m->n_layer = (int)nl; m->n_ff = (int)ff;
    m->n_head = (int)nh; m->n_head_kv = (int)nhkv; m->head_dim = (int)hd; m->n_rot = (int)rot;
    m->n_q = (int)(nh * hd);
    m->freq_scale = factor != 0 ? 1.0f / factor : 1.0f;
    if (m->arch->mrope) {
        /* rope.dimension_sections: 4 integers (the converter pads Qwen2-VL's [16, 24, 24] with 0) */
        snprintf(k, sizeof k, "%s.rope.dimension_sections", A);
        const struct gguf_kv *sk = gguf_find_kv(g, k);
        if (!sk) return eng_err(RC_EFORMAT, "missing required key %s (M-RoPE sections)", k);
        if (sk->type != GGUF_ARRAY || sk->n < 3 || sk->n > 4 || (sk->arr_type != GGUF_I32 && sk->arr_type != GGUF_U32))
            return eng_err(RC_EFORMAT, "%s should be an array of 3 or 4 integers", k);
        int sum = 0;
        for (uint64_t i = 0; i < 4; i++) {
            int32_t v = 0;
            if (i < sk->n) memcpy(&v, sk->data + 4 * i, 4);
            if (v < 0 || v > 4096) return eng_err(RC_EFORMAT, "%s[%d] = %d is implausible", k, (int)i, (int)v);
            m->sect[i] = v;
            sum += v;
        }
        /* the reference asserts 0 < sum <= head dimension; pair i uses section (i mod sum) */
        if (sum == 0 || sum > (int)hd)
            return eng_err(RC_EFORMAT, "%s sums to %d: must be between 1 and the head dimension %u", k, sum, hd);
    }

    if ((rc = vocab_load(&m->voc, g))) return rc;
    m->n_vocab = m->voc.n;
    if (vs && (int)vs != m->n_vocab)
        return eng_err(RC_EFORMAT, "inconsistent shapes: %s.vocab_size %u != %d tokens", A, vs, m->n_vocab);

    const int64_t E = embd, Q = m->n_q, Ekv = (int64_t)hd * nhkv, V = m->n_vocab;
    if (gguf_find_tensor(g, "blk.0.attn_qkv.weight"))
        return eng_err(RC_EFORMAT, "fused attn_qkv tensors are not supported");
    int used = 0;
    if ((rc = get_w(g, "token_embd.weight", E, V, &m->tok_embd, 0))) return rc;
    used++;
    rc = get_w(g, "output.weight", E, V, &m->output, 1);
    if (rc == 1) m->output = m->tok_embd;          /* tied embeddings */
    else if (rc) return rc;
    else used++;
    if ((rc = get_vec(g, "output_norm.weight", E, &m->output_norm, 0))) return rc;
    used++;
    if (m->arch->out_bias) {
        rc = get_vec(g, "output.bias", V, &m->output_b, 1);
        if (rc > 1) return rc;
        used += rc == 0;
    }
    if (m->arch->rope_freqs) {
        rc = get_vec(g, "rope_freqs.weight", hd / 2, &m->rope_ff, 1);
        if (rc > 1) return rc;
        used += rc == 0;
    }
    if (!(m->L = calloc(nl, sizeof *m->L))) return eng_err(RC_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < nl; i++) {
        struct layer *l = &m->L[i];
        char n[GGUF_MAX_NAME + 16];
#define W(field, nm, K, N) snprintf(n, sizeof n, "blk.%u." nm ".weight", i); if ((rc = get_w(g, n, K, N, &l->field, 0))) return rc; used++;
#define VEC(field, nm, len, opt) snprintf(n, sizeof n, "blk.%u." nm, i); rc = get_vec(g, n, len, &l->field, opt); if (rc > 1 || (rc == 1 && !(opt))) return rc; used += rc == 0;
        VEC(attn_norm, "attn_norm.weight", E, 0)
        VEC(ffn_norm, "ffn_norm.weight", E, 0)
        W(wq, "attn_q", E, Q)
        W(wk, "attn_k", E, Ekv)
        W(wv, "attn_v", E, Ekv)
        W(wo, "attn_output", Q, E)
        W(wg, "ffn_gate", E, (int64_t)ff)
        W(wu, "ffn_up", E, (int64_t)ff)
        W(wd, "ffn_down", (int64_t)ff, E)
        VEC(bq, "attn_q.bias", Q, 1)
        VEC(bk, "attn_k.bias", Ekv, 1)
        VEC(bv, "attn_v.bias", Ekv, 1)
        if (m->arch->wo_bias) { VEC(bo, "attn_output.bias", E, 1) }
        if (m->arch->qk_norm) {
            VEC(q_norm, "attn_q_norm.weight", hd, 0)
            VEC(k_norm, "attn_k_norm.weight", hd, 0)
        }
#undef W
#undef VEC
        snprintf(n, sizeof n, "blk.%u.ffn_gate.bias", i);
        if (gguf_find_tensor(g, n)) return eng_err(RC_EFORMAT, "FFN biases are not supported (%s)", n);
    }
    /* Q8_K activations need rows that are a multiple of 256: guaranteed by the block size of
     * the K-quant weights themselves (ne[0] % 256 == 0, checked by the reader). */
    return check_all_used(m, used);
}

/* Q4_K matrices repacked by 8 rows for the 8-row kernels (ops.h wmat_repack),
 * unless MMSAFE_REPACK=0; the file's copy then leaves the resident set.  Not
 * token_embd (its rows are looked up), so not a tied output either. */
static int repack(struct eng_model *m)
{
    const char *e = getenv("MMSAFE_REPACK");
    if (e && !strcmp(e, "0")) return RC_OK;
    struct wmat *ws[8];
    for (int i = -1; i < m->n_layer; i++) {
        int n = 0;
        if (i < 0) { if (m->output.data != m->tok_embd.data) ws[n++] = &m->output; }
        else { struct layer *l = &m->L[i]; ws[0] = &l->wq; ws[1] = &l->wk; ws[2] = &l->wv; ws[3] = &l->wo; ws[4] = &l->wg; ws[5] = &l->wu; ws[6] = &l->wd; n = 7; }
        for (int k = 0; k < n; k++) {
            int rc = wmat_repack(ws[k]);
            if (rc) return rc;
            if (ws[k]->x8) gguf_drop_pages(m->g, ws[k]->data, (size_t)ws[k]->N * ws[k]->row_bytes);
        }
    }
    return RC_OK;
}

int eng_model_open(const char *path, struct eng_model **out)
{
    *out = NULL;
    struct eng_model *m = calloc(1, sizeof *m);
    if (!m) return eng_err(RC_ENOMEM, "out of memory");
    int rc = gguf_open(path, &m->g);
    if (!rc) rc = load(m);
    if (!rc) rc = repack(m);
    if (rc) { eng_model_free(m); return rc; }
    *out = m;
    return RC_OK;
}

int eng_model_parse(const void *buf, size_t size, struct eng_model **out)
{
    *out = NULL;
    struct eng_model *m = calloc(1, sizeof *m);
    if (!m) return eng_err(RC_ENOMEM, "out of memory");
    int rc = gguf_parse(buf, size, &m->g);
    if (!rc) rc = load(m);
    if (!rc) rc = repack(m);
    if (rc) { eng_model_free(m); return rc; }
    *out = m;
    return RC_OK;
}

int eng_vocab_open(const char *path, struct eng_model **out)
{
    *out = NULL;
    struct eng_model *m = calloc(1, sizeof *m);
    if (!m) return eng_err(RC_ENOMEM, "out of memory");
    int rc = gguf_open(path, &m->g);
    if (!rc) rc = vocab_load(&m->voc, m->g);
    if (rc) { eng_model_free(m); return rc; }
    m->n_vocab = m->voc.n;
    *out = m;
    return RC_OK;
}

int eng_vocab_parse(const void *buf, size_t size, struct eng_model **out)
{
    *out = NULL;
    struct eng_model *m = calloc(1, sizeof *m);
    if (!m) return eng_err(RC_ENOMEM, "out of memory");
    int rc = gguf_parse(buf, size, &m->g);
    if (!rc) rc = vocab_load(&m->voc, m->g);
    if (rc) { eng_model_free(m); return rc; }
    m->n_vocab = m->voc.n;
    *out = m;
    return RC_OK;
}

int eng_n_vocab(const struct eng_model *m) { return m->n_vocab; }
int eng_n_embd(const struct eng_model *m) { return m->n_embd; }
int eng_n_ctx_train(const struct eng_model *m) { return m->n_ctx_train; }
int32_t eng_token_bos(const struct eng_model *m) { return m->voc.bos; }
int32_t eng_token_eos(const struct eng_model *m) { return m->voc.eos; }
int eng_add_bos(const struct eng_model *m) { return m->voc.add_bos; }

int eng_tokenize(const struct eng_model *m, const char *text, size_t len, int add_bos, int parse_special, int32_t *ids, int cap, int *n_out)
{
    return vocab_tokenize(&m->voc, text, len, add_bos, parse_special, ids, cap, n_out);
}
int eng_token_piece(const struct eng_model *m, int32_t id, int special, char *buf, int cap)
{
    return vocab_piece(&m->voc, id, special, buf, cap);
}
int eng_token_piece_stream(const struct eng_model *m, struct eng_utf8_hold *h, int32_t id, int special, char *buf, int cap)
{
    return vocab_piece_stream(&m->voc, h, id, special, buf, cap);
}
int eng_token_flush(struct eng_utf8_hold *h, char *buf, int cap) { return vocab_stream_flush(h, buf, cap); }
const char *eng_token_raw(const struct eng_model *m, int32_t id, size_t *len)
{
    if (id < 0 || id >= m->n_vocab) return NULL;
    *len = m->voc.len[id];
    return m->voc.piece[id];
}
int32_t eng_token_find(const struct eng_model *m, const char *piece, size_t len) { return vocab_find(&m->voc, piece, len); }
const struct vocab *eng_model_vocab(const struct eng_model *m) { return &m->voc; }

/* ---- context ---- */

void eng_ctx_free(struct eng_ctx *c)
{
    if (!c) return;
    free(c->kc); free(c->vc);
    free(c->x); free(c->xb); free(c->xb2); free(c->q); free(c->k); free(c->v); free(c->att);
    free(c->hb); free(c->hb2); free(c->logits); free(c->rc); free(c->rs); free(c->scores); free(c->fa); free(c->posb);
    free(c->skey); free(c->spos);
    mm_scratch_release(&c->mm);
    free(c);
}

int eng_ctx_new(const struct eng_model *m, const struct eng_params *p, struct eng_ctx **out)
{
    *out = NULL;
    if (!m->L) return eng_err(RC_ECONFIG, "vocabulary-only model: cannot evaluate");
    struct eng_params def = ENG_PARAMS_DEFAULT;
    if (!p) p = &def;
    struct eng_ctx *c = calloc(1, sizeof *c);
    if (!c) return eng_err(RC_ENOMEM, "out of memory");
    c->m = m;
    c->nt = p->n_threads > 0 ? p->n_threads : 1;
    c->arith = p->arith == ENG_ARITH_EXACT ? ENG_ARITH_EXACT : ENG_ARITH_FAST;
    c->kv_f16 = p->kv_type == ENG_KV_F16 || (p->kv_type == ENG_KV_AUTO && c->arith == ENG_ARITH_FAST);
    c->kv_elt = c->kv_f16 ? 2 : 4;
    c->n_ctx = p->n_ctx > 0 ? p->n_ctx : m->n_ctx_train;
    c->use_blas = !p->no_blas;
    c->eps = m->arch->mrope && !p->file_eps ? 0.0f : m->eps;
    const size_t E = (size_t)m->n_embd, Q = (size_t)m->n_q, Ekv = (size_t)m->head_dim * (size_t)m->n_head_kv, F = (size_t)m->n_ff, U = UBATCH;
    /* calloc: pages of the cache are only touched (and counted in RSS) as positions fill */
    size_t kvn = (size_t)m->n_layer * (size_t)c->n_ctx * Ekv;
    c->kc = calloc(kvn, c->kv_elt);
    c->vc = calloc(kvn, c->kv_elt);
    c->x = malloc(U * E * 4); c->xb = malloc(U * E * 4); c->xb2 = malloc(U * E * 4);
    c->q = malloc(U * Q * 4); c->k = malloc(U * Ekv * 4); c->v = malloc(U * Ekv * 4); c->att = malloc(U * Q * 4);
    c->hb = malloc(U * F * 4); c->hb2 = malloc(U * F * 4);
    c->logits = malloc((size_t)m->n_vocab * 4);
    c->rc = malloc(U * (size_t)m->n_rot / 2 * 4); c->rs = malloc(U * (size_t)m->n_rot / 2 * 4);
    int maxthr = omp_get_max_threads() > c->nt ? omp_get_max_threads() : c->nt;
    c->scores = malloc((size_t)maxthr * (size_t)c->n_ctx * 4);
    c->fa = malloc((size_t)maxthr * 2 * (size_t)m->head_dim * sizeof *c->fa);
    c->posb = malloc(U * 4 * sizeof *c->posb);
    c->skey = malloc((size_t)c->n_ctx * sizeof *c->skey);
    c->spos = malloc((size_t)c->n_ctx * 4 * sizeof *c->spos);
    int64_t maxK = (int64_t)(F > E ? F : E);
    if ((int64_t)Q > maxK) maxK = (int64_t)Q;
    int rc = RC_OK;
    if (!c->kc || !c->vc || !c->x || !c->xb || !c->xb2 || !c->q || !c->k || !c->v || !c->att || !c->hb || !c->hb2 ||
        !c->logits || !c->rc || !c->rs || !c->scores || !c->fa || !c->posb || !c->skey || !c->spos)
        rc = eng_err(RC_ENOMEM, "out of memory (context of %d positions)", c->n_ctx);
    if (!rc) rc = mm_scratch_init(&c->mm, maxK, UBATCH, maxthr);
    if (rc) { eng_ctx_free(c); return rc; }
    *out = c;
    return RC_OK;
}

/* With reuse on, the slots filled so far stay available to the next sequence:
 * prefill_at keeps those its inputs repeat from the start (same input, same position). */
void eng_ctx_reset(struct eng_ctx *c)
{
    c->n_keep = c->reuse ? c->n_past : 0;
    c->n_past = 0; c->pos_next = 0; c->have_logits = 0;
}
void eng_ctx_set_reuse(struct eng_ctx *c, int mode)
{
    c->reuse = mode == ENG_REUSE_CHUNKS || mode == ENG_REUSE_POSITIONS ? mode : ENG_REUSE_OFF;
    if (!c->reuse) c->n_keep = 0;
}
void eng_ctx_reuse_stats(const struct eng_ctx *c, long long *evaluated, long long *skipped)
{
    if (evaluated) *evaluated = c->n_evaluated;
    if (skipped) *skipped = c->n_skipped;
}
int eng_ctx_n_past(const struct eng_ctx *c) { return c->n_past; }
int eng_ctx_pos(const struct eng_ctx *c) { return c->pos_next; }
int eng_uses_mrope(const struct eng_model *m) { return m->arch && m->arch->mrope; }
const struct eng_model *eng_ctx_model(const struct eng_ctx *c) { return c->m; }
int eng_ctx_n_ctx(const struct eng_ctx *c) { return c->n_ctx; }
void eng_ctx_set_threads(struct eng_ctx *c, int n) { c->nt = n > 0 ? n : 1; if (c->nt > c->mm.n_threads) c->nt = c->mm.n_threads; }
const float *eng_logits(const struct eng_ctx *c) { return c->have_logits ? c->logits : NULL; }

int32_t eng_argmax(const struct eng_ctx *c)
{
    if (!c->have_logits) return -1;
    int32_t best = 0;
    for (int i = 1; i < c->m->n_vocab; i++) if (c->logits[i] > c->logits[best]) best = i;
    return best;
}

/* ---- forward ---- */

static void mm(struct eng_ctx *c, const struct wmat *w, int T, const float *X, float *Y)
{
    mm_run(w, T, X, Y, c->arith == ENG_ARITH_EXACT ? MM_EXACT : MM_FAST, &c->mm, c->nt, c->use_blas);
}

static inline float kv_get(const struct eng_ctx *c, const uint8_t *base, size_t i)
{
    return c->kv_f16 ? h2f(((const uint16_t *)base)[i]) : ((const float *)base)[i];
}

/* RoPE on T rows of n_heads heads.  Pair i (angle index i) is (x[2i], x[2i+1]) for
 * llama, (x[i], x[i + n_rot/2]) for the NeoX form of qwen2/qwen3. */
static void rope_rows(const struct eng_model *m, float *x, int T, int n_heads, const float *rc, const float *rs)
{
    const int hd = m->head_dim, half = m->n_rot / 2;
    const int stride = m->arch->rope_neox ? 1 : 2, off = m->arch->rope_neox ? half : 1;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            const float *cs = rc + (size_t)t * half, *sn = rs + (size_t)t * half;
            for (int i = 0; i < half; i++) {
                float *a = v + (size_t)i * stride, *b = a + off;
                float x0 = *a, x1 = *b;
                *a = x0 * cs[i] - x1 * sn[i];
                *b = x0 * sn[i] + x1 * cs[i];
            }
        }
}

/* qwen3: RMSNorm of each head vector (head_dim wide) with the shared weight w. */
static void head_norm(const struct eng_model *m, float *x, int T, int n_heads, const float *w, float eps)
{
    const int hd = m->head_dim;
    for (size_t r = 0; r < (size_t)T * (size_t)n_heads; r++) op_rmsnorm(x + r * hd, x + r * hd, w, hd, eps);
}

/* Evaluates T <= UBATCH inputs into KV slots c->n_past.. (x already holds the
 * inputs, c->posb their positions). */
static void forward(struct eng_ctx *c, int T)
{
    const struct eng_model *m = c->m;
    const int E = m->n_embd, Q = m->n_q, hd = m->head_dim, nh = m->n_head, nkv = m->n_head_kv, Ekv = hd * nkv, F = m->n_ff;
    const int gqa = nh / nkv, p0 = c->n_past, half = m->n_rot / 2;
    const float scale = 1.0f / sqrtf((float)hd), eps = c->eps;
    /* rope cache: ggml_rope_cache_init (iterated f32 theta, cosf/sinf); with M-RoPE
     * ggml_mrope_cache_init: one iterated theta per position component, pair i
     * taking the one its section names */
    const float theta_scale = powf(m->rope_base, -2.0f / (float)m->n_rot);
    const int *sc4 = m->sect, sect_dims = sc4[0] + sc4[1] + sc4[2] + sc4[3];
    for (int t = 0; t < T; t++) {
        const int32_t *pp = c->posb + (size_t)t * 4;
        float theta[4] = { (float)pp[0], (float)pp[1], (float)pp[2], (float)pp[3] };
        for (int i = 0; i < half; i++) {
            int k = 0;
            if (m->arch->mrope) {
                const int sector = i % sect_dims;
                k = sector < sc4[0] ? 0 : sector < sc4[0] + sc4[1] ? 1 : sector < sc4[0] + sc4[1] + sc4[2] ? 2 : 3;
            }
            float th = theta[k] / (m->rope_ff ? m->rope_ff[i] : 1.0f);
            th = m->freq_scale * th;
            c->rc[(size_t)t * half + i] = cosf(th);
            c->rs[(size_t)t * half + i] = sinf(th);
            for (int j = 0; j < 4; j++) theta[j] *= theta_scale;
        }
    }
    float *x = c->x, *xb = c->xb, *xb2 = c->xb2;
    /* The element-wise work between the products runs row by row on all threads
     * (each row's arithmetic as one thread would do it, so the same bits at any
     * thread count); a decoded token (T = 1) stays on the calling thread. */
    const int nt_rows = T >= 4 ? c->nt : 1;
    const int fast = c->arith == ENG_ARITH_FAST;
#pragma omp parallel for num_threads(nt_rows) schedule(static)
    for (int t = 0; t < T; t++) op_rmsnorm(xb + (size_t)t * E, x + (size_t)t * E, m->L[0].attn_norm, E, eps);
    for (int il = 0; il < m->n_layer; il++) {
        const struct layer *L = &m->L[il];
        const int last = il == m->n_layer - 1;
        /* in the last layer only the last position's output is needed (as llama.cpp) */
        const int r0 = last ? T - 1 : 0, R = T - r0;
        if (R == T) {
            const struct wmat *ws[3] = { &L->wq, &L->wk, &L->wv };
            float *ys[3] = { c->q, c->k, c->v };
            mm_run_n(3, ws, T, xb, ys, fast ? MM_FAST : MM_EXACT, &c->mm, c->nt, c->use_blas);
        } else {
            mm(c, &L->wk, T, xb, c->k);
            mm(c, &L->wv, T, xb, c->v);
            mm(c, &L->wq, R, xb + (size_t)r0 * E, c->q);
        }
        uint8_t *kl = c->kc + (size_t)il * c->n_ctx * Ekv * c->kv_elt, *vl = c->vc + (size_t)il * c->n_ctx * Ekv * c->kv_elt;
        const int n_pairs = R * nh;
        const int onechunk = c->kv_f16 && fast && T < 64;
#pragma omp parallel num_threads(c->nt)
        {
            /* K and V rows: biases, qwen3's head norm, RoPE, then into the cache */
#pragma omp for schedule(static) nowait
            for (int t = 0; t < T; t++) {
                float *kr = c->k + (size_t)t * Ekv, *vr = c->v + (size_t)t * Ekv;
                if (L->bk) for (int i = 0; i < Ekv; i++) kr[i] += L->bk[i];
                if (L->bv) for (int i = 0; i < Ekv; i++) vr[i] += L->bv[i];
                if (L->q_norm) head_norm(m, kr, 1, nkv, L->k_norm, eps);
                rope_rows(m, kr, 1, nkv, c->rc + (size_t)t * half, c->rs + (size_t)t * half);
                const size_t off = (size_t)(p0 + t) * Ekv;
                if (c->kv_f16) {
                    g_kern.f32_to_f16(kr, (uint16_t *)kl + off, Ekv);   /* exactly f2h */
                    g_kern.f32_to_f16(vr, (uint16_t *)vl + off, Ekv);
                } else {
                    memcpy((float *)kl + off, kr, (size_t)Ekv * 4);
                    memcpy((float *)vl + off, vr, (size_t)Ekv * 4);
                }
            }
            /* Q rows (positions r0..T-1) */
#pragma omp for schedule(static)
            for (int t = 0; t < R; t++) {
                float *qr = c->q + (size_t)t * Q;
                if (L->bq) for (int i = 0; i < Q; i++) qr[i] += L->bq[i];
                if (L->q_norm) head_norm(m, qr, 1, nh, L->q_norm, eps);
                rope_rows(m, qr, 1, nh, c->rc + (size_t)(r0 + t) * half, c->rs + (size_t)(r0 + t) * half);
            }
            /* causal attention, one (query row, head) pair per iteration */
            float *sc = c->scores + (size_t)omp_get_thread_num() * c->n_ctx;
#pragma omp for schedule(dynamic, 4)
            for (int pi = 0; pi < n_pairs; pi++) {
                const int t = pi / nh, h = pi % nh, kvh = h / gqa;
                const int pos = p0 + r0 + t;
                const float *qv = c->q + (size_t)t * Q + (size_t)h * hd;
                float *o = c->att + (size_t)t * Q + (size_t)h * hd;
                if (onechunk) {
                    /* llama.cpp's default attention for micro-batches of < 64 rows with an
                     * F16 cache (flash attention, one-chunk kernel; spec §8.2 item 4): Q
                     * rounded to f16, online softmax in f32, the V accumulator kept in f16
                     * and rounded after every key. */
                    uint16_t *q16 = c->fa + (size_t)omp_get_thread_num() * 2 * hd, *acc = q16 + hd;
                    for (int d = 0; d < hd; d++) { q16[d] = f2h(qv[d]); acc[d] = 0; }
                    float S = 0, M = -INFINITY;
                    for (int j = 0; j <= pos; j++) {
                        const size_t kb = (size_t)j * Ekv + (size_t)kvh * hd;
                        float sj = qt_vec_dot(QT_F16, hd, (const uint16_t *)kl + kb, q16) * scale;
                        float ms = 1.0f, vs = 1.0f;
                        if (sj > M) {
                            const float Mold = M;
                            M = sj;
                            ms = expf(Mold - M);
                            f16_scale(hd, acc, ms);
                        } else vs = expf(sj - M);
                        const uint16_t *vv = (const uint16_t *)vl + kb;
                        f16_mad(hd, acc, vv, vs);
                        S = S * ms + vs;
                    }
                    const float inv = S == 0.0f ? 0.0f : 1.0f / S;
                    for (int d = 0; d < hd; d++) o[d] = h2f(acc[d]) * inv;
                    continue;
                }
                /* scores of keys 0..pos (K and V rows of this head: stride Ekv) */
                const size_t hb = (size_t)kvh * hd;
                if (c->kv_f16) dots_f32_f16(pos + 1, hd, qv, (const uint16_t *)kl + hb, Ekv, sc);
                else for (int j = 0; j <= pos; j++) sc[j] = dot_f32(hd, qv, (const float *)kl + (size_t)j * Ekv + hb);
                const float mx = scale_max(sc, pos + 1, scale);
                /* e^(s - max) and their sum in double; fast: the set's e^x (within 2 ulp of expf) */
                const double sum = fast ? g_kern.exp_sub_sum(sc, pos + 1, mx) : kern_scalar.exp_sub_sum(sc, pos + 1, mx);
                const float inv = (float)(1.0 / sum);
                for (int j = 0; j <= pos; j++) sc[j] *= inv;
                for (int d = 0; d < hd; d++) o[d] = 0;
                if (c->kv_f16) axpys_f16(pos + 1, hd, sc, (const uint16_t *)vl + hb, Ekv, o);
                else axpys_f32(pos + 1, hd, sc, (const float *)vl + hb, Ekv, o);
            }
        }
        mm(c, &L->wo, R, c->att, xb2);
        /* residual, then the FFN's norm */
#pragma omp parallel for num_threads(nt_rows) schedule(static)
        for (int t = 0; t < R; t++) {
            float *xr = x + (size_t)(r0 + t) * E, *yr = xb2 + (size_t)t * E;
            for (int i = 0; i < E; i++) xr[i] += yr[i] + (L->bo ? L->bo[i] : 0.f);
            op_rmsnorm(xb + (size_t)t * E, xr, L->ffn_norm, E, eps);
        }
        {
            const struct wmat *ws[2] = { &L->wg, &L->wu };
            float *ys[2] = { c->hb, c->hb2 };
            mm_run_n(2, ws, R, xb, ys, fast ? MM_FAST : MM_EXACT, &c->mm, c->nt, c->use_blas);
        }
        /* SwiGLU a row at a time (the same pieces, so the same bits, at any thread count) */
#pragma omp parallel for num_threads(nt_rows) schedule(static)
        for (int t = 0; t < R; t++) silu_mul(c->hb + (size_t)t * F, c->hb2 + (size_t)t * F, F, fast);
        mm(c, &L->wd, R, c->hb, xb2);
        /* residual, then the next layer's attention norm */
#pragma omp parallel for num_threads(nt_rows) schedule(static)
        for (int t = 0; t < R; t++) {
            float *xr = x + (size_t)(r0 + t) * E, *yr = xb2 + (size_t)t * E;
            for (int i = 0; i < E; i++) xr[i] += yr[i];
            if (!last) op_rmsnorm(xb + (size_t)t * E, xr, L[1].attn_norm, E, eps);
        }
    }
    op_rmsnorm(xb, x + (size_t)(T - 1) * E, m->output_norm, E, eps);
    mm(c, &m->output, 1, xb, c->logits);
    if (m->output_b) for (int i = 0; i < m->n_vocab; i++) c->logits[i] += m->output_b[i];
    c->n_past += T;
    c->have_logits = 1;
}

/* Identity of an embedding row (its bytes; the top bit set keeps it apart from token ids). */
static uint64_t row_key(const float *row, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    const uint32_t *w = (const uint32_t *)row;
    for (size_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull; h ^= h >> 33;
    return h | (1ull << 63);
}

/* Appends n inputs with positions pos ([n][4]) or, pos == NULL, the next text
 * positions (p, p, p, 0 with M-RoPE else p), p = c->pos_next + i.  With reuse,
 * the leading inputs that repeat the kept slots (same token or embedding row,
 * same position) are not evaluated again; want_logits == 0: the caller needs no
 * logits from this call (the last input is then skipped too when it repeats). */
static int prefill_at(struct eng_ctx *c, const int32_t *tokens, int n, const float *embd, const int32_t *pos, int want_logits)
{
    const struct eng_model *m = c->m;
    if (n <= 0) return eng_err(RC_EINPUT, "empty prompt");
    if ((int64_t)c->n_past + n > c->n_ctx)
        return eng_err(RC_ECTX, "prompt of %d positions (after %d) exceeds the context of %d", n, c->n_past, c->n_ctx);
    for (int i = 0; i < n; i++) {
        int32_t t = tokens ? tokens[i] : ENG_TOKEN_EMBD;
        if (t == ENG_TOKEN_EMBD ? !embd : (t < 0 || t >= m->n_vocab))
            return eng_err(RC_EINPUT, t == ENG_TOKEN_EMBD ? "position %d needs an embedding row but none was given" : "token id %d out of range", t == ENG_TOKEN_EMBD ? i : t);
    }
    const size_t E = (size_t)m->n_embd;
    /* every slot records its input and position: the next sequence may repeat them */
    size_t erow = 0;
    int n_same = 0, same = c->n_past < c->n_keep;
    for (int i = 0; i < n; i++) {
        const int s = c->n_past + i;
        int32_t t = tokens ? tokens[i] : ENG_TOKEN_EMBD;
        uint64_t key = t == ENG_TOKEN_EMBD ? row_key(embd + (erow++) * E, E) : (uint64_t)(uint32_t)t;
        int32_t p4[4];
        for (int j = 0; j < 4; j++) p4[j] = pos ? pos[(size_t)i * 4 + j] : j == 3 && m->arch->mrope ? 0 : c->pos_next + i;
        if (same) same = s < c->n_keep && c->skey[s] == key && !memcmp(c->spos + (size_t)s * 4, p4, sizeof p4);
        if (same) n_same++;
        c->skey[s] = key;
        memcpy(c->spos + (size_t)s * 4, p4, sizeof p4);
    }
    if (n_same == n && want_logits) n_same = n - 1;   /* the last input is evaluated for its logits */
    if (c->reuse == ENG_REUSE_CHUNKS && n_same < n) n_same = 0;   /* whole batches only: bit-identical */
    /* the kept slots end where this sequence departs from the previous one */
    if (n_same < n && c->n_past + n_same < c->n_keep) c->n_keep = c->n_past + n_same;
    c->n_skipped += n_same;
    c->n_evaluated += n - n_same;
    erow = 0;
    for (int i = 0; i < n_same; i++) if ((tokens ? tokens[i] : ENG_TOKEN_EMBD) == ENG_TOKEN_EMBD) erow++;
    c->n_past += n_same;
    if (n_same == n) c->have_logits = 0;
    for (int b = n_same; b < n; b += UBATCH) {
        int T = n - b < UBATCH ? n - b : UBATCH;
        for (int i = 0; i < T; i++) {
            int32_t t = tokens ? tokens[b + i] : ENG_TOKEN_EMBD;
            if (t == ENG_TOKEN_EMBD) memcpy(c->x + (size_t)i * E, embd + (erow++) * E, E * 4);
            else qt_dequant(m->tok_embd.type, m->tok_embd.data + (size_t)t * m->tok_embd.row_bytes, c->x + (size_t)i * E, (int64_t)E);
            memcpy(c->posb + (size_t)i * 4, c->spos + (size_t)(c->n_past + i) * 4, 4 * sizeof *c->posb);
        }
        forward(c, T);
    }
    if (!pos) c->pos_next += n;
    return RC_OK;
}

int eng_prefill(struct eng_ctx *c, const int32_t *tokens, int n, const float *embd)
{
    return prefill_at(c, tokens, n, embd, NULL, 1);
}

int eng_prefill_ex(struct eng_ctx *c, const int32_t *tokens, int n, const float *embd, int want_logits)
{
    return prefill_at(c, tokens, n, embd, NULL, want_logits);
}

int eng_decode(struct eng_ctx *c, int32_t token) { return eng_prefill(c, &token, 1, NULL); }

int eng_image_positions(const struct eng_model *m, int p0, int gw, int gh, int32_t *pos, int *next)
{
    if (gw <= 0 || gh <= 0) return eng_err(RC_EINPUT, "an image grid of %d x %d tokens", gw, gh);
    const int n = gw * gh;
    for (int i = 0; i < n; i++) {
        int32_t *p = pos + (size_t)i * 4;
        if (m->arch->mrope) { p[0] = p0; p[1] = p0 + i / gw; p[2] = p0 + i % gw; p[3] = 0; }
        else p[0] = p[1] = p[2] = p[3] = p0 + i;
    }
    /* the reference's M-RoPE image chunk advances the position by max(gw, gh) */
    *next = m->arch->mrope ? p0 + (gw > gh ? gw : gh) : p0 + n;
    return RC_OK;
}

int eng_prefill_image(struct eng_ctx *c, const float *embd, int gw, int gh) { return eng_prefill_image_ex(c, embd, gw, gh, 1); }

int eng_prefill_image_ex(struct eng_ctx *c, const float *embd, int gw, int gh, int want_logits)
{
    if (gw <= 0 || gh <= 0 || (int64_t)gw * gh > c->n_ctx)
        return eng_err(RC_EINPUT, "an image grid of %d x %d tokens", gw, gh);
    const int n = gw * gh;
    int32_t *pos = malloc((size_t)n * 4 * sizeof *pos);
    if (!pos) return eng_err(RC_ENOMEM, "out of memory");
    int next = 0;
    int rc = eng_image_positions(c->m, c->pos_next, gw, gh, pos, &next);
    if (!rc) rc = prefill_at(c, NULL, n, embd, pos, want_logits);
    if (!rc) c->pos_next = next;
    free(pos);
    return rc;
}

/* ---- inspect ---- */

static void print_tokenizer(FILE *f, const struct eng_model *m)
{
    const struct vocab *v = &m->voc;
    int ns = 0;
    for (int i = 0; i < m->n_vocab; i++) ns += v->type[i] != TOK_NORMAL;
    if (!v->bpe)
        fprintf(f, "  tokenizer: %s (SentencePiece), %d tokens (%d non-normal), bos %d, eos %d, unk %d, add_bos %s, add_space_prefix %s\n",
                v->model, m->n_vocab, ns, v->bos, v->eos, v->unk, v->add_bos ? "true" : "false", v->add_space_prefix ? "true" : "false");
    else
        fprintf(f, "  tokenizer: %s (byte-level BPE, pre %s, ignore_merges %s), %d tokens (%d non-normal, %d made control by name), %d merges,\n"
                   "  bos %d, eos %d, add_bos %s, add_eos %s, %d special tokens\n",
                v->model, bpe_pre_name(v->bpe), bpe_ignore_merges(v->bpe) ? "true" : "false", m->n_vocab, ns, v->n_promoted,
                bpe_n_merges(v->bpe), v->bos, v->eos, v->add_bos ? "true" : "false", v->add_eos ? "true" : "false", v->n_special);
}

int eng_inspect(const char *path, void *fp)
{
    FILE *f = fp;
    struct gguf *g;
    int rc = gguf_open(path, &g);
    if (rc) return rc;
    fprintf(f, "file: %s\nGGUF version %u, %zu bytes, %" PRId64 " metadata entries, %" PRId64 " tensors, alignment %u, data at %zu\n",
            path, g->version, g->size, g->n_kv, g->n_tensors, g->alignment, g->data_offset);
    fprintf(f, "\nmetadata:\n");
    for (int64_t i = 0; i < g->n_kv; i++) {
        char buf[200];
        gguf_kv_format(&g->kv[i], buf, sizeof buf);
        fprintf(f, "  %-44s %-7s %s\n", g->kv[i].key, g->kv[i].type == GGUF_ARRAY ? "array" : gguf_vtype_name(g->kv[i].type), buf);
    }
    fprintf(f, "\ntensors:\n  %-36s %-5s %-26s %12s\n", "name", "type", "shape (ne)", "bytes");
    size_t total = 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->t[i];
        char shp[80];
        int o = snprintf(shp, sizeof shp, "[");
        for (int d = 0; d < (t->n_dims ? t->n_dims : 1); d++) o += snprintf(shp + o, sizeof shp - (size_t)o, "%s%" PRId64, d ? ", " : "", t->ne[d]);
        snprintf(shp + o, sizeof shp - (size_t)o, "]");
        fprintf(f, "  %-36s %-5s %-26s %12zu\n", t->name, qt_name(t->type), shp, t->nbytes);
        total += t->nbytes;
    }
    fprintf(f, "  total tensor data: %zu bytes (%.1f MiB)\n", total, (double)total / 1048576.0);
    const char *arch;
    size_t arch_n;
    if (gguf_get_str(g, "general.architecture", &arch, &arch_n) == RC_OK && arch_n == 4 && !memcmp(arch, "clip", 4)) {
        gguf_close(g);   /* an mmproj: the vision loader describes and validates it */
        return vis_inspect(path, f);
    }
    struct eng_model *m = calloc(1, sizeof *m);
    if (!m) { gguf_close(g); return eng_err(RC_ENOMEM, "out of memory"); }
    m->g = g;
    if (g->n_tensors == 0 && gguf_find_kv(g, "tokenizer.ggml.model")) {
        /* a vocabulary-only file (the reference's ggml-vocab-*.gguf) */
        rc = vocab_load(&m->voc, g);
        m->n_vocab = m->voc.n;
        fprintf(f, "\nmodel:\n  vocabulary only: no tensors (tokenize works; logits and generate need a model)\n");
        if (!rc) { print_tokenizer(f, m); fprintf(f, "\nvalidation: ok (vocabulary only)\n"); }
        else fprintf(f, "\nvalidation problems:\n  %s\n", eng_errmsg());
        eng_model_free(m);
        return rc;
    }
    rc = load(m);
    fprintf(f, "\nmodel:\n");
    if (!rc) {
        const struct layer *L0 = &m->L[0];
        fprintf(f, "  kind: language model (general.architecture %s)\n", m->arch->name);
        fprintf(f, "  architecture %s: n_vocab %d, n_embd %d, n_layer %d, n_head %d, n_head_kv %d (GQA %d), head_dim %d,\n"
                   "  n_ff %d, context_length %d, rms_eps %g, rope %s base %g, freq_scale %g%s, output %s%s\n"
                   "  attention: Q/K/V biases %s, output bias %s, Q/K norm %s\n",
                m->arch->name, m->n_vocab, m->n_embd, m->n_layer, m->n_head, m->n_head_kv, m->n_head / m->n_head_kv, m->head_dim, m->n_ff,
                m->n_ctx_train, m->eps, m->arch->rope_neox ? "neox" : "normal", m->rope_base, m->freq_scale,
                m->rope_ff ? ", frequency factors (rope_freqs.weight)" : "",
                m->output.data == m->tok_embd.data ? "tied to token_embd" : "output.weight", m->output_b ? " + output.bias" : "",
                L0->bq || L0->bk || L0->bv ? "yes" : "no", L0->bo ? "yes" : "no", L0->q_norm ? "yes" : "no");
        if (m->arch->mrope)
            fprintf(f, "  M-RoPE: rope.dimension_sections [%d, %d, %d, %d] rotary pairs for (t, y, x, e); RMSNorm evaluated with "
                       "epsilon 0 as the reference (the file's %g with the original computation)\n",
                    m->sect[0], m->sect[1], m->sect[2], m->sect[3], m->eps);
        print_tokenizer(f, m);
        size_t kv = (size_t)m->n_layer * 2 * (size_t)m->head_dim * (size_t)m->n_head_kv;
        fprintf(f, "  KV cache per position: %zu bytes (F16), %zu bytes (F32)\n", kv * 2, kv * 4);
        int n_x8 = 0, n_q4k = 0;
        for (int i = -1; i < m->n_layer; i++) {
            const struct wmat *ws[7] = { &m->output }, *l = NULL;
            int n = i < 0 ? m->output.data != m->tok_embd.data : 7;
            if (i >= 0) { const struct layer *y = &m->L[i]; const struct wmat *a[7] = { &y->wq, &y->wk, &y->wv, &y->wo, &y->wg, &y->wu, &y->wd }; memcpy(ws, a, sizeof a); }
            for (int k = 0; k < n; k++) { l = ws[k]; n_q4k += l->type == QT_Q4_K; n_x8 += l->type == QT_Q4_K && l->N % QT_X8_ROWS == 0; }
        }
        if (n_q4k)
            fprintf(f, "  Q4_K matrices: %d of %d repacked by 8 rows at load for the 8-row kernels%s\n", n_x8, n_q4k,
                    getenv("MMSAFE_REPACK") && !strcmp(getenv("MMSAFE_REPACK"), "0") ? " (not now: MMSAFE_REPACK=0)" : "");
        fprintf(f, "\nvalidation: ok\n");
    } else {
        fprintf(f, "\nvalidation problems:\n  %s\n", eng_errmsg());
    }
    eng_model_free(m);
    return rc;
}
