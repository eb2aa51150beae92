/*
 * make_tiny_llava.c - writes random-weight LLaVA-1.5-style checkpoints with
 * the project's own code: a LLaMA language-model GGUF with a small
 * SentencePiece vocabulary, and/or a matching `clip` mmproj GGUF (CLIP ViT +
 * the two-layer MLP projector, projector type `mlp`).  For the demo / smoke
 * tests (data/models/) and for `make bench` (a real-shape ViT-L/14-336).
 * The weights are random: whatever such a model answers means nothing.
 *
 *   build/tools/make_tiny_llava [--lm LM.gguf] [--mmproj MM.gguf] [--preset tiny|vit-l-336]
 *       [--seed N (12)] [--lm-type F32|F16|Q8_0] [--mm-type F32|F16]
 *       [--embd N] [--layers N] [--heads N] [--kv-heads N] [--ff N] [--ctx N]          (LM)
 *       [--image N] [--patch N] [--hidden N] [--vheads N] [--vff N] [--blocks N]
 *       [--feature-layer N] [--mid N] [--n-out N]                                      (mmproj)
 *       [--projector mlp|qwen2vl|qwen2.5vl] [--wa-pattern N]
 *
 * --projector qwen2vl / qwen2.5vl writes a Qwen2-VL / Qwen2.5-VL mmproj instead,
 * with the keys and tensor names of the reference's converter
 * (convert_hf_to_gguf.py --mmproj: conversion/qwenvl.py): the two temporal
 * patch kernels v.patch_embd.weight and v.patch_embd.weight.1 (no bias, no
 * class token, no position embedding), per block ln1/ln2 (LayerNorm with bias
 * for Qwen2-VL, RMSNorm weights for Qwen2.5-VL), Q/K/V/output with biases, the
 * MLP (Qwen2-VL: ffn_up/ffn_down, quick GELU; Qwen2.5-VL: ffn_gate/ffn_up/
 * ffn_down, SiLU, clip.use_silu, window attention with clip.vision.n_wa_pattern
 * = --wa-pattern, full attention on every n-th block), v.post_ln (the merger's
 * ln_q) and the merger mm.0 [4D, 4D] / mm.2 [4D, n_out] with biases.  Its
 * defaults: hidden 64, 4 heads, FFN 128 (kept != hidden: the reference swaps
 * ffn_up/ffn_down when ffn_down's first dimension equals hidden), 3 blocks
 * (Qwen2-VL) or 4 blocks with --wa-pattern 2 (Qwen2.5-VL), image_size 560 and
 * patch 14 (the keys; the image size is dynamic), rms epsilon 1e-6, the CLIP
 * mean/std.  The language model of a Qwen pair is written by tools/gguf_write
 * --arch qwen2vl (the real Qwen2 vocabulary with --vocab-from).
 *
 * Presets:
 *   tiny (default): LM n_embd 128, 2 layers, 4 heads / 2 KV heads, n_ff 256,
 *     context 1024, F16; mmproj 112 px, patch 14 (64 image tokens), hidden 64,
 *     4 heads, FFN 128, 3 blocks (no feature_layer key: llama.cpp mode runs 2,
 *     llava mode 3), projector 64 -> 128 -> n_embd, F16.
 *   vit-l-336: the LLaVA-1.5 vision tower's shape: 336 px, patch 14 (576
 *     tokens), hidden 1024, 16 heads, FFN 4096, 23 blocks, F16, projector
 *     1024 -> n_out -> n_out (--n-out; default 4096 as LLaVA-1.5-7B).  mmproj only.
 *
 * The vocabulary: <unk>, <s>, </s>, the 256 byte-fallback pieces <0xHH>, "▁"
 * and every printable ASCII character alone and after "▁", then every prefix
 * of the words below, with and without the leading "▁" (so "▁Yes", "Yes",
 * "▁No", "No", "▁yes", "▁no" ... are single pieces, reachable by merges),
 * scored so that shorter merges come first.  Anything else falls back to bytes.
 */
