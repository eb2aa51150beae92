/*
 * llava.c - image splicing into a rendered prompt and verdicts from the answer
 * tokens' logits (spec §6-§7; declarations in engine.h).  The templates that
 * render the prompt are chat.c's.  With a Qwen-VL language model (M-RoPE) the
 * image is wrapped in <|vision_start|> ... <|vision_end|> as the reference's
 * multimodal tokenizer does (the start marker ends the text before, the end
 * marker begins the text after) and its rows get 2-D positions
 * (eng_prefill_image).
 */
#include "engine.h"
#include "err.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VISION_START "<|vision_start|>"
#define VISION_END "<|vision_end|>"
#define IMG_BATCH 512   /* llama.cpp's n_ubatch: image rows are decoded 512 at a time */

/* Tokenizes text[0..len) (no BOS, parse_special) appending to *ids. */
static int tok_append(const struct eng_model *m, const char *text, size_t len, int32_t **ids, int *n, int *cap)
{
    if (len == 0) return RC_OK;
    int need = 0;
    int rc = eng_tokenize(m, text, len, 0, 1, *ids + *n, *cap - *n, &need);
    if (rc) return rc;
    if (need > *cap - *n) {
        int ncap = *n + need + 64;
        int32_t *p = realloc(*ids, (size_t)ncap * sizeof *p);
        if (!p) return eng_err(RC_ENOMEM, "out of memory");
        *ids = p;
        *cap = ncap;
        rc = eng_tokenize(m, text, len, 0, 1, *ids + *n, *cap - *n, &need);
        if (rc) return rc;
    }
    *n += need;
    return RC_OK;
}

int eng_llava_tokens(const struct eng_model *m, const char *prompt, int n_img, int no_bos,
                     int32_t **ids_out, int *n_out, int *n_before)
{
    *ids_out = NULL;
    *n_out = 0;
    if (n_before) *n_before = 0;
    const char *mk = strstr(prompt, ENG_MEDIA_MARKER);
    if (mk && strstr(mk + strlen(ENG_MEDIA_MARKER), ENG_MEDIA_MARKER))
        return eng_err(RC_EINPUT, "the prompt has more than one image marker %s", ENG_MEDIA_MARKER);
    if (n_img > 0 && !mk) return eng_err(RC_EINPUT, "the prompt has no image marker %s (raw prompts must contain it)", ENG_MEDIA_MARKER);
    if (n_img <= 0 && mk) return eng_err(RC_EINPUT, "the prompt has an image marker %s but no image was given", ENG_MEDIA_MARKER);
    size_t l0 = mk ? (size_t)(mk - prompt) : strlen(prompt);
    const char *t1 = mk ? mk + strlen(ENG_MEDIA_MARKER) : "";
    int cap = 256 + (n_img > 0 ? n_img : 0), n = 0, rc;
    int32_t *a = malloc((size_t)cap * sizeof *a);
    if (!a) return eng_err(RC_ENOMEM, "out of memory");
    if (!no_bos && eng_add_bos(m) && eng_token_bos(m) >= 0) a[n++] = eng_token_bos(m);
    rc = tok_append(m, prompt, l0, &a, &n, &cap);
    const int qwen = n_img > 0 && eng_uses_mrope(m);   /* the reference's Qwen-VL image markers */
    if (!rc && qwen) rc = tok_append(m, VISION_START, strlen(VISION_START), &a, &n, &cap);
    int nb = n;
    if (!rc && n_img > 0) {
        if (n + n_img > cap) {
            int32_t *p = realloc(a, (size_t)(n + n_img + 256) * sizeof *p);
            if (!p) rc = eng_err(RC_ENOMEM, "out of memory");
            else { a = p; cap = n + n_img + 256; }
        }
        for (int i = 0; !rc && i < n_img; i++) a[n++] = ENG_TOKEN_EMBD;
    }
    if (!rc && qwen) rc = tok_append(m, VISION_END, strlen(VISION_END), &a, &n, &cap);
    if (!rc) rc = tok_append(m, t1, strlen(t1), &a, &n, &cap);
    if (!rc && n == 0) rc = eng_err(RC_EINPUT, "%s", "empty prompt");
    if (rc) { free(a); return rc; }
    *ids_out = a;
    *n_out = n;
    if (n_before) *n_before = nb;
    return RC_OK;
}

int eng_llava_prefill(struct eng_ctx *c, const char *prompt, const float *img, int n_img, int no_bos, int *n_pos)
{
    return eng_vl_prefill(c, prompt, img, n_img, 1, no_bos, n_pos);
}

