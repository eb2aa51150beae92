/*
 * test_preprocess.c - src/engine/preprocess.c against the llava-tiny goldens
 * (reads ../shared/fixtures/llava-tiny; skips when absent): from each image's
 * decoded_rgb (stb_image pixels), the llama.cpp-mode `preprocessed` tensor and
 * the llava-mode `llava_resized` bytes and `preprocessed` tensor must match
 * exactly (fixtures README §9.4, §12.5).  Also the letterbox geometry table of
 * the spec (§5.3) and small hand-checkable cases.  Run from the repo root.
 */
#include "engine/preprocess.h"
#include "t.h"

#include <stdint.h>
#include <sys/stat.h>

#define FIXD "../shared/fixtures/llava-tiny/expected/images/"

/* mean/std as the mmproj files store them (float32 of CLIP's constants) */
static const struct pre_params P56 = {
    56, { 0.48145466f, 0.4578275f, 0.40821073f }, { 0.26862954f, 0.26130258f, 0.27577711f }
};

static void test_geometry(void)
{
    /* spec §5.3 table (S = 336) and fixtures README §7 examples (S = 56, 84) */
    static const int cases[][7] = {
        { 640, 480, 336, 336, 252, 0, 42 },   { 480, 640, 336, 252, 336, 42, 0 },
        { 1920, 1080, 336, 336, 189, 0, 73 }, { 333, 500, 336, 224, 336, 56, 0 },
        { 1000, 1000, 336, 336, 336, 0, 0 },  { 336, 336, 336, 336, 336, 0, 0 },
        { 1024, 683, 56, 56, 38, 0, 9 },      { 40, 25, 56, 56, 35, 0, 10 },
        { 285, 177, 56, 56, 35, 0, 10 },      { 70, 50, 84, 84, 61, 0, 11 },  /* 50*(84/70) -> 61 */
        { 1, 10000, 336, 1, 336, 167, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int *c = cases[i];
        int nw, nh, ox, oy;
        preprocess_letterbox_geometry(c[0], c[1], c[2], &nw, &nh, &ox, &oy);
        char d[128];
        snprintf(d, sizeof d, "letterbox %dx%d S=%d -> %dx%d at (%d,%d)", c[0], c[1], c[2], nw, nh, ox, oy);
        CHECK_T(nw == c[3] && nh == c[4] && ox == c[5] && oy == c[6], d);
    }
}

static void test_small(void)
{
    /* a constant image stays constant through both resamplers */
    uint8_t src[7 * 5 * 3], dst[11 * 3 * 3];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i % 3 == 0 ? 200 : i % 3 == 1 ? 13 : 77);
    preprocess_resize_lcpp(src, 7, 5, dst, 11, 3);
    int ok = 1;
    for (size_t i = 0; i < sizeof dst; i++) ok &= dst[i] == src[i % 3];
    CHECK_T(ok, "llama.cpp bicubic keeps a constant image");
    CHECK_T(preprocess_resize_pillow(src, 7, 5, dst, 11, 3) == 0, "pillow resize runs");
    ok = 1;
    for (size_t i = 0; i < sizeof dst; i++) ok &= dst[i] == src[i % 3];
    CHECK_T(ok, "Pillow bicubic keeps a constant image");

    /* normalisation: u8/255 - mean, / std, planar */
    uint8_t px[2 * 2 * 3] = { 0, 128, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    float out[12];
    preprocess_normalize(px, 2, P56.mean, P56.std, out);
    CHECK_T(out[0] == (0.0f / 255.0f - P56.mean[0]) / P56.std[0], "R(0,0)");
    CHECK_T(out[4] == (128.0f / 255.0f - P56.mean[1]) / P56.std[1], "G(0,0) is in plane 1");
    CHECK_T(out[8 + 3] == (9.0f / 255.0f - P56.mean[2]) / P56.std[2], "B(1,1) is in plane 2");

    /* llava pad colour = int(255*mean): a 1x2 image pads rows of (122,116,104);
     * llama.cpp mode pads with the same fixed colour */
    uint8_t one[2 * 3] = { 10, 20, 30, 40, 50, 60 }, sq[2 * 2 * 3];
    struct pre_params p2 = P56;
    p2.image_size = 2;
    CHECK_T(preprocess_resized(VISION_MODE_LLAVA, one, 2, 1, &p2, sq) == 0, "llava 2x1 -> 2x2");
    CHECK_T(sq[0] == 10 && sq[5] == 60 && sq[6] == 122 && sq[7] == 116 && sq[8] == 104,
            "llava: image on row 0, pad colour (122,116,104) on row 1");
    CHECK_T(vision_mode_parse("bogus", &(int){ 0 }) != 0, "unknown vision mode refused");
    int m = -1;
    CHECK_T(vision_mode_parse("llama.cpp", &m) == 0 && m == VISION_MODE_LLAMA_CPP, "parse llama.cpp");
    CHECK_T(vision_mode_parse("llava", &m) == 0 && m == VISION_MODE_LLAVA, "parse llava");
    CHECK_STR(vision_mode_name(VISION_MODE_DEFAULT), "llava", "default mode is llava");
}

static void compare_f32(const char *what, const float *a, const float *b, size_t n)
{
    size_t ndiff = 0;
    double maxd = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) ndiff++;
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > maxd) maxd = d;
    }
    char d[256];
    snprintf(d, sizeof d, "%s: %zu of %zu floats differ (max %.3g)", what, ndiff, n, maxd);
    CHECK_T(ndiff == 0, d);
}

