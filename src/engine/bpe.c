/*
 * bpe.c - byte-level BPE (see bpe.h; ../shared/fixtures/vocab/README-bpe.md §5).
 *
 * Per raw fragment (the special-token partition is tokenizer.c's):
 *   1. UTF-8 -> code points, each classified from the generated Unicode 15.1
 *      table (letter \p{L}, number \p{N}, White_Space, other);
 *   2. the pre-tokenizer: the llama-bpe / qwen2 regex as a hand-written
 *      leftmost-first scanner (§5.5 rules 1-5; digit runs in chunks of 3 for
 *      llama-bpe, single digits for qwen2);
 *   3. each pre-token's bytes become byte-level symbols (GPT-2 bytes_to_unicode);
 *      llama-bpe first looks the whole word up (ignore_merges, §5.7.1);
 *   4. merges by rank: a binary heap ordered by (rank, left position); stale
 *      entries (a side merged away or grown since) are skipped.  Merges are a
 *      hash of (left id, right id) -> (rank, merged id), built and checked once
 *      at load, so no string work happens while merging.
 */
#include "bpe.h"
#include "tokenizer.h"
#include "gguf.h"
#include "unicode_table.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bpe {
    int pre, ignore_merges, max_digits;
    char pre_name[32];
    int n_merges;
    uint32_t mmask;
    uint64_t *mkey;            /* (left id << 32) | right id */
    int32_t *mrank;            /* -1: empty slot */
    int32_t *mres;             /* merged token id */
    int32_t byte_tok[256];     /* token of each byte's byte-level character */
    uint32_t byte_cp[256];     /* bytes_to_unicode */
    int16_t cp_byte[0x144];    /* inverse for code points < U+0144; -1 when none */
};

/* ---- Unicode classes ---- */

int uc_category(uint32_t cp)
{
    int lo = 0, hi = uc_n_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < uc_ranges[mid].lo) hi = mid - 1;
        else if (cp > uc_ranges[mid].hi) lo = mid + 1;
        else return uc_ranges[mid].cat;
    }
    return UC_CN;
}

int uc_is_space(uint32_t cp)
{
    for (int i = 0; i < uc_n_white_space; i++) if (uc_white_space[i] == cp) return 1;
    return 0;
}

enum { CL_L = 1, CL_N = 2, CL_WS = 4 };

static uint8_t cp_class(uint32_t cp)
{
    if (cp < 128) {
        if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return CL_L;
        if (cp >= '0' && cp <= '9') return CL_N;
        return (cp == ' ' || (cp >= 9 && cp <= 13)) ? CL_WS : 0;
    }
    int c = uc_category(cp);
    uint8_t k = c == UC_L ? CL_L : c == UC_N ? CL_N : 0;
    if ((c == UC_Z || c == UC_C) && uc_is_space(cp)) k |= CL_WS;
    return k;
}

/* ---- UTF-8 ---- */

static int put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F)); return 3; }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- loading ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

static int merge_find(const struct bpe *b, int32_t l, int32_t r, int32_t *res)
{
    uint64_t k = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    for (uint32_t i = (uint32_t)mix64(k) & b->mmask;; i = (i + 1) & b->mmask) {
        if (b->mrank[i] < 0) return -1;
        if (b->mkey[i] == k) { *res = b->mres[i]; return b->mrank[i]; }
    }
}

void bpe_free(struct bpe *b)
{
    if (!b) return;
    free(b->mkey); free(b->mrank); free(b->mres);
    free(b);
}

const char *bpe_pre_name(const struct bpe *b) { return b->pre_name; }
int bpe_n_merges(const struct bpe *b) { return b->n_merges; }
int bpe_ignore_merges(const struct bpe *b) { return b->ignore_merges; }

/* A piece for an error message: at most 40 bytes, control bytes as '?'. */
static const char *show(const char *p, size_t n, char *buf)
{
    size_t k = n < 40 ? n : 40;
    for (size_t i = 0; i < k; i++) buf[i] = (unsigned char)p[i] < 0x20 ? '?' : p[i];
    strcpy(buf + k, n > 40 ? "..." : "");
    return buf;
}

