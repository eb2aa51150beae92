/*
 * tokenizer.c - vocabulary loading, the special-token partition and the SPM
 * tokenizer (see tokenizer.h; spec §4); byte-level BPE fragments go to bpe.c.
 */
#include "tokenizer.h"
#include "bpe.h"
#include "gguf.h"
#include "engine.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 16777619u; }
    return h;
}

int32_t vocab_find(const struct vocab *v, const char *s, size_t n)
{
    uint32_t i = fnv(s, n) & v->hash_mask;
    for (;;) {
        int32_t id = v->hash[i];
        if (id < 0) return -1;
        if (v->len[id] == n && !memcmp(v->piece[id], s, n)) return id;
        i = (i + 1) & v->hash_mask;
    }
}

int vocab_is_eog(const struct vocab *v, int32_t id)
{
    for (int i = 0; i < v->n_eog; i++) if (v->eog[i] == id) return 1;
    return 0;
}

void vocab_release(struct vocab *v)
{
    if (!v) return;
    free(v->piece); free(v->len); free(v->score); free(v->type); free(v->hash); free(v->special);
    bpe_free(v->bpe);
    memset(v, 0, sizeof *v);
}

static const struct vocab *g_sort_vocab;
static int by_len_desc(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = g_sort_vocab->len[x], ly = g_sort_vocab->len[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int get_id(const struct gguf *g, const char *key, int32_t *id, int n)
{
    uint32_t u;
    int rc = gguf_get_u32(g, key, &u);
    if (rc == 1) return RC_OK;
    if (rc) return rc;
    if ((int64_t)u >= n) { *id = -1; return RC_OK; }   /* llama.cpp ignores out-of-range ids (with a warning) */
    *id = (int32_t)u;
    return RC_OK;
}

/* ---- special tokens found by their text ----
 * The reference (llama.cpp 3f545be, llama_vocab::impl::load) finds the
 * end-of-turn, end-of-message and fill-in-the-middle tokens by their text when
 * the file's keys do not name them, gives them the CONTROL attribute whatever
 * their token_type (README-bpe.md §5.1: the Qwen vocabulary's ordinary token
 * 128247 "</s>" becomes special), and collects the end-of-generation set from
 * a list of names plus EOS, EOT and EOM.  The name lists below are the
 * reference's, in its order.  Where several names of one list are present,
 * the reference takes the first it meets in hash order; we take the first in
 * list order (the same on every vocabulary we have seen: Llama 3's EOT is
 * <|eot_id|>, Qwen's <|im_end|>). */
#define FB "\xef\xbd\x9c"     /* U+FF5C FULLWIDTH VERTICAL LINE */
#define LB "\xe2\x96\x81"     /* U+2581 LOWER ONE EIGHTH BLOCK (SentencePiece space) */
static const char *const EOT_NAMES[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", "<" FB "end" LB "of" LB "sentence" FB ">", "<end_of_utterance>", NULL };
static const char *const EOM_NAMES[] = { "<|eom_id|>", NULL };
static const char *const FIM_PRE_NAMES[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<" FB "fim" LB "begin" FB ">", "<PRE>", LB "<PRE>",
    "<|code_prefix|>", "<|prefix|>", NULL };
static const char *const FIM_SUF_NAMES[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<" FB "fim" LB "hole" FB ">", "<SUF>", LB "<SUF>",
    "<|code_suffix|>", "<|suffix|>", NULL };
static const char *const FIM_MID_NAMES[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<" FB "fim" LB "end" FB ">", "<MID>", LB "<MID>",
    "<|code_middle|>", "<|middle|>", NULL };
static const char *const FIM_PAD_NAMES[] = { "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL };
static const char *const FIM_REP_NAMES[] = { "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL };
static const char *const FIM_SEP_NAMES[] = { "<|file_sep|>", NULL };
/* Every token with one of these texts ends generation. */
static const char *const EOG_NAMES[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<" FB "end" LB "of" LB "sentence" FB ">", "[e~[", NULL };
#undef FB
#undef LB

static int32_t find_str(const struct vocab *v, const char *s) { return vocab_find(v, s, strlen(s)); }

static void make_control(struct vocab *v, int32_t id)
{
    if (id >= 0 && v->type[id] != TOK_CONTROL) { v->type[id] = TOK_CONTROL; v->n_promoted++; }
}

/* *id from the file's key, else the first present name of names (made CONTROL). */
static int special_by_name(struct vocab *v, const struct gguf *g, const char *key, const char *const *names, int32_t *id)
{
    *id = -1;
    int rc = get_id(g, key, id, v->n);
    if (rc || *id >= 0) return rc;
    for (int k = 0; names[k]; k++)
        if ((*id = find_str(v, names[k])) >= 0) { make_control(v, *id); break; }
    return RC_OK;
}

static void eog_add(struct vocab *v, int32_t id)
{
    if (id < 0) return;
    int i = 0;
    while (i < v->n_eog && v->eog[i] < id) i++;
    if (i < v->n_eog && v->eog[i] == id) return;
    if (v->n_eog == VOCAB_MAX_EOG) return;    /* cannot happen: at most 3 + 22 + 3 ids */
    memmove(&v->eog[i + 1], &v->eog[i], (size_t)(v->n_eog - i) * sizeof *v->eog);
    v->eog[i] = id;
    v->n_eog++;
}

static void eog_remove(struct vocab *v, int32_t id)
{
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) { memmove(&v->eog[i], &v->eog[i + 1], (size_t)(v->n_eog - i - 1) * sizeof *v->eog); v->n_eog--; return; }
}

static int eog_has_text(const struct vocab *v, const char *s, int32_t *id)
{
    size_t n = strlen(s);
    for (int i = 0; i < v->n_eog; i++)
        if (v->len[v->eog[i]] == n && !memcmp(v->piece[v->eog[i]], s, n)) { if (id) *id = v->eog[i]; return 1; }
    return 0;
}

/* EOT, EOM, the FIM tokens and the end-of-generation set (after bos/eos are known). */
static int find_specials(struct vocab *v, const struct gguf *g)
{
    int32_t pre, suf, mid, pad, rep, sep;
    int rc;
    if ((rc = special_by_name(v, g, "tokenizer.ggml.eot_token_id", EOT_NAMES, &v->eot)) ||
        (rc = special_by_name(v, g, "tokenizer.ggml.eom_token_id", EOM_NAMES, &v->eom)) ||
        (rc = special_by_name(v, g, "tokenizer.ggml.fim_pre_token_id", FIM_PRE_NAMES, &pre)) ||
        (rc = special_by_name(v, g, "tokenizer.ggml.fim_suf_token_id", FIM_SUF_NAMES, &suf)) ||
        (rc = special_by_name(v, g, "tokenizer.ggml.fim_mid_token_id", FIM_MID_NAMES, &mid)) ||
        (rc = special_by_name(v, g, "tokenizer.ggml.fim_pad_token_id", FIM_PAD_NAMES, &pad)) ||
        (rc = special_by_name(v, g, "tokenizer.ggml.fim_rep_token_id", FIM_REP_NAMES, &rep)) ||
        (rc = special_by_name(v, g, "tokenizer.ggml.fim_sep_token_id", FIM_SEP_NAMES, &sep)))
        return rc;
    v->n_eog = 0;
    eog_add(v, pad);
    eog_add(v, rep);
    eog_add(v, sep);
    for (int k = 0; EOG_NAMES[k]; k++) {
        int32_t id = find_str(v, EOG_NAMES[k]);
        if (id >= 0) { eog_add(v, id); make_control(v, id); }
    }
    eog_add(v, v->eos);
    eog_add(v, v->eot);
    eog_add(v, v->eom);
    /* the reference's two exceptions: with <|return|> and <|call|> (or <|calls|>
     * and <|flush|>), <|end|> does not end generation and becomes USER_DEFINED;
     * with <|tool_response>, </s> does not and becomes NORMAL */
    int32_t end_id = -1, s_id = -1;
    int has_end = eog_has_text(v, "<|end|>", &end_id), has_ret = eog_has_text(v, "<|return|>", NULL),
        has_call = eog_has_text(v, "<|call|>", NULL) || eog_has_text(v, "<|calls|>", NULL), has_flush = eog_has_text(v, "<|flush|>", NULL);
    if (has_end && ((has_ret && has_call) || (has_call && has_flush))) { eog_remove(v, end_id); v->type[end_id] = TOK_USER; }
    if (eog_has_text(v, "<|tool_response>", NULL) && eog_has_text(v, "</s>", &s_id)) { eog_remove(v, s_id); v->type[s_id] = TOK_NORMAL; }
    return RC_OK;
}

/* tokenizer.chat_template, borrowed from the mapping (absent: NULL; not a string: RC_EFORMAT). */
static int find_chat_template(struct vocab *v, const struct gguf *g)
{
    v->chat_template = NULL;
    v->chat_template_len = 0;
    int rc = gguf_get_str(g, "tokenizer.chat_template", &v->chat_template, &v->chat_template_len);
    return rc == 1 ? RC_OK : rc;
}

int vocab_load(struct vocab *v, const struct gguf *g)
{
    memset(v, 0, sizeof *v);
    const char *model;
    size_t mlen;
    int rc = gguf_get_str(g, "tokenizer.ggml.model", &model, &mlen);
    if (rc == 1) return eng_err(RC_EFORMAT, "missing required key tokenizer.ggml.model (no vocabulary)");
    if (rc) return rc;
    snprintf(v->model, sizeof v->model, "%.*s", (int)(mlen < 31 ? mlen : 31), model);
    int is_bpe = mlen == 4 && !memcmp(model, "gpt2", 4);
    if (!is_bpe && (mlen != 5 || memcmp(model, "llama", 5)))
        return eng_err(RC_EFORMAT, "tokenizer '%s' is not supported (SentencePiece \"llama\" or byte-level BPE \"gpt2\")", v->model);
    const struct gguf_kv *tk = gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!tk) return eng_err(RC_EFORMAT, "missing required key tokenizer.ggml.tokens");
    if (tk->type != GGUF_ARRAY || tk->arr_type != GGUF_STRING)
        return eng_err(RC_EFORMAT, "tokenizer.ggml.tokens should be an array of strings");
    if (tk->n == 0 || tk->n > (1u << 24)) return eng_err(RC_EFORMAT, "tokenizer.ggml.tokens has %" PRIu64 " entries", tk->n);
    int n = (int)tk->n;
    v->n = n;
    v->piece = calloc((size_t)n, sizeof *v->piece);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->score = calloc((size_t)n, sizeof *v->score);
    v->type = calloc((size_t)n, sizeof *v->type);
    uint32_t hs = 1;
    while (hs < 2u * (uint32_t)n) hs <<= 1;
    v->hash = malloc(hs * sizeof *v->hash);
    v->special = calloc((size_t)n, sizeof *v->special);
    if (!v->piece || !v->len || !v->score || !v->type || !v->hash || !v->special) { vocab_release(v); return eng_err(RC_ENOMEM, "out of memory"); }
    v->hash_mask = hs - 1;
    memset(v->hash, 0xff, hs * sizeof *v->hash);
    if ((rc = gguf_str_array(tk, v->piece, v->len, (uint64_t)n))) { vocab_release(v); return rc; }
    const struct gguf_kv *sk = gguf_find_kv(g, "tokenizer.ggml.scores");
    if (sk) {
        if (sk->type != GGUF_ARRAY || (sk->arr_type != GGUF_F32 && sk->arr_type != GGUF_I32)) { vocab_release(v); return eng_err(RC_EFORMAT, "tokenizer.ggml.scores should be an array of f32"); }
        if (sk->n < (uint64_t)n) { vocab_release(v); return eng_err(RC_EFORMAT, "tokenizer.ggml.scores has %" PRIu64 " entries for %d tokens", sk->n, n); }
        for (int i = 0; i < n; i++) {
            if (sk->arr_type == GGUF_F32) memcpy(&v->score[i], sk->data + 4 * (size_t)i, 4);
            else { int32_t x; memcpy(&x, sk->data + 4 * (size_t)i, 4); v->score[i] = (float)x; }
        }
    }
    const struct gguf_kv *ty = gguf_find_kv(g, "tokenizer.ggml.token_type");
    for (int i = 0; i < n; i++) v->type[i] = TOK_NORMAL;
    if (ty) {
        if (ty->type != GGUF_ARRAY || ty->arr_type != GGUF_I32) { vocab_release(v); return eng_err(RC_EFORMAT, "tokenizer.ggml.token_type should be an array of i32"); }
        if (ty->n < (uint64_t)n || (is_bpe && ty->n != (uint64_t)n)) { vocab_release(v); return eng_err(RC_EFORMAT, "tokenizer.ggml.token_type has %" PRIu64 " entries for %d tokens", ty->n, n); }
        for (int i = 0; i < n; i++) memcpy(&v->type[i], ty->data + 4 * (size_t)i, 4);
    }
    /* text -> id: filled in id order, so the last id wins */
    for (int i = 0; i < n; i++) {
        uint32_t h = fnv(v->piece[i], v->len[i]) & v->hash_mask;
        for (;;) {
            int32_t id = v->hash[h];
            if (id < 0) { v->hash[h] = i; break; }
            if (v->len[id] == v->len[i] && !memcmp(v->piece[id], v->piece[i], v->len[i])) { v->hash[h] = i; break; }
            h = (h + 1) & v->hash_mask;
        }
    }
    v->add_bos = 1; v->add_eos = 0; v->add_space_prefix = !is_bpe;
    if (is_bpe) {
        if ((rc = bpe_load(v, g))) { vocab_release(v); return rc; }   /* sets the add_bos default */
        v->bos = n > 11 ? 11 : -1; v->eos = n > 11 ? 11 : -1; v->unk = -1;   /* the reference's gpt2 defaults */
    } else {
        v->bos = n > 1 ? 1 : -1; v->eos = n > 2 ? 2 : -1; v->unk = 0;
    }
    if ((rc = get_id(g, "tokenizer.ggml.bos_token_id", &v->bos, n)) ||
        (rc = get_id(g, "tokenizer.ggml.eos_token_id", &v->eos, n)) ||
        (rc = get_id(g, "tokenizer.ggml.unknown_token_id", &v->unk, n)) ||
        (rc = find_specials(v, g)) || (rc = find_chat_template(v, g))) { vocab_release(v); return rc; }
    if ((rc = gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos)) > 1 ||
        (rc = gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos)) > 1 ||
        (rc = gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix)) > 1) { vocab_release(v); return rc; }
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        v->byte_id[b] = vocab_find(v, buf, 6);
    }
    for (int i = 0; i < n; i++)
        if (v->type[i] == TOK_CONTROL || v->type[i] == TOK_USER || v->type[i] == TOK_UNKNOWN)
            if (v->len[i] > 0) v->special[v->n_special++] = i;
    g_sort_vocab = v;
    qsort(v->special, (size_t)v->n_special, sizeof *v->special, by_len_desc);
    return RC_OK;
}

/* ---- SPM merge ---- */

struct sym { int prev, next; uint32_t off, n; };
struct bigram { float score; int left, right; uint32_t size; };

struct spm {
    struct sym *sym; int n_sym, cap_sym;
    struct bigram *heap; int n_heap, cap_heap;
    char *buf; size_t cap_buf;
};

static int bg_less(const struct bigram *a, const struct bigram *b)  /* a has lower priority than b */
{
    if (a->score != b->score) return a->score < b->score;
    return a->left > b->left;
}

static int heap_push(struct spm *s, struct bigram b)
{
    if (s->n_heap == s->cap_heap) {
        int nc = s->cap_heap ? 2 * s->cap_heap : 64;
        void *p = realloc(s->heap, (size_t)nc * sizeof *s->heap);
        if (!p) return RC_ENOMEM;
        s->heap = p; s->cap_heap = nc;
    }
    int i = s->n_heap++;
    s->heap[i] = b;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!bg_less(&s->heap[p], &s->heap[i])) break;
        struct bigram t = s->heap[p]; s->heap[p] = s->heap[i]; s->heap[i] = t; i = p;
    }
    return RC_OK;
}

