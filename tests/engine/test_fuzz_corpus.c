/*
 * test_fuzz_corpus.c - replays the fuzzing regression corpus through the GGUF
 * reader and model validation (tests/fuzz/corpus/gguf/) and the tokenizer
 * (tests/fuzz/corpus/tokenize/, with the LLaMA-2 vocabulary from
 * ../shared, skipped when absent).  Files named ok_* must load as models;
 * every other GGUF input must be refused with a message.  Under `make asan
 * test` any out-of-bounds read or undefined behaviour aborts the run.
 */
#include "engine/engine.h"
#include "t.h"

#include <dirent.h>

int main(void)
{
    t_name = "engine/fuzz_corpus";
    const char *dir = "tests/fuzz/corpus/gguf";
    DIR *d = opendir(dir);
    if (!CHECK_T(d != NULL, "tests/fuzz/corpus/gguf exists (run from the repository root)")) return t_done();
    struct dirent *e;
    int n_files = 0, n_ok = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n;
        unsigned char *b = t_slurp(path, &n);
        if (!b) continue;
        n_files++;
        struct eng_model *m = NULL;
        int rc = eng_model_parse(b, n, &m);
        char desc[1200];
        if (!strncmp(e->d_name, "ok_", 3)) {
            snprintf(desc, sizeof desc, "%s loads (%s)", e->d_name, rc ? eng_errmsg() : "ok");
            CHECK_T(rc == 0, desc);
            n_ok += rc == 0;
            if (m) {
                struct eng_params p = ENG_PARAMS_DEFAULT;
                struct eng_ctx *c = NULL;
                int32_t ids[2] = { 1, 1 };
                if (eng_ctx_new(m, &p, &c) == 0) {
                    snprintf(desc, sizeof desc, "%s evaluates", e->d_name);
                    CHECK_T(eng_prefill(c, ids, 2, NULL) == 0, desc);
                    eng_ctx_free(c);
                }
            }
        } else {
            snprintf(desc, sizeof desc, "%s is refused with a message (rc %d: %s)", e->d_name, rc, rc ? eng_errmsg() : "loaded");
            CHECK_T(rc != 0 && eng_errmsg()[0], desc);
        }
        eng_model_free(m);
        free(b);
    }
    closedir(d);
    CHECK_T(n_files >= 5, "the GGUF corpus has files");
    CHECK_T(n_ok >= 1, "the corpus has valid models (ok_*)");
    /* tokenizer corpus */
    struct eng_model *v = NULL;
    if (eng_vocab_open("../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf", &v)) {
        t_skipped("../shared/fixtures/vocab not found (tokenizer corpus replay needs it)");
        return t_done();
    }
    d = opendir("tests/fuzz/corpus/tokenize");
    int nt = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "tests/fuzz/corpus/tokenize/%s", e->d_name);
        size_t n;
        unsigned char *b = t_slurp(path, &n);
        if (!b) continue;
        /* byte fallback can give 3 ids per input byte (a space is the 3 bytes of U+2581) */
        int32_t *ids = malloc((3 * n + 4) * sizeof *ids);
        int cnt = 0, ok = 1;
        for (int mode = 0; mode < 2; mode++) {
            ok &= eng_tokenize(v, (const char *)b, n, mode, mode, ids, 3 * (int)n + 4, &cnt) == 0 && cnt <= 3 * (int)n + 4;
            /* detokenizing the ids gives the text back (plain-text mode: specials are not split) */
            if (mode == 0 && !memmem(b, n, "\xe2\x96\x81", 3)) {   /* a literal U+2581 comes back as a space */
                char *out = malloc(4 * n + 16);
                size_t o = 0;
                for (int i = 0; i < cnt; i++) o += (size_t)eng_token_piece(v, ids[i], 0, out + o, 64);
                /* a space split across byte-fallback symbols (after an invalid UTF-8 lead
                 * byte) comes back as the raw bytes of U+2581, as in llama.cpp */
                size_t w = 0;
                for (size_t r = 0; r < o; r++) {
                    if (r + 3 <= o && !memcmp(out + r, "\xe2\x96\x81", 3)) { out[w++] = ' '; r += 2; }
                    else out[w++] = out[r];
                }
                o = w;
                ok &= o >= 1 && o - 1 == n && !memcmp(out + 1, b, n);   /* one leading space: the dummy prefix */
                free(out);
            }
        }
        char desc[600];
        snprintf(desc, sizeof desc, "tokenize %s: round trip", e->d_name);
        CHECK_T(ok || n == 0, desc);
        nt++;
        free(ids);
        free(b);
    }
    if (d) closedir(d);
    CHECK_T(nt >= 1, "the tokenizer corpus has files");
    eng_model_free(v);
    return t_done();
}
