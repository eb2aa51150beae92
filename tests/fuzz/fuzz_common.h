/*
 * fuzz_common.h - what the libFuzzer harnesses do with an input, shared with
 * the regression replay (tests/engine/test_fuzz_corpus.c) so that a corpus file
 * takes the same code paths in `make test` (no clang) as under the fuzzer.
 * Each function returns NULL when every invariant holds, else a description of
 * the first one broken (a static buffer); the harnesses abort on it.
 *
 * fz_tokenize_check: one text through one of the real vocabularies (SPM
 * LLaMA-2, Llama-3 llama-bpe, Qwen2 qwen2) with and without BOS and special
 * parsing, every id back through eng_token_piece (also with a short buffer) and
 * through the streaming decoder.  Invariants:
 *   - byte-level BPE: text that is not UTF-8 is refused with a message; valid
 *     text gives at most one id per byte (+ BOS), and decoding the ids (special
 *     pieces shown when special parsing was on) gives back exactly the input
 *     bytes: byte-level BPE is lossless, with or without special parsing;
 *   - SPM: any bytes tokenize (byte fallback), at most 3 ids per byte (+4);
 *     without special parsing the text comes back with one leading space (the
 *     dummy prefix), except that a literal U+2581 comes back as a space (so
 *     such texts are not compared), and a space that lands in byte-fallback
 *     symbols (after an invalid lead byte) comes back as the bytes of U+2581,
 *     as in llama.cpp; with special parsing every raw fragment after a special
 *     token gets its own dummy space, so that case is not compared;
 *   - both: every id is in range; a count-only call (cap 0) and a call with a
 *     short buffer give the same count and prefix; BOS (when the file says so)
 *     is the first id followed by the ids without BOS; the streaming decoder
 *     writes the same bytes as eng_token_piece, and when those bytes are UTF-8
 *     each chunk it writes is UTF-8 on its own.
 *
 * fz_model_exercise: a model or vocabulary loaded from a fuzzed GGUF: tokenize
 * a text that is not UTF-8 and one that is (every BOS / special combination),
 * decode what came out (ids in range, streaming == plain), evaluate two tokens
 * and decode one more on a small model, and decode the first 300 pieces.
 */
#ifndef MMSAFE_FUZZ_COMMON_H
#define MMSAFE_FUZZ_COMMON_H

#include "engine/engine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FZ_SPM, FZ_LLAMA3, FZ_QWEN2, FZ_NVOCAB };
static const char *const fz_vocab_file[FZ_NVOCAB] = {
    "ggml-vocab-llama-spm.gguf", "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf",
};
static const char *const fz_vocab_name[FZ_NVOCAB] = { "spm", "llama-bpe", "qwen2" };

static char fz_msg[512];
#define FZ_FAIL(...) (snprintf(fz_msg, sizeof fz_msg, __VA_ARGS__), (const char *)fz_msg)

struct fz_buf { char *p; size_t n, cap; };
static void fz_put(struct fz_buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) abort();
        b->p = q; b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* The ids decoded with eng_token_piece into *plain and with the streaming
 * decoder into *stream; NULL or what went wrong. */