static struct bigram heap_pop(struct spm *s)
{
    struct bigram top = s->heap[0];
    s->heap[0] = s->heap[--s->n_heap];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n_heap && bg_less(&s->heap[m], &s->heap[l])) m = l;
        if (r < s->n_heap && bg_less(&s->heap[m], &s->heap[r])) m = r;
        if (m == i) break;
        struct bigram t = s->heap[m]; s->heap[m] = s->heap[i]; s->heap[i] = t; i = m;
    }
    return top;
}

static int try_pair(struct spm *s, const struct vocab *v, int left, int right)
{
    if (left == -1 || right == -1) return RC_OK;
    uint32_t n = s->sym[left].n + s->sym[right].n;
    int32_t id = vocab_find(v, s->buf + s->sym[left].off, n);
    if (id < 0 || id >= v->n) return RC_OK;
    struct bigram b = { v->score[id], left, right, n };
    return heap_push(s, b);
}

struct out { int32_t *ids; int cap, n; };
static void emit(struct out *o, int32_t id) { if (o->n < o->cap) o->ids[o->n] = id; o->n++; }

static int spm_fragment(struct spm *s, const struct vocab *v, const char *text, size_t len, int prefix, struct out *o)
{
    /* escape: optional leading space, every ' ' -> U+2581 (3 bytes) */
    size_t need = (len + 1) * 3 + 1;
    if (need > s->cap_buf) {
        void *p = realloc(s->buf, need);
        if (!p) return eng_err(RC_ENOMEM, "out of memory");
        s->buf = p; s->cap_buf = need;
    }
    size_t bn = 0;
    if (prefix) { memcpy(s->buf, "\xe2\x96\x81", 3); bn = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(s->buf + bn, "\xe2\x96\x81", 3); bn += 3; }
        else s->buf[bn++] = text[i];
    }
    if (bn == 0) return RC_OK;
    if ((int)bn > s->cap_sym) {
        void *p = realloc(s->sym, bn * sizeof *s->sym);
        if (!p) return eng_err(RC_ENOMEM, "out of memory");
        s->sym = p; s->cap_sym = (int)bn;
    }
    s->n_sym = 0;
    for (size_t off = 0; off < bn;) {
        static const int lens[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
        size_t l = (size_t)lens[(unsigned char)s->buf[off] >> 4];
        if (l > bn - off) l = bn - off;
        struct sym *y = &s->sym[s->n_sym];
        y->off = (uint32_t)off; y->n = (uint32_t)l;
        y->prev = s->n_sym - 1;
        y->next = off + l == bn ? -1 : s->n_sym + 1;
        s->n_sym++;
        off += l;
    }
    s->n_heap = 0;
    for (int i = 1; i < s->n_sym; i++)
        if (try_pair(s, v, i - 1, i)) return eng_err(RC_ENOMEM, "out of memory");
    while (s->n_heap > 0) {
        struct bigram b = heap_pop(s);
        struct sym *l = &s->sym[b.left], *r = &s->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = b.left;
        if (try_pair(s, v, l->prev, b.left) || try_pair(s, v, b.left, l->next)) return eng_err(RC_ENOMEM, "out of memory");
    }
    for (int i = 0; i != -1; i = s->sym[i].next) {
        const struct sym *y = &s->sym[i];
        int32_t id = vocab_find(v, s->buf + y->off, y->n);
        if (id >= 0) { emit(o, id); continue; }
        for (uint32_t k = 0; k < y->n; k++) {
            unsigned char c = (unsigned char)s->buf[y->off + k];
            int32_t bid = v->byte_id[c];
            if (bid < 0) bid = vocab_find(v, (const char *)&c, 1);
            if (bid < 0) return eng_err(RC_EINPUT, "byte 0x%02X has no token (no byte fallback in this vocabulary)", c);
            emit(o, bid);
        }
    }
    return RC_OK;
}

