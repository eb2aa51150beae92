/*
 * cmd_vision.c - the vision commands: `preprocess` (image -> the normalised
 * (3, S, S) tensor the CLIP tower sees) and `embed-image` (image -> the
 * projected n_tokens x n_embd rows the LM receives).  A thin front-end:
 * image.c decodes, engine.h does the rest.  No MPI here.
 * Outputs are raw little-endian float32 with no header, row-major.
 */
#include "cli.h"
#include "engine/engine.h"
#include "err.h"
#include "image.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vopts {
    const char *mmproj, *image, *out;
    int mode, threads, arith, kv;
    uint64_t max_pixels;
};

static const char *VISION_HELP =
    "  --mmproj FILE        the vision projector GGUF (general.architecture = clip, projector mlp)\n"
    "  --image FILE         a JPEG, PNG or WebP file (the format is read from the bytes)\n"
    "  --vision-mode MODE   llava (default) or llama.cpp.\n"
    "                       llava: the original LLaVA-1.5 computation: pad to a square with the mean\n"
    "                       colour, Pillow bicubic to S x S, class token first, every stored block,\n"
    "                       exact GELU in the projector.\n"
    "                       llama.cpp: what llama.cpp (3f545be) computes: aspect-fit letterbox with\n"
    "                       its own bicubic, class token last, one block fewer, tanh GELU.\n"
    "  --max-pixels N       refuse images above N pixels (default 67108864)\n"
    "  -o FILE              write the float32 output here (raw, little-endian, no header)\n";

static int parse_u64(const char *cmd, const char *opt, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || end == v || v[0] == '-' || x < lo || x > hi)
        return cli_usage_error(cmd, "%s: expected an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'", opt, lo, hi, v);
    *out = x;
    return EXIT_OK;
}

static int parse_opts(const char *cmd, int argc, char **argv, struct vopts *o, int allow_compute)
{
    memset(o, 0, sizeof *o);
    o->mode = ENG_VISION_LLAVA;
    o->threads = 1;
    o->arith = ENG_ARITH_FAST;
    o->kv = ENG_KV_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) return cli_usage_error(cmd, "%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "--mmproj")) { NEEDV(); o->mmproj = v; }
        else if (!strcmp(a, "--image")) { NEEDV(); o->image = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) { NEEDV(); o->out = v; }
        else if (!strcmp(a, "--vision-mode")) {
            NEEDV();
            if (eng_vision_mode_parse(v, &o->mode))
                return cli_usage_error(cmd, "--vision-mode: expected llava or llama.cpp, got '%s'", v);
        } else if (!strcmp(a, "--max-pixels")) {
            NEEDV();
            if (parse_u64(cmd, a, v, 1, UINT64_C(1) << 40, &o->max_pixels)) return EXIT_USAGE;
        } else if (allow_compute && !strcmp(a, "--threads")) {
            NEEDV();
            uint64_t t;
            if (parse_u64(cmd, a, v, 1, 1024, &t)) return EXIT_USAGE;
            o->threads = (int)t;
        } else if (allow_compute && !strcmp(a, "--arith")) {
            NEEDV();
            if (eng_arith_parse(v, &o->arith)) return cli_usage_error(cmd, "--arith: expected fast or exact, got '%s'", v);
        } else if (allow_compute && !strcmp(a, "--kv")) {
            NEEDV();
            if (!strcmp(v, "f16")) o->kv = ENG_KV_F16;
            else if (!strcmp(v, "f32")) o->kv = ENG_KV_F32;
            else return cli_usage_error(cmd, "--kv: expected f16 or f32, got '%s'", v);
        } else return cli_usage_error(cmd, "unknown argument '%s'", a);
#undef NEEDV
    }
    if (!o->mmproj) return cli_usage_error(cmd, "--mmproj is required");
    if (!o->image) return cli_usage_error(cmd, "--image is required");
    if (!o->out) return cli_usage_error(cmd, "-o OUT.bin is required");
    return EXIT_OK;
}

static int write_floats(const char *path, const float *x, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof(float), n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "mmsafe: error: %s: cannot write: %s\n", path, strerror(errno));
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* Loads the mmproj and the image; on failure prints the error and returns EXIT_ERR. */
static int load_inputs(const struct vopts *o, struct eng_vision **v, struct image *img)
{
    *v = NULL;
    memset(img, 0, sizeof *img);
    if (eng_vision_open(o->mmproj, v)) {
        fprintf(stderr, "mmsafe: error: %s: %s\n", o->mmproj, eng_errmsg());
        return EXIT_ERR;
    }
    struct image_limits lim = { o->max_pixels };
    if (image_load(o->image, &lim, img)) {
        fprintf(stderr, "mmsafe: error: %s\n", err_msg());
        eng_vision_free(*v);
        *v = NULL;
        return EXIT_ERR;
    }
    return EXIT_OK;
}

