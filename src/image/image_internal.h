/*
 * image_internal.h - what image.c shares with the per-format decoders
 * (image_jpeg.c, image_png.c, image_webp.c).  Not for use outside src/image*.c.
 * Each decoder fills out->w, out->h and out->rgb ((h, w, 3) RGB, malloc'ed);
 * image.c sets out->format and frees out->rgb on failure.  Messages carry no
 * file name (image_load adds it).
 */
#ifndef MMSAFE_IMAGE_INTERNAL_H
#define MMSAFE_IMAGE_INTERNAL_H

#include "image.h"

/* RC_OK when a w x h image is within lim (and addressable); otherwise RC_EINPUT
 * with "image is WxH pixels, above the limit of N (set max_image_pixels)". */
int image_check_size(uint64_t w, uint64_t h, const struct image_limits *lim);

/* Reads a whole file into a malloc'ed buffer (*data, caller frees); errors name path. */
int image_read_file(const char *path, uint8_t **data, size_t *n);

int image_decode_jpeg(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out);
int image_decode_png(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out);
int image_decode_webp(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out);

#endif
