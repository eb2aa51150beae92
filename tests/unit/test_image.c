/*
 * test_image.c - image decoding (src/image*.c) over the committed fixtures in
 * tests/fixtures/images/ (made once by make_fixtures.py there), truncated and
 * mutated copies of them, and -- when ../shared is present -- every image of
 * the MMSafeAware release and the llava-tiny fixtures' stb_image pixels.
 * Run from the repository root (tests/run.sh does).
 */
#include "err.h"
#include "image.h"
#include "t.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

#define FIX "tests/fixtures/images/"
#define SHARED "../shared/"

static int load(const char *name, struct image *img)
{
    char p[512];
    snprintf(p, sizeof p, FIX "%s", name);
    return image_load(p, NULL, img);
}

/* Decodes name and compares with the pixels of ppm (exactly when tol == 0, else
 * every value within tol and the mean absolute difference under mean_tol). */
static void check_pixels(const char *name, const char *ppm, const char *fmt, int tol, double mean_tol)
{
    struct image a, b;
    char d[256];
    int ra = load(name, &a), rb = load(ppm, &b);
    snprintf(d, sizeof d, "%s decodes (%s)", name, ra ? err_msg() : "ok");
    CHECK_T(ra == RC_OK, d);
    CHECK_T(rb == RC_OK, ppm);
    if (ra == RC_OK && rb == RC_OK) {
        snprintf(d, sizeof d, "%s format", name);
        CHECK_STR(a.format, fmt, d);
        snprintf(d, sizeof d, "%s size %dx%d", name, a.w, a.h);
        CHECK_T(a.w == b.w && a.h == b.h, d);
        if (a.w == b.w && a.h == b.h) {
            size_t n = (size_t)a.w * a.h * 3, maxd = 0;
            double sum = 0;
            for (size_t i = 0; i < n; i++) {
                size_t diff = (size_t)abs(a.rgb[i] - b.rgb[i]);
                if (diff > maxd) maxd = diff;
                sum += (double)diff;
            }
            snprintf(d, sizeof d, "%s pixels vs %s: max diff %zu (tol %d), mean %.3f (tol %.3f)",
                     name, ppm, maxd, tol, sum / (double)n, mean_tol);
            CHECK_T(maxd <= (size_t)tol && sum / (double)n <= mean_tol, d);
        }
    }
    image_release(&a);
    image_release(&b);
}

static void check_fails(const char *name, int want_rc, const char *want_msg)
{
    struct image img;
    char d[512];
    int rc = load(name, &img);
    snprintf(d, sizeof d, "%s fails with rc %d (got %d: '%s')", name, want_rc, rc, err_msg());
    CHECK_T(rc == want_rc, d);
    snprintf(d, sizeof d, "%s: message has '%s': '%s'", name, want_msg, err_msg());
    CHECK_T(strstr(err_msg(), want_msg) != NULL, d);
    snprintf(d, sizeof d, "%s: message names the file", name);
    CHECK_T(strstr(err_msg(), name) != NULL, d);
    CHECK_T(img.rgb == NULL && img.w == 0, "failed decode leaves the image empty");
    image_release(&img);
}

static void test_sniff(void)
{
    CHECK_STR(image_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4), "jpeg", "sniff jpeg");
    CHECK_STR(image_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), "png", "sniff png");
    CHECK_STR(image_sniff((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), "webp", "sniff webp");
    CHECK_STR(image_sniff((const uint8_t *)"P6\n1 1\n255\n", 11), "ppm", "sniff ppm");
    CHECK_T(image_sniff((const uint8_t *)"RIFF\0\0\0\0WAVE", 12) == NULL, "RIFF WAVE is not webp");
    CHECK_T(image_sniff((const uint8_t *)"\x89PNG", 4) == NULL, "short png magic is nothing");
    CHECK_T(image_sniff((const uint8_t *)"", 0) == NULL, "empty is nothing");
}