int bpe_load(struct vocab *v, const struct gguf *g)
{
    const char *pre;
    size_t pl;
    int rc = gguf_get_str(g, "tokenizer.ggml.pre", &pre, &pl);
    if (rc == 1) return eng_err(RC_EFORMAT, "byte-level BPE vocabulary without tokenizer.ggml.pre (the pre-tokenizer; supported: llama-bpe, qwen2)");
    if (rc) return rc;
    static const struct { const char *name; int pre; } known[] = {
        { "llama-bpe", BPE_PRE_LLAMA3 }, { "llama3", BPE_PRE_LLAMA3 }, { "llama-v3", BPE_PRE_LLAMA3 },
        { "qwen2", BPE_PRE_QWEN2 }, { "deepseek-r1-qwen", BPE_PRE_QWEN2 },
    };
    int kind = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == pl && !memcmp(known[i].name, pre, pl)) kind = known[i].pre;
    if (!kind) {
        char sb[48];
        return eng_err(RC_EFORMAT, "tokenizer.ggml.pre '%s' is not supported (supported: llama-bpe, qwen2)", show(pre, pl, sb));
    }
    struct bpe *b = calloc(1, sizeof *b);
    if (!b) return eng_err(RC_ENOMEM, "out of memory");
    v->bpe = b;
    b->pre = kind;
    snprintf(b->pre_name, sizeof b->pre_name, "%.*s", (int)pl, pre);
    b->ignore_merges = kind == BPE_PRE_LLAMA3;
    b->max_digits = kind == BPE_PRE_LLAMA3 ? 3 : 1;
    v->add_bos = kind == BPE_PRE_LLAMA3;      /* the reference's default; the file's add_bos_token overrides it */

    /* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the other
     * 68 (0x00-0x20, 0x7F-0xA0, 0xAD), in increasing order, to U+0100.. */
    for (int i = 0; i < 0x144; i++) b->cp_byte[i] = -1;
    uint32_t next = 0x100;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        b->byte_cp[c] = keep ? (uint32_t)c : next++;
        b->cp_byte[b->byte_cp[c]] = (int16_t)c;
    }
    for (int c = 0; c < 256; c++) {
        char u[4];
        int ul = put_utf8(b->byte_cp[c], u);
        b->byte_tok[c] = vocab_find(v, u, (size_t)ul);
        if (b->byte_tok[c] < 0)
            return eng_err(RC_EFORMAT, "the vocabulary has no token for byte 0x%02X (byte-level character '%.*s'): its byte tokens are missing", c, ul, u);
    }

    const struct gguf_kv *mk = gguf_find_kv(g, "tokenizer.ggml.merges");
    if (!mk) return eng_err(RC_EFORMAT, "byte-level BPE vocabulary without tokenizer.ggml.merges");
    if (mk->type != GGUF_ARRAY || mk->arr_type != GGUF_STRING) return eng_err(RC_EFORMAT, "tokenizer.ggml.merges should be an array of strings");
    if (mk->n > (1u << 24)) return eng_err(RC_EFORMAT, "tokenizer.ggml.merges has %" PRIu64 " entries", mk->n);
    int n = (int)mk->n;
    uint32_t hs = 16;
    while (hs < 2u * (uint32_t)n) hs <<= 1;
    const char **mp = malloc(((size_t)n + 1) * sizeof *mp);
    uint32_t *ml = malloc(((size_t)n + 1) * sizeof *ml);
    b->mkey = malloc(hs * sizeof *b->mkey);
    b->mrank = malloc(hs * sizeof *b->mrank);
    b->mres = malloc(hs * sizeof *b->mres);
    char *cat = NULL;
    size_t cat_cap = 0;
    if (!mp || !ml || !b->mkey || !b->mrank || !b->mres) { rc = eng_err(RC_ENOMEM, "out of memory"); goto out; }
    b->mmask = hs - 1;
    memset(b->mrank, 0xff, hs * sizeof *b->mrank);
    if ((rc = gguf_str_array(mk, mp, ml, (uint64_t)n))) goto out;
    for (int i = 0; i < n; i++) {
        const char *p = mp[i];
        size_t len = ml[i];
        char sb[48], sb2[48];
        const char *sp = len > 1 ? memchr(p + 1, ' ', len - 1) : NULL;
        if (!sp) { rc = eng_err(RC_EFORMAT, "tokenizer.ggml.merges entry %d ('%s') is not two tokens separated by a space", i, show(p, len, sb)); goto out; }
        size_t a = (size_t)(sp - p), c = len - a - 1;
        int32_t l = vocab_find(v, p, a), r = vocab_find(v, sp + 1, c);
        if (l < 0 || r < 0) {
            rc = eng_err(RC_EFORMAT, "tokenizer.ggml.merges entry %d ('%s') refers to '%s', which is not in the token list",
                         i, show(p, len, sb), l < 0 ? show(p, a, sb2) : show(sp + 1, c, sb2));
            goto out;
        }
        if (a + c > cat_cap) {
            cat_cap = 2 * (a + c);
            char *nc = realloc(cat, cat_cap);
            if (!nc) { rc = eng_err(RC_ENOMEM, "out of memory"); goto out; }
            cat = nc;
        }
        memcpy(cat, p, a);
        memcpy(cat + a, sp + 1, c);
        int32_t res = vocab_find(v, cat, a + c);
        if (res < 0) {
            rc = eng_err(RC_EFORMAT, "tokenizer.ggml.merges entry %d ('%s') makes '%s', which is not in the token list", i, show(p, len, sb), show(cat, a + c, sb2));
            goto out;
        }
        uint64_t k = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
        uint32_t h = (uint32_t)mix64(k) & b->mmask;
        while (b->mrank[h] >= 0 && b->mkey[h] != k) h = (h + 1) & b->mmask;
        if (b->mrank[h] < 0) { b->mkey[h] = k; b->mrank[h] = i; b->mres[h] = res; }   /* a repeated pair keeps its first rank */
    }
    b->n_merges = n;
    rc = RC_OK;
