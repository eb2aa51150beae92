/*
 * test_vision.c - the CLIP tower + MLP projector (src/engine/vision.c) against
 * the llava-tiny goldens (reads ../shared/fixtures/llava-tiny; skips when
 * absent).  For each of the four mmproj files, both vision modes and the five
 * images: image_embd from the golden `preprocessed` tensor, in fast
 * (llama.cpp roundings) and exact (float32) arithmetic, within the fixtures
 * README's tolerances (§9.4, §12.5: 3e-3 F32 / 4e-3 F16 mmproj for a plain
 * engine; we hold fast mode to 1e-3) and within EMBD_BOUND, about 1.5x what
 * is observed per mmproj type, mode and arithmetic.  Also the debug_vision intermediates,
 * the hyper-parameters of index.json, 1 vs 2 threads, and load errors.
 * Run from the repository root.
 */
#include "engine/engine.h"
#include "engine/vision.h"
#include "err.h"
#include "t.h"

#include <stdint.h>
#include <sys/stat.h>

#define FIX "../shared/fixtures/llava-tiny/"

/* max |a-b| / max |b| */
static double max_rel(const float *a, const float *b, size_t n)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) md = d;   /* NaN propagates */
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0 ? md / mb : md;
}

static const struct { const char *file, *config; int is_f16, layers_lcpp, layers_llava, swapped, n_out; } MM[] = {
    { "mmA-F32", "A_F32", 0, 2, 3, 1, 64 },
    { "mmA-F16", "A_F16", 1, 2, 3, 1, 64 },
    { "mmB-F32", "B_F32", 0, 2, 2, 0, 256 },
    { "mmB-F16", "B_Q4_K_M", 1, 2, 2, 0, 256 },
};
static const struct { const char *img, *cas; int w, h; } IM[] = {
    { "sq56", "i_sq56", 56, 56 },
    { "small_40x25", "i_small_40x25", 40, 25 },
    { "mmsafeaware_1063", "i_mmsa_1063", 1024, 683 },
    { "mmsafeaware_140", "i_mmsa_0140", 285, 177 },
    { "alpha_64x48", "i_alpha_64x48", 64, 48 },
};

static double worst[2][2][2];   /* [f16][mode][exact] */

/* image_embd max rel bounds, about 1.5x the worst observed over the 4 mmproj
 * files x 5 images (x86-64 AVX2), [f16 mmproj][llama.cpp mode][exact] */
static const double EMBD_BOUND[2][2][2] = {
    /* F32 mmproj */ { /* llava */ { 1.5e-4 /* fast, obs 8.8e-5 */, 9e-4 /* exact, obs 5.7e-4 */ },
                       /* lcpp  */ { 2.5e-4 /* fast, obs 1.6e-4 */, 1.1e-3 /* exact, obs 7.1e-4 */ } },
    /* F16 mmproj */ { /* llava */ { 9e-4 /* fast, obs 5.8e-4 */, 1.5e-3 /* exact, obs 9.7e-4 */ },
                       /* lcpp  */ { 1e-3 /* fast, obs 6.5e-4 */, 1.2e-3 /* exact, obs 7.7e-4 */ } },
};

