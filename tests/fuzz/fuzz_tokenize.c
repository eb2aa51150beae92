/*
 * fuzz_tokenize.c - libFuzzer harness for the tokenizers with the real
 * vocabularies in ../shared/fixtures/vocab (run from the repository root, or
 * set FUZZ_VOCAB_DIR): every input is tokenized with all three, SentencePiece
 * (LLaMA-2), byte-level BPE llama-bpe (Llama 3) and qwen2 (Qwen2/3), with and
 * without special-token parsing and BOS, and every id is decoded back, plainly
 * and with the streaming decoder.  The invariants checked (round trips,
 * refusal of text that is not UTF-8 by BPE, bounds) are listed in
 * fuzz_common.h; a broken one aborts.
 *
 *   make fuzz && build/fuzz/fuzz_tokenize tests/fuzz/corpus/tokenize -max_total_time=600
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct eng_model *m[FZ_NVOCAB];
    const char *dir = getenv("FUZZ_VOCAB_DIR") ? getenv("FUZZ_VOCAB_DIR") : "../shared/fixtures/vocab";
    for (int k = 0; k < FZ_NVOCAB; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, fz_vocab_file[k]);
        if (!m[k] && eng_vocab_open(path, &m[k])) {
            fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, eng_errmsg());
            abort();
        }
    }
    /* an exact-size copy, so ASan sees any read past the end */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    for (int k = 0; k < FZ_NVOCAB; k++) {
        const char *err = fz_tokenize_check(m[k], k, text, size);
        if (err) { fprintf(stderr, "fuzz_tokenize (%s vocabulary): %s\n", fz_vocab_name[k], err); abort(); }
    }
    free(text);
    return 0;
}
