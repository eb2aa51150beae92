/*
 * preprocess.h - decoded RGB pixels -> the CLIP vision tower's input tensor,
 * for projector type `mlp` (LLaVA-1.5), in the two vision modes
 * (spec ../shared/docs/gguf-llava-spec.md §0.3, §5.3, §5.5; fixtures README
 * §7 and §12.2).  Plain C11 + libm: the engine takes RGB bytes + width +
 * height, never an image file (decoding is src/image/image.c's job).
 *
 *   llama.cpp mode  aspect-fit llama.cpp bicubic (4-point Lagrange, corner
 *                   aligned, no antialiasing) onto an S x S letterbox filled
 *                   with (122, 116, 104)  [mtmd_image_preprocessor_fixed_size]
 *   llava mode      LLaVA's expand2square (pad to max(w,h) with
 *                   int(255 * image_mean)), then CLIPImageProcessor: Pillow
 *                   9.4 BICUBIC (antialiased, 22-bit fixed point) to S x S and
 *                   a centre crop (a no-op on the square)
 *
 * Both then normalise: v = (u8 / 255.0f - mean[c]) / std[c] in float32, planar
 * (3, S, S), R plane first.  Every step is bit-exact with the reference (the
 * fixtures compare with 0 difference).  This file is compiled without FP
 * contraction (see the pragma in preprocess.c): an FMA changes pixels.
 */
#ifndef ENGINE_PREPROCESS_H
#define ENGINE_PREPROCESS_H

#include <stdint.h>

/* The two vision computations (mmsafe's `vision_mode`; default llava). */
enum vision_mode { VISION_MODE_LLAVA = 0, VISION_MODE_LLAMA_CPP = 1 };
#define VISION_MODE_DEFAULT VISION_MODE_LLAVA
const char *vision_mode_name(int mode);               /* "llava" / "llama.cpp" */
/* "llava" or "llama.cpp" (also "lcpp", "hf") -> *mode; RC_OK or RC_ECONFIG. */
int vision_mode_parse(const char *s, int *mode);

/* What preprocessing needs from the mmproj file. */
struct pre_params {
    int image_size;          /* S: clip.vision.image_size */
    float mean[3], std[3];   /* clip.vision.image_mean / image_std (float32) */
};

/* llama.cpp's letterbox geometry for a w x h image: the resized size nw x nh
 * (f32 scale = min(S/w, S/h), nw = min(ceil(w*scale), S)) and the paste offset
 * ((S-nw)/2, (S-nh)/2).  w == h == S gives S x S at (0, 0). */
void preprocess_letterbox_geometry(int w, int h, int S, int *nw, int *nh, int *ox, int *oy);

/* llama.cpp's img_tool::resize_bicubic: src (ny, nx, 3) -> dst (th, tw, 3). */
void preprocess_resize_lcpp(const uint8_t *src, int nx, int ny, uint8_t *dst, int tw, int th);

/* Pillow 9.4 Image.resize((tw, th), BICUBIC) of 8-bit RGB: src (h, w, 3) ->
 * dst (th, tw, 3).  RC_OK or RC_ENOMEM. */
int preprocess_resize_pillow(const uint8_t *src, int w, int h, uint8_t *dst, int tw, int th);

/* The S x S RGB image a mode feeds to normalisation (out: (S, S, 3) bytes).
 * llava mode needs p->mean for its pad colour.  RC_OK, RC_EINPUT (bad size)
 * or RC_ENOMEM, with eng_errmsg() set. */
int preprocess_resized(int mode, const uint8_t *rgb, int w, int h, const struct pre_params *p,
                       uint8_t *out);

/* (S, S, 3) bytes -> planar float32 (3, S, S). */
void preprocess_normalize(const uint8_t *rgb, int S, const float mean[3], const float std[3],
                          float *out);

/* The whole step: rgb (h, w, 3) -> out (3, S, S) float32 (caller allocates
 * 3*S*S floats).  RC_OK, RC_EINPUT or RC_ENOMEM, with eng_errmsg() set. */
int preprocess_image(int mode, const uint8_t *rgb, int w, int h, const struct pre_params *p,
                     float *out);

/* (w*h) RGB pixels -> planar float32 (3, h, w), normalised as above. */
void preprocess_normalize_wh(const uint8_t *rgb, int w, int h, const float mean[3], const float std[3],
                             float *out);

/* ---- Qwen2-VL / Qwen2.5-VL dynamic resolution (projector types qwen2vl_merger,
 * qwen2.5vl_merger; ../shared/docs/qwen-vl-reference-notes.md) ----
 * The image keeps its aspect ratio at a size whose sides are multiples of
 * align = patch x merge (28), with between min_px and max_px pixels
 * (min/max image tokens x align^2):
 *   llama.cpp mode  the reference's calc_size_preserved_ratio in float32: each
 *                   side rounded to a multiple of align (half away from zero),
 *                   at least align; above max_px both sides scaled by
 *                   1/sqrt(h*w/max_px) and floored to multiples, below min_px
 *                   scaled by sqrt(min_px/(h*w)) and ceiled.  The image is then
 *                   letterboxed, not stretched: scale = min(tw/w, th/h),
 *                   resized size min(ceil(side*scale), target) per side, an
 *                   align-corners bilinear resize (src = dst*(in-1)/(out-1))
 *                   truncated to uint8, pasted centred on a black canvas.
 *   original mode   Hugging Face's Qwen2VLImageProcessor: smart_resize in
 *                   double with Python's round (half to even), max(align, ..)
 *                   on the scaled-down sides (RC_EINPUT, as it raises, for
 *                   sides under 10 px or an aspect ratio above 200), then the
 *                   image stretched to the target with Pillow's BICUBIC.
 * An image already at the target size is copied as it is (both). */
int preprocess_qwen_size(int mode, int w, int h, int align, int64_t min_px, int64_t max_px, int *tw, int *th);
/* The reference's resize_bilinear of src (h, w, 3) to dst (th, tw, 3). */
void preprocess_resize_bilinear(const uint8_t *src, int w, int h, uint8_t *dst, int tw, int th);
/* The resized (th, tw, 3) image a mode feeds to normalisation; tw, th from
 * preprocess_qwen_size.  RC_OK or RC_ENOMEM. */
int preprocess_qwen_resized(int mode, const uint8_t *rgb, int w, int h, int tw, int th, uint8_t *out);

#endif
