/*
 * image_jpeg.c - JPEG bytes -> 8-bit RGB through libjpeg-turbo's TurboJPEG 2
 * API (2.1.5: tjInitDecompress, tjDecompressHeader3, tjDecompress2,
 * tjGetErrorStr2).  The only libturbojpeg user; moving to tj3* changes only
 * this file.
 *
 * Behaviour, compared with the reference (llama.cpp's stb_image v2.30):
 *  - grey is replicated to R, G and B; baseline, progressive and arithmetic
 *    JPEGs decode; EXIF orientation is ignored (as stb does);
 *  - CMYK and YCCK (Adobe) JPEGs are decoded to CMYK and turned into RGB
 *    exactly as stb does: R = C*K/255 with stb's rounding (stbi__blinn_8x8) on
 *    the stored (Adobe-inverted) values.  A 4-component JPEG without an Adobe
 *    marker is read as CMYK here; stb would treat it as YCbCr and ignore K;
 *  - progressive JPEGs with more than 500 scans are refused (TJFLAG_LIMITSCANS:
 *    a known way to make a tiny file take minutes to decode);
 *  - pixels differ from stb's by a few levels (a different IDCT and chroma
 *    upsampler): about 0.7% of values by at most 2 on mmsafeaware_1063.jpeg
 *    (fixtures README section 9.1).  ISLOW DCT, fancy upsampling, no scaling;
 *  - truncated data (no EOI marker after the first scan, or libjpeg's
 *    "Premature end of JPEG file") is an error, "truncated JPEG data".  stb
 *    returns an image for such files, reading the missing entropy-coded data
 *    as zero bits; libjpeg would fill it with grey instead, so the two would
 *    not agree on those pixels and we refuse rather than feed either to a
 *    model.  Other libjpeg warnings (corrupt data inside a scan, extraneous
 *    bytes before a marker) are accepted, as stb accepts them.
 */
#include "image.h"
#include "image_internal.h"
#include "err.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/* Where the entropy-coded data of the first scan starts, found by walking the
 * marker segments (so EXIF thumbnails with their own EOI are skipped); 0 when
 * the data ends before any SOS. */
static size_t first_scan_offset(const uint8_t *d, size_t n)
{
    size_t i = 2;   /* after SOI */
    while (i < n) {
        if (d[i] != 0xff) {   /* junk between segments: libjpeg resyncs; search instead */
            for (size_t j = i; j + 1 < n; j++)
                if (d[j] == 0xff && d[j + 1] == 0xda) return j + 2;
            return 0;
        }
        while (i < n && d[i] == 0xff) i++;   /* fill bytes */
        if (i >= n) return 0;
        uint8_t m = d[i++];
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd9)) continue;   /* no length field */
        if (n - i < 2) return 0;
        size_t len = (size_t)d[i] << 8 | d[i + 1];
        if (len < 2 || n - i < len) return 0;
        if (m == 0xda) return i + len;
        i += len;
    }
    return 0;
}

/* 1 when the bytes end before the EOI marker that closes the image. */
static int jpeg_truncated(const uint8_t *d, size_t n)
{
    size_t s = first_scan_offset(d, n);
    if (s == 0) return 1;
    /* In entropy-coded data a 0xff byte is followed by 0x00 or a RST marker,
     * so ff d9 after the first SOS can only be the real EOI. */
    for (size_t j = s; j + 1 < n; j++)
        if (d[j] == 0xff && d[j + 1] == 0xd9) return 0;
    return 1;
}

/* stb_image's stbi__blinn_8x8: x*y/255 rounded. */
static uint8_t blinn_8x8(unsigned x, unsigned y)
{
    unsigned t = x * y + 128;
    return (uint8_t)((t + (t >> 8)) >> 8);
}

int image_decode_jpeg(const uint8_t *data, size_t n, const struct image_limits *lim, struct image *out)
{
    if (n > ULONG_MAX) return err_set(RC_EINPUT, "JPEG data too large");
    if (jpeg_truncated(data, n)) return err_set(RC_EINPUT, "truncated JPEG data");

    tjhandle tj = tjInitDecompress();
    if (!tj) return err_set(RC_ENOMEM, "cannot initialise the JPEG decoder: %s", tjGetErrorStr2(NULL));
    int rc = RC_OK, w = 0, h = 0, subsamp = 0, cs = 0;
    uint8_t *buf = NULL;

    if (tjDecompressHeader3(tj, data, (unsigned long)n, &w, &h, &subsamp, &cs) != 0) {
        rc = err_set(RC_EINPUT, "invalid JPEG header: %s", tjGetErrorStr2(tj));
        goto out;
    }
    rc = image_check_size((uint64_t)(w > 0 ? w : 0), (uint64_t)(h > 0 ? h : 0), lim);
    if (rc) goto out;

    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    int pf = cmyk ? TJPF_CMYK : TJPF_RGB;
    size_t ch = cmyk ? 4 : 3;
    buf = malloc((size_t)w * (size_t)h * ch);
    if (!buf) {
        rc = err_set(RC_ENOMEM, "out of memory for a %dx%d image", w, h);
        goto out;
    }
    if (tjDecompress2(tj, data, (unsigned long)n, buf, w, (int)(w * ch), h, pf, TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS) != 0) {
        const char *why = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) == TJERR_FATAL) {
            rc = err_set(RC_EINPUT, "invalid JPEG data: %s", why);
            goto out;
        }
        if (strstr(why, "Premature end")) {
            rc = err_set(RC_EINPUT, "truncated JPEG data");
            goto out;
        }
        /* other warnings: libjpeg recovered and the image is defined; accept */
    }
    if (cmyk) {
        /* In place, front to back: the 3-byte write never passes the 4-byte read. */
        size_t np = (size_t)w * (size_t)h;
        for (size_t i = 0; i < np; i++) {
            const uint8_t *s = buf + 4 * i;
            uint8_t c = s[0], m = s[1], y = s[2], k = s[3];
            buf[3 * i + 0] = blinn_8x8(c, k);
            buf[3 * i + 1] = blinn_8x8(m, k);
            buf[3 * i + 2] = blinn_8x8(y, k);
        }
        uint8_t *shrunk = realloc(buf, np * 3);
        if (shrunk) buf = shrunk;
    }
    out->w = w;
    out->h = h;
    out->rgb = buf;
    buf = NULL;
out:
    free(buf);
    tjDestroy(tj);
    return rc;
}
