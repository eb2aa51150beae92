/*
 * gguf_write.c - the project's own small GGUF writer: makes random-weight
 * LLaMA decoders of any shape and weight type, for tests and `make bench`.
 *
 *   build/tools/gguf_write OUT.gguf [--type F32|F16|BF16|Q8_0|Q4_0|Q4_1|Q5_0|Q5_1|Q4_K|Q5_K|Q6_K|Q4_K_M|Q5_K_M]
 *       [--embd N] [--layers N] [--heads N] [--kv-heads N] [--ff N] [--vocab N] [--ctx N]
 *       [--seed N] [--vocab-from FILE.gguf] [--tied] [--arch NAME] [--drop-key KEY] [--drop-tensor NAME]
 *       [--version N] [--tokenizer NAME] [--vocab-only] [--pre NAME] [--bpe-flaw FLAW]
 *       [--head-dim N] [--rope-base F] [--rope-freqs] [--output-bias] [--chat-template TEXT]
 *       [--rope-sections T,H,W,E]
 *
 * --arch llama (default), qwen2, qwen2vl or qwen3 writes that architecture's
 * keys and tensors: qwen2 adds Q/K/V biases, qwen3 the per-head attn_q_norm and
 * attn_k_norm; qwen2vl is qwen2 (Q/K/V biases) plus the M-RoPE key
 * qwen2vl.rope.dimension_sections (--rope-sections, four int32 as Qwen2-VL's
 * converter pads mrope_section [16, 24, 24] with a 0; default: the head's
 * rotary pairs split 2:3:3:0 like [16, 24, 24] of 64 pairs) and the real
 * models' rms epsilon 1e-6; any other name writes a llama-shaped file under
 * that name (for the error tests).  --head-dim sets attention.key_length/value_length (Q is
 * then heads x head-dim wide, as in Qwen3); --rope-freqs writes Llama-3.1's
 * rope_freqs.weight (factor 8, low/high frequency factors 1 and 4, original
 * context 8192); --output-bias adds output.bias (qwen2).
 *
 * The vocabulary is copied from --vocab-from (every tokenizer.* key of a
 * llama.cpp ggml-vocab-*.gguf or any model file, SentencePiece or BPE, chat
 * template included; --vocab is then its size) or synthesised: <unk>, <s>,
 * </s>, the 256 byte tokens <0xHH>, then "▁tok<i>" pieces.  Weights are
 * uniform random (std 0.02), norms 1 + noise; K-quant mixes follow
 * llama-quantize's Q4_K_M/Q5_K_M rules (spec §2.6: use_more_bits layers get
 * Q6_K attn_v and ffn_down, output Q6_K).  --arch, --drop-key, --drop-tensor, --version and --tokenizer make
 * deliberately invalid files for the error tests.
 *
 * --tokenizer gpt2 synthesises a byte-level BPE vocabulary instead: the 256
 * byte-level characters (GPT-2 bytes_to_unicode, in byte order), the results
 * of a few merges ("h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or",
 * "l d", "Ġwor ld", "Ġ Ġ", "1 2", "12 3", "a b", "b c"), <|begin_of_text|> (BOS) and
 * <|end_of_text|> (EOS) as CONTROL, <think> as USER_DEFINED, then [PAD<i>]
 * UNUSED fillers; tokenizer.ggml.pre is --pre (default llama-bpe; "" omits it).
 * --vocab-only writes no hyper-parameters and no tensors (like the reference's
 * ggml-vocab-*.gguf).  --bpe-flaw makes a broken BPE vocabulary: merge-unknown
 * (a merge naming a token that does not exist), merge-no-space, type-count
 * (token_type one entry short), no-byte-token (the token of byte 'A' renamed).
 */
#include "engine/gguf.h"
#include "engine/quant.h"
#include "engine/engine.h"
#include "engine/util.h"

#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
    const char *out, *type, *vocab_from, *arch, *drop_key, *drop_tensor, *tokenizer, *pre, *flaw, *chat_template, *rope_sections;
    int embd, layers, heads, kv_heads, ff, vocab, ctx, tied, version, vocab_only, head_dim, rope_freqs, output_bias;
    float rope_base;
    uint64_t seed;
};

