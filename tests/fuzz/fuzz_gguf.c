/*
 * fuzz_gguf.c - libFuzzer harness for the GGUF reader and model validation:
 * parses the input as a whole GGUF file, validates it as a LLaMA model
 * (hyper-parameters, vocabulary, every tensor), and when that succeeds
 * tokenizes a short text with the file's vocabulary, evaluates two tokens and
 * inspects the file.  Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined.
 *
 *   make fuzz && build/fuzz/fuzz_gguf tests/fuzz/corpus/gguf -max_total_time=600
 */
#include "engine/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct eng_model *m = NULL;
    if (eng_model_parse(buf, size, &m) == 0) {
        int32_t ids[64];
        int n = 0;
        const char *text = "Hello <s> world\n\xe2\x96\x81 \xff";
        if (eng_tokenize(m, text, strlen(text), 1, 1, ids, 64, &n) == 0 && n > 0 && eng_n_embd(m) <= 512 && eng_n_vocab(m) <= 4096) {
            struct eng_params p = ENG_PARAMS_DEFAULT;
            p.n_ctx = 8;
            struct eng_ctx *c = NULL;
            if (eng_ctx_new(m, &p, &c) == 0) {
                eng_prefill(c, ids, n < 2 ? n : 2, NULL);
                eng_ctx_free(c);
            }
        }
        char piece[64];
        for (int i = 0; i < eng_n_vocab(m) && i < 300; i++) eng_token_piece(m, i, 1, piece, sizeof piece);
        eng_model_free(m);
    }
    free(buf);
    return 0;
}
