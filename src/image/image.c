/*
 * image.c - sniffs the format from the first bytes (never from the file name),
 * applies the pixel limit and dispatches to image_jpeg.c / image_png.c /
 * image_webp.c; binary PPM (P6, maxval 255) is decoded here, for tests.
 * The decoders follow what llama.cpp's stb_image v2.30 gives (the reference
 * pipeline): 8-bit RGB, grey replicated, alpha dropped without compositing,
 * 16-bit reduced to the high byte, EXIF orientation ignored.  No library
 * headers here; see image_internal.h for the per-format entry points.
 */
#include "image.h"
#include "image_internal.h"
#include "err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int has_prefix(const uint8_t *d, size_t n, const char *magic, size_t m)
{
    return n >= m && memcmp(d, magic, m) == 0;
}

const char *image_sniff(const uint8_t *data, size_t n)
{
    if (!data) return NULL;
    if (has_prefix(data, n, "\xff\xd8\xff", 3)) return "jpeg";
    if (has_prefix(data, n, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (n >= 12 && !memcmp(data, "RIFF", 4) && !memcmp(data + 8, "WEBP", 4)) return "webp";
    if (n >= 3 && data[0] == 'P' && data[1] == '6' &&
        (data[2] == ' ' || data[2] == '\t' || data[2] == '\n' || data[2] == '\r'))
        return "ppm";
    return NULL;
}

/* A guess at what unsupported bytes are, for the error message only. */
static const char *guess_other(const uint8_t *d, size_t n)
{
    if (has_prefix(d, n, "GIF8", 4)) return "GIF";
    if (has_prefix(d, n, "BM", 2)) return "BMP";
    if (has_prefix(d, n, "II*\0", 4) || has_prefix(d, n, "MM\0*", 4)) return "TIFF";
    if (n >= 12 && !memcmp(d + 4, "ftyp", 4)) {
        if (!memcmp(d + 8, "avif", 4)) return "AVIF";
        if (!memcmp(d + 8, "heic", 4) || !memcmp(d + 8, "heix", 4) || !memcmp(d + 8, "mif1", 4))
            return "HEIF";
    }
    if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7') return "PNM other than P6";
    if (has_prefix(d, n, "\xff\xd8", 2)) return "JPEG without a marker after SOI";
    if (has_prefix(d, n, "<", 1)) return "text/HTML/SVG";
    return NULL;
}

int image_check_size(uint64_t w, uint64_t h, const struct image_limits *lim)
{
    uint64_t max = lim && lim->max_pixels ? lim->max_pixels : IMAGE_DEFAULT_MAX_PIXELS;
    if (w == 0 || h == 0)
        return err_set(RC_EINPUT, "image is %" PRIu64 "x%" PRIu64 " pixels (empty)", w, h);
    /* w, h come from 32-bit header fields, so w*h cannot overflow 64 bits. */
    if (w > UINT32_MAX || h > UINT32_MAX || w * h > max)
        return err_set(RC_EINPUT, "image is %" PRIu64 "x%" PRIu64 " pixels, above the limit of %"
                       PRIu64 " (set max_image_pixels)", w, h, max);
    if (w > INT32_MAX || h > INT32_MAX || w * h > SIZE_MAX / 4)
        return err_set(RC_EINPUT, "image is %" PRIu64 "x%" PRIu64 " pixels, too large for this machine",
                       w, h);
    return RC_OK;
}

/* ------------------------------------------------------------------ PPM (P6) */

/* Reads one header integer, skipping whitespace and '#' comments. */
static int ppm_int(const uint8_t *d, size_t n, size_t *pos, uint64_t *out)
{
    size_t i = *pos;
    for (;;) {
        while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r' ||
                         d[i] == '\v' || d[i] == '\f'))
            i++;
        if (i < n && d[i] == '#') {
            while (i < n && d[i] != '\n') i++;
            continue;
        }
        break;
    }
    if (i >= n || d[i] < '0' || d[i] > '9') return -1;
    uint64_t v = 0;
    while (i < n && d[i] >= '0' && d[i] <= '9') {
        v = v * 10 + (uint64_t)(d[i] - '0');
        if (v > UINT32_MAX) return -1;
        i++;
    }
    *pos = i;
    *out = v;
    return 0;
}

static int decode_ppm(const uint8_t *d, size_t n, const struct image_limits *lim, struct image *out)
{
    size_t pos = 2;
    uint64_t w, h, maxv;
    if (ppm_int(d, n, &pos, &w) || ppm_int(d, n, &pos, &h) || ppm_int(d, n, &pos, &maxv) ||
        pos >= n || !(d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\n' || d[pos] == '\r'))
        return err_set(RC_EINPUT, "malformed PPM header");
    pos++;   /* exactly one whitespace byte before the raster */
    if (maxv != 255)
        return err_set(RC_EINPUT, "PPM maxval %" PRIu64 " is not supported (only 255)", maxv);
    int rc = image_check_size(w, h, lim);
    if (rc) return rc;
    size_t bytes = (size_t)w * (size_t)h * 3;
    if (n - pos < bytes) return err_set(RC_EINPUT, "truncated PPM data");
    out->rgb = malloc(bytes);
    if (!out->rgb) return err_set(RC_ENOMEM, "out of memory for a %" PRIu64 "x%" PRIu64 " image", w, h);
    memcpy(out->rgb, d + pos, bytes);
    out->w = (int)w;
    out->h = (int)h;
    return RC_OK;
}

/* ------------------------------------------------------------------ dispatch */

int image_decode(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0) return err_set(RC_EINPUT, "empty file");
    const char *fmt = image_sniff(data, n);
    int rc;
    if (!fmt) {
        char hex[3 * 8 + 1] = "";
        size_t k = n < 8 ? n : 8, len = 0;
        for (size_t i = 0; i < k; i++)
            len += (size_t)snprintf(hex + len, sizeof hex - len, "%s%02x", i ? " " : "", data[i]);
        const char *g = guess_other(data, n);
        return err_set(RC_EINPUT, "not a JPEG, PNG or WebP file (starts with %s%s%s)", hex,
                       g ? "; looks like " : "", g ? g : "");
    }
    if (!strcmp(fmt, "jpeg")) rc = image_decode_jpeg(data, n, lim, out);
    else if (!strcmp(fmt, "png")) rc = image_decode_png(data, n, lim, out);
    else if (!strcmp(fmt, "webp")) rc = image_decode_webp(data, n, lim, out);
    else rc = decode_ppm(data, n, lim, out);
    if (rc) {
        image_release(out);
        return rc;
    }
    snprintf(out->format, sizeof out->format, "%s", fmt);
    return RC_OK;
}

int image_read_file(const char *path, uint8_t **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(RC_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(RC_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX - 1) {
        fclose(f);
        return err_set(RC_EIO, "%s: file too large", path);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return err_set(RC_ENOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = size ? fread(buf, 1, size, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(buf);
        return err_set(RC_EIO, "%s: read error", path);
    }
    *data = buf;
    *n = size;
    return RC_OK;
}

int image_load(const char *path, const struct image_limits *lim, struct image *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t n;
    int rc = image_read_file(path, &data, &n);
    if (rc) return rc;
    rc = image_decode(data, n, lim, out);
    free(data);
    if (rc) err_prefix("%s", path);
    return rc;
}

void image_release(struct image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}