/* ---- byte buffer for the header ---- */
struct buf { uint8_t *p; size_t n, cap; };
static void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 1 << 16;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { fprintf(stderr, "gguf_write: out of memory\n"); exit(1); }
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(struct buf *b, const char *s, size_t n) { put_u64(b, n); put(b, s, n); }

static int n_kv;
static const char *g_drop_key;
static int key(struct buf *b, const char *k, uint32_t type)
{
    if (g_drop_key && !strcmp(g_drop_key, k)) return 0;
    put_str(b, k, strlen(k));
    put_u32(b, type);
    n_kv++;
    return 1;
}
static void kv_u32(struct buf *b, const char *k, uint32_t v) { if (key(b, k, GGUF_U32)) put_u32(b, v); }
static void kv_f32(struct buf *b, const char *k, float v) { if (key(b, k, GGUF_F32)) put(b, &v, 4); }
static void kv_bool(struct buf *b, const char *k, int v) { uint8_t x = (uint8_t)!!v; if (key(b, k, GGUF_BOOL)) put(b, &x, 1); }
static void kv_str(struct buf *b, const char *k, const char *v) { if (key(b, k, GGUF_STRING)) put_str(b, v, strlen(v)); }

/* ---- rng ---- */
static uint64_t rng_s;
static inline uint64_t rng(void) { rng_s ^= rng_s << 13; rng_s ^= rng_s >> 7; rng_s ^= rng_s << 17; return rng_s; }
static inline float urand(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return (float)((*s >> 40) * (1.0 / 16777216.0)) * 2.f - 1.f; }

struct tdesc { char name[64]; int type; int64_t ne[2]; int nd; float base, amp; size_t nbytes; };

static int parse_type(const char *s)
{
    static const struct { const char *n; int t; } tab[] = {
        { "F32", QT_F32 }, { "F16", QT_F16 }, { "BF16", QT_BF16 }, { "Q8_0", QT_Q8_0 }, { "Q4_0", QT_Q4_0 },
        { "Q4_1", QT_Q4_1 }, { "Q5_0", QT_Q5_0 }, { "Q5_1", QT_Q5_1 }, { "Q4_K", QT_Q4_K }, { "Q5_K", QT_Q5_K },
        { "Q6_K", QT_Q6_K },
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) if (!strcmp(s, tab[i].n)) return tab[i].t;
    return -1;
}

/* ---- synthetic byte-level BPE vocabulary (--tokenizer gpt2) ---- */
static const char *const BPE_MERGES[][2] = {
    { "h", "e" }, { "l", "l" }, { "he", "ll" }, { "hell", "o" }, { "\xc4\xa0", "w" }, { "o", "r" },
    { "\xc4\xa0w", "or" }, { "l", "d" }, { "\xc4\xa0wor", "ld" }, { "\xc4\xa0", "\xc4\xa0" }, { "1", "2" }, { "12", "3" },
    { "a", "b" }, { "b", "c" },   /* ranks 12 and 13 compete in "abc": "ab" "c" */
};
#define BPE_NM ((int)(sizeof BPE_MERGES / sizeof BPE_MERGES[0]))
#define BPE_MIN (256 + BPE_NM + 3)