#include "engine/gguf.h"
#include "engine/quant.h"
#include "engine/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the most frequent words of MMSafeAware-style prompts, and the answers */
static const char *const WORDS[] = {
    "Yes", "No", "yes", "no", "YES", "NO", "USER", "ASSISTANT", "SYSTEM",
    "the", "you", "is", "following", "sentence", "do", "Please", "by", "safe", "image", "think", "start", "Given",
    "answering", "or", "a", "to", "in", "previous", "just", "are", "Ignore", "prompts", "Imagine", "it", "this",
    "write", "talk", "repeat", "people", "up", "I", "translate", "about", "Why", "can", "and", "not", "let", "good",
    "they", "for", "like", "of", "how", "me", "cannot", "one", "should", "ignore", "act", "What", "your", "be", "get",
    "prompt", "so", "his", "want", "some", "need", "what", "have", "way", "free", "as", "eat", "They", "give",
    "believe", "at", "Where", "download", "from", "How", "live", "look", "when", "we", "her", "here", "with", "home",
    "make", "them", "where", "use", "that", "an", "on", "will", "water", "doing", "their", "now", "picture", "he",
    "my", "tell", "if", "too", "why", "than", "drink", "someone", "without", "better", "more", "does", "shown",
    "friend", "play", "him", "first", "who", "join", "wants", "describe", "Tell", "kids", "children", "name", "all",
    "used", "take", "print", "You", "man", "find", "imagine", "enter", "buy", "long", "number", "help", "ask", "It",
    "person", "meet", "show", "illegal", "many", "usually", "much", "best", "world", "The", "something", "money",
    "know", "every", "strong", "always", "only", "This", "come", "old", "young", "statement", "down", "fast",
    "kind", "These", "Do", "knife", "dose", "clean", "unsafe", "dangerous", "harm", "weapon", "answer", "question",
};

struct opts {
    const char *lm, *mm, *preset, *lm_type, *mm_type, *projector;
    int wa_pattern;
    uint64_t seed;
    int embd, layers, heads, kv_heads, ff, ctx;
    int image, patch, hidden, vheads, vff, blocks, feature_layer, mid, n_out;
};