static const char *fz_decode(const struct eng_model *m, const int32_t *ids, int n, int special,
                             struct fz_buf *plain, struct fz_buf *stream)
{
    char piece[1100];
    struct eng_utf8_hold h = { { 0 }, 0 };
    int bad_chunk = -1;
    plain->n = stream->n = 0;
    for (int i = 0; i < n; i++) {
        int k = eng_token_piece(m, ids[i], special, piece, 1024);
        if (k < 0 || k > 1024) return FZ_FAIL("eng_token_piece(%d) returned %d", ids[i], k);
        fz_put(plain, piece, (size_t)k);
        if (k > 1) {   /* a short buffer: exactly cap bytes, the same prefix, nothing past it */
            char *sh = malloc((size_t)k - 1);
            int k2 = eng_token_piece(m, ids[i], special, sh, k - 1);
            int bad = k2 != k - 1 || memcmp(sh, piece, (size_t)k - 1);
            free(sh);
            if (bad) return FZ_FAIL("eng_token_piece(%d) with cap %d returned %d bytes (%d with a big buffer) or others", ids[i], k - 1, k2, k);
        }
        int s = eng_token_piece_stream(m, &h, ids[i], special, piece, (int)sizeof piece);
        if (s < 0 || s > (int)sizeof piece || h.n < 0 || h.n > 3) return FZ_FAIL("eng_token_piece_stream(%d) returned %d, holding %d", ids[i], s, h.n);
        if (bad_chunk < 0 && eng_utf8_invalid_at(piece, (size_t)s) != (size_t)s) bad_chunk = i;
        fz_put(stream, piece, (size_t)s);
    }
    int s = eng_token_flush(&h, piece, (int)sizeof piece);
    if (s < 0 || s > 3 || h.n != 0) return FZ_FAIL("eng_token_flush returned %d", s);
    fz_put(stream, piece, (size_t)s);
    if (stream->n != plain->n || (plain->n && memcmp(stream->p, plain->p, plain->n)))
        return FZ_FAIL("the streaming decoder wrote %zu bytes, eng_token_piece %zu (or different ones)", stream->n, plain->n);
    if (bad_chunk >= 0 && eng_utf8_invalid_at(plain->p ? plain->p : "", plain->n) == plain->n)
        return FZ_FAIL("the streaming decoder wrote a chunk that is not UTF-8 at token %d (id %d) of a UTF-8 text", bad_chunk, ids[bad_chunk]);
    return NULL;
}

static const char *fz_tokenize_check(const struct eng_model *m, int kind, const char *text, size_t len)
{
    const int bpe = kind != FZ_SPM, nv = eng_n_vocab(m);
    const int valid = eng_utf8_invalid_at(text, len) == len;
    const int bound = bpe ? (int)len + 2 : 3 * (int)len + 4;
    const int bos = eng_add_bos(m) && eng_token_bos(m) >= 0;
    int cap = bound + 4, n0 = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids), *ids0 = malloc((size_t)cap * sizeof *ids0);
    struct fz_buf plain = { 0 }, stream = { 0 };
    const char *err = NULL;
    for (int ps = 0; ps < 2 && !err; ps++)
        for (int ab = 0; ab < 2 && !err; ab++) {
            int n = -1;
            int rc = eng_tokenize(m, text, len, ab, ps, ids, cap, &n);
            if (bpe && !valid) {
                if (rc == 0 || !eng_errmsg()[0]) err = FZ_FAIL("text that is not UTF-8 was not refused with a message (bos %d, special %d)", ab, ps);
                continue;
            }
            if (rc) { err = FZ_FAIL("eng_tokenize failed (bos %d, special %d): %s", ab, ps, eng_errmsg()); break; }
            if (n < 0 || n > bound) { err = FZ_FAIL("%d ids for %zu bytes (at most %d; bos %d, special %d)", n, len, bound, ab, ps); break; }
            for (int i = 0; i < n && !err; i++)
                if (ids[i] < 0 || ids[i] >= nv) err = FZ_FAIL("id %d out of range at %d", ids[i], i);
            if (err) break;
            /* count only, then a short buffer */
            int nc = -1;
            if (eng_tokenize(m, text, len, ab, ps, NULL, 0, &nc) || nc != n) { err = FZ_FAIL("count-only call gave %d ids, not %d", nc, n); break; }
            if (n > 1) {
                int half = n / 2, nh = -1;
                int32_t *sh = malloc((size_t)half * sizeof *sh);
                int bad = eng_tokenize(m, text, len, ab, ps, sh, half, &nh) || nh != n || memcmp(sh, ids, (size_t)half * sizeof *sh);
                free(sh);
                if (bad) { err = FZ_FAIL("a %d-id buffer gave %d ids (not %d) or other ids", half, nh, n); break; }
            }
            if (!ab) { memcpy(ids0, ids, (size_t)n * sizeof *ids); n0 = n; }
            else if (bos ? (n != n0 + 1 || ids[0] != eng_token_bos(m) || memcmp(ids + 1, ids0, (size_t)n0 * sizeof *ids))
                         : (n != n0 || memcmp(ids, ids0, (size_t)n0 * sizeof *ids))) {
                err = FZ_FAIL("with BOS: %d ids, without: %d (add_bos %d)", n, n0, eng_add_bos(m));
                break;
            }
            /* decode (special pieces shown exactly when they were parsed) */
            if ((err = fz_decode(m, ids, n, ps, &plain, &stream))) break;
            if (ab) continue;
            if (bpe) {
                if (plain.n != len || (len && memcmp(plain.p, text, len)))
                    err = FZ_FAIL("byte-level BPE round trip: %zu bytes in, %zu out (special %d)", len, plain.n, ps);
            } else if (!ps && len && !memmem(text, len, "\xe2\x96\x81", 3)) {
                /* a space split across byte-fallback symbols comes back as U+2581's bytes */
                size_t w = 0;
                for (size_t r = 0; r < plain.n; r++) {
                    if (r + 3 <= plain.n && !memcmp(plain.p + r, "\xe2\x96\x81", 3)) { plain.p[w++] = ' '; r += 2; }
                    else plain.p[w++] = plain.p[r];
                }
                if (w != len + 1 || plain.p[0] != ' ' || memcmp(plain.p + 1, text, len))
                    err = FZ_FAIL("SPM round trip: %zu bytes in, %zu out (expected a leading space and the text)", len, w);
            }
        }
    free(ids); free(ids0); free(plain.p); free(stream.p);
    return err;
}

