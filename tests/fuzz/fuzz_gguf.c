/*
 * fuzz_gguf.c - libFuzzer harness for the GGUF reader, model validation and
 * the vocabulary loaders: parses the input as a whole GGUF file and validates
 * it as a model (llama, qwen2, qwen3: hyper-parameters, vocabulary, every
 * tensor); when that fails, loads it as a vocabulary only (the path of the
 * reference's ggml-vocab-*.gguf files: SPM, or byte-level BPE with its merges,
 * pre-tokenizer name, token types and added tokens).  Whatever loads is
 * exercised by fz_model_exercise (fuzz_common.h): tokenizing, decoding (plain
 * and streaming), two tokens evaluated and one decoded on a small model, and
 * the first pieces.  The seeds in tests/fuzz/corpus/gguf/ include tiny qwen2,
 * qwen3 and Llama-3-style models and vocabulary-only BPE files written by
 * build/tools/gguf_write.  Built by `make fuzz` with clang
 * -fsanitize=fuzzer,address,undefined.
 *
 *   make fuzz && build/fuzz/fuzz_gguf tests/fuzz/corpus/gguf -max_total_time=600
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct eng_model *m = NULL;
    int full = eng_model_parse(buf, size, &m) == 0;
    if (full || eng_vocab_parse(buf, size, &m) == 0) {
        const char *err = fz_model_exercise(m, full);
        if (err) { fprintf(stderr, "fuzz_gguf: %s\n", err); abort(); }
        eng_model_free(m);
    }
    free(buf);
    return 0;
}