static void test_good(void)
{
    check_pixels("rgb_32x24.ppm", "rgb_32x24.ppm", "ppm", 0, 0);
    check_pixels("rgb_32x24.png", "rgb_32x24.ppm", "png", 0, 0);
    check_pixels("rgb_interlaced.png", "rgb_32x24.ppm", "png", 0, 0);
    check_pixels("rgb16.png", "rgb_32x24.ppm", "png", 0, 0);           /* high byte kept */
    check_pixels("rgba.png", "rgba.expected.ppm", "png", 0, 0);          /* alpha dropped */
    check_pixels("rgba16_interlaced.png", "rgba.expected.ppm", "png", 0, 0);
    check_pixels("gray.png", "gray.expected.ppm", "png", 0, 0);          /* grey replicated */
    check_pixels("gray_alpha.png", "gray.expected.ppm", "png", 0, 0);
    check_pixels("gray16.png", "gray.expected.ppm", "png", 0, 0);
    check_pixels("gray4.png", "gray4.expected.ppm", "png", 0, 0);        /* 4-bit scaled x17 */
    check_pixels("palette.png", "palette.expected.ppm", "png", 0, 0);    /* tRNS ignored */
    check_pixels("rgb_32x24.webp", "rgb_32x24.ppm", "webp", 0, 0);       /* lossless */
    check_pixels("rgba.webp", "rgba.expected.ppm", "webp", 0, 0);
    check_pixels("lossy.webp", "rgb_32x24.ppm", "webp", 255, 12.0);  /* a hard pattern for lossy codecs */
    /* JPEG: exactly what libjpeg-turbo gives through Pillow, and near the source */
    check_pixels("rgb_32x24.jpg", "rgb_32x24.jpg.expected.ppm", "jpeg", 0, 0);
    check_pixels("rgb_32x24.jpg", "rgb_32x24.ppm", "jpeg", 255, 12.0);
    check_pixels("progressive.jpg", "progressive.jpg.expected.ppm", "jpeg", 0, 0);
    check_pixels("gray.jpg", "gray.jpg.expected.ppm", "jpeg", 0, 0);
    check_pixels("cmyk.jpg", "cmyk.jpg.expected.ppm", "jpeg", 0, 0);     /* stb's CMYK->RGB */
    check_pixels("cmyk.jpg", "rgb_32x24.ppm", "jpeg", 255, 12.0);
    /* the name lies: JPEG bytes in a .png file */
    check_pixels("jpeg_bytes.png", "rgb_32x24.jpg.expected.ppm", "jpeg", 0, 0);

    struct image g;
    if (CHECK_T(load("gray.jpg", &g) == RC_OK, "gray.jpg loads")) {
        int same = 1;
        for (size_t i = 0; i < (size_t)g.w * g.h; i++)
            same &= g.rgb[3 * i] == g.rgb[3 * i + 1] && g.rgb[3 * i] == g.rgb[3 * i + 2];
        CHECK_T(same, "grey JPEG has R == G == B");
    }
    image_release(&g);
    image_release(&g);   /* a released image may be released again */
}

static void test_bad(void)
{
    check_fails("truncated.jpg", RC_EINPUT, "truncated JPEG data");
    check_fails("truncated_progressive.jpg", RC_EINPUT, "truncated JPEG data");
    check_fails("truncated.png", RC_EINPUT, "truncated PNG data");
    check_fails("empty.png", RC_EINPUT, "empty file");
    check_fails("huge_header.jpg", RC_EINPUT,
                "image is 30000x30000 pixels, above the limit of 67108864 (set max_image_pixels)");
    check_fails("huge_header.png", RC_EINPUT,
                "image is 30000x30000 pixels, above the limit of 67108864 (set max_image_pixels)");
    check_fails("huge_header.webp", RC_EINPUT, "image is 16383x16383 pixels, above the limit");
    check_fails("garbage.jpg", RC_EINPUT, "not a JPEG, PNG or WebP file (starts with ");
    check_fails("gif_bytes.jpg", RC_EINPUT, "(starts with 47 49 46 38 39 61 01 00; looks like GIF)");
    check_fails("no_such_file.png", RC_EIO, "No such file");

    /* the limit is the caller's: exactly w*h passes, one less is refused */
    struct image img;
    struct image_limits lim = { .max_pixels = 32 * 24 };
    CHECK_T(image_load(FIX "rgb_32x24.png", &lim, &img) == RC_OK, "limit == w*h accepted");
    image_release(&img);
    lim.max_pixels = 32 * 24 - 1;
    const char *files[] = { "rgb_32x24.png", "rgb_32x24.jpg", "rgb_32x24.webp", "rgb_32x24.ppm" };
    for (int i = 0; i < 4; i++) {
        char p[256], d[512];
        snprintf(p, sizeof p, FIX "%s", files[i]);
        int rc = image_load(p, &lim, &img);
        snprintf(d, sizeof d, "%s: limit w*h-1 refused: '%s'", files[i], err_msg());
        CHECK_T(rc == RC_EINPUT && strstr(err_msg(), "32x24 pixels, above the limit of 767"), d);
        image_release(&img);
    }
}

