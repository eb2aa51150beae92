/*
 * bpe.h - byte-level BPE (tokenizer.ggml.model = "gpt2") as the reference
 * (llama.cpp 3f545be) runs it for the pre-tokenizers "llama-bpe" (Llama 3) and
 * "qwen2" (Qwen2/2.5/3): ../shared/fixtures/vocab/README-bpe.md section 5.
 * Internal to the tokenizer: callers use tokenizer.h, which dispatches here.
 */
#ifndef ENGINE_BPE_H
#define ENGINE_BPE_H

#include <stddef.h>
#include <stdint.h>

struct vocab;
struct gguf;
struct bpe;

enum { BPE_PRE_LLAMA3 = 1, BPE_PRE_QWEN2 = 2 };

/* The BPE half of vocab_load: v's tokens, types and hash are loaded.  Reads
 * tokenizer.ggml.pre and tokenizer.ggml.merges, checks that every merge and
 * every byte has its token, sets v->bpe, the add_bos default and the pre-type. */
int bpe_load(struct vocab *v, const struct gguf *g);
void bpe_free(struct bpe *b);
const char *bpe_pre_name(const struct bpe *b);
int bpe_n_merges(const struct bpe *b);
int bpe_ignore_merges(const struct bpe *b);

/* Scratch buffers reused across fragments of one vocab_tokenize call. */
struct bpe_work;
struct bpe_work *bpe_work_new(void);
void bpe_work_free(struct bpe_work *w);

/* Tokenizes one raw fragment (valid UTF-8, checked by the caller): pre-tokenize,
 * byte-level map, BPE.  Appends to ids (at most cap stored; *n counts all). */
int bpe_fragment(const struct vocab *v, struct bpe_work *w, const char *text, size_t len,
                 int32_t *ids, int cap, int *n);

/* Text of a token (byte-level characters mapped back to bytes); see vocab_piece. */
int bpe_piece(const struct vocab *v, int32_t id, int special, char *buf, int cap);


#endif
