/*
 * tokenizer.h - SentencePiece (SPM) tokenizer as llama.cpp implements it for
 * vocab type "llama" (spec §4): special-token partition, dummy-prefix space per
 * raw fragment, U+2581 escaping, score-ordered bigram merges, byte fallback.
 * Pieces are borrowed pointers into the GGUF mapping.
 */
#ifndef ENGINE_TOKENIZER_H
#define ENGINE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

struct gguf;

enum { TOK_NORMAL = 1, TOK_UNKNOWN = 2, TOK_CONTROL = 3, TOK_USER = 4, TOK_UNUSED = 5, TOK_BYTE = 6 };

struct vocab {
    int n;                     /* token count */
    const char **piece;        /* borrowed; not NUL-terminated */
    uint32_t *len;
    float *score;
    int32_t *type;
    int32_t bos, eos, unk;
    int add_bos, add_eos, add_space_prefix;
    int32_t byte_id[256];      /* <0xHH> ids (or -1) */
    uint32_t hash_mask;        /* open addressing: piece -> id (last id wins) */
    int32_t *hash;
    int32_t *special;          /* CONTROL/USER_DEFINED/UNKNOWN ids, longest piece first */
    int n_special;
    char model[32];            /* tokenizer.ggml.model */
};

/* Loads the vocabulary from g; RC_EFORMAT with a message for a missing or
 * malformed one, or a vocab type other than "llama". */
int vocab_load(struct vocab *v, const struct gguf *g);
void vocab_release(struct vocab *v);
int32_t vocab_find(const struct vocab *v, const char *s, size_t n);

/* Tokenizes text (len bytes).  Writes at most cap ids, returns RC_OK and the
 * total count in *n_out. */
int vocab_tokenize(const struct vocab *v, const char *text, size_t len, int add_special,
                   int parse_special, int32_t *ids, int cap, int *n_out);
int vocab_piece(const struct vocab *v, int32_t id, int special, char *buf, int cap);

#endif