out:
    free(mp); free(ml); free(cat);
    return rc;
}

/* ---- tokenizing ---- */

struct bsym { int prev, next; int32_t id; };
struct bent { int32_t rank; int left, right; int32_t lid, rid, res; };

struct bpe_work {
    uint32_t *cp; size_t *off; uint8_t *cl; size_t cap_cp;
    char *word; size_t cap_word;
    struct bsym *sym; size_t cap_sym;
    struct bent *heap; size_t n_heap, cap_heap;
};

struct bpe_work *bpe_work_new(void) { return calloc(1, sizeof(struct bpe_work)); }
void bpe_work_free(struct bpe_work *w)
{
    if (!w) return;
    free(w->cp); free(w->off); free(w->cl); free(w->word); free(w->sym); free(w->heap);
    free(w);
}

static int grow(void **p, size_t *cap, size_t need, size_t elt)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elt);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static int before(const struct bent *a, const struct bent *c)   /* a pops before c */
{
    return a->rank != c->rank ? a->rank < c->rank : a->left < c->left;
}

static int heap_push(struct bpe_work *w, const struct bent *e)
{
    if (grow((void **)&w->heap, &w->cap_heap, w->n_heap + 1, sizeof *w->heap)) return -1;
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(e, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = *e;
    return 0;
}

static struct bent heap_pop(struct bpe_work *w)
{
    struct bent top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const struct bent *best = &last;
        if (l < n && before(&w->heap[l], best)) { m = l; best = &w->heap[l]; }
        if (l + 1 < n && before(&w->heap[l + 1], best)) m = l + 1;
        if (m == i) break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    if (n) w->heap[i] = last;
    return top;
}

static int try_pair(const struct bpe *b, struct bpe_work *w, int left, int right)
{
    if (left < 0 || right < 0) return 0;
    struct bent e = { 0, left, right, w->sym[left].id, w->sym[right].id, 0 };
    e.rank = merge_find(b, e.lid, e.rid, &e.res);
    if (e.rank < 0) return 0;
    return heap_push(w, &e);
}

static void emit(int32_t *ids, int cap, int *n, int32_t id)
{
    if (*n < cap) ids[*n] = id;
    (*n)++;
}

/* One pre-token (its raw bytes s[0..n)). */
static int bpe_word(const struct vocab *v, const struct bpe *b, struct bpe_work *w, const unsigned char *s, size_t n,
                    int32_t *ids, int cap, int *nout)
{
    if (n == 1) { emit(ids, cap, nout, b->byte_tok[s[0]]); return RC_OK; }
    if (b->ignore_merges) {
        if (grow((void **)&w->word, &w->cap_word, 2 * n, 1)) return eng_err(RC_ENOMEM, "out of memory");
        size_t wl = 0;
        for (size_t i = 0; i < n; i++) wl += (size_t)put_utf8(b->byte_cp[s[i]], w->word + wl);
        int32_t id = vocab_find(v, w->word, wl);
        if (id >= 0) { emit(ids, cap, nout, id); return RC_OK; }
    }
    if (grow((void **)&w->sym, &w->cap_sym, n, sizeof *w->sym)) return eng_err(RC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        w->sym[i].id = b->byte_tok[s[i]];
        w->sym[i].prev = (int)i - 1;
        w->sym[i].next = i + 1 < n ? (int)i + 1 : -1;
    }
    w->n_heap = 0;
    for (size_t i = 1; i < n; i++)
        if (try_pair(b, w, (int)i - 1, (int)i)) return eng_err(RC_ENOMEM, "out of memory");
    while (w->n_heap) {
        struct bent e = heap_pop(w);
        struct bsym *l = &w->sym[e.left], *r = &w->sym[e.right];
        if (l->id != e.lid || r->id != e.rid || l->next != e.right) continue;   /* stale */
        l->id = e.res;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = e.left;
        r->id = -1;
        r->next = r->prev = -1;
        if (try_pair(b, w, l->prev, e.left) || try_pair(b, w, e.left, l->next)) return eng_err(RC_ENOMEM, "out of memory");
    }
    for (int i = 0; i != -1; i = w->sym[i].next) emit(ids, cap, nout, w->sym[i].id);
    return RC_OK;
}

int bpe_fragment(const struct vocab *v, struct bpe_work *w, const char *text, size_t len,
                 int32_t *ids, int cap, int *nout)
{
    const struct bpe *b = v->bpe;
    const unsigned char *s = (const unsigned char *)text;
    size_t ocap = w->cap_cp, ccap = w->cap_cp;
    if (grow((void **)&w->cp, &w->cap_cp, len + 1, sizeof *w->cp) ||
        grow((void **)&w->off, &ocap, len + 1, sizeof *w->off) || grow((void **)&w->cl, &ccap, len + 1, 1))
        return eng_err(RC_ENOMEM, "out of memory");
    /* code points (the caller checked the UTF-8) */
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        unsigned x = s[i];
        uint32_t cp;
        size_t l = x < 0x80 ? 1 : x < 0xE0 ? 2 : x < 0xF0 ? 3 : 4;
        if (l == 1) cp = x;
        else {
            cp = x & (0x7F >> l);
            for (size_t k = 1; k < l; k++) cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        w->cp[n] = cp;
        w->off[n] = i;
        w->cl[n] = cp_class(cp);
        i += l;
    }
    w->off[n] = len;
    const uint32_t *cp = w->cp;
    const uint8_t *cl = w->cl;
#define CL(i) ((i) < n ? cl[i] : 0)
    size_t pos = 0;
    while (pos < n) {
        uint32_t c = cp[pos];
        size_t end = pos + 1;
        if (c == '\'' && pos + 1 < n) {                       /* 1. contractions, ASCII letters in either case */
            uint32_t c1 = cp[pos + 1] | (cp[pos + 1] < 128 && cp[pos + 1] >= 'A' && cp[pos + 1] <= 'Z' ? 32 : 0);
            uint32_t c2 = pos + 2 < n ? (cp[pos + 2] | (cp[pos + 2] < 128 && cp[pos + 2] >= 'A' && cp[pos + 2] <= 'Z' ? 32 : 0)) : 0;
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') { end = pos + 2; goto word; }
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) { end = pos + 3; goto word; }
        }
        if (c != '\r' && c != '\n' && !(cl[pos] & CL_N) && ((cl[pos] & CL_L) || (CL(pos + 1) & CL_L))) {
            end = pos + 1;                                     /* 2. [^\r\n\p{L}\p{N}]?\p{L}+ */
            while (CL(end) & CL_L) end++;
            goto word;
        }
        if (cl[pos] & CL_N) {                                  /* 3. \p{N}{1,3} (llama-bpe) or \p{N} (qwen2) */
            end = pos;
            while ((CL(end) & CL_N) && end - pos < (size_t)b->max_digits) end++;
            goto word;
        }
        {                                                      /* 4.  ?[^\s\p{L}\p{N}]+[\r\n]* */
            size_t q = c == ' ' ? pos + 1 : pos;
            if (!(CL(q) & (CL_WS | CL_L | CL_N))) {
                end = q;
                while (end < n && !(cl[end] & (CL_WS | CL_L | CL_N))) end++;
                while (end < n && (cp[end] == '\r' || cp[end] == '\n')) end++;
                if (end == pos) end = pos + 1;
                goto word;
            }
        }
        {                                                      /* 5. whitespace */
            size_t e = pos, last_nl = 0;
            while (e < n && (cl[e] & CL_WS)) { if (cp[e] == '\r' || cp[e] == '\n') last_nl = e + 1; e++; }
            if (last_nl) end = last_nl;                        /* \s*[\r\n]+ */
            else if (e - pos > 1 && e < n) end = e - 1;        /* \s+(?!\S) */
            else if (e > pos) end = e;                         /* \s+ */
            else end = pos + 1;
        }
word:
        {
            int rc = bpe_word(v, b, w, s + w->off[pos], w->off[end] - w->off[pos], ids, cap, nout);
            if (rc) return rc;
        }
        pos = end;
    }
#undef CL
    return RC_OK;
}

