/*
 * test_fuzz_corpus.c - replays the fuzzing regression corpus (tests/fuzz/corpus/)
 * through the code the harnesses run (tests/fuzz/fuzz_common.h), without clang:
 *   gguf/      every file through eng_model_parse and, when that refuses it,
 *              eng_vocab_parse, as fuzz_gguf does; whatever loads is exercised
 *              by fz_model_exercise.  Files named ok_* must load as models and
 *              evaluate, okvocab_* must load as vocabularies (and are refused
 *              as models: no hyper-parameters), every other file must be refused
 *              as a model with a message;
 *   tokenize/  every file through fz_tokenize_check with each of the SPM,
 *              llama-bpe and qwen2 vocabularies of ../shared/fixtures/vocab
 *              (a vocabulary that is absent is skipped).
 * Under `make asan test` any out-of-bounds read or undefined behaviour aborts the run.
 */
#include "fuzz/fuzz_common.h"
#include "t.h"

#include <dirent.h>

int main(void)
{
    t_name = "engine/fuzz_corpus";
    const char *dir = "tests/fuzz/corpus/gguf";
    DIR *d = opendir(dir);
    if (!CHECK_T(d != NULL, "tests/fuzz/corpus/gguf exists (run from the repository root)")) return t_done();
    struct dirent *e;
    int n_files = 0, n_ok = 0, n_vocab = 0;
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
        int full = m != NULL;
        if (!m) {
            int vrc = eng_vocab_parse(b, n, &m);
            if (!strncmp(e->d_name, "okvocab_", 8)) {
                snprintf(desc, sizeof desc, "%s loads as a vocabulary (%s)", e->d_name, vrc ? eng_errmsg() : "ok");
                CHECK_T(vrc == 0, desc);
                n_vocab += vrc == 0;
            }
        }
        if (m) {
            const char *err = fz_model_exercise(m, full);
            snprintf(desc, sizeof desc, "%s: tokenize, decode%s (%s)", e->d_name, full ? ", evaluate" : "", err ? err : "ok");
            CHECK_T(!err, desc);
        }
        eng_model_free(m);
        free(b);
    }
    closedir(d);
    CHECK_T(n_files >= 5, "the GGUF corpus has files");
    CHECK_T(n_ok >= 1, "the corpus has valid models (ok_*)");
    CHECK_T(n_vocab >= 1, "the corpus has valid vocabulary-only files (okvocab_*)");

    /* tokenizer corpus, through each vocabulary that is there */
    struct eng_model *v[FZ_NVOCAB] = { 0 };
    int n_have = 0;
    for (int k = 0; k < FZ_NVOCAB; k++) {
        char path[256], desc[400];
        snprintf(path, sizeof path, "../shared/fixtures/vocab/%s", fz_vocab_file[k]);
        if (eng_vocab_open(path, &v[k])) {
            snprintf(desc, sizeof desc, "%s not found (the tokenizer corpus replay with the %s vocabulary needs it)", path, fz_vocab_name[k]);
            t_skipped(desc);
            v[k] = NULL;
        } else n_have++;
    }
    if (!n_have) return t_done();
    d = opendir("tests/fuzz/corpus/tokenize");
    int nt = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "tests/fuzz/corpus/tokenize/%s", e->d_name);
        size_t n;
        unsigned char *b = t_slurp(path, &n);
        if (!b) continue;
        for (int k = 0; k < FZ_NVOCAB; k++) {
            if (!v[k]) continue;
            const char *err = fz_tokenize_check(v[k], k, (const char *)b, n);
            char desc[1200];
            snprintf(desc, sizeof desc, "tokenize %s with the %s vocabulary: bounds, round trip, streaming (%s)", e->d_name, fz_vocab_name[k], err ? err : "ok");
            CHECK_T(!err, desc);
        }
        nt++;
        free(b);
    }
    if (d) closedir(d);
    CHECK_T(nt >= 1, "the tokenizer corpus has files");
    for (int k = 0; k < FZ_NVOCAB; k++) eng_model_free(v[k]);
    return t_done();
}