static void test_fixtures(void)
{
    struct stat st;
    if (stat(FIXD, &st) != 0) { t_skipped("../shared/fixtures/llava-tiny absent"); return; }
    static const struct { const char *name; int w, h; } imgs[] = {
        { "sq56", 56, 56 }, { "small_40x25", 40, 25 }, { "mmsafeaware_1063", 1024, 683 },
        { "mmsafeaware_140", 285, 177 }, { "alpha_64x48", 64, 48 },
    };
    const int S = P56.image_size;
    for (size_t i = 0; i < sizeof imgs / sizeof *imgs; i++) {
        char p[512], d[256];
        size_t n_rgb, n_pre, n_llr, n_llp;
        snprintf(p, sizeof p, FIXD "%s.decoded_rgb.u8.bin", imgs[i].name);
        uint8_t *rgb = t_slurp(p, &n_rgb);
        snprintf(p, sizeof p, FIXD "%s.preproc_56.f32.bin", imgs[i].name);
        float *pre = t_slurp(p, &n_pre);
        snprintf(p, sizeof p, FIXD "%s.llava_resized_56.u8.bin", imgs[i].name);
        uint8_t *llr = t_slurp(p, &n_llr);
        snprintf(p, sizeof p, FIXD "%s.preproc_llava_56.f32.bin", imgs[i].name);
        float *llp = t_slurp(p, &n_llp);
        snprintf(d, sizeof d, "%s: fixture files present with the right sizes", imgs[i].name);
        if (!CHECK_T(rgb && pre && llr && llp && n_rgb == (size_t)imgs[i].w * imgs[i].h * 3 &&
                     n_pre == 3u * S * S * 4 && n_llr == (size_t)S * S * 3 && n_llp == n_pre, d))
            goto next;

        float *out = malloc(n_pre);
        uint8_t *u8 = malloc((size_t)S * S * 3);
        snprintf(d, sizeof d, "%s llama.cpp mode", imgs[i].name);
        CHECK_T(preprocess_image(VISION_MODE_LLAMA_CPP, rgb, imgs[i].w, imgs[i].h, &P56, out) == 0, d);
        compare_f32(d, out, pre, 3u * S * S);

        snprintf(d, sizeof d, "%s llava mode resized", imgs[i].name);
        CHECK_T(preprocess_resized(VISION_MODE_LLAVA, rgb, imgs[i].w, imgs[i].h, &P56, u8) == 0, d);
        size_t nd = 0;
        for (size_t k = 0; k < n_llr; k++) nd += u8[k] != llr[k];
        snprintf(d, sizeof d, "%s llava_resized: %zu of %zu bytes differ", imgs[i].name, nd, n_llr);
        CHECK_T(nd == 0, d);
        snprintf(d, sizeof d, "%s llava mode", imgs[i].name);
        CHECK_T(preprocess_image(VISION_MODE_LLAVA, rgb, imgs[i].w, imgs[i].h, &P56, out) == 0, d);
        compare_f32(d, out, llp, 3u * S * S);
        free(out);
        free(u8);
    next:
        free(rgb);
        free(pre);
        free(llr);
        free(llp);
    }
}

int main(void)
{
    t_name = "test_preprocess";
    test_geometry();
    test_small();
    test_fixtures();
    return t_done();
}