static void test_model(int mi)
{
    char p[512], d[512];
    struct eng_vision *v = NULL;
    snprintf(p, sizeof p, FIX "models/%s.gguf", MM[mi].file);
    int rc = eng_vision_open(p, &v);
    snprintf(d, sizeof d, "%s opens (%s)", MM[mi].file, rc ? eng_errmsg() : "ok");
    if (!CHECK_T(rc == 0 && v, d)) return;
    const struct vis_hparams *hp = eng_vision_hparams(v);
    CHECK_EQ_I(eng_vision_image_size(v), 56, "image_size");
    CHECK_EQ_I(eng_vision_n_tokens(v), 16, "16 image tokens");
    CHECK_EQ_I(eng_vision_n_embd(v), MM[mi].n_out, "projector width");
    CHECK_EQ_I(hp->n_embd, 32, "hidden");
    CHECK_EQ_I(hp->head_dim, 8, "head_dim");
    CHECK_EQ_I(hp->ffn_swapped, MM[mi].swapped, "FFN naming detected");
    CHECK_EQ_I(eng_vision_n_layers_run(v, ENG_VISION_LLAMA_CPP), MM[mi].layers_lcpp, "blocks run, llama.cpp mode");
    CHECK_EQ_I(eng_vision_n_layers_run(v, ENG_VISION_LLAVA), MM[mi].layers_llava, "blocks run, llava mode");
    CHECK_T(hp->pre.mean[0] == 0.48145466f && hp->pre.std[2] == 0.27577711f, "mean/std from the file");

    struct eng_vision_ctx *cx[2][2] = { { 0 } };   /* [exact][threads-1] */
    for (int e = 0; e < 2; e++)
        for (int t = 0; t < 2; t++) {
            struct eng_params ep = ENG_PARAMS_DEFAULT;
            ep.n_threads = t + 1;
            ep.arith = e ? ENG_ARITH_EXACT : ENG_ARITH_FAST;
            CHECK_T(eng_vision_ctx_new(v, &ep, &cx[e][t]) == 0, "vision context");
        }
    const int S = 56, T = 17, D = 32, n_out = MM[mi].n_out;
    float *out = malloc(16 * (size_t)n_out * 4), *out2 = malloc(16 * (size_t)n_out * 4);
    for (int mode = 0; mode < 2; mode++) {
        const int lcpp = mode == ENG_VISION_LLAMA_CPP;
        for (size_t ii = 0; ii < sizeof IM / sizeof *IM; ii++) {
            size_t n_pre, n_ref, n_rgb;
            snprintf(p, sizeof p, FIX "expected/images/%s.%s.f32.bin", IM[ii].img, lcpp ? "preproc_56" : "preproc_llava_56");
            float *pre = t_slurp(p, &n_pre);
            snprintf(p, sizeof p, FIX "expected/%s%s/%s.image_embd.f32.bin", MM[mi].config, lcpp ? "" : "_llava", IM[ii].cas);
            float *ref = t_slurp(p, &n_ref);
            snprintf(p, sizeof p, FIX "expected/images/%s.decoded_rgb.u8.bin", IM[ii].img);
            uint8_t *rgb = t_slurp(p, &n_rgb);
            snprintf(d, sizeof d, "%s %s %s: golden files", MM[mi].file, IM[ii].img, eng_vision_mode_name(mode));
            if (!CHECK_T(pre && ref && rgb && n_pre == 3u * S * S * 4 && n_ref == 16u * n_out * 4, d)) goto next;
            for (int e = 0; e < 2; e++) {
                /* debug capture (F32 files have goldens for it) */
                float *stages[8] = { 0 };
                int n_run = eng_vision_n_layers_run(v, mode);
                for (int s = 0; s <= n_run; s++) stages[s] = malloc((size_t)T * D * 4);
                eng_vision_ctx_set_debug(cx[e][0], stages, n_run + 1);
                rc = eng_vision_encode_pre(cx[e][0], mode, pre, out);
                eng_vision_ctx_set_debug(cx[e][0], NULL, 0);
                double r = rc ? 1e9 : max_rel(out, ref, 16u * n_out);
                /* README's tolerance for a plain engine (exact), our own for fast mode,
                 * and the tight bound near what is observed (EMBD_BOUND) */
                double tol = e ? (MM[mi].is_f16 ? 4e-3 : 3e-3) : 1e-3, tight = EMBD_BOUND[MM[mi].is_f16][lcpp][e];
                if (r > worst[MM[mi].is_f16][mode][e]) worst[MM[mi].is_f16][mode][e] = r;
                snprintf(d, sizeof d, "%s %s %s %s: image_embd max rel %.3g (tol %g, observed bound %g)", MM[mi].file, IM[ii].img,
                         eng_vision_mode_name(mode), e ? "exact" : "fast", r, tol, tight);
                CHECK_T(rc == 0 && r <= tol && r <= tight, d);
                if (!MM[mi].is_f16 && e == 0) {
                    for (int s = 0; s <= n_run; s++) {
                        char q[512], nm[32];
                        if (s == 0) snprintf(nm, sizeof nm, "pre_ln");
                        else snprintf(nm, sizeof nm, "layer_out-%d", s - 1);
                        snprintf(q, sizeof q, FIX "expected/%s%s/%s.vis.%s.f32.bin", MM[mi].config, lcpp ? "" : "_llava",
                                 IM[ii].cas, nm);
                        size_t nd;
                        float *g = t_slurp(q, &nd);
                        if (!g) continue;   /* the goldens dump pre_ln and the first blocks */
                        double rr = nd == (size_t)T * D * 4 ? max_rel(stages[s], g, (size_t)T * D) : 1e9;
                        snprintf(d, sizeof d, "%s %s %s debug %s: max rel %.3g", MM[mi].file, IM[ii].img,
                                 eng_vision_mode_name(mode), nm, rr);
                        /* observed worst: pre_ln 5.1e-7, block outputs 1.5e-4 */
                        CHECK_T(rr <= (s == 0 ? 1e-6 : 2.5e-4), d);
                        free(g);
                    }
                }
                for (int s = 0; s <= n_run; s++) free(stages[s]);
                /* 2 threads give the same bits; the RGB path preprocesses exactly */
                if (ii == 2) {
                    rc = eng_vision_encode_pre(cx[e][1], mode, pre, out2);
                    snprintf(d, sizeof d, "%s %s %s: 1 and 2 threads bit-identical", MM[mi].file,
                             eng_vision_mode_name(mode), e ? "exact" : "fast");
                    CHECK_T(rc == 0 && !memcmp(out, out2, 16u * n_out * 4), d);
                }
                rc = eng_vision_encode(cx[e][0], mode, rgb, IM[ii].w, IM[ii].h, out2);
                snprintf(d, sizeof d, "%s %s %s: encode(decoded_rgb) == encode_pre(golden preprocessed)",
                         MM[mi].file, IM[ii].img, eng_vision_mode_name(mode));
                CHECK_T(rc == 0 && !memcmp(out, out2, 16u * n_out * 4), d);
            }
        next:
            free(pre);
            free(ref);
            free(rgb);
        }
    }
    free(out);
    free(out2);
    for (int e = 0; e < 2; e++)
        for (int t = 0; t < 2; t++) eng_vision_ctx_free(cx[e][t]);
    eng_vision_free(v);
}

