/*
 * test_tokenizer.c - the SPM tokenizer against the reference's own vectors
 * (reads ../shared/fixtures; skips when absent):
 *   - ggml-vocab-llama-spm.gguf.inp/.out (llama.cpp's test-tokenizer-0 vectors,
 *     add_special = false, parse_special = false);
 *   - mmsafeaware-llama-spm.json: all MMSafeAware prompts with and without BOS;
 *   - spec §4.5 examples (parse_special = true);
 *   - llava-tiny index.json: tokens_bos / tokens_nobos of every text case and
 *     the text chunks of every image case, with the fixtures' own vocabulary.
 */
#include "engine/engine.h"
#include "json_mini.h"
#include "t.h"

#define SHARED "../shared/fixtures"

static int same_ids(const int32_t *a, int na, const struct jn *arr)
{
    if (!arr || arr->type != JN_ARR || arr->n != na) return 0;
    for (int i = 0; i < na; i++) if ((int32_t)arr->kids[i].num != a[i]) return 0;
    return 1;
}

static int tok(const struct eng_model *m, const char *s, size_t n, int bos, int special, int32_t *ids, int cap)
{
    int got = -1;
    if (eng_tokenize(m, s, n, bos, special, ids, cap, &got)) return -1;
    return got <= cap ? got : -1;
}

static void test_inp_out(const struct eng_model *m)
{
    size_t ni, no;
    char *inp = t_slurp(SHARED "/vocab/ggml-vocab-llama-spm.gguf.inp", &ni);
    char *out = t_slurp(SHARED "/vocab/ggml-vocab-llama-spm.gguf.out", &no);
    if (!inp || !out) { t_skipped("vocab .inp/.out missing"); free(inp); free(out); return; }
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sl = strlen(sep);
    char *p = inp, *q = out;
    int n_cases = 0, n_ok = 0;
    static int32_t ids[65536];
    while (p < inp + ni) {
        char *e = strstr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *qe = strchr(q, '\n');
        if (!qe) break;
        *qe = 0;
        /* expected ids: space separated */
        int32_t exp[4096];
        int ne = 0;
        for (char *t = q; *t;) { char *x; long v = strtol(t, &x, 10); if (x == t) break; exp[ne++] = (int32_t)v; t = x; }
        int n = tok(m, p, len, 0, 0, ids, 65536);
        int ok = n == ne && !memcmp(ids, exp, (size_t)ne * sizeof *exp);
        n_cases++;
        n_ok += ok;
        if (!ok) {
            char d[256];
            snprintf(d, sizeof d, ".inp case %d ('%.40s') ids differ (got %d ids, want %d)", n_cases, p, n, ne);
            CHECK_T(0, d);
        }
        q = qe + 1;
        if (!e) break;
        p = e + sl;
    }
    CHECK_EQ_I(n_cases, 46, "all .inp/.out vectors read");
    CHECK_EQ_I(n_ok, n_cases, ".inp/.out vectors identical");
    free(inp); free(out);
}

static void test_mmsafeaware(const struct eng_model *m)
{
    struct jn *j = jn_load(SHARED "/vocab/mmsafeaware-llama-spm.json");
    if (!j) { t_skipped("mmsafeaware-llama-spm.json missing"); return; }
    const struct jn *cases = jn_get(j, "cases");
    int special = (int)jn_num(j, "parse_special", 0);
    static int32_t ids[65536];
    int bad = 0, n = 0;
    for (int i = 0; cases && i < cases->n; i++) {
        const struct jn *c = &cases->kids[i];
        const struct jn *t = jn_get(c, "text");
        int a = tok(m, t->str, t->len, 1, special, ids, 65536);
        int ok1 = same_ids(ids, a, jn_get(c, "ids_with_bos"));
        int b = tok(m, t->str, t->len, 0, special, ids, 65536);
        int ok2 = same_ids(ids, b, jn_get(c, "ids_no_bos"));
        n++;
        if (!ok1 || !ok2) {
            if (bad++ < 5) { char d[200]; snprintf(d, sizeof d, "mmsafeaware case %s ('%.40s')", jn_str(c, "id"), t->str); CHECK_T(0, d); }
        }
    }
    CHECK_T(n >= 3000, "mmsafeaware: all prompt forms read");
    CHECK_EQ_I(bad, 0, "mmsafeaware prompts tokenized identically");
    jn_free(j);
}

