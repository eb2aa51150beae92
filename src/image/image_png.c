/*
 * image_png.c - PNG bytes -> 8-bit RGB through libpng's low-level API with
 * setjmp error handling.  The only libpng user.  (The simplified png_image
 * API is not used: it composites alpha onto a background and linearises
 * 16-bit data, which the reference does not do.)
 *
 * Behaviour matches the reference (llama.cpp's stb_image v2.30 asked for 3
 * channels) pixel for pixel:
 *  - palette is expanded to its RGB entries, tRNS is ignored;
 *  - grey (1/2/4/8/16 bit) is scaled to 8 bits and replicated to R, G, B;
 *  - alpha (RGBA, grey+alpha, palette tRNS) is dropped, not composited:
 *    transparent pixels keep the colour they store;
 *  - 16-bit samples keep their high byte (stb: v >> 8; libpng png_set_strip_16);
 *  - Adam7 interlacing is undone; gAMA/sRGB/iCCP are ignored (no colour
 *    management), as stb ignores them;
 *  - chunk CRCs and the zlib Adler-32 are not checked, as stb does not.
 * The pixel limit is checked from the IHDR bytes before libpng runs.  Data
 * ending before IEND is "truncated PNG data", as stb also fails on it.
 */
#include "image.h"
#include "image_internal.h"
#include "err.h"

#include <inttypes.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct png_src {
    const uint8_t *data;
    size_t n, pos;
    char msg[256];        /* libpng's error message, for err_set after longjmp */
    uint8_t *buf;         /* (h, rowbytes) pixels; owned until handed to out */
    png_bytep *rows;      /* (h) row pointers into buf */
};

static void png_read_mem(png_structp png, png_bytep dst, size_t len)
{
    struct png_src *s = png_get_io_ptr(png);
    if (s->n - s->pos < len) png_error(png, "truncated PNG data");
    memcpy(dst, s->data + s->pos, len);
    s->pos += len;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

/* Warnings (bad sRGB profiles, benign chunk errors) do not affect pixels. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int image_decode_png(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out)
{
    /* signature(8) length(4) "IHDR"(4) width(4) height(4) */
    if (n < 24) return err_set(RC_EINPUT, "truncated PNG data");
    if (memcmp(data + 12, "IHDR", 4) != 0)
        return err_set(RC_EINPUT, "invalid PNG data: the first chunk is not IHDR");
    int rc = image_check_size(be32(data + 16), be32(data + 20), lim);
    if (rc) return rc;

    struct png_src src = { .data = data, .n = n, .pos = 0 };
    struct png_src *s = &src;   /* modified only through s: survives longjmp */
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_on_error, png_on_warning);
    if (!png) return err_set(RC_ENOMEM, "cannot create the PNG decoder");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return err_set(RC_ENOMEM, "cannot create the PNG decoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        if (!strcmp(s->msg, "truncated PNG data")) rc = err_set(RC_EINPUT, "truncated PNG data");
        else if (strstr(s->msg, "Insufficient memory") || strstr(s->msg, "Out of memory"))
            rc = err_set(RC_ENOMEM, "out of memory decoding PNG: %s", s->msg);
        else rc = err_set(RC_EINPUT, "invalid PNG data: %s", s->msg);
        goto out;
    }
    png_set_read_fn(png, s, png_read_mem);
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    /* Our pixel limit governs, not libpng's default 1e6 x 1e6 cap.  Ancillary
     * chunks (and what compressed text chunks inflate to) may use up to 64 MiB
     * or the file's size, whichever is larger: libpng's 8 MB default would
     * refuse real photos with big metadata, which stb ignores, and no cap at
     * all would let a zTXt bomb take any amount of memory. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_chunk_malloc_max(png, n > ((size_t)64 << 20) ? n : ((size_t)64 << 20));

    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), ctype = png_get_color_type(png, info);
    if (image_check_size(w, h, lim)) {
        rc = RC_EINPUT;
        goto out;
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((ctype & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if ((ctype & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t ch = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((ch != 3 && ch != 4) || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)w * ch) {
        rc = err_set(RC_EINPUT, "unsupported PNG layout (colour type %d, %d bits)", ctype, depth);
        goto out;
    }
    s->buf = malloc(rowbytes * h);
    s->rows = malloc(sizeof *s->rows * h);
    if (!s->buf || !s->rows) {
        rc = err_set(RC_ENOMEM, "out of memory for a %" PRIu32 "x%" PRIu32 " image", w, h);
        goto out;
    }
    for (size_t y = 0; y < h; y++) s->rows[y] = s->buf + y * rowbytes;
    png_read_image(png, s->rows);
    png_read_end(png, NULL);

    if (ch == 4) {   /* drop alpha in place; the 3-byte write never passes the 4-byte read */
        size_t np = (size_t)w * h;
        for (size_t i = 0; i < np; i++) {
            s->buf[3 * i + 0] = s->buf[4 * i + 0];
            s->buf[3 * i + 1] = s->buf[4 * i + 1];
            s->buf[3 * i + 2] = s->buf[4 * i + 2];
        }
        uint8_t *shrunk = realloc(s->buf, np * 3);
        if (shrunk) s->buf = shrunk;
    }
    out->w = (int)w;
    out->h = (int)h;
    out->rgb = s->buf;
    s->buf = NULL;
    rc = RC_OK;
out:
    png_destroy_read_struct(&png, &info, NULL);
    free(s->rows);
    free(s->buf);
    return rc;
}