/* Every prefix and many single-byte corruptions of good files: an error with a
 * message or a decoded image, never a crash (the ASan build checks memory). */
static void test_mutations(void)
{
    const char *files[] = { "rgb_32x24.jpg", "progressive.jpg", "cmyk.jpg", "rgb_32x24.png",
                            "rgb_interlaced.png", "palette.png", "rgb_32x24.webp", "lossy.webp",
                            "rgb_32x24.ppm" };
    unsigned seed = 12345;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char p[256];
        size_t n;
        snprintf(p, sizeof p, FIX "%s", files[f]);
        uint8_t *orig = t_slurp(p, &n);
        if (!CHECK_T(orig != NULL, p)) continue;
        uint8_t *buf = malloc(n);
        int bad = 0, full_ok = 0;
        for (size_t k = 0; k < n; k++) {   /* every strict prefix fails with a reason */
            memcpy(buf, orig, k);
            struct image img;
            int rc = image_decode(buf, k, NULL, &img);
            if (rc == RC_OK || !err_msg()[0] || img.rgb) bad++;
            image_release(&img);
        }
        struct image img;
        full_ok = image_decode(orig, n, NULL, &img) == RC_OK;
        image_release(&img);
        char d[256];
        snprintf(d, sizeof d, "%s: %d of %zu prefixes decoded or failed without a reason", files[f], bad, n);
        CHECK_T(bad == 0, d);
        CHECK_T(full_ok, "the whole file decodes");
        int nok = 0, nfail = 0, silent = 0;
        for (int it = 0; it < 300; it++) {
            memcpy(buf, orig, n);
            for (int j = 0; j < 1 + it % 4; j++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % n;
                seed = seed * 1103515245u + 12345u;
                buf[at] = (uint8_t)(seed >> 16);
            }
            int rc = image_decode(buf, n, NULL, &img);
            if (rc == RC_OK) {
                nok++;
                if (!img.rgb || img.w <= 0 || img.h <= 0) silent++;
            } else {
                nfail++;
                if (!err_msg()[0]) silent++;
            }
            image_release(&img);
        }
        snprintf(d, sizeof d, "%s: 300 corruptions handled (%d decoded, %d refused, %d bad)",
                 files[f], nok, nfail, silent);
        CHECK_T(silent == 0 && nok + nfail == 300, d);
        free(buf);
        free(orig);
    }
}

/* The llava-tiny fixtures' decoded_rgb is stb_image's output: PNGs must match
 * exactly, the JPEG within the decoder difference the fixtures README gives. */