static int put_cp(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static int write_bpe_vocab(struct buf *b, const struct opts *o)
{
    int n = o->vocab;
    char (*tok)[32] = calloc((size_t)n, sizeof *tok);
    int32_t *type = calloc((size_t)n, sizeof *type);
    if (!tok || !type) { fprintf(stderr, "gguf_write: out of memory\n"); return 1; }
    unsigned next = 0x100;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        tok[c][put_cp(tok[c], keep ? (unsigned)c : next++)] = 0;
        type[c] = 1;
    }
    int i = 256;
    for (int m = 0; m < BPE_NM; m++, i++) { snprintf(tok[i], sizeof tok[i], "%s%s", BPE_MERGES[m][0], BPE_MERGES[m][1]); type[i] = 1; }
    int bos = i, eos = i + 1;
    strcpy(tok[i], "<|begin_of_text|>"); type[i++] = 3;
    strcpy(tok[i], "<|end_of_text|>"); type[i++] = 3;
    strcpy(tok[i], "<think>"); type[i++] = 4;
    for (; i < n; i++) { snprintf(tok[i], sizeof tok[i], "[PAD%d]", i); type[i] = 5; }
    const char *flaw = o->flaw ? o->flaw : "";
    if (!strcmp(flaw, "no-byte-token")) strcpy(tok['A'], "[no A]");
    else if (*flaw && strcmp(flaw, "merge-unknown") && strcmp(flaw, "merge-no-space") && strcmp(flaw, "type-count")) {
        fprintf(stderr, "gguf_write: unknown --bpe-flaw %s\n", flaw);
        return 1;
    }
    if (*o->pre) kv_str(b, "tokenizer.ggml.pre", o->pre);
    if (key(b, "tokenizer.ggml.tokens", GGUF_ARRAY)) {
        put_u32(b, GGUF_STRING); put_u64(b, (uint64_t)n);
        for (int t = 0; t < n; t++) put_str(b, tok[t], strlen(tok[t]));
    }
    int nty = !strcmp(flaw, "type-count") ? n - 1 : n;
    if (key(b, "tokenizer.ggml.token_type", GGUF_ARRAY)) {
        put_u32(b, GGUF_I32); put_u64(b, (uint64_t)nty);
        put(b, type, 4 * (size_t)nty);
    }
    int extra = !strcmp(flaw, "merge-unknown") || !strcmp(flaw, "merge-no-space");
    if (key(b, "tokenizer.ggml.merges", GGUF_ARRAY)) {
        put_u32(b, GGUF_STRING); put_u64(b, (uint64_t)(BPE_NM + extra));
        for (int m = 0; m < BPE_NM; m++) {
            char s[64];
            snprintf(s, sizeof s, "%s %s", BPE_MERGES[m][0], BPE_MERGES[m][1]);
            put_str(b, s, strlen(s));
        }
        if (!strcmp(flaw, "merge-unknown")) put_str(b, "wor zq", 6);
        if (!strcmp(flaw, "merge-no-space")) put_str(b, "abc", 3);
    }
    kv_u32(b, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    kv_u32(b, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    kv_bool(b, "tokenizer.ggml.add_bos_token", 1);
    free(tok); free(type);
    return 0;
}

/* Llama-3.1's rope frequency factors (scale factor 8, low_freq_factor 1,
 * high_freq_factor 4, original context 8192), as its converter computes them
 * for rope_freqs.weight: 1 for high frequencies, 8 for low ones, smooth between. */
static void llama31_factors(float *f, int n, float base)
{
    const double factor = 8, lo = 1, hi = 4, ctx0 = 8192, lo_wl = ctx0 / lo, hi_wl = ctx0 / hi;
    const double PI = 3.14159265358979323846;
    for (int i = 0; i < n; i++) {
        double freq = 1.0 / pow(base, 2.0 * i / (2.0 * n)), wl = 2 * PI / freq;
        if (wl < hi_wl) f[i] = 1.0f;
        else if (wl > lo_wl) f[i] = (float)factor;
        else {
            double smooth = (ctx0 / wl - lo) / (hi - lo);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
}

static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int main(int argc, char **argv)
{
    struct opts o = { 0 };
    o.type = "F32"; o.embd = 64; o.layers = 2; o.heads = 4; o.kv_heads = 0; o.ff = 160; o.vocab = 0; o.ctx = 2048; o.seed = 1; o.version = 3; o.rope_base = 10000.f;
    o.arch = "llama"; o.tokenizer = "llama"; o.pre = "llama-bpe";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define IS(x) (!strcmp(a, x) && v && ++i)
        if (IS("--type")) o.type = v;
        else if (IS("--embd")) o.embd = atoi(v);
        else if (IS("--layers")) o.layers = atoi(v);
        else if (IS("--heads")) o.heads = atoi(v);
        else if (IS("--kv-heads")) o.kv_heads = atoi(v);
        else if (IS("--ff")) o.ff = atoi(v);
        else if (IS("--vocab")) o.vocab = atoi(v);
        else if (IS("--ctx")) o.ctx = atoi(v);
        else if (IS("--seed")) o.seed = strtoull(v, NULL, 10);
        else if (IS("--vocab-from")) o.vocab_from = v;
        else if (IS("--arch")) o.arch = v;
        else if (IS("--drop-key")) o.drop_key = v;
        else if (IS("--drop-tensor")) o.drop_tensor = v;
        else if (IS("--version")) o.version = atoi(v);
        else if (IS("--tokenizer")) o.tokenizer = v;
        else if (IS("--pre")) o.pre = v;
        else if (IS("--bpe-flaw")) o.flaw = v;
        else if (IS("--head-dim")) o.head_dim = atoi(v);
        else if (IS("--rope-base")) o.rope_base = strtof(v, NULL);
        else if (IS("--chat-template")) o.chat_template = v;
        else if (IS("--rope-sections")) o.rope_sections = v;
        else if (!strcmp(a, "--rope-freqs")) o.rope_freqs = 1;
        else if (!strcmp(a, "--output-bias")) o.output_bias = 1;
        else if (!strcmp(a, "--tied")) o.tied = 1;
        else if (!strcmp(a, "--vocab-only")) o.vocab_only = 1;
        else if (a[0] != '-' && !o.out) o.out = a;
        else { fprintf(stderr, "gguf_write: bad argument '%s' (see the comment at the top of tools/gguf_write.c)\n", a); return 2; }
#undef IS
    }
    if (!o.out) { fprintf(stderr, "usage: gguf_write OUT.gguf [--type T] [--embd N] [--layers N] [--heads N] [--kv-heads N] [--ff N] [--vocab N] [--vocab-from F]\n"); return 2; }
    if (!o.kv_heads) o.kv_heads = o.heads;
    g_drop_key = o.drop_key;
    rng_s = o.seed * 0x9E3779B97F4A7C15ull + 1;

    /* weight types */
    int mix = 0, wt;
    if (!strcmp(o.type, "Q4_K_M")) { mix = 1; wt = QT_Q4_K; }
    else if (!strcmp(o.type, "Q5_K_M")) { mix = 1; wt = QT_Q5_K; }
    else if ((wt = parse_type(o.type)) < 0) { fprintf(stderr, "gguf_write: unknown type %s\n", o.type); return 2; }

    /* vocabulary */
    struct gguf *vg = NULL;
    const struct gguf_kv *vt = NULL;
    if (o.vocab_from) {
        if (gguf_open(o.vocab_from, &vg)) { fprintf(stderr, "gguf_write: %s: %s\n", o.vocab_from, eng_errmsg()); return 1; }
        vt = gguf_find_kv(vg, "tokenizer.ggml.tokens");
        if (!vt) { fprintf(stderr, "gguf_write: %s has no vocabulary (tokenizer.ggml.tokens)\n", o.vocab_from); return 1; }
        o.vocab = (int)vt->n;
    }
    if (!o.vocab) o.vocab = 1000;
    int bpe = !vg && !strcmp(o.tokenizer, "gpt2");
    int is_qwen2vl = !strcmp(o.arch, "qwen2vl");
    int is_qwen2 = !strcmp(o.arch, "qwen2") || is_qwen2vl, is_qwen3 = !strcmp(o.arch, "qwen3");
    if (!vg && o.vocab < (bpe ? BPE_MIN : 260)) { fprintf(stderr, "gguf_write: --vocab must be >= %d\n", bpe ? BPE_MIN : 260); return 2; }

    struct buf h = { 0 };
    struct buf kvb = { 0 };
    char k[128];
    kv_str(&kvb, "general.architecture", o.arch);
    kv_str(&kvb, "general.name", "mmsafe random-weight test model");
    kv_u32(&kvb, "general.alignment", 32);
#define AK(s) (snprintf(k, sizeof k, "%s.%s", o.arch, s), k)
    if (!o.vocab_only) {
    kv_u32(&kvb, AK("context_length"), (uint32_t)o.ctx);
    kv_u32(&kvb, AK("embedding_length"), (uint32_t)o.embd);
    kv_u32(&kvb, AK("block_count"), (uint32_t)o.layers);
    kv_u32(&kvb, AK("feed_forward_length"), (uint32_t)o.ff);
    kv_u32(&kvb, AK("attention.head_count"), (uint32_t)o.heads);
    kv_u32(&kvb, AK("attention.head_count_kv"), (uint32_t)o.kv_heads);
    kv_f32(&kvb, AK("attention.layer_norm_rms_epsilon"), is_qwen2vl ? 1e-6f : 1e-5f);
    kv_f32(&kvb, AK("rope.freq_base"), o.rope_base);
    if (is_qwen2vl) {
        const int pairs = (o.head_dim ? o.head_dim : o.embd / (o.heads ? o.heads : 1)) / 2;
        int32_t sec[4] = { pairs / 4, (pairs - pairs / 4) / 2, 0, 0 };
        sec[2] = pairs - sec[0] - sec[1];
        if (o.rope_sections && sscanf(o.rope_sections, "%d,%d,%d,%d", &sec[0], &sec[1], &sec[2], &sec[3]) != 4) {
            fprintf(stderr, "gguf_write: --rope-sections wants four comma-separated integers\n");
            return 2;
        }
        if (key(&kvb, AK("rope.dimension_sections"), GGUF_ARRAY)) {
            put_u32(&kvb, GGUF_I32); put_u64(&kvb, 4); put(&kvb, sec, sizeof sec);
        }
    }
    if (o.head_dim) {
        kv_u32(&kvb, AK("attention.key_length"), (uint32_t)o.head_dim);
        kv_u32(&kvb, AK("attention.value_length"), (uint32_t)o.head_dim);
    }
    }
    if (vg) {
        /* every tokenizer.* key, as it is */
        static const int esz[GGUF_NTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
        for (int64_t i = 0; i < vg->n_kv; i++) {
            const struct gguf_kv *src = &vg->kv[i];
            if (strncmp(src->key, "tokenizer.", 10)) continue;
            if (o.chat_template && !strcmp(src->key, "tokenizer.chat_template")) continue;
            if (!key(&kvb, src->key, (uint32_t)src->type)) continue;
            if (src->type == GGUF_STRING) { put_str(&kvb, (const char *)src->data, src->n); continue; }
            if (src->type != GGUF_ARRAY) { put(&kvb, src->data, (size_t)esz[src->type]); continue; }
            put_u32(&kvb, (uint32_t)src->arr_type);
            put_u64(&kvb, src->n);
            const uint8_t *p = src->data, *e = p;
            if (src->arr_type == GGUF_STRING) for (uint64_t j = 0; j < src->n; j++) { uint64_t l; memcpy(&l, e, 8); e += 8 + l; }
            else e = p + (size_t)esz[src->arr_type] * src->n;
            put(&kvb, p, (size_t)(e - p));
        }
    } else
        kv_str(&kvb, "tokenizer.ggml.model", o.tokenizer);
    if (o.chat_template) kv_str(&kvb, "tokenizer.chat_template", o.chat_template);
    if (bpe) {
        if (write_bpe_vocab(&kvb, &o)) return 2;
    } else if (vg) {
        /* copied above */
    } else {
        if (key(&kvb, "tokenizer.ggml.tokens", GGUF_ARRAY)) {
            put_u32(&kvb, GGUF_STRING);
            put_u64(&kvb, (uint64_t)o.vocab);
            for (int i = 0; i < o.vocab; i++) {
                char s[32];
                if (i == 0) strcpy(s, "<unk>");
                else if (i == 1) strcpy(s, "<s>");
                else if (i == 2) strcpy(s, "</s>");
                else if (i < 259) snprintf(s, sizeof s, "<0x%02X>", i - 3);
                else snprintf(s, sizeof s, "\xe2\x96\x81tok%d", i);
                put_str(&kvb, s, strlen(s));
            }
        }
        if (key(&kvb, "tokenizer.ggml.scores", GGUF_ARRAY)) {
            put_u32(&kvb, GGUF_F32); put_u64(&kvb, (uint64_t)o.vocab);
            for (int i = 0; i < o.vocab; i++) { float s = i < 259 ? 0.f : -(float)i; put(&kvb, &s, 4); }
        }
        if (key(&kvb, "tokenizer.ggml.token_type", GGUF_ARRAY)) {
            put_u32(&kvb, GGUF_I32); put_u64(&kvb, (uint64_t)o.vocab);
            for (int i = 0; i < o.vocab; i++) { int32_t t = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1; put(&kvb, &t, 4); }
        }
    }
    if (!bpe && !vg) {
        kv_u32(&kvb, "tokenizer.ggml.bos_token_id", 1);
        kv_u32(&kvb, "tokenizer.ggml.eos_token_id", 2);
        kv_u32(&kvb, "tokenizer.ggml.unknown_token_id", 0);
        kv_bool(&kvb, "tokenizer.ggml.add_bos_token", 1);
        kv_bool(&kvb, "tokenizer.ggml.add_eos_token", 0);
    }

    /* tensors */
    int hd = o.head_dim ? o.head_dim : o.embd / (o.heads ? o.heads : 1), ekv = hd * o.kv_heads, nq = hd * o.heads;
    int nt_max = 5 + 14 * o.layers;
    if (o.vocab_only) nt_max = 0;
    struct tdesc *t = calloc((size_t)nt_max, sizeof *t);
    int nt = 0;
#define T2(nm, K, N, ty) do { struct tdesc *d = &t[nt++]; snprintf(d->name, sizeof d->name, "%s", nm); d->type = ty; d->ne[0] = K; d->ne[1] = N; d->nd = 2; d->base = 0; d->amp = 0.0346f; } while (0)
#define T1(nm, K) do { struct tdesc *d = &t[nt++]; snprintf(d->name, sizeof d->name, "%s", nm); d->type = QT_F32; d->ne[0] = K; d->ne[1] = 1; d->nd = 1; d->base = 1; d->amp = 0.1f; } while (0)
    if (!o.vocab_only) {
    T2("token_embd.weight", o.embd, o.vocab, mix ? wt : wt);
    for (int l = 0; l < o.layers; l++) {
        char n[64];
        int hi = mix && more_bits(l, o.layers) ? QT_Q6_K : wt;
        snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l); T1(n, o.embd);
        snprintf(n, sizeof n, "blk.%d.attn_q.weight", l); T2(n, o.embd, nq, wt);
        snprintf(n, sizeof n, "blk.%d.attn_k.weight", l); T2(n, o.embd, ekv, wt);
        snprintf(n, sizeof n, "blk.%d.attn_v.weight", l); T2(n, o.embd, ekv, hi);
        if (is_qwen2) {   /* biases large enough to matter: uniform in [-0.5, 0.5] */
            snprintf(n, sizeof n, "blk.%d.attn_q.bias", l); T1(n, nq); t[nt - 1].base = 0; t[nt - 1].amp = 0.5f;
            snprintf(n, sizeof n, "blk.%d.attn_k.bias", l); T1(n, ekv); t[nt - 1].base = 0; t[nt - 1].amp = 0.5f;
            snprintf(n, sizeof n, "blk.%d.attn_v.bias", l); T1(n, ekv); t[nt - 1].base = 0; t[nt - 1].amp = 0.5f;
        }
        if (is_qwen3) {   /* per-head norm weights around 1, spread enough to matter */
            snprintf(n, sizeof n, "blk.%d.attn_q_norm.weight", l); T1(n, hd); t[nt - 1].amp = 0.5f;
            snprintf(n, sizeof n, "blk.%d.attn_k_norm.weight", l); T1(n, hd); t[nt - 1].amp = 0.5f;
        }
        snprintf(n, sizeof n, "blk.%d.attn_output.weight", l); T2(n, nq, o.embd, wt);
        snprintf(n, sizeof n, "blk.%d.ffn_norm.weight", l); T1(n, o.embd);
        snprintf(n, sizeof n, "blk.%d.ffn_gate.weight", l); T2(n, o.embd, o.ff, wt);
        snprintf(n, sizeof n, "blk.%d.ffn_up.weight", l); T2(n, o.embd, o.ff, wt);
        snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l); T2(n, o.ff, o.embd, hi);
    }
    T1("output_norm.weight", o.embd);
    if (!o.tied) T2("output.weight", o.embd, o.vocab, mix ? QT_Q6_K : wt);
    if (o.output_bias) { T1("output.bias", o.vocab); t[nt - 1].base = 0; t[nt - 1].amp = 0.2f; }
    if (o.rope_freqs) { T1("rope_freqs.weight", hd / 2); t[nt - 1].amp = 0; }
    }
    /* drop + sizes */
    int w = 0;
    for (int i = 0; i < nt; i++) {
        if (o.drop_tensor && !strcmp(o.drop_tensor, t[i].name)) continue;
        const struct qtype_info *qi = qt_info(t[i].type);
        if (t[i].ne[0] % qi->blck) { fprintf(stderr, "gguf_write: %s: %" PRId64 " is not a multiple of %s's block %d\n", t[i].name, t[i].ne[0], qi->name, qi->blck); return 2; }
        t[i].nbytes = qt_row_bytes(t[i].type, t[i].ne[0]) * (size_t)t[i].ne[1];
        t[w++] = t[i];
    }
    nt = w;
    put(&h, "GGUF", 4);
    put_u32(&h, (uint32_t)o.version);
    put_u64(&h, (uint64_t)nt);
    put_u64(&h, (uint64_t)n_kv);
    put(&h, kvb.p, kvb.n);
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        put_str(&h, t[i].name, strlen(t[i].name));
        put_u32(&h, (uint32_t)t[i].nd);
        for (int d = 0; d < t[i].nd; d++) put_u64(&h, (uint64_t)t[i].ne[d]);
        put_u32(&h, (uint32_t)t[i].type);
        put_u64(&h, off);
        off += (t[i].nbytes + 31) / 32 * 32;
    }
    while (h.n % 32) { uint8_t z = 0; put(&h, &z, 1); }
    FILE *f = fopen(o.out, "wb");
    if (!f) { fprintf(stderr, "gguf_write: %s: %s\n", o.out, strerror(errno)); return 1; }
    fwrite(h.p, 1, h.n, f);
    eng_tables_init();
    size_t maxrow = 0;
    int64_t maxK = 0;
    for (int i = 0; i < nt; i++) { size_t rb = qt_row_bytes(t[i].type, t[i].ne[0]); if (rb > maxrow) maxrow = rb; if (t[i].ne[0] > maxK) maxK = t[i].ne[0]; }
    const int CH = 256;  /* rows per chunk */
    uint8_t *rows = malloc(maxrow * CH);
    for (int i = 0; i < nt; i++) {
        size_t rb = qt_row_bytes(t[i].type, t[i].ne[0]);
        uint64_t tseed = rng();
        for (int64_t r0 = 0; r0 < t[i].ne[1]; r0 += CH) {
            int nr = (int)(t[i].ne[1] - r0 < CH ? t[i].ne[1] - r0 : CH);
#pragma omp parallel for schedule(static)
            for (int r = 0; r < nr; r++) {
                float *x = malloc((size_t)maxK * sizeof *x);
                uint64_t s = tseed ^ ((uint64_t)(r0 + r + 1) * 0xD1B54A32D192ED03ull);
                for (int j = 0; j < 4; j++) urand(&s);
                for (int64_t e = 0; e < t[i].ne[0]; e++) x[e] = t[i].base + t[i].amp * urand(&s);
                if (!strcmp(t[i].name, "rope_freqs.weight")) llama31_factors(x, (int)t[i].ne[0], o.rope_base);
                qt_quantize_row(t[i].type, x, rows + (size_t)r * rb, t[i].ne[0]);
                free(x);
            }
            if (fwrite(rows, rb, (size_t)nr, f) != (size_t)nr) { fprintf(stderr, "gguf_write: %s: write error\n", o.out); return 1; }
        }
        size_t pad = (t[i].nbytes + 31) / 32 * 32 - t[i].nbytes;
        static const uint8_t zeros[32];
        fwrite(zeros, 1, pad, f);
    }
    if (fclose(f) != 0) { fprintf(stderr, "gguf_write: %s: write error\n", o.out); return 1; }
    free(rows); free(t); free(h.p); free(kvb.p);
    gguf_close(vg);
    return 0;
}