static void test_errors(void)
{
    struct eng_vision *v = (struct eng_vision *)1;
    CHECK_T(eng_vision_open(FIX "models/lmA-F32.gguf", &v) == RC_EFORMAT && v == NULL, "an LM is not an mmproj");
    CHECK_T(strstr(eng_errmsg(), "clip") != NULL, eng_errmsg());
    CHECK_T(eng_vision_open("no-such-file.gguf", &v) != 0 && v == NULL, "missing file");
    eng_vision_free(NULL);
    eng_vision_ctx_free(NULL);

    /* every truncation of a real mmproj is refused cleanly (the GGUF reader
     * checks sizes), including cuts inside the tensor data */
    size_t n;
    uint8_t *b = t_slurp(FIX "models/mmA-F16.gguf", &n);
    if (!CHECK_T(b != NULL, "read mmA-F16")) return;
    const char *tmp = "build/tests/engine/test_vision.cut.gguf";
    int bad = 0;
    size_t cuts[] = { 0, 3, 8, 24, 100, 1000, 5000, n / 2, n - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        FILE *f = fopen(tmp, "wb");
        if (!f) { bad++; continue; }
        fwrite(b, 1, cuts[i], f);
        fclose(f);
        if (eng_vision_open(tmp, &v) == 0) { bad++; eng_vision_free(v); }
    }
    remove(tmp);
    CHECK_EQ_I(bad, 0, "truncated mmproj files accepted");
    free(b);
}

/* llama.cpp's default settings run the tower with flash attention, which
 * rounds K and V to F16 and, below 64 queries, Q and the output accumulator
 * too (config B_F32_kvf16_faauto, README §9.1: its image_embd moves 7e-4..9e-4
 * from the golden).  With kv_type F16 we must land closer to those numbers
 * than with F32 attention. */