static void test_reference_pixels(void)
{
    const char *dir = SHARED "fixtures/llava-tiny/";
    struct stat st;
    if (stat(dir, &st) != 0) { t_skipped("../shared/fixtures/llava-tiny absent"); return; }
    const char *names[] = { "alpha_64x48.png", "small_40x25.png", "sq56.png", "mmsafeaware_140.png",
                            "mmsafeaware_1063.jpeg" };
    for (int i = 0; i < 5; i++) {
        char p[512], q[512], d[512];
        snprintf(p, sizeof p, "%simages/%s", dir, names[i]);
        snprintf(q, sizeof q, "%sexpected/images/%.*s.decoded_rgb.u8.bin", dir,
                 (int)(strrchr(names[i], '.') - names[i]), names[i]);
        size_t n = 0;
        uint8_t *ref = t_slurp(q, &n);
        struct image img;
        int rc = image_load(p, NULL, &img);
        snprintf(d, sizeof d, "%s decodes (%s)", names[i], rc ? err_msg() : "ok");
        CHECK_T(rc == RC_OK && ref != NULL, d);
        if (rc == RC_OK && ref) {
            CHECK_EQ_I((long long)img.w * img.h * 3, (long long)n, names[i]);
            if ((size_t)img.w * img.h * 3 == n) {
                size_t ndiff = 0, maxd = 0;
                for (size_t k = 0; k < n; k++) {
                    size_t diff = (size_t)abs(img.rgb[k] - ref[k]);
                    ndiff += diff != 0;
                    if (diff > maxd) maxd = diff;
                }
                int is_jpeg = !strcmp(img.format, "jpeg");
                snprintf(d, sizeof d, "%s vs stb_image: %zu of %zu values differ, max %zu", names[i],
                         ndiff, n, maxd);
                if (is_jpeg) CHECK_T(maxd <= 2 && ndiff * 100 <= n, d);  /* README 9.1: <=2, ~0.7% */
                else CHECK_T(ndiff == 0, d);
            }
        }
        image_release(&img);
        free(ref);
    }
}

/* Every image of the real release: decodes or gives a reason, never crashes;
 * the .png files holding JPEG bytes decode as JPEG. */
static void test_release(void)
{
    const char *dirs[] = { SHARED "data/mmsafeaware/images", SHARED "data/mmsafeaware/images2" };
    int jpeg_in_png_all = 0, ndirs = 0;
    for (int di = 0; di < 2; di++) {
        DIR *d = opendir(dirs[di]);
        if (!d) { t_skipped("../shared/data/mmsafeaware absent"); continue; }
        struct dirent *e;
        int n = 0, ok = 0, failed = 0, silent = 0, jpeg_in_png = 0, jpeg_in_png_ok = 0;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dirs[di], e->d_name);
            struct image img;
            int rc = image_load(p, NULL, &img);
            n++;
            const char *dot = strrchr(e->d_name, '.');
            int named_png = dot && !strcmp(dot, ".png");
            if (rc == RC_OK) {
                ok++;
                if (!img.rgb || img.w <= 0 || img.h <= 0) silent++;
                if (named_png && !strcmp(img.format, "jpeg")) jpeg_in_png_ok++;
            } else {
                failed++;
                if (!strstr(err_msg(), e->d_name)) silent++;
                fprintf(stderr, "note: %s\n", err_msg());
            }
            if (named_png) {
                size_t m = 0;
                uint8_t *b = t_slurp(p, &m);
                if (b && m >= 3 && image_sniff(b, m) && !strcmp(image_sniff(b, m), "jpeg")) jpeg_in_png++;
                free(b);
            }
            image_release(&img);
        }
        closedir(d);
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %d files, %d decoded, %d refused, %d without a reason", dirs[di],
                 n, ok, failed, silent);
        if (t_verbose > 0 || failed) fprintf(stderr, "note: %s\n", msg);
        CHECK_T(n > 0 && silent == 0 && ok + failed == n, msg);
        snprintf(msg, sizeof msg, "%s: %d of %d JPEG-in-.png files decode as JPEG", dirs[di],
                 jpeg_in_png_ok, jpeg_in_png);
        CHECK_T(jpeg_in_png_ok == jpeg_in_png, msg);
        jpeg_in_png_all += jpeg_in_png;
        ndirs++;
        /* every file of the release is a well-formed image: all decode */
        CHECK_EQ_I(failed, 0, "release images refused");
    }
    if (ndirs == 2) CHECK_T(jpeg_in_png_all >= 1, "the release has a .png holding JPEG bytes (images2/2037.png)");
}

int main(void)
{
    t_name = "test_image";
    test_sniff();
    test_good();
    test_bad();
    test_mutations();
    test_reference_pixels();
    test_release();
    return t_done();
}