struct frag { size_t off, len; int32_t id; };   /* id >= 0: special token */

int vocab_tokenize(const struct vocab *v, const char *text, size_t len, int add_special,
                   int parse_special, int32_t *ids, int cap, int *n_out)
{
    struct out o = { ids, cap, 0 };
    struct spm s = { 0 };
    int rc = RC_OK;
    struct bpe_work *bw = NULL;
    if (v->bpe) {
        size_t bad = eng_utf8_invalid_at(text, len);
        if (bad < len) return eng_err(RC_EINPUT, "the text is not valid UTF-8 (byte 0x%02X at offset %zu)", (unsigned char)text[bad], bad);
        if (!(bw = bpe_work_new())) return eng_err(RC_ENOMEM, "out of memory");
    }
    int nf = 1, capf = 16;
    struct frag *f = malloc((size_t)capf * sizeof *f);
    if (!f) { bpe_work_free(bw); return eng_err(RC_ENOMEM, "out of memory"); }
    f[0].off = 0; f[0].len = len; f[0].id = -1;
    if (len == 0) nf = 0;
    for (int si = 0; si < v->n_special; si++) {
        int32_t sid = v->special[si];
        if (!parse_special && v->type[sid] != TOK_USER) continue;
        const char *p = v->piece[sid];
        size_t pl = v->len[sid];
        for (int fi = 0; fi < nf; fi++) {
            if (f[fi].id >= 0 || f[fi].len < pl) continue;
            const char *base = text + f[fi].off;
            const char *hit = memmem(base, f[fi].len, p, pl);
            if (!hit) continue;
            size_t lo = (size_t)(hit - base), rest = f[fi].len - lo - pl;
            /* split into [left raw], token, [right raw] and continue scanning the right part */
            if (nf + 2 > capf) {
                capf = 2 * capf + 2;
                void *np = realloc(f, (size_t)capf * sizeof *f);
                if (!np) { free(f); bpe_work_free(bw); return eng_err(RC_ENOMEM, "out of memory"); }
                f = np;
            }
            struct frag left = { f[fi].off, lo, -1 }, tok = { f[fi].off + lo, pl, sid }, right = { f[fi].off + lo + pl, rest, -1 };
            int k = 0;
            struct frag rep[3];
            if (left.len) rep[k++] = left;
            rep[k++] = tok;
            if (right.len) rep[k++] = right;
            memmove(&f[fi + k], &f[fi + 1], (size_t)(nf - fi - 1) * sizeof *f);
            memcpy(&f[fi], rep, (size_t)k * sizeof *f);
            nf += k - 1;
            fi += left.len ? 1 : 0;   /* now at the token; loop's ++ moves to the right part */
        }
    }
    if (add_special && v->add_bos && v->bos >= 0) emit(&o, v->bos);
    int prev_special = 1;
    for (int fi = 0; fi < nf && rc == RC_OK; fi++) {
        if (f[fi].id >= 0) { emit(&o, f[fi].id); prev_special = 1; continue; }
        if (bw) {
            /* the text is UTF-8, but a special token whose own text is not whole
             * characters (a malformed vocabulary) can cut one in two, and
             * bpe_fragment decodes without bounds checks */
            size_t bad = eng_utf8_invalid_at(text + f[fi].off, f[fi].len);
            if (bad < f[fi].len) {
                rc = eng_err(RC_EINPUT, "a special token of the vocabulary splits the UTF-8 character at byte %zu of the text "
                             "(the token's text is not whole UTF-8 characters)", f[fi].off + bad);
                break;
            }
            rc = bpe_fragment(v, bw, text + f[fi].off, f[fi].len, o.ids, o.cap, &o.n);
        } else rc = spm_fragment(&s, v, text + f[fi].off, f[fi].len, v->add_space_prefix && prev_special, &o);
        prev_special = 0;
    }
    if (rc == RC_OK && add_special && v->add_eos && v->eos >= 0) emit(&o, v->eos);
    free(f); free(s.sym); free(s.heap); free(s.buf);
    bpe_work_free(bw);
    *n_out = o.n;
    return rc;
}