int bpe_piece(const struct vocab *v, int32_t id, int special, char *buf, int cap)
{
    const struct bpe *b = v->bpe;
    int t = v->type[id];
    const char *p = v->piece[id];
    uint32_t len = v->len[id];
    if (t == TOK_CONTROL || t == TOK_UNKNOWN || t == TOK_USER) {
        if (!special && t != TOK_USER) return 0;
        int n = (int)(len < (uint32_t)cap ? len : (uint32_t)cap);
        memcpy(buf, p, (size_t)n);
        return n;
    }
    if (t != TOK_NORMAL) return 0;
    /* byte-level characters back to bytes; a character outside the mapping
     * (not in a well-formed vocabulary) is copied as it is */
    int n = 0;
    const unsigned char *s = (const unsigned char *)p;
    for (uint32_t i = 0; i < len && n < cap;) {
        unsigned x = s[i];
        uint32_t l = x < 0x80 ? 1 : x < 0xE0 ? 2 : x < 0xF0 ? 3 : 4, cp;
        if (l > len - i) l = len - i;
        if (l == 1) cp = x;
        else { cp = x & (0x7Fu >> l); for (uint32_t k = 1; k < l; k++) cp = (cp << 6) | (s[i + k] & 0x3F); }
        if (cp < 0x144 && b->cp_byte[cp] >= 0) buf[n++] = (char)b->cp_byte[cp];
        else for (uint32_t k = 0; k < l && n < cap; k++) buf[n++] = p[i + k];
        i += l;
    }
    return n;
}