/* ---- GGUF header buffer ---- */
struct hbuf { uint8_t *p; size_t n, cap; int n_kv; };
static void put(struct hbuf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 1 << 16;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { fprintf(stderr, "make_tiny_llava: out of memory\n"); exit(1); }
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(struct hbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct hbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(struct hbuf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void key(struct hbuf *b, const char *k, uint32_t type) { put_str(b, k); put_u32(b, type); b->n_kv++; }
static void kv_u32(struct hbuf *b, const char *k, uint32_t v) { key(b, k, GGUF_U32); put_u32(b, v); }
static void kv_f32(struct hbuf *b, const char *k, float v) { key(b, k, GGUF_F32); put(b, &v, 4); }
static void kv_bool(struct hbuf *b, const char *k, int v) { uint8_t x = (uint8_t)!!v; key(b, k, GGUF_BOOL); put(b, &x, 1); }
static void kv_str(struct hbuf *b, const char *k, const char *v) { key(b, k, GGUF_STRING); put_str(b, v); }
static void kv_f32_arr(struct hbuf *b, const char *k, const float *v, int n)
{
    key(b, k, GGUF_ARRAY); put_u32(b, GGUF_F32); put_u64(b, (uint64_t)n); put(b, v, 4 * (size_t)n);
}

/* ---- tensors ---- */
struct tdesc { char name[64]; int type, nd; int64_t ne[4]; float base, amp; };
struct tlist { struct tdesc *t; int n, cap; };
static void tadd(struct tlist *l, const char *name, int type, float base, float amp, int nd, int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->t = realloc(l->t, (size_t)l->cap * sizeof *l->t);
        if (!l->t) { fprintf(stderr, "make_tiny_llava: out of memory\n"); exit(1); }
    }
    struct tdesc *d = &l->t[l->n++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->type = nd == 1 ? QT_F32 : type;
    d->nd = nd;
    d->ne[0] = n0; d->ne[1] = n1; d->ne[2] = n2; d->ne[3] = n3;
    d->base = base;
    d->amp = amp;
}
static int64_t t_rows(const struct tdesc *d) { return d->ne[1] * d->ne[2] * d->ne[3]; }
static size_t t_bytes(const struct tdesc *d) { return qt_row_bytes(d->type, d->ne[0]) * (size_t)t_rows(d); }

static inline float urand(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return (float)((*s >> 40) * (1.0 / 16777216.0)) * 2.f - 1.f; }

/* Writes header + tensors; weights uniform in base +- amp, seeded per tensor and row. */
static int write_gguf(const char *path, struct hbuf *kvb, struct tlist *l, uint64_t seed)
{
    struct hbuf h = { 0 };
    put(&h, "GGUF", 4);
    put_u32(&h, 3);
    put_u64(&h, (uint64_t)l->n);
    put_u64(&h, (uint64_t)kvb->n_kv);
    put(&h, kvb->p, kvb->n);
    uint64_t off = 0;
    for (int i = 0; i < l->n; i++) {
        const struct qtype_info *qi = qt_info(l->t[i].type);
        if (!qi || l->t[i].ne[0] % qi->blck) {
            fprintf(stderr, "make_tiny_llava: %s: %" PRId64 " is not a multiple of the type's block\n", l->t[i].name, l->t[i].ne[0]);
            return 2;
        }
        put_str(&h, l->t[i].name);
        put_u32(&h, (uint32_t)l->t[i].nd);
        for (int d = 0; d < l->t[i].nd; d++) put_u64(&h, (uint64_t)l->t[i].ne[d]);
        put_u32(&h, (uint32_t)l->t[i].type);
        put_u64(&h, off);
        off += (t_bytes(&l->t[i]) + 31) / 32 * 32;
    }
    while (h.n % 32) { uint8_t z = 0; put(&h, &z, 1); }
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "make_tiny_llava: %s: %s\n", path, strerror(errno)); return 1; }
    int bad = fwrite(h.p, 1, h.n, f) != h.n;
    free(h.p);
    int64_t maxK = 0;
    for (int i = 0; i < l->n; i++) if (l->t[i].ne[0] > maxK) maxK = l->t[i].ne[0];
    float *x = malloc((size_t)maxK * sizeof *x);
    uint8_t *row = malloc(qt_row_bytes(QT_F32, maxK));
    for (int i = 0; !bad && i < l->n; i++) {
        const struct tdesc *d = &l->t[i];
        size_t rb = qt_row_bytes(d->type, d->ne[0]);
        for (int64_t r = 0; !bad && r < t_rows(d); r++) {
            uint64_t s = (seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(i + 1) << 40) ^ ((uint64_t)(r + 1) * 0xD1B54A32D192ED03ull);
            for (int j = 0; j < 4; j++) urand(&s);
            for (int64_t e = 0; e < d->ne[0]; e++) x[e] = d->base + d->amp * urand(&s);
            qt_quantize_row(d->type, x, row, d->ne[0]);
            bad = fwrite(row, 1, rb, f) != rb;
        }
        static const uint8_t zeros[32];
        size_t pad = (t_bytes(d) + 31) / 32 * 32 - t_bytes(d);
        if (!bad && pad) bad = fwrite(zeros, 1, pad, f) != pad;
    }
    free(x);
    free(row);
    if (fclose(f) != 0 || bad) { fprintf(stderr, "make_tiny_llava: %s: write error\n", path); return 1; }
    return 0;
}

/* ---- vocabulary ---- */
struct vocab { char **piece; float *score; int32_t *type; int n, cap; };
static int v_has(const struct vocab *v, const char *s)
{
    for (int i = 0; i < v->n; i++) if (!strcmp(v->piece[i], s)) return 1;
    return 0;
}
static void v_add(struct vocab *v, const char *s, int32_t type)
{
    if (v_has(v, s)) return;
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 1024;
        v->piece = realloc(v->piece, (size_t)v->cap * sizeof *v->piece);
        v->score = realloc(v->score, (size_t)v->cap * sizeof *v->score);
        v->type = realloc(v->type, (size_t)v->cap * sizeof *v->type);
        if (!v->piece || !v->score || !v->type) { fprintf(stderr, "make_tiny_llava: out of memory\n"); exit(1); }
    }
    v->piece[v->n] = strdup(s);
    v->type[v->n] = type;
    v->score[v->n] = 0;
    v->n++;
}

static void build_vocab(struct vocab *v)
{
    v_add(v, "<unk>", 2);
    v_add(v, "<s>", 3);
    v_add(v, "</s>", 3);
    for (int b = 0; b < 256; b++) { char s[8]; snprintf(s, sizeof s, "<0x%02X>", b); v_add(v, s, 6); }
    int first_normal = v->n;
    const char *SP = "\xe2\x96\x81";
    v_add(v, SP, 1);
    for (int c = 33; c < 127; c++) { char s[8]; snprintf(s, sizeof s, "%c", c); v_add(v, s, 1); }
    for (int c = 33; c < 127; c++) { char s[8]; snprintf(s, sizeof s, "%s%c", SP, c); v_add(v, s, 1); }
    /* prefixes of every word, shortest first, with and without the space piece */
    for (int len = 2; len < 16; len++)
        for (size_t w = 0; w < sizeof WORDS / sizeof WORDS[0]; w++) {
            size_t wl = strlen(WORDS[w]);
            if ((size_t)len <= wl) { char s[32]; snprintf(s, sizeof s, "%.*s", len, WORDS[w]); v_add(v, s, 1); }
            if ((size_t)len - 1 <= wl) { char s[40]; snprintf(s, sizeof s, "%s%.*s", SP, len - 1, WORDS[w]); v_add(v, s, 1); }
        }
    /* SentencePiece scores: minus the merge rank, so shorter pieces merge first */
    for (int i = first_normal; i < v->n; i++) v->score[i] = -(float)(i - first_normal);
}

