/*
 * test_bpe.c - the byte-level BPE tokenizer against the reference's token ids
 * (reads ../shared/fixtures/vocab; skips when absent):
 *   - every case of mmsafeaware-llama3.json and mmsafeaware-qwen2.json (the
 *     MMSafeAware prompts, llama.cpp's own .inp strings, chat-templated prompts):
 *     ids_add_special and ids_no_special with the case's parse_special;
 *   - detokenization: the ids of every case give its text back, and a character
 *     split over several tokens is held back until complete;
 *   - the examples of README-bpe.md §5.8 and strings of our own whose
 *     pre-token boundaries follow from README-bpe.md §5.5 (a text tokenizes as
 *     the concatenation of its pre-tokens tokenized alone);
 *   - the generated Unicode table: categories and White_Space of Unicode 15.1;
 *   - speed: the 3,046 MMSafeAware cases of each vocabulary.
 */
#include "engine/engine.h"
#include "engine/unicode_table.h"
#include "json_mini.h"
#include "t.h"

#include <time.h>

#define VOCAB "../shared/fixtures/vocab"

static int32_t ids[1 << 16], ids2[1 << 16];

static int tok(const struct eng_model *m, const char *s, size_t n, int bos, int special, int32_t *out)
{
    int got = -1;
    if (eng_tokenize(m, s, n, bos, special, out, 1 << 16, &got)) return -1;
    return got <= (1 << 16) ? got : -1;
}

static int same_ids(const int32_t *a, int na, const struct jn *arr)
{
    if (!arr || arr->type != JN_ARR || arr->n != na) return 0;
    for (int i = 0; i < na; i++) if ((int32_t)arr->kids[i].num != a[i]) return 0;
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ids -> text with eng_token_piece (special = 0) */
static size_t detok(const struct eng_model *m, const int32_t *v, int n, char *out, size_t cap)
{
    size_t o = 0;
    for (int i = 0; i < n && o + 1024 < cap; i++) o += (size_t)eng_token_piece(m, v[i], 0, out + o, 1024);
    return o;
}

static void goldens(const struct eng_model *m, const char *json, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, VOCAB "/%s", json);
    struct jn *j = jn_load(path);
    if (!j) { t_skipped("golden JSON missing"); return; }
    const struct jn *cases = jn_get(j, "cases");
    static const char *srcs[] = { "mmsafeaware", "llama.cpp-inp", "template" };
    int n[3] = { 0 }, same[3] = { 0 }, rt_n = 0, rt_ok = 0, shown = 0;
    static char text[1 << 20];
    for (int i = 0; cases && i < cases->n; i++) {
        const struct jn *c = &cases->kids[i];
        const struct jn *t = jn_get(c, "text");
        const char *src = jn_str(c, "source");
        int k = !strncmp(src, "mmsafeaware:", 12) ? 0 : !strcmp(src, "llama.cpp-inp") ? 1 : 2;
        int ps = jn_get(c, "parse_special") && jn_get(c, "parse_special")->type == JN_BOOL && jn_get(c, "parse_special")->num != 0;
        int a = tok(m, t->str, t->len, 1, ps, ids);
        int b = tok(m, t->str, t->len, 0, ps, ids2);
        int ok = same_ids(ids, a, jn_get(c, "ids_add_special")) && same_ids(ids2, b, jn_get(c, "ids_no_special"));
        n[k]++;
        same[k] += ok;
        if (!ok && shown++ < 8) {
            char d[300];
            snprintf(d, sizeof d, "%s case %d (%s, parse_special %d) '%.60s': ids differ (got %d/%d ids)", name, i, src, ps, t->str, a, b);
            CHECK_T(0, d);
        }
        if (!ps) {   /* detokenization gives the text back */
            size_t l = detok(m, ids2, b, text, sizeof text);
            rt_n++;
            if (l == t->len && !memcmp(text, t->str, l)) rt_ok++;
            else if (shown++ < 8) {
                char d[300];
                snprintf(d, sizeof d, "%s case %d '%.60s': detokenized text differs", name, i, t->str);
                CHECK_T(0, d);
            }
        }
    }
    fprintf(stderr, "%s: identical ids: mmsafeaware %d/%d, llama.cpp-inp %d/%d, template %d/%d; detokenized round trip %d/%d\n",
            name, same[0], n[0], same[1], n[1], same[2], n[2], rt_ok, rt_n);
    CHECK_EQ_I(n[0], 3046, "all MMSafeAware cases read");
    CHECK_EQ_I(n[1], 46, "all llama.cpp .inp cases read");
    CHECK_EQ_I(n[2], 24, "all template cases read");
    for (int k = 0; k < 3; k++) {
        char d[120];
        snprintf(d, sizeof d, "%s: %s cases identical to the reference", name, srcs[k]);
        CHECK_EQ_I(same[k], n[k], d);
    }
    CHECK_EQ_I(rt_ok, rt_n, "ids -> text gives every plain-text case back");
    /* speed: the MMSafeAware cases, add_special as a prompt would be tokenized */
    double t0 = now();
    long total = 0;
    for (int i = 0; cases && i < cases->n; i++) {
        const struct jn *c = &cases->kids[i];
        if (strncmp(jn_str(c, "source"), "mmsafeaware:", 12)) continue;
        const struct jn *t = jn_get(c, "text");
        total += tok(m, t->str, t->len, 1, 0, ids);
    }
    double dt = now() - t0;
    fprintf(stderr, "%s: 3,046 MMSafeAware cases -> %ld tokens in %.1f ms\n", name, total, 1e3 * dt);
    CHECK_T(dt < 1.0, "3,046 MMSafeAware cases tokenize in well under a second");
    jn_free(j);
}