static const char *fz_model_exercise(struct eng_model *m, int full)
{
    static const char *const texts[2] = {
        "Hello <s> world\n\xe2\x96\x81 \xff",
        "Hello world, it's 1234567 abc<think>x</think> <|begin_of_text|>\n\n  \xe2\x96\x81 \xe4\xb8\xad\xf0\x9f\x98\x80</s> caf\xc3\xa9",
    };
    const int nv = eng_n_vocab(m);
    int32_t ids[256], fwd[2];
    int n_fwd = 0;
    struct fz_buf plain = { 0 }, stream = { 0 };
    const char *err = NULL;
    for (int t = 0; t < 2 && !err; t++) {
        /* an exact-size copy without a NUL, so ASan sees any read past the end */
        const size_t len = strlen(texts[t]);
        char *text = malloc(len);
        memcpy(text, texts[t], len);
        for (int ps = 0; ps < 2 && !err; ps++)
            for (int ab = 0; ab < 2 && !err; ab++) {
                int n = 0, nc = -1;
                if (eng_tokenize(m, text, len, ab, ps, ids, 256, &n)) continue;
                if (n < 0) { err = FZ_FAIL("eng_tokenize: %d ids", n); break; }
                int all = n;
                if (n > 256) n = 256;
                for (int i = 0; i < n && !err; i++)
                    if (ids[i] < 0 || ids[i] >= nv) err = FZ_FAIL("id %d out of range (%d tokens)", ids[i], nv);
                if (err) break;
                if (eng_tokenize(m, text, len, ab, ps, NULL, 0, &nc) || nc != all) { err = FZ_FAIL("count-only call gave %d ids", nc); break; }
                if ((err = fz_decode(m, ids, n, ps, &plain, &stream))) break;
                if (ab && ps && n > 0 && !n_fwd) { n_fwd = n < 2 ? n : 2; memcpy(fwd, ids, (size_t)n_fwd * sizeof *ids); }
            }
        free(text);
    }
    if (!err && full && n_fwd > 0 && eng_n_embd(m) <= 512 && nv <= 4096) {
        struct eng_params p = ENG_PARAMS_DEFAULT;
        p.n_ctx = 8;
        struct eng_ctx *c = NULL;
        if (eng_ctx_new(m, &p, &c) == 0) {
            if (eng_prefill(c, fwd, n_fwd, NULL) == 0 && eng_decode(c, fwd[0]) == 0) {
                int32_t a = eng_argmax(c);
                if (a < 0 || a >= nv) err = FZ_FAIL("argmax %d out of range", a);
            }
            eng_ctx_free(c);
        }
    }
    char piece[64];
    for (int i = 0; !err && i < nv && i < 300; i++) {
        eng_token_piece(m, i, 1, piece, sizeof piece);
        eng_token_piece(m, i, 0, piece, sizeof piece);
    }
    free(plain.p); free(stream.p);
    return err;
}

#endif
