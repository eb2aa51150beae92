/*
 * oracle_lm.c - dumps what the reference implementation (llama.cpp, libllama)
 * computes on a language-model GGUF, for the goldens in tests/fixtures/decoders/.
 * Written against llama.cpp's public C API only; not built by `make` (CI has no
 * reference build).  See tools/reference/README.md for how to build and run it.
 *
 *   oracle_lm eval MODEL.gguf PROMPTS.hex OUTDIR [N_THREADS [N_STEPS]]
 *       PROMPTS.hex: one prompt per line, its UTF-8 bytes in hex.  For prompt i:
 *       OUTDIR/i.tokens  int32 ids (tokenized with add_special = true, parse_special = true)
 *       OUTDIR/i.logits  float32 [N_STEPS][n_vocab]: row 0 after prefilling the prompt as one
 *                        batch, row k after feeding greedy token k-1
 *       OUTDIR/i.greedy  int32 [N_STEPS] greedy ids (argmax, lowest id on ties)
 *       Golden settings: F32 K and V cache, flash attention off, n_ctx = n_batch = n_ubatch = 512.
 *   oracle_lm chat MODEL.gguf SYSTEM_HEX USER_HEX
 *       prints, in hex, llama_chat_apply_template of the file's own chat template for
 *       [system (omitted when SYSTEM_HEX is "-"), user] with add_ass = true.
 *   oracle_lm eog MODEL.gguf
 *       prints the ids llama_vocab_is_eog accepts, one per line.
 *   oracle_lm tokbench VOCAB.gguf PROMPTS.hex [REPS]
 *       the timing of tools/tok_bench.c for the reference: vocabulary-only load, then every
 *       prompt tokenized (add_special = true, parse_special = false), best of REPS passes.
 */
#define _POSIX_C_SOURCE 200809L
#include "llama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *unhex(const char *h, size_t *n)
{
    size_t l = strlen(h);
    while (l && (h[l - 1] == '\n' || h[l - 1] == '\r')) l--;
    char *s = malloc(l / 2 + 1);
    for (size_t i = 0; i < l / 2; i++) { unsigned v; sscanf(h + 2 * i, "%2x", &v); s[i] = (char)v; }
    s[l / 2] = 0;
    *n = l / 2;
    return s;
}

static void quiet(enum ggml_log_level level, const char *text, void *ud) { (void)level; (void)text; (void)ud; }

static struct llama_model *load(const char *path)
{
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *m = llama_model_load_from_file(path, mp);
    if (!m) { fprintf(stderr, "oracle_lm: cannot load %s\n", path); exit(1); }
    return m;
}

static int eval(const char *model, const char *prompts, const char *outdir, int nt, int steps)
{
    struct llama_model *m = load(model);
    const struct llama_vocab *v = llama_model_get_vocab(m);
    const int nv = llama_vocab_n_tokens(v);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512; cp.n_batch = 512; cp.n_ubatch = 512; cp.n_seq_max = 1;
    cp.n_threads = nt; cp.n_threads_batch = nt;
    cp.type_k = GGML_TYPE_F32; cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    struct llama_context *c = llama_init_from_model(m, cp);
    if (!c) { fprintf(stderr, "oracle_lm: cannot create a context\n"); return 1; }
    FILE *pf = fopen(prompts, "r");
    if (!pf) { perror(prompts); return 1; }
    static char line[1 << 20];
    float *rows = malloc((size_t)steps * nv * sizeof *rows);
    int32_t *greedy = malloc((size_t)steps * sizeof *greedy);
    for (int pi = 0; fgets(line, sizeof line, pf); pi++) {
        size_t tl;
        char *text = unhex(line, &tl);
        int32_t toks[4096];
        int n = llama_tokenize(v, text, (int32_t)tl, toks, 4096, true, true);
        if (n < 0) { fprintf(stderr, "oracle_lm: prompt %d too long\n", pi); return 1; }
        llama_memory_clear(llama_get_memory(c), true);
        char fn[4096];
        snprintf(fn, sizeof fn, "%s/%d.tokens", outdir, pi);
        FILE *f = fopen(fn, "wb"); fwrite(toks, 4, (size_t)n, f); fclose(f);
        if (llama_decode(c, llama_batch_get_one(toks, n))) { fprintf(stderr, "oracle_lm: decode failed\n"); return 1; }
        for (int s = 0; s < steps; s++) {
            const float *lg = llama_get_logits_ith(c, -1);
            memcpy(rows + (size_t)s * nv, lg, (size_t)nv * sizeof *lg);
            int32_t best = 0;
            for (int i = 1; i < nv; i++) if (lg[i] > lg[best]) best = i;
            greedy[s] = best;
            if (s + 1 < steps && llama_decode(c, llama_batch_get_one(&greedy[s], 1))) { fprintf(stderr, "oracle_lm: decode failed\n"); return 1; }
        }
        snprintf(fn, sizeof fn, "%s/%d.logits", outdir, pi);
        f = fopen(fn, "wb"); fwrite(rows, sizeof *rows, (size_t)steps * nv, f); fclose(f);
        snprintf(fn, sizeof fn, "%s/%d.greedy", outdir, pi);
        f = fopen(fn, "wb"); fwrite(greedy, 4, (size_t)steps, f); fclose(f);
        free(text);
    }
    fclose(pf);
    llama_free(c);
    llama_model_free(m);
    return 0;
}

