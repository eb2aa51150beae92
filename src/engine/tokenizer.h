/*
 * tokenizer.h - the tokenizers as llama.cpp implements them, behind one
 * interface: SentencePiece (SPM) for vocab type "llama" (spec §4: special-token
 * partition, dummy-prefix space per raw fragment, U+2581 escaping, score-ordered
 * bigram merges, byte fallback) and byte-level BPE for vocab type "gpt2"
 * (bpe.c; ../shared/fixtures/vocab/README-bpe.md: the same special-token
 * partition, then the pre-tokenizer of tokenizer.ggml.pre and merges by rank).
 * Pieces are borrowed pointers into the GGUF mapping.
 */
#ifndef ENGINE_TOKENIZER_H
#define ENGINE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

struct gguf;

enum { TOK_NORMAL = 1, TOK_UNKNOWN = 2, TOK_CONTROL = 3, TOK_USER = 4, TOK_UNUSED = 5, TOK_BYTE = 6 };

#define VOCAB_MAX_EOG 32

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
    struct bpe *bpe;           /* byte-level BPE data ("gpt2"); NULL for SPM */
    int n_promoted;            /* tokens made CONTROL by their text (EOT/EOG/FIM names) */
    int32_t eot, eom;          /* end of turn / of message: the file's key or found by name; -1 none */
    int32_t eog[VOCAB_MAX_EOG];/* end-of-generation ids, ascending (the reference's special_eog_ids) */
    int n_eog;
    const char *chat_template; /* tokenizer.chat_template, borrowed, not NUL-terminated; NULL: none */
    size_t chat_template_len;
};

/* Loads the vocabulary from g; RC_EFORMAT with a message for a missing or
 * malformed one, or a vocab type other than "llama" or "gpt2". */
int vocab_load(struct vocab *v, const struct gguf *g);
void vocab_release(struct vocab *v);
int32_t vocab_find(const struct vocab *v, const char *s, size_t n);
int vocab_is_eog(const struct vocab *v, int32_t id);

/* The model's vocabulary (defined in llama.c, which owns struct eng_model). */
struct eng_model;
const struct vocab *eng_model_vocab(const struct eng_model *m);

/* Tokenizes text (len bytes).  Writes at most cap ids, returns RC_OK and the
 * total count in *n_out.  A BPE vocabulary refuses text that is not UTF-8
 * (RC_EINPUT). */
int vocab_tokenize(const struct vocab *v, const char *text, size_t len, int add_special,
                   int parse_special, int32_t *ids, int cap, int *n_out);
int vocab_piece(const struct vocab *v, int32_t id, int special, char *buf, int cap);

/* Streaming detokenization: a BPE token can end inside a multi-byte UTF-8
 * character.  vocab_piece_stream appends the token's text to what h holds and
 * writes out only complete characters (bytes that can never start or continue
 * one are written as they are), keeping an incomplete trailing sequence in h
 * until the next token completes it.  vocab_stream_flush writes what is held. */
struct eng_utf8_hold;    /* engine.h */
int vocab_piece_stream(const struct vocab *v, struct eng_utf8_hold *h, int32_t id, int special, char *buf, int cap);
int vocab_stream_flush(struct eng_utf8_hold *h, char *buf, int cap);

#endif
