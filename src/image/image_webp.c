/*
 * image_webp.c - WebP bytes -> 8-bit RGB through libwebp (WebPGetFeatures,
 * WebPDecode into our buffer as MODE_RGB).  The only libwebp user.  Lossy and lossless still
 * images decode; alpha is dropped without compositing (the stored RGB is
 * kept), like the other formats.  Animated WebP is refused.
 * The reference (llama.cpp's stb_image) cannot decode WebP at all, so these
 * items have no llama.cpp counterpart; the MMSafeAware release has 7 of them.
 */
#include "image.h"
#include "image_internal.h"
#include "err.h"

#include <inttypes.h>
#include <stdlib.h>
#include <webp/decode.h>

static const char *vp8_status(VP8StatusCode st)
{
    switch (st) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
    default: return "unknown error";
    }
}

int image_decode_webp(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out)
{
    WebPBitstreamFeatures ft;
    VP8StatusCode st = WebPGetFeatures(data, n, &ft);
    if (st == VP8_STATUS_NOT_ENOUGH_DATA) return err_set(RC_EINPUT, "truncated WebP data");
    if (st != VP8_STATUS_OK) return err_set(RC_EINPUT, "invalid WebP header: %s", vp8_status(st));
    if (ft.has_animation) return err_set(RC_EINPUT, "animated WebP is not supported");
    int rc = image_check_size((uint64_t)(ft.width > 0 ? ft.width : 0),
                              (uint64_t)(ft.height > 0 ? ft.height : 0), lim);
    if (rc) return rc;

    size_t stride = (size_t)ft.width * 3, bytes = stride * (size_t)ft.height;
    uint8_t *buf = malloc(bytes);
    if (!buf) return err_set(RC_ENOMEM, "out of memory for a %dx%d image", ft.width, ft.height);
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg)) {
        free(buf);
        return err_set(RC_EINPUT, "libwebp version mismatch");
    }
    cfg.output.colorspace = MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = buf;
    cfg.output.u.RGBA.stride = (int)stride;
    cfg.output.u.RGBA.size = bytes;
    st = WebPDecode(data, n, &cfg);
    WebPFreeDecBuffer(&cfg.output);   /* external memory: frees nothing of ours */
    if (st != VP8_STATUS_OK) {
        free(buf);
        if (st == VP8_STATUS_NOT_ENOUGH_DATA) return err_set(RC_EINPUT, "truncated WebP data");
        if (st == VP8_STATUS_OUT_OF_MEMORY) return err_set(RC_ENOMEM, "out of memory decoding WebP");
        return err_set(RC_EINPUT, "invalid WebP data: %s", vp8_status(st));
    }
    out->w = ft.width;
    out->h = ft.height;
    out->rgb = buf;
    return RC_OK;
}
