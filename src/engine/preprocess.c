/*
 * preprocess.c - letterbox / expand-to-square resizing and normalisation of
 * RGB pixels for the CLIP tower (see preprocess.h for the two modes).
 * Bit-exactness matters here: the float32 expressions are written in the
 * reference's evaluation order and must not be contracted into FMAs (the
 * x86-64 reference is built without them), hence the pragmas below.  Pillow's
 * resampler is integer fixed point after double-precision weights.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "preprocess.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *vision_mode_name(int mode)
{
    return mode == VISION_MODE_LLAMA_CPP ? "llama.cpp" : "llava";
}

int vision_mode_parse(const char *s, int *mode)
{
    if (s && (!strcmp(s, "llava") || !strcmp(s, "hf") || !strcmp(s, "original"))) { *mode = VISION_MODE_LLAVA; return RC_OK; }
    if (s && (!strcmp(s, "llama.cpp") || !strcmp(s, "lcpp"))) { *mode = VISION_MODE_LLAMA_CPP; return RC_OK; }
    return eng_err(RC_ECONFIG, "unknown vision mode '%s' (expected llava or llama.cpp)", s ? s : "");
}

/* ------------------------------------------------------ llama.cpp letterbox */

void preprocess_letterbox_geometry(int w, int h, int S, int *nw, int *nh, int *ox, int *oy)
{
    if (w == S && h == S) {
        *nw = *nh = S;
        *ox = *oy = 0;
        return;
    }
    float sx = (float)S / (float)w, sy = (float)S / (float)h;
    float s = sx < sy ? sx : sy;
    float fw = (float)w * s, fh = (float)h * s;   /* stored: rounded to float */
    int cw = (int)ceilf(fw), ch = (int)ceilf(fh);
    *nw = cw < S ? cw : S;
    *nh = ch < S ? ch : S;
    if (*nw < 1) *nw = 1;
    if (*nh < 1) *nh = 1;
    *ox = (S - *nw) / 2;
    *oy = (S - *nh) / 2;
}

/* The cubic through samples at -1, 0, 1, 2 evaluated at t (spec §5.3): the
 * coefficients in double, stored as float; the polynomial in float, left to
 * right.  d0, d2, d3 are the float differences the caller computed. */