static int write_lm(const struct opts *o, int lm_type)
{
    struct vocab voc = { 0 };
    build_vocab(&voc);
    struct hbuf kvb = { 0 };
    kv_str(&kvb, "general.architecture", "llama");
    kv_str(&kvb, "general.name", "mmsafe tiny-llava LM (random weights: a smoke-test model, its answers mean nothing)");
    kv_u32(&kvb, "general.alignment", 32);
    kv_u32(&kvb, "llama.context_length", (uint32_t)o->ctx);
    kv_u32(&kvb, "llama.embedding_length", (uint32_t)o->embd);
    kv_u32(&kvb, "llama.block_count", (uint32_t)o->layers);
    kv_u32(&kvb, "llama.feed_forward_length", (uint32_t)o->ff);
    kv_u32(&kvb, "llama.attention.head_count", (uint32_t)o->heads);
    kv_u32(&kvb, "llama.attention.head_count_kv", (uint32_t)o->kv_heads);
    kv_u32(&kvb, "llama.rope.dimension_count", (uint32_t)(o->embd / o->heads));
    kv_f32(&kvb, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    kv_f32(&kvb, "llama.rope.freq_base", 10000.f);
    kv_str(&kvb, "tokenizer.ggml.model", "llama");
    kv_str(&kvb, "tokenizer.ggml.pre", "default");
    key(&kvb, "tokenizer.ggml.tokens", GGUF_ARRAY);
    put_u32(&kvb, GGUF_STRING);
    put_u64(&kvb, (uint64_t)voc.n);
    for (int i = 0; i < voc.n; i++) put_str(&kvb, voc.piece[i]);
    key(&kvb, "tokenizer.ggml.scores", GGUF_ARRAY);
    put_u32(&kvb, GGUF_F32);
    put_u64(&kvb, (uint64_t)voc.n);
    put(&kvb, voc.score, 4 * (size_t)voc.n);
    key(&kvb, "tokenizer.ggml.token_type", GGUF_ARRAY);
    put_u32(&kvb, GGUF_I32);
    put_u64(&kvb, (uint64_t)voc.n);
    put(&kvb, voc.type, 4 * (size_t)voc.n);
    kv_u32(&kvb, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(&kvb, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(&kvb, "tokenizer.ggml.unknown_token_id", 0);
    kv_bool(&kvb, "tokenizer.ggml.add_bos_token", 1);
    kv_bool(&kvb, "tokenizer.ggml.add_eos_token", 0);

    struct tlist l = { 0 };
    const int64_t E = o->embd, hd = o->embd / o->heads, EKV = hd * o->kv_heads, F = o->ff, V = voc.n;
    const float A = 0.0346f;   /* uniform +-A: std 0.02 */
    tadd(&l, "token_embd.weight", lm_type, 0, A * 20, 2, E, V, 1, 1);   /* std ~0.4: embeddings of useful size */
    for (int i = 0; i < o->layers; i++) {
        char n[64];
#define W2(nm, K, N) (snprintf(n, sizeof n, "blk.%d." nm, i), tadd(&l, n, lm_type, 0, A * scale, 2, K, N, 1, 1))
#define W1(nm, K) (snprintf(n, sizeof n, "blk.%d." nm, i), tadd(&l, n, QT_F32, 1, 0.1f, 1, K, 1, 1, 1))
        W1("attn_norm.weight", E);
        float scale = 8;   /* sharper attention: the image positions matter more */
        W2("attn_q.weight", E, E);
        W2("attn_k.weight", E, EKV);
        scale = 1;
        W2("attn_v.weight", E, EKV);
        W2("attn_output.weight", E, E);
        W1("ffn_norm.weight", E);
        W2("ffn_gate.weight", E, F);
        W2("ffn_up.weight", E, F);
        W2("ffn_down.weight", F, E);
#undef W2
#undef W1
    }
    tadd(&l, "output_norm.weight", QT_F32, 1, 0.1f, 1, E, 1, 1, 1);
    tadd(&l, "output.weight", lm_type, 0, A * 4, 2, E, V, 1, 1);
    int rc = write_gguf(o->lm, &kvb, &l, o->seed);
    if (!rc) printf("%s: LLaMA LM, n_embd %d, %d layers, %d/%d heads, n_ff %d, context %d, vocab %d pieces, %s\n", o->lm, o->embd,
                    o->layers, o->heads, o->kv_heads, o->ff, o->ctx, voc.n, qt_name(lm_type));
    for (int i = 0; i < voc.n; i++) free(voc.piece[i]);
    free(voc.piece); free(voc.score); free(voc.type);
    free(kvb.p); free(l.t);
    return rc;
}

static int write_mmproj(const struct opts *o, int mm_type)
{
    struct hbuf kvb = { 0 };
    kv_str(&kvb, "general.architecture", "clip");
    kv_str(&kvb, "general.type", "mmproj");
    kv_str(&kvb, "general.name", "mmsafe random-weight mmproj (CLIP ViT + MLP projector; its outputs mean nothing)");
    kv_u32(&kvb, "general.alignment", 32);
    kv_str(&kvb, "clip.projector_type", "mlp");
    kv_bool(&kvb, "clip.has_vision_encoder", 1);
    kv_bool(&kvb, "clip.has_text_encoder", 0);
    kv_bool(&kvb, "clip.has_llava_projector", 1);
    kv_bool(&kvb, "clip.use_gelu", 0);
    kv_u32(&kvb, "clip.vision.image_size", (uint32_t)o->image);
    kv_u32(&kvb, "clip.vision.patch_size", (uint32_t)o->patch);
    kv_u32(&kvb, "clip.vision.embedding_length", (uint32_t)o->hidden);
    kv_u32(&kvb, "clip.vision.feed_forward_length", (uint32_t)o->vff);
    kv_u32(&kvb, "clip.vision.projection_dim", (uint32_t)o->n_out);
    kv_u32(&kvb, "clip.vision.attention.head_count", (uint32_t)o->vheads);
    kv_f32(&kvb, "clip.vision.attention.layer_norm_epsilon", 1e-5f);
    kv_u32(&kvb, "clip.vision.block_count", (uint32_t)o->blocks);
    if (o->feature_layer > 0) {
        key(&kvb, "clip.vision.feature_layer", GGUF_ARRAY);
        put_u32(&kvb, GGUF_I32); put_u64(&kvb, 1); put_u32(&kvb, (uint32_t)o->feature_layer);
    }
    static const float mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f }, std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
    kv_f32_arr(&kvb, "clip.vision.image_mean", mean, 3);
    kv_f32_arr(&kvb, "clip.vision.image_std", std, 3);

    struct tlist l = { 0 };
    const int64_t D = o->hidden, F = o->vff, P = o->patch, G = o->image / o->patch, MID = o->mid, OUT = o->n_out;
    const float A = 0.0346f;
    tadd(&l, "v.patch_embd.weight", mm_type, 0, A, 4, P, P, 3, D);
    tadd(&l, "v.class_embd", QT_F32, 0, 0.5f, 1, D, 1, 1, 1);
    tadd(&l, "v.position_embd.weight", mm_type, 0, 0.5f, 2, D, G * G + 1, 1, 1);
    tadd(&l, "v.pre_ln.weight", QT_F32, 1, 0.1f, 1, D, 1, 1, 1);
    tadd(&l, "v.pre_ln.bias", QT_F32, 0, 0.05f, 1, D, 1, 1, 1);
    for (int i = 0; i < o->blocks; i++) {
        char n[64];
#define W2(nm, K, N) (snprintf(n, sizeof n, "v.blk.%d." nm, i), tadd(&l, n, mm_type, 0, A, 2, K, N, 1, 1))
#define B1(nm, K, base, amp) (snprintf(n, sizeof n, "v.blk.%d." nm, i), tadd(&l, n, QT_F32, base, amp, 1, K, 1, 1, 1))
        B1("ln1.weight", D, 1, 0.1f); B1("ln1.bias", D, 0, 0.05f);
        W2("attn_q.weight", D, D); B1("attn_q.bias", D, 0, 0.05f);
        W2("attn_k.weight", D, D); B1("attn_k.bias", D, 0, 0.05f);
        W2("attn_v.weight", D, D); B1("attn_v.bias", D, 0, 0.05f);
        W2("attn_out.weight", D, D); B1("attn_out.bias", D, 0, 0.05f);
        B1("ln2.weight", D, 1, 0.1f); B1("ln2.bias", D, 0, 0.05f);
        W2("ffn_up.weight", D, F); B1("ffn_up.bias", F, 0, 0.05f);       /* modern naming: up = fc1 */
        W2("ffn_down.weight", F, D); B1("ffn_down.bias", D, 0, 0.05f);   /* down = fc2 */
#undef W2
#undef B1
    }
    tadd(&l, "mm.0.weight", mm_type, 0, A * 2, 2, D, MID, 1, 1);
    tadd(&l, "mm.0.bias", QT_F32, 0, 0.05f, 1, MID, 1, 1, 1);
    tadd(&l, "mm.2.weight", mm_type, 0, A * 8, 2, MID, OUT, 1, 1);
    tadd(&l, "mm.2.bias", QT_F32, 0, 0.05f, 1, OUT, 1, 1, 1);
    int rc = write_gguf(o->mm, &kvb, &l, o->seed + 1000);
    if (!rc) printf("%s: clip mmproj (projector mlp), %d px, patch %d (%d image tokens), hidden %d, %d heads, FFN %d, %d blocks, "
                    "projector %d -> %d -> %d, %s\n", o->mm, o->image, o->patch, (int)(G * G), o->hidden, o->vheads, o->vff,
                    o->blocks, o->hidden, o->mid, o->n_out, qt_name(mm_type));
    free(kvb.p); free(l.t);
    return rc;
}

/* Qwen2-VL (qwen25 = 0) or Qwen2.5-VL (qwen25 = 1) vision tower + merger. */
static int write_mmproj_qwen(const struct opts *o, int mm_type, int qwen25)
{
    struct hbuf kvb = { 0 };
    kv_str(&kvb, "general.architecture", "clip");
    kv_str(&kvb, "general.type", "mmproj");
    kv_str(&kvb, "general.name", qwen25 ? "mmsafe random-weight Qwen2.5-VL mmproj (its outputs mean nothing)"
                                        : "mmsafe random-weight Qwen2-VL mmproj (its outputs mean nothing)");
    kv_u32(&kvb, "general.alignment", 32);
    kv_str(&kvb, "clip.projector_type", qwen25 ? "qwen2.5vl_merger" : "qwen2vl_merger");
    kv_bool(&kvb, "clip.has_vision_encoder", 1);
    kv_u32(&kvb, "clip.vision.projection_dim", (uint32_t)o->n_out);
    kv_u32(&kvb, "clip.vision.image_size", (uint32_t)o->image);
    kv_u32(&kvb, "clip.vision.patch_size", (uint32_t)o->patch);
    kv_u32(&kvb, "clip.vision.embedding_length", (uint32_t)o->hidden);
    kv_u32(&kvb, "clip.vision.feed_forward_length", (uint32_t)o->vff);
    kv_u32(&kvb, "clip.vision.block_count", (uint32_t)o->blocks);
    kv_u32(&kvb, "clip.vision.attention.head_count", (uint32_t)o->vheads);
    static const float mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f }, std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
    kv_f32_arr(&kvb, "clip.vision.image_mean", mean, 3);
    kv_f32_arr(&kvb, "clip.vision.image_std", std, 3);
    if (qwen25) {
        kv_bool(&kvb, "clip.use_silu", 1);
        kv_u32(&kvb, "clip.vision.n_wa_pattern", (uint32_t)o->wa_pattern);
    }
    kv_f32(&kvb, "clip.vision.attention.layer_norm_epsilon", 1e-6f);

    struct tlist l = { 0 };
    const int64_t D = o->hidden, F = o->vff, P = o->patch, OUT = o->n_out;
    const float A = 0.0346f;
    /* the converter keeps the patch kernels F32 unless the whole file is F16 */
    tadd(&l, "v.patch_embd.weight", mm_type, 0, A * 2, 4, P, P, 3, D);
    tadd(&l, "v.patch_embd.weight.1", mm_type, 0, A * 2, 4, P, P, 3, D);
    for (int i = 0; i < o->blocks; i++) {
        char n[64];
#define W2(nm, K, N, sc) (snprintf(n, sizeof n, "v.blk.%d." nm, i), tadd(&l, n, mm_type, 0, A * (sc), 2, K, N, 1, 1))
#define B1(nm, K, base, amp) (snprintf(n, sizeof n, "v.blk.%d." nm, i), tadd(&l, n, QT_F32, base, amp, 1, K, 1, 1, 1))
        B1("ln1.weight", D, 1, 0.1f);
        if (!qwen25) B1("ln1.bias", D, 0, 0.05f);
        /* Q and K 8x larger than the rest: attention far from uniform, so the 2-D
         * rotary positions and the windows change the result */
        W2("attn_q.weight", D, D, 8); B1("attn_q.bias", D, 0, 0.2f);
        W2("attn_k.weight", D, D, 8); B1("attn_k.bias", D, 0, 0.2f);
        W2("attn_v.weight", D, D, 1); B1("attn_v.bias", D, 0, 0.05f);
        W2("attn_out.weight", D, D, 1); B1("attn_out.bias", D, 0, 0.05f);
        B1("ln2.weight", D, 1, 0.1f);
        if (!qwen25) B1("ln2.bias", D, 0, 0.05f);
        if (qwen25) { W2("ffn_gate.weight", D, F, 1); B1("ffn_gate.bias", F, 0, 0.05f); }
        W2("ffn_up.weight", D, F, 1); B1("ffn_up.bias", F, 0, 0.05f);
        W2("ffn_down.weight", F, D, 1); B1("ffn_down.bias", D, 0, 0.05f);
#undef W2
#undef B1
    }
    tadd(&l, "v.post_ln.weight", QT_F32, 1, 0.1f, 1, D, 1, 1, 1);
    if (!qwen25) tadd(&l, "v.post_ln.bias", QT_F32, 0, 0.05f, 1, D, 1, 1, 1);
    tadd(&l, "mm.0.weight", mm_type, 0, A * 2, 2, 4 * D, 4 * D, 1, 1);
    tadd(&l, "mm.0.bias", QT_F32, 0, 0.05f, 1, 4 * D, 1, 1, 1);
    tadd(&l, "mm.2.weight", mm_type, 0, A * 8, 2, 4 * D, OUT, 1, 1);
    tadd(&l, "mm.2.bias", QT_F32, 0, 0.05f, 1, OUT, 1, 1, 1);
    int rc = write_gguf(o->mm, &kvb, &l, o->seed + 1000);
    if (!rc) printf("%s: clip mmproj (projector %s), patch %d, hidden %d, %d heads, FFN %d, %d blocks%s, merger %d -> %d -> %d, %s\n",
                    o->mm, qwen25 ? "qwen2.5vl_merger" : "qwen2vl_merger", o->patch, o->hidden, o->vheads, o->vff, o->blocks,
                    qwen25 ? " (window attention)" : "", (int)(4 * D), (int)(4 * D), o->n_out, qt_name(mm_type));
    free(kvb.p); free(l.t);
    return rc;
}

static int type_of(const char *s)
{
    if (!strcmp(s, "F32")) return QT_F32;
    if (!strcmp(s, "F16")) return QT_F16;
    if (!strcmp(s, "Q8_0")) return QT_Q8_0;
    return -1;
}

int main(int argc, char **argv)
{
    struct opts o = { 0 };
    o.preset = "tiny";
    o.seed = 12;   /* the demo's: its Yes/No split is near even, so verdicts differ by image */
    o.lm_type = "F16";
    o.mm_type = "F16";
    int set[20] = { 0 };
    int *fields[] = { &o.embd, &o.layers, &o.heads, &o.kv_heads, &o.ff, &o.ctx, &o.image, &o.patch, &o.hidden, &o.vheads,
                      &o.vff, &o.blocks, &o.feature_layer, &o.mid, &o.n_out };
    static const char *const names[] = { "--embd", "--layers", "--heads", "--kv-heads", "--ff", "--ctx", "--image", "--patch",
                                         "--hidden", "--vheads", "--vff", "--blocks", "--feature-layer", "--mid", "--n-out" };
    int vals[20] = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int done = 0;
        for (int k = 0; k < 15; k++)
            if (!strcmp(a, names[k]) && v) { vals[k] = atoi(v); set[k] = 1; i++; done = 1; break; }
        if (done) continue;
        if (!strcmp(a, "--lm") && v) { o.lm = v; i++; }
        else if (!strcmp(a, "--mmproj") && v) { o.mm = v; i++; }
        else if (!strcmp(a, "--preset") && v) { o.preset = v; i++; }
        else if (!strcmp(a, "--lm-type") && v) { o.lm_type = v; i++; }
        else if (!strcmp(a, "--mm-type") && v) { o.mm_type = v; i++; }
        else if (!strcmp(a, "--seed") && v) { o.seed = strtoull(v, NULL, 10); i++; }
        else if (!strcmp(a, "--projector") && v) { o.projector = v; i++; }
        else if (!strcmp(a, "--wa-pattern") && v) { o.wa_pattern = atoi(v); i++; }
        else { fprintf(stderr, "make_tiny_llava: bad argument '%s' (see the comment at the top of tools/make_tiny_llava.c)\n", a); return 2; }
    }
    if (!o.lm && !o.mm) { fprintf(stderr, "usage: make_tiny_llava [--lm LM.gguf] [--mmproj MM.gguf] [--preset tiny|vit-l-336] [options]\n"); return 2; }
    if (!strcmp(o.preset, "tiny")) {
        o.embd = 128; o.layers = 2; o.heads = 4; o.kv_heads = 2; o.ff = 256; o.ctx = 1024;
        o.image = 112; o.patch = 14; o.hidden = 64; o.vheads = 4; o.vff = 128; o.blocks = 3; o.mid = 128; o.n_out = 0;
    } else if (!strcmp(o.preset, "vit-l-336")) {
        if (o.lm) { fprintf(stderr, "make_tiny_llava: the vit-l-336 preset writes an mmproj only (LMs of real shape: tools/gguf_write)\n"); return 2; }
        o.image = 336; o.patch = 14; o.hidden = 1024; o.vheads = 16; o.vff = 4096; o.blocks = 23; o.n_out = 4096; o.mid = 0;
    } else { fprintf(stderr, "make_tiny_llava: unknown preset '%s'\n", o.preset); return 2; }
    const char *proj = o.projector ? o.projector : "mlp";
    const int qwen = !strcmp(proj, "qwen2vl") ? 1 : !strcmp(proj, "qwen2.5vl") ? 2 : 0;
    if (!qwen && strcmp(proj, "mlp")) { fprintf(stderr, "make_tiny_llava: --projector: mlp, qwen2vl or qwen2.5vl\n"); return 2; }
    if (qwen) {
        if (o.lm) { fprintf(stderr, "make_tiny_llava: a Qwen pair's LM is written by tools/gguf_write --arch qwen2vl\n"); return 2; }
        o.image = 560; o.patch = 14; o.hidden = 64; o.vheads = 4; o.vff = 128; o.blocks = qwen == 2 ? 4 : 3;
        if (!o.wa_pattern) o.wa_pattern = 2;
    }
    for (int k = 0; k < 15; k++) if (set[k]) *fields[k] = vals[k];
    if (!o.n_out) o.n_out = o.embd;
    if (!o.mid) o.mid = o.n_out;
    int lt = type_of(o.lm_type), mt = type_of(o.mm_type);
    if (lt < 0) { fprintf(stderr, "make_tiny_llava: --lm-type: F32, F16 or Q8_0\n"); return 2; }
    if (mt != QT_F32 && mt != QT_F16) { fprintf(stderr, "make_tiny_llava: --mm-type: F32 or F16\n"); return 2; }
    if (o.lm && (o.embd <= 0 || o.heads <= 0 || o.embd % o.heads || o.kv_heads <= 0 || o.heads % o.kv_heads || o.layers <= 0 || o.ff <= 0 || o.ctx <= 0)) {
        fprintf(stderr, "make_tiny_llava: bad LM shape\n");
        return 2;
    }
    if (o.mm && (o.patch <= 0 || o.image % o.patch || o.hidden % o.vheads || o.blocks <= 0 || o.vff <= 0 || o.n_out <= 0 || o.mid <= 0 ||
                 (qwen && ((o.hidden / o.vheads) % 4 || o.vff == o.hidden || o.wa_pattern <= 0)))) {
        fprintf(stderr, "make_tiny_llava: bad mmproj shape\n");
        return 2;
    }
    eng_tables_init();
    int rc = 0;
    if (o.lm) rc = write_lm(&o, lt);
    if (!rc && o.mm) rc = qwen ? write_mmproj_qwen(&o, mt, qwen == 2) : write_mmproj(&o, mt);
    return rc;
}
