/*
 * tok_bench.c - tokenizer speed (used by bench/tokenize.sh): loads a vocabulary
 * (vocabulary-only GGUF files work), then tokenizes every prompt of a file, one
 * thread, with BOS as the file says and special tokens as plain text; reports
 * the load time and the best of R passes (load excluded).
 *
 *   build/tools/tok_bench VOCAB.gguf PROMPTS.hex [R]
 *       PROMPTS.hex: one prompt per line, its UTF-8 bytes in hex
 */
#include "engine/engine.h"

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

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: tok_bench VOCAB.gguf PROMPTS.hex [REPS]\n"); return 2; }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    FILE *f = fopen(argv[2], "r");
    if (!f) { perror(argv[2]); return 1; }
    int np = 0, cap = 0;
    char **txt = NULL;
    size_t *len = NULL;
    static char line[1 << 20];
    while (fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, "\r\n") / 2;
        if (np == cap) { cap = cap ? 2 * cap : 2048; txt = realloc(txt, cap * sizeof *txt); len = realloc(len, cap * sizeof *len); }
        txt[np] = malloc(l + 1);
        for (size_t i = 0; i < l; i++) { unsigned v; sscanf(line + 2 * i, "%2x", &v); txt[np][i] = (char)v; }
        len[np++] = l;
    }
    fclose(f);
    double t0 = now();
    struct eng_model *m;
    if (eng_vocab_open(argv[1], &m)) { fprintf(stderr, "tok_bench: %s: %s\n", argv[1], eng_errmsg()); return 1; }
    double t_load = now() - t0, best = 1e30;
    int32_t *ids = malloc((1 << 20) * sizeof *ids);
    long total = 0;
    for (int r = 0; r < reps; r++) {
        total = 0;
        t0 = now();
        for (int i = 0; i < np; i++) {
            int n = 0;
            if (eng_tokenize(m, txt[i], len[i], eng_add_bos(m), 0, ids, 1 << 20, &n)) { fprintf(stderr, "tok_bench: prompt %d: %s\n", i + 1, eng_errmsg()); return 1; }
            total += n;
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("load %.1f ms, %d prompts -> %ld tokens in %.2f ms (best of %d)\n", t_load * 1e3, np, total, best * 1e3, reps);
    for (int i = 0; i < np; i++) free(txt[i]);
    free(txt); free(len); free(ids);
    eng_model_free(m);
    return 0;
}