static inline float lagrange(float p0, float d0, float d2, float d3, float t)
{
    float a1 = (float)(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
    float a2 = (float)(1.0 / 2 * d0 + 1.0 / 2 * d2);
    float a3 = (float)(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
    return p0 + a1 * t + a2 * t * t + a3 * t * t * t;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void preprocess_resize_lcpp(const uint8_t *src, int nx, int ny, uint8_t *dst, int tw, int th)
{
    const float tx = (float)nx / (float)tw, ty = (float)ny / (float)th;
    for (int i = 0; i < th; i++) {
        const float fy = ty * (float)i;
        const int y = (int)fy;
        const float dy = fy - (float)y;
        int rows[4];
        for (int m = 0; m < 4; m++) rows[m] = clampi(y - 1 + m, 0, ny - 1);
        for (int j = 0; j < tw; j++) {
            const float fx = tx * (float)j;
            const int x = (int)fx;
            const float dx = fx - (float)x;
            const int c0 = clampi(x - 1, 0, nx - 1), c1 = clampi(x, 0, nx - 1),
                      c2 = clampi(x + 1, 0, nx - 1), c3 = clampi(x + 2, 0, nx - 1);
            for (int k = 0; k < 3; k++) {
                float C[4];
                for (int m = 0; m < 4; m++) {
                    const uint8_t *r = src + (size_t)rows[m] * (size_t)nx * 3;
                    int pm1 = r[3 * c0 + k], p0 = r[3 * c1 + k], p1 = r[3 * c2 + k], p2 = r[3 * c3 + k];
                    C[m] = lagrange((float)p0, (float)(pm1 - p0), (float)(p1 - p0), (float)(p2 - p0), dx);
                }
                float Cc = lagrange(C[1], C[0] - C[1], C[2] - C[1], C[3] - C[1], dy);
                float v = roundf(Cc);   /* half away from zero, as the reference */
                dst[((size_t)i * (size_t)tw + (size_t)j) * 3 + (size_t)k] =
                    (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
            }
        }
    }
}

static int letterbox(const uint8_t *rgb, int w, int h, int S, uint8_t *out)
{
    static const uint8_t pad[3] = { 122, 116, 104 };   /* fixed in llama.cpp */
    if (w == S && h == S) {
        memcpy(out, rgb, (size_t)S * S * 3);
        return RC_OK;
    }
    int nw, nh, ox, oy;
    preprocess_letterbox_geometry(w, h, S, &nw, &nh, &ox, &oy);
    uint8_t *tmp = malloc((size_t)nw * nh * 3);
    if (!tmp) return eng_err(RC_ENOMEM, "out of memory resizing an image");
    preprocess_resize_lcpp(rgb, w, h, tmp, nw, nh);
    for (size_t i = 0; i < (size_t)S * S; i++) memcpy(out + 3 * i, pad, 3);
    for (int y = 0; y < nh; y++)
        memcpy(out + ((size_t)(y + oy) * S + (size_t)ox) * 3, tmp + (size_t)y * nw * 3, (size_t)nw * 3);
    free(tmp);
    return RC_OK;
}

/* ------------------------------------------------------------ Pillow BICUBIC */

#define PIL_PRECISION_BITS (32 - 8 - 2)

/* Pillow's bicubic_filter (a = -0.5), written in Pillow's form. */
static double pil_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* One axis of Pillow's precompute_coeffs + normalize_coeffs_8bpc: for each of
 * out samples, taps [bounds[2i], bounds[2i] + bounds[2i+1]) with fixed-point
 * weights kk[i * ksize + j]. */
struct pil_axis { int ksize; int *bounds; int32_t *kk; };

static int pil_axis_init(struct pil_axis *ax, int in, int out)
{
    double scale = (double)in / out;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    ax->ksize = (int)ceil(support) * 2 + 1;
    ax->bounds = malloc(sizeof(int) * 2 * (size_t)out);
    ax->kk = malloc(sizeof(int32_t) * (size_t)ax->ksize * (size_t)out);
    double *k = malloc(sizeof(double) * (size_t)ax->ksize);
    if (!ax->bounds || !ax->kk || !k) {
        free(k);
        return eng_err(RC_ENOMEM, "out of memory resizing an image");
    }
    double ss = 1.0 / filterscale;
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double wgt = pil_bicubic((x + xmin - center + 0.5) * ss);
            k[x] = wgt;
            ww += wgt;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        int32_t *kk = ax->kk + (size_t)xx * (size_t)ax->ksize;
        for (int x = 0; x < ax->ksize; x++) {
            double v = x < xmax ? k[x] : 0.0;
            kk[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PIL_PRECISION_BITS))
                          : (int32_t)(0.5 + v * (1 << PIL_PRECISION_BITS));
        }
        ax->bounds[2 * xx] = xmin;
        ax->bounds[2 * xx + 1] = xmax;
    }
    free(k);
    return RC_OK;
}

static void pil_axis_release(struct pil_axis *ax)
{
    free(ax->bounds);
    free(ax->kk);
}

static inline uint8_t pil_clip8(int32_t in)
{
    if (in >= (1 << PIL_PRECISION_BITS << 8)) return 255;
    if (in <= 0) return 0;
    return (uint8_t)(in >> PIL_PRECISION_BITS);
}

/* Horizontal pass over one row of w pixels into tw pixels. */
static void pil_row(const struct pil_axis *ax, const uint8_t *src, uint8_t *dst, int tw)
{
    for (int xx = 0; xx < tw; xx++) {
        const int xmin = ax->bounds[2 * xx], xmax = ax->bounds[2 * xx + 1];
        const int32_t *k = ax->kk + (size_t)xx * (size_t)ax->ksize;
        int32_t s0 = 1 << (PIL_PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (int x = 0; x < xmax; x++) {
            const uint8_t *p = src + 3 * (size_t)(x + xmin);
            s0 += p[0] * k[x];
            s1 += p[1] * k[x];
            s2 += p[2] * k[x];
        }
        dst[3 * xx] = pil_clip8(s0);
        dst[3 * xx + 1] = pil_clip8(s1);
        dst[3 * xx + 2] = pil_clip8(s2);
    }
}

/* Source rows come from a callback so the llava square never has to be
 * materialised (a 16000 x 4000 photo would make a 768 MB square). */
typedef void (*row_fn)(const void *ctx, int y, uint8_t *row);

/* Pillow's ImagingResampleInner for 8-bit RGB: a horizontal pass (if the width
 * changes) stored as uint8, then a vertical pass (if the height changes). */
static int pil_resize(row_fn get_row, const void *ctx, int w, int h, uint8_t *dst, int tw, int th)
{
    int rc = RC_OK;
    struct pil_axis hx = { 0 }, vy = { 0 };
    uint8_t *row = malloc((size_t)w * 3), *tmp = NULL;
    int need_h = tw != w, need_v = th != h;
    int iw = need_h ? tw : w;   /* width after the horizontal pass */
    if (!row) { rc = eng_err(RC_ENOMEM, "out of memory resizing an image"); goto out; }
    if (need_h && (rc = pil_axis_init(&hx, w, tw))) goto out;
    if (need_v && (rc = pil_axis_init(&vy, h, th))) goto out;
    uint8_t *mid = need_v ? (tmp = malloc((size_t)iw * (size_t)h * 3)) : dst;
    if (!mid) { rc = eng_err(RC_ENOMEM, "out of memory resizing an image"); goto out; }
    for (int y = 0; y < h; y++) {
        get_row(ctx, y, row);
        if (need_h) pil_row(&hx, row, mid + (size_t)y * iw * 3, tw);
        else memcpy(mid + (size_t)y * iw * 3, row, (size_t)w * 3);
    }
    if (need_v) {
        const size_t stride = (size_t)iw * 3;
        for (int yy = 0; yy < th; yy++) {
            const int ymin = vy.bounds[2 * yy], ymax = vy.bounds[2 * yy + 1];
            const int32_t *k = vy.kk + (size_t)yy * (size_t)vy.ksize;
            for (size_t xc = 0; xc < stride; xc++) {
                int32_t s = 1 << (PIL_PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++) s += mid[(size_t)(y + ymin) * stride + xc] * k[y];
                dst[(size_t)yy * stride + xc] = pil_clip8(s);
            }
        }
    }
out:
    pil_axis_release(&hx);
    pil_axis_release(&vy);
    free(tmp);
    free(row);
    return rc;
}

struct plain_src { const uint8_t *rgb; int w; };
static void plain_row(const void *ctx, int y, uint8_t *row)
{
    const struct plain_src *s = ctx;
    memcpy(row, s->rgb + (size_t)y * (size_t)s->w * 3, (size_t)s->w * 3);
}

int preprocess_resize_pillow(const uint8_t *src, int w, int h, uint8_t *dst, int tw, int th)
{
    struct plain_src s = { src, w };
    return pil_resize(plain_row, &s, w, h, dst, tw, th);
}

/* LLaVA's expand2square, seen one row at a time: side x side of fill with the
 * image pasted at (ox, oy). */
struct square_src { const uint8_t *rgb; int w, h, side, ox, oy; uint8_t fill[3]; };
static void square_row(const void *ctx, int y, uint8_t *row)
{
    const struct square_src *s = ctx;
    for (int x = 0; x < s->side; x++) memcpy(row + 3 * (size_t)x, s->fill, 3);
    if (y >= s->oy && y < s->oy + s->h)
        memcpy(row + 3 * (size_t)s->ox, s->rgb + (size_t)(y - s->oy) * (size_t)s->w * 3, (size_t)s->w * 3);
}

static int llava_resize(const uint8_t *rgb, int w, int h, int S, const float mean[3], uint8_t *out)
{
    struct square_src sq = { .rgb = rgb, .w = w, .h = h };
    sq.side = w > h ? w : h;
    sq.ox = (sq.side - w) / 2;
    sq.oy = (sq.side - h) / 2;
    for (int c = 0; c < 3; c++) {   /* tuple(int(x * 255) for x in image_mean): truncation */
        double v = 255.0 * (double)mean[c];
        sq.fill[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : (int)v);
    }
    /* CLIPImageProcessor: shortest edge -> S (the square becomes S x S), then a
     * centre crop to S x S, which is a no-op here.  Pillow skips both passes
     * when the size does not change. */
    return pil_resize(square_row, &sq, sq.side, sq.side, out, S, S);
}

/* ------------------------------------------------------------------ driver */

void preprocess_normalize(const uint8_t *rgb, int S, const float mean[3], const float std[3], float *out)
{
    preprocess_normalize_wh(rgb, S, S, mean, std, out);
}

void preprocess_normalize_wh(const uint8_t *rgb, int w, int h, const float mean[3], const float std[3], float *out)
{
    const size_t np = (size_t)w * (size_t)h;
    for (int c = 0; c < 3; c++) {
        float *plane = out + (size_t)c * np;
        for (size_t i = 0; i < np; i++) {
            float v = (float)rgb[3 * i + (size_t)c] / 255.0f;
            plane[i] = (v - mean[c]) / std[c];
        }
    }
}

int preprocess_resized(int mode, const uint8_t *rgb, int w, int h, const struct pre_params *p, uint8_t *out)
{
    const int S = p->image_size;
    if (w <= 0 || h <= 0 || !rgb) return eng_err(RC_EINPUT, "empty image (%dx%d)", w, h);
    if (S <= 0 || S > 8192) return eng_err(RC_EINPUT, "bad image_size %d", S);
    if (mode == VISION_MODE_LLAMA_CPP) return letterbox(rgb, w, h, S, out);
    return llava_resize(rgb, w, h, S, p->mean, out);
}

int preprocess_image(int mode, const uint8_t *rgb, int w, int h, const struct pre_params *p, float *out)
{
    const int S = p->image_size;
    if (S <= 0 || S > 8192) return eng_err(RC_EINPUT, "bad image_size %d", S);
    uint8_t *img = malloc((size_t)S * S * 3);
    if (!img) return eng_err(RC_ENOMEM, "out of memory preprocessing an image");
    int rc = preprocess_resized(mode, rgb, w, h, p, img);
    if (rc == RC_OK) preprocess_normalize(img, S, p->mean, p->std, out);
    free(img);
    return rc;
}

/* ------------------------------------------------ Qwen-VL dynamic resolution */

int preprocess_qwen_size(int mode, int w, int h, int align, int64_t min_px, int64_t max_px, int *tw, int *th)
{
    if (w <= 0 || h <= 0 || align <= 0) return eng_err(RC_EINPUT, "empty image (%dx%d)", w, h);
    if (mode == VISION_MODE_LLAMA_CPP) {
        /* float32 throughout, std::round = roundf (half away from zero) */
        const float f = (float)align;
        int wb = (int)roundf((float)w / f) * align, hb = (int)roundf((float)h / f) * align;
        if (wb < align) wb = align;
        if (hb < align) hb = align;
        if (max_px > 0 && (int64_t)hb * wb > max_px) {
            const float beta = sqrtf((float)h * (float)w / (float)max_px);
            hb = (int)floorf((float)h / beta / f) * align;
            wb = (int)floorf((float)w / beta / f) * align;
            if (hb < align) hb = align;
            if (wb < align) wb = align;
        } else if (min_px > 0 && (int64_t)hb * wb < min_px) {
            const float beta = sqrtf((float)min_px / ((float)h * (float)w));
            hb = (int)ceilf((float)h * beta / f) * align;
            wb = (int)ceilf((float)w * beta / f) * align;
        }
        *tw = wb;
        *th = hb;
        return RC_OK;
    }
    /* Hugging Face smart_resize: Python floats (double), round() is half to even; it
     * refuses sides under 10 px and aspect ratios above 200 */
    if (w < 10 || h < 10)
        return eng_err(RC_EINPUT, "a %dx%d image: the original Qwen2-VL processor refuses sides under 10 px", w, h);
    if ((double)(w > h ? w : h) / (double)(w > h ? h : w) > 200)
        return eng_err(RC_EINPUT, "a %dx%d image: the original Qwen2-VL processor refuses aspect ratios above 200", w, h);
    const double f = align;
    int64_t hb = (int64_t)rint((double)h / f) * align, wb = (int64_t)rint((double)w / f) * align;
    if (max_px > 0 && hb * wb > max_px) {
        const double beta = sqrt((double)h * (double)w / (double)max_px);
        hb = (int64_t)floor((double)h / beta / f) * align;
        wb = (int64_t)floor((double)w / beta / f) * align;
        if (hb < align) hb = align;
        if (wb < align) wb = align;
    } else if (min_px > 0 && hb * wb < min_px) {
        const double beta = sqrt((double)min_px / ((double)h * (double)w));
        hb = (int64_t)ceil((double)h * beta / f) * align;
        wb = (int64_t)ceil((double)w * beta / f) * align;
    }
    if (wb > 1 << 20 || hb > 1 << 20) return eng_err(RC_EINPUT, "a %dx%d image is too large", w, h);
    *tw = (int)wb;
    *th = (int)hb;
    return RC_OK;
}

static inline float lerpf(float s, float e, float t) { return s + (e - s) * t; }

void preprocess_resize_bilinear(const uint8_t *src, int w, int h, uint8_t *dst, int tw, int th)
{
    const float xr = tw > 1 ? (float)(w - 1) / (float)(tw - 1) : 0.0f;
    const float yr = th > 1 ? (float)(h - 1) / (float)(th - 1) : 0.0f;
    for (int y = 0; y < th; y++) {
        const float py = (float)y * yr;
        int y0 = (int)py;
        if (y0 > h - 1) y0 = h - 1;
        const int y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        const float yf = py - (float)y0;
        const uint8_t *r0 = src + (size_t)y0 * (size_t)w * 3, *r1 = src + (size_t)y1 * (size_t)w * 3;
        uint8_t *d = dst + (size_t)y * (size_t)tw * 3;
        for (int x = 0; x < tw; x++) {
            const float px = (float)x * xr;
            int x0 = (int)px;
            if (x0 > w - 1) x0 = w - 1;
            const int x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            const float xf = px - (float)x0;
            for (int c = 0; c < 3; c++) {
                const float top = lerpf((float)r0[3 * x0 + c], (float)r0[3 * x1 + c], xf);
                const float bot = lerpf((float)r1[3 * x0 + c], (float)r1[3 * x1 + c], xf);
                d[3 * x + c] = (uint8_t)lerpf(top, bot, yf);
            }
        }
    }
}

int preprocess_qwen_resized(int mode, const uint8_t *rgb, int w, int h, int tw, int th, uint8_t *out)
{
    if (w <= 0 || h <= 0 || !rgb) return eng_err(RC_EINPUT, "empty image (%dx%d)", w, h);
    if (tw == w && th == h) {   /* both pipelines copy an image already at the target size */
        memcpy(out, rgb, (size_t)w * (size_t)h * 3);
        return RC_OK;
    }
    if (mode != VISION_MODE_LLAMA_CPP) return preprocess_resize_pillow(rgb, w, h, out, tw, th);
    /* letterbox: the geometry of img_tool::resize with PAD_CEIL, in float32 */
    const float sw = (float)tw / (float)w, sh = (float)th / (float)h, s = sw < sh ? sw : sh;
    int nw = (int)ceilf((float)w * s), nh = (int)ceilf((float)h * s);
    if (nw > tw) nw = tw;
    if (nh > th) nh = th;
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    const int ox = (tw - nw) / 2, oy = (th - nh) / 2;
    memset(out, 0, (size_t)tw * (size_t)th * 3);   /* black */
    if (nw == w && nh == h) {
        for (int y = 0; y < nh; y++)
            memcpy(out + ((size_t)(y + oy) * tw + (size_t)ox) * 3, rgb + (size_t)y * w * 3, (size_t)nw * 3);
        return RC_OK;
    }
    uint8_t *tmp = malloc((size_t)nw * (size_t)nh * 3);
    if (!tmp) return eng_err(RC_ENOMEM, "out of memory resizing an image");
    preprocess_resize_bilinear(rgb, w, h, tmp, nw, nh);
    for (int y = 0; y < nh; y++)
        memcpy(out + ((size_t)(y + oy) * tw + (size_t)ox) * 3, tmp + (size_t)y * nw * 3, (size_t)nw * 3);
    free(tmp);
    return RC_OK;
}
