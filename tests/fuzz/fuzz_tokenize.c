/*
 * fuzz_tokenize.c - libFuzzer harness for the SPM tokenizer with the real
 * LLaMA-2 vocabulary (../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf, run
 * from the repository root, or set FUZZ_VOCAB): arbitrary bytes, with and without special-token
 * parsing and BOS, then every produced id back to text.
 */
#include "engine/engine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct eng_model *m;
    const char *vocab = getenv("FUZZ_VOCAB") ? getenv("FUZZ_VOCAB") : "../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf";
    if (!m && eng_vocab_open(vocab, &m)) {
        fprintf(stderr, "fuzz_tokenize: %s\n", eng_errmsg());
        abort();
    }
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    /* byte fallback can give 3 ids per input byte (a space is the 3 bytes of U+2581) */
    int cap = 3 * (int)size + 4, n = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    for (int mode = 0; mode < 2; mode++) {
        if (eng_tokenize(m, text, size, mode, mode, ids, cap, &n) == 0) {
            if (n > cap) abort();   /* at most 3 ids per byte, plus the prefix and BOS */
            char piece[256];
            for (int i = 0; i < n; i++) eng_token_piece(m, ids[i], mode, piece, sizeof piece);
        }
    }
    free(ids);
    free(text);
    return 0;
}