static void test_spec_examples(const struct eng_model *m)
{
    struct { const char *s; int bos, special; int32_t ids[16]; int n; } ex[] = {
        { "Hello world", 0, 1, { 15043, 3186 }, 2 },
        { " Hello world", 0, 1, { 29871, 15043, 3186 }, 3 },
        { "\n", 0, 1, { 29871, 13 }, 2 },
        { "USER: ", 0, 1, { 3148, 1001, 29901, 29871 }, 4 },
        { "ASSISTANT: Yes", 0, 1, { 319, 1799, 9047, 13566, 29901, 3869 }, 6 },
        { "<s>USER: hi</s>", 1, 1, { 1, 1, 3148, 1001, 29901, 7251, 2 }, 7 },
        { "<s>USER: hi</s>", 1, 0, { 1, 529, 29879, 29958, 11889, 29901, 7251, 829, 29879, 29958 }, 10 },
    };
    int32_t ids[64];
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        int n = tok(m, ex[i].s, strlen(ex[i].s), ex[i].bos, ex[i].special, ids, 64);
        char d[128];
        snprintf(d, sizeof d, "spec §4.5 example '%s' (special %d)", ex[i].s, ex[i].special);
        CHECK_T(n == ex[i].n && !memcmp(ids, ex[i].ids, (size_t)n * 4), d);
    }
    char piece[16];
    CHECK_EQ_I(eng_token_piece(m, 13, 0, piece, 16), 1, "byte token 13 -> 1 byte");
    CHECK_T(piece[0] == '\n', "byte token 13 is a newline");
    int l = eng_token_piece(m, 3869, 0, piece, 16);
    CHECK_T(l == 4 && !memcmp(piece, " Yes", 4), "piece of 3869 is ' Yes'");
    CHECK_EQ_I(eng_token_piece(m, 1, 0, piece, 16), 0, "BOS renders empty");
    CHECK_EQ_I(eng_token_find(m, "\xe2\x96\x81No", 5), 1939, "find piece '▁No'");
}

static void test_tiny(void)
{
    struct jn *j = jn_load(SHARED "/llava-tiny/index.json");
    if (!j) { t_skipped("llava-tiny/index.json missing"); return; }
    struct eng_model *m = NULL;
    if (eng_model_open(SHARED "/llava-tiny/models/lmA-F32.gguf", &m)) { CHECK_T(0, eng_errmsg()); jn_free(j); return; }
    const struct jn *cases = jn_get(j, "cases");
    int32_t ids[4096];
    int n_text = 0, n_img = 0, bad = 0;
    for (int i = 0; cases && i < cases->n; i++) {
        const struct jn *c = &cases->kids[i];
        const struct jn *pt = jn_get(c, "prompt_text");
        if (!strcmp(jn_str(c, "kind"), "text")) {
            int a = tok(m, pt->str, pt->len, 1, 1, ids, 4096);
            bad += !same_ids(ids, a, jn_get(c, "tokens_bos"));
            int b = tok(m, pt->str, pt->len, 0, 1, ids, 4096);
            bad += !same_ids(ids, b, jn_get(c, "tokens_nobos"));
            const struct jn *ps = jn_get(c, "tokens_bos_parse_special_false");
            if (ps) { int k = tok(m, pt->str, pt->len, 1, 0, ids, 4096); bad += !same_ids(ids, k, ps); }
            n_text++;
        } else {
            /* text before and after the media marker, tokenised separately (mtmd) */
            const char *mk = strstr(pt->str, "<__media__>");
            const struct jn *exp = jn_get(c, "tokens");
            if (!mk || !exp) { bad++; continue; }
            int a = tok(m, pt->str, (size_t)(mk - pt->str), 1, 1, ids, 4096);
            int nimg = (int)jn_num(c, "n_image_tokens", 16);
            for (int k = 0; k < nimg; k++) ids[a + k] = -1;
            const char *rest = mk + strlen("<__media__>");
            int b = tok(m, rest, pt->len - (size_t)(rest - pt->str), 0, 1, ids + a + nimg, 4096 - a - nimg);
            bad += !same_ids(ids, a + nimg + b, exp);
            n_img++;
        }
    }
    CHECK_T(n_text > 100 && n_img > 50, "llava-tiny: text and image cases read");
    CHECK_EQ_I(bad, 0, "llava-tiny: token ids identical for every case");
    eng_model_free(m);
    jn_free(j);
}

int main(void)
{
    t_name = "engine/tokenizer";
    struct eng_model *m = NULL;
    FILE *f = fopen(SHARED "/vocab/ggml-vocab-llama-spm.gguf", "rb");
    if (!f) {
        t_skipped("../shared/fixtures not found (tokenizer fidelity checks need it)");
        return t_done();
    }
    fclose(f);
    /* the vocab file has no tensors: load its vocabulary through the test hook */
    if (eng_vocab_open(SHARED "/vocab/ggml-vocab-llama-spm.gguf", &m)) { CHECK_T(0, eng_errmsg()); return t_done(); }
    test_inp_out(m);
    test_mmsafeaware(m);
    test_spec_examples(m);
    eng_model_free(m);
    test_tiny();
    return t_done();
}