int cmd_preprocess(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: mmsafe preprocess --mmproj MMPROJ.gguf --image IMAGE [--vision-mode llava|llama.cpp]\n"
               "                         [--max-pixels N] -o OUT.bin\n\n"
               "Decodes the image and writes the normalised tensor the vision tower sees:\n"
               "float32 [3, S, S] (planar RGB, rows top to bottom), S = the mmproj's image_size,\n"
               "normalised with its image_mean / image_std.\n\n%s", VISION_HELP);
        return EXIT_OK;
    }
    struct vopts o;
    int r = parse_opts("preprocess", argc, argv, &o, 0);
    if (r) return r;
    struct eng_vision *v;
    struct image img;
    if (load_inputs(&o, &v, &img)) return EXIT_ERR;
    const size_t S = (size_t)eng_vision_image_size(v);
    float *pre = malloc(3 * S * S * sizeof(float));
    int rc = EXIT_ERR;
    if (!pre) fprintf(stderr, "mmsafe: error: out of memory\n");
    else if (eng_vision_preprocess(v, o.mode, img.rgb, img.w, img.h, pre))
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
    else if ((rc = write_floats(o.out, pre, 3 * S * S)) == EXIT_OK)
        printf("%s: float32 [3, %zu, %zu] (%s mode; %s image %dx%d)\n", o.out, S, S,
               eng_vision_mode_name(o.mode), img.format, img.w, img.h);
    free(pre);
    image_release(&img);
    eng_vision_free(v);
    return rc;
}

int cmd_embed_image(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: mmsafe embed-image --mmproj MMPROJ.gguf --image IMAGE [--vision-mode llava|llama.cpp]\n"
               "                          [--threads N] [--arith fast|exact] [--kv f16|f32] [--max-pixels N] -o OUT.bin\n\n"
               "Decodes the image, runs the CLIP vision tower and the MLP projector, and writes\n"
               "the image embeddings: float32 [n_tokens, n_embd], row i = the LM's input at image\n"
               "position i (576 x 4096 for LLaVA-1.5-7B).\n\n%s"
               "  --threads N          OpenMP threads (default 1)\n"
               "  --arith MODE         fast (default): llama.cpp's F16 roundings (im2col, activations of\n"
               "                       F16 weights, GELU tables); exact: plain float32\n"
               "  --kv f16|f32         the tower's attention: f32 (default; llama.cpp with flash attention\n"
               "                       off, as in the reference goldens) or f16 (K and V rounded to F16, as\n"
               "                       llama.cpp's default flash attention does)\n", VISION_HELP);
        return EXIT_OK;
    }
    struct vopts o;
    int r = parse_opts("embed-image", argc, argv, &o, 1);
    if (r) return r;
    struct eng_vision *v;
    struct image img;
    if (load_inputs(&o, &v, &img)) return EXIT_ERR;
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.n_threads = o.threads;
    p.arith = o.arith;
    p.kv_type = o.kv;
    struct eng_vision_ctx *c = NULL;
    const size_t nt = (size_t)eng_vision_n_tokens(v), ne = (size_t)eng_vision_n_embd(v);
    float *out = malloc(nt * ne * sizeof(float));
    int rc = EXIT_ERR;
    if (!out) fprintf(stderr, "mmsafe: error: out of memory\n");
    else if (eng_vision_ctx_new(v, &p, &c)) fprintf(stderr, "mmsafe: error: %s: %s\n", o.mmproj, eng_errmsg());
    else if (eng_vision_encode(c, o.mode, img.rgb, img.w, img.h, out))
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
    else if ((rc = write_floats(o.out, out, nt * ne)) == EXIT_OK)
        printf("%s: float32 [%zu, %zu] (%s mode, %s arithmetic; %s image %dx%d)\n", o.out, nt, ne,
               eng_vision_mode_name(o.mode), eng_arith_name(o.arith), img.format, img.w, img.h);
    free(out);
    eng_vision_ctx_free(c);
    image_release(&img);
    eng_vision_free(v);
    return rc;
}