int vocab_piece(const struct vocab *v, int32_t id, int special, char *buf, int cap)
{
    if (id < 0 || id >= v->n) return 0;
    if (v->bpe) return bpe_piece(v, id, special, buf, cap);
    int t = v->type[id], n = 0;
    const char *p = v->piece[id];
    uint32_t len = v->len[id];
    if (t == TOK_CONTROL || t == TOK_UNKNOWN || t == TOK_UNUSED) {
        if (!special) return 0;
        n = (int)(len < (uint32_t)cap ? len : (uint32_t)cap);
        memcpy(buf, p, (size_t)n);
        return n;
    }
    if (t == TOK_BYTE && len == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x') {
        /* the piece points into the file and is not NUL-terminated: sscanf would
         * look for the end of the string (glibc scans to a NUL) past the piece */
        const char hx[3] = { p[3], p[4], 0 };
        unsigned x;
        if (sscanf(hx, "%2x", &x) == 1 && cap > 0) { buf[0] = (char)x; return 1; }
    }
    if (t == TOK_USER) {
        n = (int)(len < (uint32_t)cap ? len : (uint32_t)cap);
        memcpy(buf, p, (size_t)n);
        return n;
    }
    for (uint32_t i = 0; i < len && n < cap;) {
        if (i + 3 <= len && !memcmp(p + i, "\xe2\x96\x81", 3)) { buf[n++] = ' '; i += 3; }
        else buf[n++] = p[i++];
    }
    return n;
}