struct ex { const char *s; size_t n; int special; int32_t want[12]; int nw; };

static void examples(const struct eng_model *m, const struct ex *e, int ne, const char *name)
{
    for (int i = 0; i < ne; i++) {
        size_t n = e[i].n ? e[i].n : strlen(e[i].s);
        int got = tok(m, e[i].s, n, 0, e[i].special, ids);
        char d[200];
        snprintf(d, sizeof d, "%s: README-bpe §5.8 '%s' (parse_special %d)", name, e[i].s, e[i].special);
        CHECK_T(got == e[i].nw && !memcmp(ids, e[i].want, (size_t)got * sizeof *ids), d);
    }
}

/* text == concatenation of the NUL-separated pre-tokens in `parts`: the ids of
 * the whole equal the ids of the parts tokenized one by one. */
static void split_as(const struct eng_model *m, const char *name, const char *parts, size_t plen)
{
    static char whole[4096];
    size_t wl = 0;
    int n2 = 0;
    for (size_t p = 0; p < plen;) {
        size_t l = strlen(parts + p);
        memcpy(whole + wl, parts + p, l);
        wl += l;
        int k = tok(m, parts + p, l, 0, 0, ids2 + n2);
        if (k < 0) { n2 = -1; break; }
        n2 += k;
        p += l + 1;
    }
    int n1 = tok(m, whole, wl, 0, 0, ids);
    char d[300];
    snprintf(d, sizeof d, "%s: '%.*s' pre-tokenizes as README-bpe §5.5 says", name, (int)(wl > 80 ? 80 : wl), whole);
    CHECK_T(n1 >= 0 && n1 == n2 && !memcmp(ids, ids2, (size_t)n1 * sizeof *ids), d);
}
#define SPLIT(m, name, lit) split_as(m, name, lit, sizeof lit - 1)