static int chat(const char *model, const char *sys_hex, const char *user_hex)
{
    struct llama_model *m = load(model);
    const char *tmpl = llama_model_chat_template(m, NULL);
    size_t ls, lu;
    char *sys = strcmp(sys_hex, "-") ? unhex(sys_hex, &ls) : NULL, *user = unhex(user_hex, &lu);
    struct llama_chat_message msg[2];
    int k = 0;
    if (sys) { msg[k].role = "system"; msg[k].content = sys; k++; }
    msg[k].role = "user"; msg[k].content = user; k++;
    static char buf[1 << 16];
    int n = llama_chat_apply_template(tmpl, msg, (size_t)k, true, buf, sizeof buf);
    if (n < 0 || n > (int)sizeof buf) { fprintf(stderr, "oracle_lm: template not supported (%d)\n", n); return 1; }
    for (int i = 0; i < n; i++) printf("%02x", (unsigned char)buf[i]);
    printf("\n");
    llama_model_free(m);
    return 0;
}

static int eog(const char *model)
{
    struct llama_model *m = load(model);
    const struct llama_vocab *v = llama_model_get_vocab(m);
    for (int i = 0; i < llama_vocab_n_tokens(v); i++) if (llama_vocab_is_eog(v, i)) printf("%d\n", i);
    llama_model_free(m);
    return 0;
}

static int tokbench(const char *vocab, const char *prompts, int reps)
{
    FILE *pf = fopen(prompts, "r");
    if (!pf) { perror(prompts); return 1; }
    static char line[1 << 20];
    char **txt = malloc(100000 * sizeof *txt);
    size_t *len = malloc(100000 * sizeof *len);
    int np = 0;
    while (np < 100000 && fgets(line, sizeof line, pf)) { txt[np] = unhex(line, &len[np]); np++; }
    fclose(pf);
    double t0 = now();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *m = llama_model_load_from_file(vocab, mp);
    if (!m) { fprintf(stderr, "oracle_lm: cannot load %s\n", vocab); return 1; }
    double t_load = now() - t0, best = 1e30;
    const struct llama_vocab *v = llama_model_get_vocab(m);
    static llama_token ids[1 << 20];
    long total = 0;
    for (int r = 0; r < reps; r++) {
        total = 0;
        t0 = now();
        for (int i = 0; i < np; i++) total += llama_tokenize(v, txt[i], (int32_t)len[i], ids, 1 << 20, true, false);
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("load %.1f ms, %d prompts -> %ld tokens in %.2f ms (best of %d)\n", t_load * 1e3, np, total, best * 1e3, reps);
    llama_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    llama_log_set(quiet, NULL);
    llama_backend_init();
    if (argc >= 5 && !strcmp(argv[1], "eval"))
        return eval(argv[2], argv[3], argv[4], argc > 5 ? atoi(argv[5]) : 1, argc > 6 ? atoi(argv[6]) : 8);
    if (argc == 5 && !strcmp(argv[1], "chat")) return chat(argv[2], argv[3], argv[4]);
    if (argc == 3 && !strcmp(argv[1], "eog")) return eog(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "tokbench")) return tokbench(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 5);
    fprintf(stderr, "usage: see the comment at the top of oracle_lm.c\n");
    return 2;
}
