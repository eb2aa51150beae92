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

#endif