int eng_vl_prefill(struct eng_ctx *c, const char *prompt, const float *img, int gw, int gh, int no_bos, int *n_pos)
{
    const struct eng_model *m = eng_ctx_model(c);
    int32_t *ids = NULL;
    int n = 0, nb = 0, n_img = gw * gh;
    if (n_pos) *n_pos = 0;
    if (!img) n_img = 0;
    else if (gw <= 0 || gh <= 0) return eng_err(RC_EINPUT, "an image with %d x %d embedding rows", gw, gh);
    int rc = eng_llava_tokens(m, prompt, n_img, no_bos, &ids, &n, &nb);
    if (rc) return rc;
    if (n_pos) *n_pos = n;
    if (eng_ctx_n_past(c) + n > eng_ctx_n_ctx(c)) {
        rc = eng_err(RC_ECTX, "the prompt needs %d positions (%d text + %d image), more than the context of %d",
                     eng_ctx_n_past(c) + n, n - n_img, n_img, eng_ctx_n_ctx(c));
        free(ids);
        return rc;
    }
    /* llama.cpp's chunks: text before the image, the image in micro-batches of
     * IMG_BATCH rows, the text after it (spec §6.4); only the last needs logits */
    const int has_after = n > nb + n_img;
    if (nb) rc = eng_prefill_ex(c, ids, nb, NULL, n_img == 0 && !has_after);
    if (!rc && n_img > 0 && eng_uses_mrope(m)) {
        rc = eng_prefill_image_ex(c, img, gw, gh, !has_after);   /* 2-D positions; micro-batches of 512 inside */
    } else {
        for (int off = 0; !rc && off < n_img; off += IMG_BATCH) {
            int k = n_img - off < IMG_BATCH ? n_img - off : IMG_BATCH;
            rc = eng_prefill_ex(c, NULL, k, img + (size_t)off * (size_t)eng_n_embd(m), !has_after && off + k == n_img);
        }
    }
    if (!rc && has_after) rc = eng_prefill(c, ids + nb + n_img, n - nb - n_img, NULL);
    free(ids);
    return rc;
}

int eng_vl_check_pair(const struct eng_model *m, const struct eng_vision *v)
{
    const int fam = eng_vision_family(v);
    if (fam != ENG_VISION_CLIP && !eng_uses_mrope(m))
        return eng_err(RC_ECONFIG, "a %s mmproj needs a qwen2vl language model (its M-RoPE positions); this language model has none",
                       eng_vision_family_name(fam));
    if (fam == ENG_VISION_CLIP && eng_uses_mrope(m))
        return eng_err(RC_ECONFIG, "a qwen2vl language model needs a Qwen2-VL or Qwen2.5-VL mmproj, not a %s one",
                       eng_vision_family_name(fam));
    if (eng_vision_n_embd(v) != eng_n_embd(m))
        return eng_err(RC_ECONFIG, "the mmproj gives image rows of width %d but the language model's n_embd is %d (not a pair)",
                       eng_vision_n_embd(v), eng_n_embd(m));
    return RC_OK;
}

static int add_piece(const struct eng_model *m, const char *piece, int32_t *arr, int *n)
{
    int32_t id = eng_token_find(m, piece, strlen(piece));
    if (id < 0) return -1;
    for (int i = 0; i < *n; i++) if (arr[i] == id) return id;
    if (*n < 8) arr[(*n)++] = id;
    return id;
}

static void variants(const char *w, char out[3][64])
{
    snprintf(out[0], 64, "%s", w);
    snprintf(out[1], 64, "%s", w);
    snprintf(out[2], 64, "%s", w);
    for (char *p = out[1]; *p; p++) if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    for (char *p = out[2]; *p; p++) if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
}

int eng_answers_resolve(const struct eng_model *m, const char *yes, const char *no, struct eng_answers *a)
{
    memset(a, 0, sizeof *a);
    /* the piece of a word after a space: SentencePiece writes the space as
     * U+2581, byte-level BPE as the byte-level character of 0x20, U+0120 */
    const char *space = eng_vocab_is_bpe(m) ? "\xc4\xa0" : "\xe2\x96\x81";
    const char *words[2] = { yes, no };
    for (int k = 0; k < 2; k++) {
        char v[3][64], sp[80];
        variants(words[k], v);
        int32_t *arr = k ? a->neg : a->pos;
        int *n = k ? &a->n_neg : &a->n_pos;
        for (int i = 0; i < 3; i++) {
            snprintf(sp, sizeof sp, "%s%s", space, v[i]);     /* "▁" / "Ġ" + word */
            int id = add_piece(m, sp, arr, n);
            if (i == 0) {
                if (id < 0) return eng_err(RC_ECONFIG, "the vocabulary has no single token for the answer ' %s' (piece %sword)", words[k], space);
                if (k) a->neg1 = id; else a->pos1 = id;
            }
            add_piece(m, v[i], arr, n);
        }
    }
    for (int i = 0; i < a->n_pos; i++)
        for (int j = 0; j < a->n_neg; j++)
            if (a->pos[i] == a->neg[j]) return eng_err(RC_ECONFIG, "the two answers share a token ('%s')", yes);
    return RC_OK;
}

static double lse(const float *l, const int32_t *ids, int n)
{
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) if (l[ids[i]] > mx) mx = l[ids[i]];
    for (int i = 0; i < n; i++) s += exp((double)l[ids[i]] - mx);
    return mx + log(s);
}

void eng_answers_score(const struct eng_answers *a, const float *l, int n_vocab, double *delta, double *p_no, double *mass)
{
    double ly = lse(l, a->pos, a->n_pos), ln = lse(l, a->neg, a->n_neg);
    double d = ly - ln;
    if (delta) *delta = d;
    if (p_no) *p_no = 1.0 / (1.0 + exp(d));
    if (mass) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < n_vocab; i++) if (l[i] > mx) mx = l[i];
        for (int i = 0; i < n_vocab; i++) s += exp((double)l[i] - mx);
        double lall = mx + log(s), lc = ly > ln ? ly + log1p(exp(ln - ly)) : ln + log1p(exp(ly - ln));
        *mass = exp(lc - lall);
    }
}
