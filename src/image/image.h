/*
 * image.h - decoded images: JPEG/PNG/WebP (and binary PPM for tests) bytes ->
 * 8-bit RGB pixels.  The format is sniffed from the bytes, never from the
 * file name (the real MMSafeAware release has .png files holding JPEG bytes).
 * image.c sniffs and dispatches; image_jpeg.c, image_png.c and image_webp.c
 * are the only users of libturbojpeg, libpng and libwebp respectively.
 * A header claiming more than lim->max_pixels is refused before any pixel
 * buffer is allocated.
 */
#ifndef MMSAFE_IMAGE_H
#define MMSAFE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct image {
    int w, h;          /* pixels */
    uint8_t *rgb;      /* (h, w, 3) row-major RGB, owned; free with image_release */
    char format[8];    /* "jpeg", "png", "webp", "ppm": what the bytes were */
};

struct image_limits {
    uint64_t max_pixels;   /* refuse w*h above this (0: IMAGE_DEFAULT_MAX_PIXELS) */
};
#define IMAGE_DEFAULT_MAX_PIXELS (64ull * 1024 * 1024)

/* "jpeg", "png", "webp", "ppm", or NULL when the bytes are none of these. */
const char *image_sniff(const uint8_t *data, size_t n);

/* Decodes n bytes into out (zeroed first).  On failure returns RC_EINPUT (bad or
 * unsupported bytes, too large) or RC_ENOMEM with err_msg() giving the reason
 * (without the file name: the caller adds it).  lim may be NULL. */
int image_decode(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out);

/* Reads and decodes a file; errors name the path (missing file, zero bytes, ...). */
int image_load(const char *path, const struct image_limits *lim, struct image *out);

/* Frees the pixels; accepts a zeroed or already released image. */
void image_release(struct image *img);

#endif