static void test_flash_attention_emulation(void)
{
    struct eng_vision *v = NULL;
    if (!CHECK_T(eng_vision_open(FIX "models/mmB-F32.gguf", &v) == 0, "open mmB-F32")) return;
    struct eng_vision_ctx *c16 = NULL, *c32 = NULL;
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.kv_type = ENG_KV_F16;
    CHECK_T(eng_vision_ctx_new(v, &p, &c16) == 0, "ctx kv f16");
    p.kv_type = ENG_KV_AUTO;
    CHECK_T(eng_vision_ctx_new(v, &p, &c32) == 0, "ctx kv auto");
    float *o16 = malloc(16 * 256 * 4), *o32 = malloc(16 * 256 * 4);
    double w16 = 0, w32 = 0;
    for (size_t ii = 0; ii < sizeof IM / sizeof *IM && c16 && c32; ii++) {
        char p1[512], p2[512], d[256];
        size_t n1, n2;
        snprintf(p1, sizeof p1, FIX "expected/images/%s.preproc_56.f32.bin", IM[ii].img);
        snprintf(p2, sizeof p2, FIX "expected/B_F32_kvf16_faauto/%s.image_embd.f32.bin", IM[ii].cas);
        float *pre = t_slurp(p1, &n1), *ref = t_slurp(p2, &n2);
        if (CHECK_T(pre && ref && n2 == 16 * 256 * 4, "faauto goldens") &&
            CHECK_T(eng_vision_encode_pre(c16, ENG_VISION_LLAMA_CPP, pre, o16) == 0 &&
                    eng_vision_encode_pre(c32, ENG_VISION_LLAMA_CPP, pre, o32) == 0, "encode")) {
            double r16 = max_rel(o16, ref, 16 * 256), r32 = max_rel(o32, ref, 16 * 256);
            if (r16 > w16) w16 = r16;
            if (r32 > w32) w32 = r32;
            snprintf(d, sizeof d, "%s vs flash-attention golden: F16 K/V %.3g, F32 attention %.3g", IM[ii].img, r16, r32);
            CHECK_T(r16 <= 6e-4 && r16 < r32, d);   /* observed worst 3.7e-4 */
        }
        free(pre);
        free(ref);
    }
    fprintf(stderr, "note: flash-attention golden (B_F32_kvf16_faauto): worst max rel %.2g with F16 K/V, %.2g with F32\n",
            w16, w32);
    /* An F16 accumulator rounded after every key turns our ~1e-4 differences
     * in K and V into whole-ulp flips (2^-11 = 4.9e-4), so this is as close as
     * emulation gets; it must still clearly beat F32 attention. */
    CHECK_T(w16 < 0.75 * w32, "F16 K/V emulation is closer to llama.cpp's flash attention than F32");
    free(o16);
    free(o32);
    eng_vision_ctx_free(c16);
    eng_vision_ctx_free(c32);
    eng_vision_free(v);
}

/* vis_act_rows with a bias: x + b row by row, then the activation, for rows
 * shorter and longer than its 256-value pieces (a piece then starts inside a row) */
static void test_act_bias(void)
{
    static const int rows[3] = { 100, 300, 1024 };
    for (int ri = 0; ri < 3; ri++) {
        const int row = rows[ri], T = 5;
        const size_t n = (size_t)T * row;
        float *a = malloc(n * 4), *b = malloc(n * 4), *bias = malloc((size_t)row * 4);
        for (int i = 0; i < row; i++) bias[i] = (float)((i * 37) % 101) / 25.0f - 2.0f;
        for (size_t i = 0; i < n; i++) a[i] = b[i] = (float)((i * 53) % 97) / 24.0f - 2.0f;
        for (size_t i = 0; i < n; i++) b[i] += bias[i % (size_t)row];
        vis_act_rows(2, 0, a, n, VIS_ACT_GELU_ERF, NULL, NULL, bias, (size_t)row);
        vis_act_rows(2, 0, b, n, VIS_ACT_GELU_ERF, NULL, NULL, NULL, 0);
        char d[96];
        snprintf(d, sizeof d, "activation with the bias of rows of %d = bias added first", row);
        CHECK_T(!memcmp(a, b, n * 4), d);
        free(a);
        free(b);
        free(bias);
    }
}

int main(void)
{
    t_name = "test_vision";
    test_act_bias();
    struct stat st;
    if (stat(FIX "models", &st) != 0) {
        t_skipped("../shared/fixtures/llava-tiny absent");
        return t_done();
    }
    test_errors();
    for (size_t i = 0; i < sizeof MM / sizeof *MM; i++) test_model((int)i);
    test_flash_attention_emulation();
    fprintf(stderr, "note: worst image_embd max rel: fast F32 %.2g/%.2g F16 %.2g/%.2g; exact F32 %.2g/%.2g F16 "
                    "%.2g/%.2g (llava/llama.cpp)\n",
            worst[0][0][0], worst[0][1][0], worst[1][0][0], worst[1][1][0], worst[0][0][1], worst[0][1][1],
            worst[1][0][1], worst[1][1][1]);
    return t_done();
}