/* Length of the incomplete UTF-8 sequence that ends b[0..n) (0 when the last
 * character is complete, or when the tail can never become a character). */
static int utf8_incomplete_tail(const unsigned char *b, int n)
{
    for (int k = 1; k <= 3 && k <= n; k++) {
        unsigned c = b[n - k];
        if ((c & 0xC0) == 0x80) continue;              /* continuation byte: look further back */
        int need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        return need > k ? k : 0;
    }
    return 0;
}

int vocab_piece_stream(const struct vocab *v, struct eng_utf8_hold *h, int32_t id, int special, char *buf, int cap)
{
    char tmp[1024];
    int n = vocab_piece(v, id, special, tmp, (int)sizeof tmp);
    unsigned char all[sizeof tmp + 4];
    memcpy(all, h->b, (size_t)h->n);
    memcpy(all + h->n, tmp, (size_t)n);
    int tot = h->n + n, keep = utf8_incomplete_tail(all, tot), out = tot - keep;
    if (out > cap) out = cap;
    memcpy(buf, all, (size_t)out);
    h->n = keep;
    memcpy(h->b, all + tot - keep, (size_t)keep);
    return out;
}

int vocab_stream_flush(struct eng_utf8_hold *h, char *buf, int cap)
{
    int n = h->n < cap ? h->n : cap;
    memcpy(buf, h->b, (size_t)n);
    h->n = 0;
    return n;
}
