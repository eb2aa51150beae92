/*
 * vision.h - engine-internal view of the CLIP vision tower + MLP projector
 * (vision.c).  The public API is the eng_vision_* block of engine.h; this
 * header adds what tests need to look inside: the resolved hyper-parameters
 * and a hook that captures the tower's intermediate activations.
 */
#ifndef ENGINE_VISION_H
#define ENGINE_VISION_H

#include "engine.h"
#include "preprocess.h"

/* Hyper-parameters as loaded and validated (spec §5.1, fixtures README §4). */
struct vis_hparams {
    int image_size, patch_size;   /* S, P */
    int n_patches;                /* (S/P)^2 */
    int n_embd, n_head, head_dim; /* D, H, D/H (or attention.head_dim) */
    int n_ff;                     /* FFN width */
    int n_mid, n_out;             /* projector: mm.0 D -> n_mid, mm.2 n_mid -> n_out */
    int block_count;              /* blocks stored in the file */
    int feature_layer;            /* max(clip.vision.feature_layer), 0 when the key is absent */
    int ffn_swapped;              /* legacy naming: ffn_down held fc1 (swap rule) */
    int act;                      /* FFN activation: VIS_ACT_* */
    int has_pre_ln, has_post_ln;
    float eps;
    struct pre_params pre;        /* image_size, mean, std */
};
/* Activations: the FFN's (from clip.use_gelu / use_silu) and the projector's
 * (tanh GELU in llama.cpp mode, erf GELU in llava mode). */
enum { VIS_ACT_QUICK_GELU = 0, VIS_ACT_GELU = 1, VIS_ACT_SILU = 2, VIS_ACT_GELU_ERF = 3 };

const struct vis_hparams *eng_vision_hparams(const struct eng_vision *v);
/* Blocks run in a mode: max(feature_layer) if the key exists, else
 * block_count - 1 (llama.cpp) or block_count (llava). */
int eng_vision_n_layers_run(const struct eng_vision *v, int mode);

/* Debug capture: when set, each encode copies the sequence after pre_ln into
 * rows[0] and after block i into rows[1 + i] (each (n_patches + 1) x n_embd,
 * in the mode's token order), for up to n_stages stages.  NULL turns it off. */
void eng_vision_ctx_set_debug(struct eng_vision_ctx *c, float **rows, int n_stages);
/* Prints the "model:" and validation sections of `mmsafe inspect` for an
 * mmproj file (a FILE *); returns RC_OK or the load error. */
int vis_inspect(const char *path, void *f);
/* A u32 key of an mmproj (RC_OK leaving *out when optional and absent; > 2^24 refused); shared by both towers. */
struct gguf;
int vis_key_u32(const struct gguf *g, const char *key, int *out, int required);

/* Shared with vision_qwen.c: ggml's LayerNorm of T rows (mean and variance
 * summed in double; w and b required), or with rms its RMSNorm times w plus b
 * when b is not NULL (y may be x); one softmax row in place (s *= scale first;
 * fast: the SIMD exponential), and an activation over n values (fast: ggml's
 * F16 tables tq / tg for quick GELU / tanh GELU), rows of row values with bias
 * added first when bias is not NULL. */
void vis_norm_rows(int nt, float *y, const float *x, int T, int D, const float *w, const float *b, float eps, int rms);
void vis_softmax_row(float *s, int T, float scale, int fast);
/* Per row of T x D: x += y + b (b: a row bias, or NULL), then, when w is not
 * NULL, u = vis_norm_rows' norm (w, lb, rms) of the new x.  The residual add
 * and the norm after it in one pass, the same bits as the two. */
void vis_residual_norm(int nt, float *x, const float *y, const float *b, int T, int D,
                       float *u, const float *w, const float *lb, float eps, int rms);
/* x += y over n values, on nt threads */
void vis_add(int nt, float *restrict x, const float *restrict y, size_t n);
void vis_act_rows(int nt, int fast, float *x, size_t n, int which, const uint16_t *tq, const uint16_t *tg,
                  const float *bias, size_t row);

/* ---- the Qwen2-VL / Qwen2.5-VL tower (vision_qwen.c), behind eng_vision_* ---- */
struct gguf;
struct qvis;
struct qvis_ctx;
int qvis_load(const struct gguf *g, int qwen25, struct qvis **out);
void qvis_free(struct qvis *q);
void qvis_set_tables(struct qvis *q, const uint16_t *quick_gelu, const uint16_t *gelu);
int qvis_set_limits(struct qvis *q, int min_tokens, int max_tokens);
int qvis_max_tokens(const struct qvis *q);
int qvis_n_out(const struct qvis *q);
int qvis_is_25(const struct qvis *q);
int qvis_align(const struct qvis *q);   /* patch x merge: the input's sides are multiples of it */
/* The preprocessed size (tw x th px, multiples of 28) of a w x h image. */
int qvis_geometry(const struct qvis *q, int mode, int w, int h, int *tw, int *th);
int qvis_preprocess(const struct qvis *q, int mode, const uint8_t *rgb, int w, int h, float *out, int *tw, int *th);
int qvis_ctx_new(const struct qvis *q, int n_threads, int arith, struct qvis_ctx **out);
void qvis_ctx_free(struct qvis_ctx *c);
int qvis_encode_pre(struct qvis_ctx *c, int mode, const float *pre, int w, int h, float *out);
int qvis_encode(struct qvis_ctx *c, int mode, const uint8_t *rgb, int w, int h, float *out, int *gw, int *gh);
void qvis_describe(const struct qvis *q, void *f);

#endif