/* pre-token boundaries that hold for both vocabularies (digits aside) */
static void own_cases(const struct eng_model *m, const char *name, int llama3)
{
    SPLIT(m, name, "WE\0'VE\0 it\0'S\0 they\0'LL\0 I\0'd");          /* contractions in either case */
    SPLIT(m, name, "I\0'M\0AGINE\0 WE\0'VE\0RY\0 it\0's\0ok\0 x\0'Ll\0ama");   /* a contraction ends its pre-token */
    SPLIT(m, name, "it\0\xe2\x80\x99s\0 don\0\xe2\x80\x99t");        /* U+2019 is no apostrophe: "’s" is rule 2 */
    SPLIT(m, name, "x\0'\xc3\xa9t\xc3\xa9");                          /* 'é... : no contraction, ' + letters */
    SPLIT(m, name, "a\0  \0 b\0\n\n\0 \0 c\0\t ");                    /* whitespace runs; a trailing run stays whole */
    SPLIT(m, name, "a\0\r\n \r\n\0 \0 b\0   ");                       /* W up to its last CR/LF; trailing run kept */
    SPLIT(m, name, "a\0\xc2\xa0\0\xc2\xa0" "b\0\xc2\x85\0 x");        /* U+00A0, U+0085 are whitespace */
    SPLIT(m, name, "a\0\xc2\x85\0\xc2\x85" "b\0!\0\xc2\x85");          /* U+0085 (a Cc) is white space too */
    SPLIT(m, name, "a\0\xe2\x80\x8b" "b\0\xef\xbb\xbf" "c");          /* U+200B, U+FEFF are not: other + letters */
    SPLIT(m, name, "e\0\xcc\x81x\0 e\0\xcc\x81");                     /* combining marks are not letters */
    SPLIT(m, name, "\xe0\xb8\xaa\xe0\xb8\xa7\0\xe0\xb8\xb1\xe0\xb8\xaa\xe0\xb8\x94\0\xe0\xb8\xb5"); /* Thai สวัสดี: vowel signs (Mn) break letter runs */
    SPLIT(m, name, "hi\0 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd!\0 \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\n\n\0ok"); /* emoji runs + ZWJ, then CR/LF */
    SPLIT(m, name, "x\0.\r\n\r\n\0y");                                 /* punctuation takes the CR/LF that follow */
    SPLIT(m, name, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\0,\0 \xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5\0!\0 \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7"); /* Cyrillic, Greek, Arabic */
    SPLIT(m, name, "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c\0\xe3\x80\x82\0\xe3\x80\x80\xe3\x81\x93\xe3\x82\x93"); /* CJK, U+3000 then kana */
    SPLIT(m, name, "a\xf0\xae\xaf\xb0\xf0\xae\xaf\xb1\0\xe1\xb2\x89x");  /* U+2EBF0 (15.1) is a letter, U+1C89 (16.0) unassigned */
    {   /* "  " + U+0085 at the end is one whitespace run: BPE starts it with "ĠĠ" (256), not a lone "Ġ" (220) */
        int k = tok(m, "  \xc2\x85", 4, 0, 0, ids);
        char d[120];
        snprintf(d, sizeof d, "%s: U+0085 ends a whitespace run (ids start with 256)", name);
        CHECK_T(k >= 1 && ids[0] == 256, d);
    }
    if (llama3) {
        SPLIT(m, name, "123\0" "456\0" "7\0 \0" "12\0,\0" "345");          /* digits in threes from the left */
        SPLIT(m, name, "\xc2\xb2\xc2\xbd\xe2\x85\xab\0\xe2\x91\xa0\xd9\xa1\xe0\xa5\xa7\0\xef\xbc\x91");   /* ²½Ⅻ ①١१ １: all \p{N} */
    } else {
        SPLIT(m, name, "1\0" "2\0" "3\0" "4\0 \0" "5\0,\0" "6");            /* single digits */
        SPLIT(m, name, "\xc2\xb2\0\xc2\xbd\0\xe2\x85\xab\0\xe2\x91\xa0\0\xd9\xa1\0\xe0\xa5\xa7\0\xef\xbc\x91");
    }
}

static void streaming(const struct eng_model *m, const char *name)
{
    /* U+2EBF0 has no token of its own: its 4 bytes come as several tokens */
    const char *text = "a\xf0\xae\xaf\xb0" "b \xe2\x82\xac\xf0\x9f\x91\x8d";
    size_t len = strlen(text);
    int n = tok(m, text, len, 0, 0, ids);
    struct eng_utf8_hold h = { { 0 }, 0 };
    char out[256];
    size_t o = 0;
    int held = 0, whole = 1;
    for (int i = 0; i < n; i++) {
        int k = eng_token_piece_stream(m, &h, ids[i], 0, out + o, (int)(sizeof out - o));
        held += h.n > 0;
        o += (size_t)k;
        /* what was written so far ends on a character boundary */
        for (size_t b = o; b > 0 && b + 4 > o; b--) {
            unsigned char c = (unsigned char)out[b - 1];
            if ((c & 0xC0) == 0x80) continue;
            int need = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            if ((size_t)need != o - (b - 1)) whole = 0;
            break;
        }
    }
    o += (size_t)eng_token_flush(&h, out + o, (int)(sizeof out - o));
    char d[120];
    snprintf(d, sizeof d, "%s: a character split over tokens is held back until complete", name);
    CHECK_T(n > 4 && held > 0 && whole, d);
    CHECK_T(o == len && !memcmp(out, text, len), "streamed text equals the input");
    /* a lone incomplete sequence is written by the flush, as it is */
    h.n = 0;
    int32_t lead = ids[1];   /* the first token of the split character */
    int k = eng_token_piece_stream(m, &h, lead, 0, out, 64);
    int f = eng_token_flush(&h, out + k, 64);
    CHECK_T(k == 0 && f > 0 && h.n == 0, "flush writes what was held back");
}

static void bad_text(const struct eng_model *m)
{
    int got = 0;
    static const struct { const char *s; size_t n; } bad[] = {
        { "ok\xff", 3 }, { "\xc3", 1 }, { "\xc0\xaf", 2 }, { "\xed\xa0\x80", 3 }, { "\xf4\x90\x80\x80", 4 }, { "a\x80" "b", 3 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = eng_tokenize(m, bad[i].s, bad[i].n, 1, 0, ids, 64, &got);
        CHECK_T(rc != 0 && strstr(eng_errmsg(), "not valid UTF-8"), "text that is not UTF-8 is refused");
    }
    CHECK_T(eng_tokenize(m, "a\0b", 3, 0, 0, ids, 64, &got) == 0 && got >= 2, "U+0000 is an ordinary character");
    CHECK_T(eng_tokenize(m, "", 0, 0, 0, ids, 64, &got) == 0 && got == 0, "the empty text gives no ids");
}

static void unicode_table(void)
{
    static const struct { uint32_t cp; int cat; const char *what; } c[] = {
        { 'a', UC_L, "a" }, { 0x00E9, UC_L, "e acute" }, { 0x0301, UC_M, "combining acute (Mn)" },
        { 0x0E31, UC_M, "Thai vowel sign (Mn)" }, { 0x0903, UC_M, "Devanagari visarga (Mc)" }, { 0x20DD, UC_M, "enclosing circle (Me)" },
        { 0x00B2, UC_N, "superscript two (No)" }, { 0x00BD, UC_N, "one half" }, { 0x216B, UC_N, "roman twelve (Nl)" },
        { 0x0661, UC_N, "Arabic-Indic one" }, { 0xFF11, UC_N, "fullwidth one" }, { 0x01C5, UC_L, "Lt" }, { 0x02B0, UC_L, "Lm" },
        { 0x2EBF0, UC_L, "CJK Ext I first (15.1)" }, { 0x2EE5D, UC_L, "CJK Ext I last (15.1)" }, { 0x2EE5E, UC_CN, "after Ext I" },
        { 0x2FFC, UC_S, "IDC U+2FFC (15.1)" }, { 0x31EF, UC_S, "CJK stroke HXG (15.1)" }, { 0x1C89, UC_CN, "U+1C89 (16.0 only)" },
        { 0x200B, UC_C, "zero width space (Cf)" }, { 0x2019, UC_P, "right single quote" }, { 0x1F44D, UC_S, "thumbs up" },
        { 0xE000, UC_C, "private use" }, { 0x10FFFF, UC_CN, "noncharacter" }, { 0x110000, UC_CN, "beyond Unicode" },
        { 0x3000, UC_Z, "ideographic space" }, { 0x4E00, UC_L, "CJK" }, { 0xAC00, UC_L, "Hangul" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char d[100];
        snprintf(d, sizeof d, "Unicode 15.1 category of U+%04X (%s)", c[i].cp, c[i].what);
        CHECK_EQ_I(uc_category(c[i].cp), c[i].cat, d);
    }
    int ns = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) ns += uc_is_space(cp);
    CHECK_EQ_I(ns, 25, "White_Space has 25 code points");
    CHECK_T(uc_is_space(0x85) && uc_is_space(0xA0) && uc_is_space(0x3000) && uc_is_space(0x202F), "U+0085, U+00A0, U+3000, U+202F are white space");
    CHECK_T(!uc_is_space(0x200B) && !uc_is_space(0xFEFF) && !uc_is_space(0x180E), "U+200B, U+FEFF, U+180E are not");
    int nl = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) nl += uc_category(cp) == UC_L;
    CHECK_EQ_I(nl, 136726, "Unicode 15.1 has 136,726 letters (15.0's 136,104 plus 622 of CJK Ext I)");
}

int main(void)
{
    t_name = "engine/bpe";
    (void)jn_num;
    unicode_table();
    FILE *f = fopen(VOCAB "/ggml-vocab-llama3.gguf", "rb");
    if (!f) { t_skipped("../shared/fixtures/vocab not found (BPE fidelity checks need it)"); return t_done(); }
    fclose(f);
    struct eng_model *l3 = NULL, *qw = NULL;
    double t0 = now();
    if (eng_vocab_open(VOCAB "/ggml-vocab-llama3.gguf", &l3)) { CHECK_T(0, eng_errmsg()); return t_done(); }
    double t1 = now();
    if (eng_vocab_open(VOCAB "/ggml-vocab-qwen2.gguf", &qw)) { CHECK_T(0, eng_errmsg()); eng_model_free(l3); return t_done(); }
    fprintf(stderr, "vocab-only load: llama3 %.0f ms, qwen2 %.0f ms\n", 1e3 * (t1 - t0), 1e3 * (now() - t1));
    CHECK_EQ_I(eng_n_vocab(l3), 128256, "llama3: 128,256 tokens");
    CHECK_EQ_I(eng_n_vocab(qw), 151936, "qwen2: 151,936 tokens");
    CHECK_T(eng_token_bos(l3) == 128000 && eng_token_eos(l3) == 128001 && eng_add_bos(l3), "llama3: BOS 128000 added, EOS 128001");
    CHECK_T(eng_token_bos(qw) == 151643 && eng_token_eos(qw) == 151645 && !eng_add_bos(qw), "qwen2: BOS 151643 not added, EOS 151645");

    goldens(l3, "mmsafeaware-llama3.json", "llama3");
    goldens(qw, "mmsafeaware-qwen2.json", "qwen2");

    static const struct ex ex_l3[] = {
        { "1234567", 0, 0, { 4513, 10961, 22 }, 3 },
        { "I'M here, we'Ve", 0, 0, { 40, 28703, 1618, 11, 584, 6, 43712 }, 7 },
        { "a   b\n\n  c  ", 0, 0, { 64, 256, 293, 271, 220, 272, 256 }, 7 },
        { " jeho", 0, 0, { 101503 }, 1 },
        { "<think>ok</think>", 0, 0, { 14023, 771, 29, 564, 524, 27963, 29 }, 7 },
        { "<think>ok</think>", 0, 1, { 14023, 771, 29, 564, 524, 27963, 29 }, 7 },
        { "x</s>", 0, 1, { 87, 524, 82, 29 }, 4 },
        { "e\xcc\x81", 0, 0, { 68, 54939 }, 2 },
        { "", 0, 0, { 0 }, 0 },
    };
    static const struct ex ex_qw[] = {
        { "1234567", 0, 0, { 16, 17, 18, 19, 20, 21, 22 }, 7 },
        { "I'M here, we'Ve", 0, 0, { 40, 27603, 1588, 11, 582, 6, 42612 }, 7 },
        { "a   b\n\n  c  ", 0, 0, { 64, 256, 293, 271, 220, 272, 256 }, 7 },
        { " jeho", 0, 0, { 502, 2636, 78 }, 3 },
        { "<think>ok</think>", 0, 0, { 151667, 562, 151668 }, 3 },
        { "x</s>", 0, 0, { 87, 522, 82, 29 }, 4 },
        { "x</s>", 0, 1, { 87, 128247 }, 2 },
        { " </s>", 0, 1, { 220, 128247 }, 2 },
        { "<|im_end<|im_end|>", 0, 1, { 27, 91, 318, 6213, 151645 }, 5 },
        { "e\xcc\x81", 0, 0, { 68, 53839 }, 2 },
    };
    examples(l3, ex_l3, (int)(sizeof ex_l3 / sizeof ex_l3[0]), "llama3");
    examples(qw, ex_qw, (int)(sizeof ex_qw / sizeof ex_qw[0]), "qwen2");
    int n = tok(l3, "", 0, 1, 0, ids);
    CHECK_T(n == 1 && ids[0] == 128000, "llama3: the empty text with add_special is [BOS]");
    n = tok(l3, "<|begin_of_text|>hi", 19, 1, 1, ids);
    CHECK_T(n == 3 && ids[0] == 128000 && ids[1] == 128000, "llama3: BOS is added before a parsed <|begin_of_text|> (double BOS)");
    n = tok(qw, "hi", 2, 1, 0, ids);
    CHECK_T(n == 1 && ids[0] != 151643, "qwen2: no BOS even with add_special");

    own_cases(l3, "llama3", 1);
    own_cases(qw, "qwen2", 0);
    streaming(l3, "llama3");
    streaming(qw, "qwen2");
    bad_text(l3);
    char piece[64];
    CHECK_EQ_I(eng_token_piece(l3, 128000, 0, piece, 64), 0, "llama3: BOS renders empty without special");
    CHECK_T(eng_token_piece(l3, 128009, 1, piece, 64) == 10 && !memcmp(piece, "<|eot_id|>", 10), "llama3: <|eot_id|> with special");
    CHECK_T(eng_token_piece(qw, 151667, 0, piece, 64) == 7 && !memcmp(piece, "<think>", 7), "qwen2: a USER_DEFINED token renders its text");
    CHECK_EQ_I(eng_token_piece(qw, 128247, 0, piece, 64), 0, "qwen2: the promoted </s> is a control token");
    CHECK_EQ_I(eng_token_piece(qw, 151700, 1, piece, 64), 0, "qwen2: UNUSED [PAD] ids render empty");
    CHECK_T(eng_token_piece(qw, 220, 0, piece, 64) == 1 && piece[0] == ' ', "qwen2: 220 is a space");
    eng_model_free(l3);
    eng_model_free(qw);
    return t_done();
}
