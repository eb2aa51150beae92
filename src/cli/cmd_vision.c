/*
 * cmd_vision.c - the vision commands: `preprocess` (image -> the normalised
 * (3, H, W) tensor the vision tower sees: S x S for CLIP, the image's own
 * dynamic size for Qwen2-VL / Qwen2.5-VL) and `embed-image` (image -> the
 * projected n_tokens x n_embd rows the LM receives), and `logits` / `generate`
 * with an image.  A thin front-end: image.c decodes, engine.h does the rest.
 * No MPI here.  Outputs are raw little-endian float32 with no header, row-major.
 */
#include "cli.h"
#include "engine/engine.h"
#include "err.h"
#include "image.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct vopts {
    const char *mmproj, *image, *out;
    int mode, threads, arith, kv, timings, min_tokens, max_tokens;
    uint64_t max_pixels;
};

static const char *VISION_HELP =
    "  --mmproj FILE        the vision projector GGUF (general.architecture = clip; projector mlp:\n"
    "                       LLaVA-1.5, qwen2vl_merger / qwen2.5vl_merger: Qwen2-VL / Qwen2.5-VL)\n"
    "  --image FILE         a JPEG, PNG, WebP or binary PPM (P6) file (the format is read from the bytes)\n"
    "  --vision-mode MODE   llava (default) or llama.cpp (original = llava).\n"
    "                       llava: the original LLaVA-1.5 computation: pad to a square with the mean\n"
    "                       colour, Pillow bicubic to S x S, class token first, every stored block,\n"
    "                       exact GELU in the projector.  Qwen: Hugging Face's processor (the image\n"
    "                       stretched with Pillow bicubic to sides of multiples of 28, Python's\n"
    "                       rounding) and erf GELU in the merger.\n"
    "                       llama.cpp: what llama.cpp (3f545be) computes: aspect-fit letterbox with\n"
    "                       its own bicubic, class token last, one block fewer, tanh GELU.  Qwen: the\n"
    "                       image letterboxed (bilinear, black) at sides of multiples of 28, tanh GELU.\n"
    "  --min-image-tokens N Qwen: image tokens (one per 28 x 28 px) an image is resized to have at\n"
    "                       least (default 8 in llama.cpp mode, 4 original)\n"
    "  --max-image-tokens N Qwen: ... and at most (default 4096)\n"
    "  --max-pixels N       refuse images above N pixels (default 67108864)\n"
    "  -o FILE              write the float32 output here (raw, little-endian, no header)\n"
    "  --timings            print how long each step took (stderr)\n";

static int parse_u64(const char *cmd, const char *opt, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    long long x;
    if (cli_parse_num(cmd, opt, v, (long long)lo, (long long)hi, &x)) return EXIT_USAGE;
    *out = (uint64_t)x;
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
        else if (!strcmp(a, "-o")) { NEEDV(); o->out = v; }
        else if (!strcmp(a, "--timings")) o->timings = 1;
        else if (!strcmp(a, "--vision-mode")) {
            NEEDV();
            if (eng_vision_mode_parse(v, &o->mode))
                return cli_usage_error(cmd, "--vision-mode: expected llava or llama.cpp, got '%s'", v);
        } else if (!strcmp(a, "--min-image-tokens") || !strcmp(a, "--max-image-tokens")) {
            NEEDV();
            uint64_t t;
            if (parse_u64(cmd, a, v, 1, 1 << 20, &t)) return EXIT_USAGE;
            if (!strcmp(a, "--min-image-tokens")) o->min_tokens = (int)t;
            else o->max_tokens = (int)t;
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
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--arith") || !strcmp(a, "--kv"))
            return cli_usage_error(cmd, "option '%s' does not apply to %s", a, cmd);
        else return cli_usage_error(cmd, "unknown argument '%s'", a);
#undef NEEDV
    }
    if (!o->mmproj) return cli_usage_error(cmd, "--mmproj is required");
    if (!o->image) return cli_usage_error(cmd, "--image is required");
    if (!o->out) return cli_usage_error(cmd, "-o OUT.bin is required");
    if (o->min_tokens && o->max_tokens && o->min_tokens > o->max_tokens)
        return cli_usage_error(cmd, "--min-image-tokens %d is above --max-image-tokens %d", o->min_tokens, o->max_tokens);
    return EXIT_OK;
}

/* The mode's name for the file's family ("original" for Qwen's llava mode). */
static const char *mode_name(const struct eng_vision *v, int mode)
{
    return mode == ENG_VISION_LLAVA && eng_vision_family(v) != ENG_VISION_CLIP ? "original" : eng_vision_mode_name(mode);
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
static int load_inputs(const struct vopts *o, struct eng_vision **v, struct image *img, double *t_decode)
{
    *v = NULL;
    memset(img, 0, sizeof *img);
    if (eng_vision_open(o->mmproj, v) || eng_vision_set_token_limits(*v, o->min_tokens, o->max_tokens)) {
        fprintf(stderr, "mmsafe: error: %s: %s\n", o->mmproj, eng_errmsg());
        eng_vision_free(*v);
        *v = NULL;
        return EXIT_ERR;
    }
    struct image_limits lim = { o->max_pixels };
    double t0 = util_now();
    if (image_load(o->image, &lim, img)) {
        fprintf(stderr, "mmsafe: error: %s\n", err_msg());
        eng_vision_free(*v);
        *v = NULL;
        return EXIT_ERR;
    }
    *t_decode = (util_now() - t0) * 1e3;
    return EXIT_OK;
}

int cmd_preprocess(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: mmsafe preprocess --mmproj MMPROJ.gguf --image IMAGE [--vision-mode llava|llama.cpp]\n"
               "                         [--min-image-tokens N] [--max-image-tokens N] [--max-pixels N] -o OUT.bin\n\n"
               "Decodes the image and writes the normalised tensor the vision tower sees:\n"
               "float32 [3, H, W] (planar RGB, rows top to bottom): H = W = the mmproj's image_size\n"
               "for CLIP, the image's own dynamic size (multiples of 28) for Qwen; normalised with\n"
               "its image_mean / image_std.  Preprocessing is single-threaded and exact:\n"
               "--threads, --arith and --kv are refused.\n\n%s", VISION_HELP);
        return EXIT_OK;
    }
    struct vopts o;
    int r = parse_opts("preprocess", argc, argv, &o, 0);
    if (r) return r;
    struct eng_vision *v;
    struct image img;
    double t_dec = 0, t0;
    if (load_inputs(&o, &v, &img, &t_dec)) return EXIT_ERR;
    int iw = 0, ih = 0, gw, gh, rc = EXIT_ERR;
    float *pre = NULL;
    if (eng_vision_geometry(v, o.mode, img.w, img.h, &iw, &ih, &gw, &gh))
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
    else if (!(pre = malloc((size_t)3 * iw * ih * sizeof(float)))) fprintf(stderr, "mmsafe: error: out of memory\n");
    else if (t0 = util_now(), eng_vision_preprocess(v, o.mode, img.rgb, img.w, img.h, pre))
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
    else if (o.timings && (fprintf(stderr, "timings: decode %.2f ms (%s %dx%d), preprocess %.2f ms (%s mode)\n", t_dec,
                                   img.format, img.w, img.h, (util_now() - t0) * 1e3, mode_name(v, o.mode)), 0))
        ;
    else if ((rc = write_floats(o.out, pre, (size_t)3 * iw * ih)) == EXIT_OK)
        printf("%s: float32 [3, %d, %d] (%s mode; %s image %dx%d)\n", o.out, ih, iw, mode_name(v, o.mode), img.format, img.w, img.h);
    free(pre);
    image_release(&img);
    eng_vision_free(v);
    return rc;
}

int cmd_embed_image(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: mmsafe embed-image --mmproj MMPROJ.gguf --image IMAGE [--vision-mode llava|llama.cpp]\n"
               "                          [--min-image-tokens N] [--max-image-tokens N]\n"
               "                          [--threads N] [--arith fast|exact] [--kv f16|f32] [--max-pixels N] -o OUT.bin\n\n"
               "Decodes the image, runs the vision tower and the projector, and writes the image\n"
               "embeddings: float32 [n_tokens, n_embd], row i = the LM's input at image position i\n"
               "(576 x 4096 for LLaVA-1.5-7B; Qwen: gw x gh tokens in row-major order, one per\n"
               "28 x 28 px of the resized image).\n\n%s"
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
    double t_dec = 0, t0 = 0, t_pre = 0, t_enc = 0;
    if (load_inputs(&o, &v, &img, &t_dec)) return EXIT_ERR;
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.n_threads = o.threads;
    p.arith = o.arith;
    p.kv_type = o.kv;
    struct eng_vision_ctx *c = NULL;
    int iw = 0, ih = 0, gw = 0, gh = 0, rc = EXIT_ERR;
    const size_t ne = (size_t)eng_vision_n_embd(v);
    size_t nt = 0;
    float *out = NULL, *pre = NULL;
    if (eng_vision_geometry(v, o.mode, img.w, img.h, &iw, &ih, &gw, &gh))
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
    else if (nt = (size_t)gw * gh, !(out = malloc(nt * ne * sizeof(float))) || !(pre = malloc((size_t)3 * iw * ih * sizeof(float))))
        fprintf(stderr, "mmsafe: error: out of memory\n");
    else if (eng_vision_ctx_new(v, &p, &c)) fprintf(stderr, "mmsafe: error: %s: %s\n", o.mmproj, eng_errmsg());
    else if (t0 = util_now(), eng_vision_preprocess(v, o.mode, img.rgb, img.w, img.h, pre))
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
    else if (t_pre = (util_now() - t0) * 1e3, t0 = util_now(), eng_vision_encode_pre_wh(c, o.mode, pre, iw, ih, out))
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
    else if (t_enc = (util_now() - t0) * 1e3, o.timings && (fprintf(stderr, "timings: decode %.2f ms (%s %dx%d), preprocess %.2f ms (%s mode), "
                                   "encode %.1f ms (%zu tokens, %d thread(s))\n", t_dec, img.format, img.w, img.h, t_pre,
                                   mode_name(v, o.mode), t_enc, nt, o.threads), 0))
        ;
    else if ((rc = write_floats(o.out, out, nt * ne)) == EXIT_OK) {
        printf("%s: float32 [%zu, %zu] (%s mode, %s arithmetic; %s image %dx%d", o.out, nt, ne,
               mode_name(v, o.mode), eng_arith_name(o.arith), img.format, img.w, img.h);
        if (eng_vision_family(v) != ENG_VISION_CLIP) printf(" -> %dx%d px, %d x %d tokens", iw, ih, gw, gh);
        printf(")\n");
    }
    free(out);
    free(pre);
    eng_vision_ctx_free(c);
    image_release(&img);
    eng_vision_free(v);
    return rc;
}

/* ------------------------------------------------------------------ logits with an image
 * `mmsafe logits --model M --mmproj P --image I ...`: cmd_logits (cmd_model.c)
 * hands over here when --mmproj or --image is on its command line. */

static const char *const LOGITS_IMAGE_HELP =
    "\nWith an image (--mmproj and --image), the prompt goes through the multimodal path\n"
    "(LLaVA-1.5, Qwen2-VL or Qwen2.5-VL: the family comes from the mmproj, and a language\n"
    "model that does not pair with it is refused): the question is put into the template\n"
    "with the image at its marker, the image is encoded by the vision tower + projector,\n"
    "the text parts are tokenized separately (BOS first when the file says so, special\n"
    "tokens parsed, as llama.cpp's mtmd does; Qwen: <|vision_start|> and <|vision_end|>\n"
    "around the image), and the image rows take the marker's place (Qwen: with 2-D\n"
    "M-RoPE positions):\n"
    "  mmsafe logits --model LM.gguf --mmproj MMPROJ.gguf --image IMAGE (--prompt Q | --prompt-file F)\n"
    "                [--template NAME] [--raw] [--system TEXT] [--vision-mode llava|llama.cpp]\n"
    "                [--answers YES,NO] [--print-tokens] [-o OUT.bin] [--top K] [--threads N] [--arith fast|exact]\n"
    "                [--kv f16|f32] [--ctx N] [--no-bos] [--max-pixels N] [--min-image-tokens N] [--max-image-tokens N]\n"
    "  --mmproj FILE        the vision projector GGUF (clip; projector mlp, qwen2vl_merger or qwen2.5vl_merger)\n"
    "  --image FILE         a JPEG, PNG, WebP or binary PPM (P6) file; the format is read from the bytes\n"
    "  --template NAME      auto (default): the template the file's tokenizer.chat_template is,\n"
    "                       recognised by llama.cpp's markers (llama3, chatml, mistral-v7, ...);\n"
    "                       without one, vicuna for a SentencePiece vocabulary (LLaVA-1.5) and\n"
    "                       chatml otherwise; a qwen2vl model (Qwen2-VL / Qwen2.5-VL) gets qwen-vl;\n"
    "                       stderr says which and why.\n"
    "                       vicuna: \"[SYSTEM\\n\\n]USER: <__media__>\\n{prompt}\\nASSISTANT:\";\n"
    "                       llava_v1: \"{SYSTEM} USER: <__media__>\\n{prompt} ASSISTANT:\" (LLaVA's own\n"
    "                       system prompt by default); qwen-vl: chatml with Qwen's default system\n"
    "                       prompt \"You are a helpful assistant.\"; llama3, chatml, mistral-*: the image\n"
    "                       marker opens the user turn; raw: the prompt as it is.\n"
    "                       Names: auto, llama3, chatml, mistral (the file's [INST] variant),\n"
    "                       mistral-v7, mistral-v7-tekken, mistral-v3, mistral-v3-tekken, mistral-v1,\n"
    "                       llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip, vicuna, vicuna-orca,\n"
    "                       llava_v1, qwen-vl, raw\n"
    "  --raw                = --template raw: the prompt must contain the marker <__media__>\n"
    "  --system TEXT        system prompt (every template but raw)\n"
    "  --vision-mode MODE   llava (default): the original computation (= original). LLaVA-1.5: pad to a\n"
    "                       square, Pillow bicubic, class token first, every stored block, erf GELU;\n"
    "                       Qwen: Hugging Face's (stretched Pillow bicubic, erf GELU, the file's RMSNorm\n"
    "                       epsilon); llama.cpp: what llama.cpp 3f545be computes (LLaVA: letterbox with\n"
    "                       its bicubic, class token last, one block fewer, tanh GELU; Qwen: letterboxed\n"
    "                       bilinear, tanh GELU, RMSNorm epsilon 0)\n"
    "  --min-image-tokens N Qwen: image tokens (one per 28 x 28 px) an image is resized to have at\n"
    "                       least (default 8 in llama.cpp mode, 4 original)\n"
    "  --max-image-tokens N Qwen: ... and at most (default 4096); an image is scaled down to fit\n"
    "  --answers YES,NO     print the verdict line: delta = LSE(YES pieces) - LSE(NO pieces), p_no, the\n"
    "                       candidates' softmax mass (pieces with and without the leading space)\n"
    "  --print-tokens       print the assembled sequence as a JSON array (-1 at image positions)\n"
    "  --timings            print how long each step took (stderr): decode, preprocess, encode, prefill\n"
    "  --max-pixels N       refuse images above N pixels (default 67108864)\n"
    "  --kv f16|f32         the LM's KV cache and the tower's K/V (default: LM f16 with fast, f32 with\n"
    "                       exact; tower f32)\n"
    "  --parse-special      accepted; image prompts are always tokenized with special parsing (mtmd)\n";

const char *cmd_logits_image_help(void) { return LOGITS_IMAGE_HELP; }

struct iopts {
    const char *model, *mmproj, *image, *prompt, *prompt_file, *out, *system, *answers;
    int mode, tmpl, threads, arith, kv, n_ctx, top, no_bos, print_tokens, timings, min_tokens, max_tokens;
    int n_gen;   /* generate: tokens to generate (-1: the logits command) */
    int ignore_eos;
    uint64_t max_pixels;
};

static int iparse(const char *cmd, int argc, char **argv, struct iopts *o)
{
    const int gen = !strcmp(cmd, "generate");
    memset(o, 0, sizeof *o);
    o->mode = ENG_VISION_LLAVA;
    o->tmpl = ENG_TMPL_AUTO;   /* a qwen2vl model resolves it to qwen-vl */
    o->n_gen = gen ? 16 : -1;
    o->threads = 1;
    o->arith = ENG_ARITH_FAST;
    o->kv = ENG_KV_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
#define NEEDV() do { if (!v) return cli_usage_error(cmd, "%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "--model")) { NEEDV(); o->model = v; }
        else if (!strcmp(a, "--mmproj")) { NEEDV(); o->mmproj = v; }
        else if (!strcmp(a, "--image")) { NEEDV(); o->image = v; }
        else if (!strcmp(a, "--prompt")) { NEEDV(); o->prompt = v; }
        else if (!strcmp(a, "--prompt-file")) { NEEDV(); o->prompt_file = v; }
        else if (!gen && !strcmp(a, "-o")) { NEEDV(); o->out = v; }
        else if (!strcmp(a, "--system")) { NEEDV(); o->system = v; }
        else if (!gen && !strcmp(a, "--answers")) { NEEDV(); o->answers = v; }
        else if (!strcmp(a, "--raw")) o->tmpl = ENG_TMPL_RAW;
        else if (!strcmp(a, "--no-bos")) o->no_bos = 1;
        else if (!strcmp(a, "--parse-special")) { /* always on for image prompts */ }
        else if (!gen && !strcmp(a, "--print-tokens")) o->print_tokens = 1;
        else if (!strcmp(a, "--timings")) o->timings = 1;
        else if (!strcmp(a, "--template")) {
            NEEDV();
            if (eng_template_parse(v, &o->tmpl)) return cli_usage_error(cmd, "--template: expected one of %s, got '%s'", ENG_TEMPLATE_NAMES, v);
        } else if (!strcmp(a, "--vision-mode")) {
            NEEDV();
            if (eng_vision_mode_parse(v, &o->mode)) return cli_usage_error(cmd, "--vision-mode: expected llava or llama.cpp, got '%s'", v);
        } else if (!strcmp(a, "--arith")) {
            NEEDV();
            if (eng_arith_parse(v, &o->arith)) return cli_usage_error(cmd, "--arith: expected fast or exact, got '%s'", v);
        } else if (!strcmp(a, "--kv")) {
            NEEDV();
            if (!strcmp(v, "f16")) o->kv = ENG_KV_F16;
            else if (!strcmp(v, "f32")) o->kv = ENG_KV_F32;
            else return cli_usage_error(cmd, "--kv: expected f16 or f32, got '%s'", v);
        } else if (!strcmp(a, "--threads")) {
            NEEDV();
            if (parse_u64(cmd, a, v, 1, 1024, &x)) return EXIT_USAGE;
            o->threads = (int)x;
        } else if (!strcmp(a, "--ctx")) {
            NEEDV();
            if (parse_u64(cmd, a, v, 1, 1 << 24, &x)) return EXIT_USAGE;
            o->n_ctx = (int)x;
        } else if (!gen && !strcmp(a, "--top")) {
            NEEDV();
            if (parse_u64(cmd, a, v, 1, 1 << 24, &x)) return EXIT_USAGE;
            o->top = (int)x;
        } else if (gen && !strcmp(a, "--ignore-eos")) {
            o->ignore_eos = 1;
        } else if (gen && !strcmp(a, "-n")) {
            NEEDV();
            if (parse_u64(cmd, a, v, 1, 1 << 20, &x)) return EXIT_USAGE;
            o->n_gen = (int)x;
        } else if (!strcmp(a, "--min-image-tokens") || !strcmp(a, "--max-image-tokens")) {
            NEEDV();
            if (parse_u64(cmd, a, v, 1, 1 << 20, &x)) return EXIT_USAGE;
            if (!strcmp(a, "--min-image-tokens")) o->min_tokens = (int)x;
            else o->max_tokens = (int)x;
        } else if (!strcmp(a, "--max-pixels")) {
            NEEDV();
            if (parse_u64(cmd, a, v, 1, UINT64_C(1) << 40, &o->max_pixels)) return EXIT_USAGE;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--arith") || !strcmp(a, "--kv"))
            return cli_usage_error(cmd, "option '%s' does not apply to %s", a, cmd);
        else return cli_usage_error(cmd, "unknown argument '%s'", a);
#undef NEEDV
    }
    if (!o->model) return cli_usage_error(cmd, "--model is required");
    if (!o->mmproj) return cli_usage_error(cmd, "--mmproj is required with --image");
    if (!o->image) return cli_usage_error(cmd, "--image is required with --mmproj");
    if (o->prompt && o->prompt_file) return cli_usage_error(cmd, "give either --prompt or --prompt-file, not both");
    if (!o->prompt && !o->prompt_file) return cli_usage_error(cmd, "no prompt (--prompt TEXT or --prompt-file F)");
    if (o->system && o->tmpl == ENG_TMPL_RAW) return cli_usage_error(cmd, "--system does not apply to the raw template (write it into the prompt)");
    if (!gen && !o->out && !o->top && !o->answers && !o->print_tokens)
        return cli_usage_error(cmd, "nothing to do: give -o OUT.bin, --top K, --answers YES,NO and/or --print-tokens");
    if (o->min_tokens && o->max_tokens && o->min_tokens > o->max_tokens)
        return cli_usage_error(cmd, "--min-image-tokens %d is above --max-image-tokens %d", o->min_tokens, o->max_tokens);
    if (o->answers && (!strchr(o->answers, ',') || strchr(o->answers, ',') == o->answers || !strchr(o->answers, ',')[1]))
        return cli_usage_error(cmd, "--answers: expected YES,NO (e.g. Yes,No), got '%s'", o->answers);
    return EXIT_OK;
}

static void print_piece(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_top(const struct eng_model *m, const float *lg, int nv, int k)
{
    if (k > nv) k = nv;
    int *best = malloc((size_t)k * sizeof *best);
    if (!best) return;
    int nb = 0;
    for (int v = 0; v < nv; v++) {
        int j = nb < k ? nb++ : k;
        while (j > 0 && lg[v] > lg[best[j - 1]]) {   /* ties: the lower id stays first */
            if (j < k) best[j] = best[j - 1];
            j--;
        }
        if (j < k) best[j] = v;
    }
    for (int i = 0; i < k; i++) {
        size_t pl = 0;
        const char *p = eng_token_raw(m, best[i], &pl);
        printf("%d ", best[i]);
        print_piece(p ? p : "", p ? pl : 0);
        printf(" %.6f\n", lg[best[i]]);
    }
    free(best);
}

static int run_image(const char *cmd, int argc, char **argv)
{
    struct iopts o;
    int r = iparse(cmd, argc, argv, &o);
    if (r) return r;
    char *text = NULL, *prompt = NULL;
    size_t tlen = 0;
    struct eng_model *m = NULL;
    struct eng_vision *v = NULL;
    struct eng_ctx *c = NULL;
    struct eng_vision_ctx *vc = NULL;
    struct image img;
    float *embd = NULL, *pre = NULL;
    int32_t *ids = NULL;
    double t0, t_dec, t_pre, t_enc, t_fill;
    int n_pos = 0;
    memset(&img, 0, sizeof img);
    r = EXIT_ERR;
    if (o.prompt_file) {
        if (util_read_file(o.prompt_file, &text, &tlen)) { fprintf(stderr, "mmsafe: error: %s\n", err_msg()); goto out; }
        if (strlen(text) != tlen) { fprintf(stderr, "mmsafe: error: %s: the prompt contains a NUL byte\n", o.prompt_file); goto out; }
    }
    if (eng_model_open(o.model, &m)) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.model, eng_errmsg()); goto out; }
    {
        int t;
        char why[300];
        if (eng_template_resolve(m, o.tmpl, &t, why, sizeof why)) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.model, eng_errmsg()); goto out; }
        if (why[0]) fprintf(stderr, "mmsafe: template %s (%s)\n", eng_template_name(t), why);
        if (eng_chat_prompt(t, o.system, o.prompt_file ? text : o.prompt, 1, &prompt)) { fprintf(stderr, "mmsafe: error: %s\n", eng_errmsg()); goto out; }
    }
    if (eng_vision_open(o.mmproj, &v) || eng_vision_set_token_limits(v, o.min_tokens, o.max_tokens)) {
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.mmproj, eng_errmsg());
        goto out;
    }
    if (eng_vision_n_embd(v) != eng_n_embd(m)) {
        fprintf(stderr, "mmsafe: error: %s: the projector outputs %d values per image token but %s has n_embd %d "
                "(an mmproj for another model size?)\n", o.mmproj, eng_vision_n_embd(v), o.model, eng_n_embd(m));
        goto out;
    }
    if (eng_vl_check_pair(m, v)) { fprintf(stderr, "mmsafe: error: %s + %s: %s\n", o.model, o.mmproj, eng_errmsg()); goto out; }
    const int qwen = eng_vision_family(v) != ENG_VISION_CLIP;
    const int ne = eng_n_embd(m), nv = eng_n_vocab(m);
    int nt = 0, iw = 0, ih = 0, gw = 0, gh = 0;
    struct eng_answers ans;
    char yes[64], no[64];
    if (o.answers) {
        const char *comma = strchr(o.answers, ',');
        snprintf(yes, sizeof yes, "%.*s", (int)(comma - o.answers), o.answers);
        snprintf(no, sizeof no, "%s", comma + 1);
        if (eng_answers_resolve(m, yes, no, &ans)) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.model, eng_errmsg()); goto out; }
    }
    struct image_limits lim = { o.max_pixels };
    t0 = util_now();
    if (image_load(o.image, &lim, &img)) { fprintf(stderr, "mmsafe: error: %s\n", err_msg()); goto out; }
    t_dec = (util_now() - t0) * 1e3;
    if (eng_vision_geometry(v, o.mode, img.w, img.h, &iw, &ih, &gw, &gh)) {
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg());
        goto out;
    }
    nt = gw * gh;
    if (o.print_tokens) {
        int n = 0;
        if (eng_llava_tokens(m, prompt, nt, o.no_bos, &ids, &n, NULL)) {
            fprintf(stderr, "mmsafe: error: %s: %s\n", o.prompt_file ? o.prompt_file : "--prompt", eng_errmsg());
            goto out;
        }
        putchar('[');
        for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
        printf("]\n");
    }
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.n_threads = o.threads;
    p.arith = o.arith;
    p.kv_type = o.kv;
    p.n_ctx = o.n_ctx;
    p.file_eps = qwen && o.mode == ENG_VISION_LLAVA;   /* the original Qwen2-VL's RMSNorm epsilon */
    embd = malloc((size_t)nt * (size_t)ne * sizeof *embd);
    pre = malloc((size_t)3 * iw * ih * sizeof *pre);
    if (!embd || !pre) { fprintf(stderr, "mmsafe: error: out of memory\n"); goto out; }
    if (eng_vision_ctx_new(v, &p, &vc)) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.mmproj, eng_errmsg()); goto out; }
    if (eng_ctx_new(m, &p, &c)) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.model, eng_errmsg()); goto out; }
    t0 = util_now();
    if (eng_vision_preprocess(v, o.mode, img.rgb, img.w, img.h, pre)) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg()); goto out; }
    t_pre = (util_now() - t0) * 1e3;
    t0 = util_now();
    if (eng_vision_encode_pre_wh(vc, o.mode, pre, iw, ih, embd)) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.image, eng_errmsg()); goto out; }
    t_enc = (util_now() - t0) * 1e3;
    t0 = util_now();
    if (eng_vl_prefill(c, prompt, embd, qwen ? gw : nt, qwen ? gh : 1, o.no_bos, &n_pos)) {
        fprintf(stderr, "mmsafe: error: %s: %s\n", o.prompt_file ? o.prompt_file : "--prompt", eng_errmsg());
        goto out;
    }
    t_fill = (util_now() - t0) * 1e3;
    if (o.timings) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "timings: decode %.2f ms (%s %dx%d), preprocess %.2f ms (%s mode), encode %.1f ms (%d tokens), "
                "prefill %.1f ms (%d positions), %d thread(s), %s arithmetic, peak RSS %.0f MiB\n", t_dec, img.format, img.w,
                img.h, t_pre, qwen && o.mode == ENG_VISION_LLAVA ? "original" : eng_vision_mode_name(o.mode), t_enc, nt, t_fill,
                n_pos, o.threads, eng_arith_name(o.arith),
                ru.ru_maxrss / 1024.0);
    }
    if (o.n_gen > 0) {   /* generate: greedy, as `mmsafe generate` prints it */
        int32_t *gen = malloc((size_t)o.n_gen * sizeof *gen);
        if (!gen) { fprintf(stderr, "mmsafe: error: out of memory\n"); goto out; }
        int k = 0, bad = 0;
        while (k < o.n_gen) {   /* as `mmsafe generate`: stops after an end-of-generation token */
            gen[k] = eng_argmax(c);
            if (!o.ignore_eos && eng_token_is_eog(m, gen[k++])) break;
            if (k < o.n_gen && eng_decode(c, gen[k - 1])) { bad = 1; break; }
        }
        putchar('[');
        for (int i = 0; i < k; i++) printf("%s%d", i ? ", " : "", gen[i]);
        printf("]\n");
        struct eng_utf8_hold hold = { { 0 }, 0 };
        for (int i = 0; i < k; i++) {
            char buf[256];
            int l = eng_token_piece_stream(m, &hold, gen[i], 0, buf, sizeof buf);
            fwrite(buf, 1, (size_t)l, stdout);
        }
        char buf[8];
        fwrite(buf, 1, (size_t)eng_token_flush(&hold, buf, sizeof buf), stdout);
        putchar('\n');
        free(gen);
        if (bad) { fprintf(stderr, "mmsafe: error: %s: %s\n", o.model, eng_errmsg()); goto out; }
        r = EXIT_OK;
        goto out;
    }
    const float *lg = eng_logits(c);
    if (o.out && write_floats(o.out, lg, (size_t)nv)) goto out;
    if (o.top) print_top(m, lg, nv, o.top);
    if (o.answers) {
        double delta, p_no, mass;
        eng_answers_score(&ans, lg, nv, &delta, &p_no, &mass);
        printf("answers %s/%s: delta %.6f p_%s %.6f mass %.6f delta1 %.6f verdict %s\n", yes, no, delta, no, p_no, mass,
               (double)lg[ans.pos1] - (double)lg[ans.neg1], p_no > 0.5 ? no : yes);
    }
    r = EXIT_OK;
out:
    free(ids);
    free(embd);
    free(pre);
    free(prompt);
    free(text);
    image_release(&img);
    eng_ctx_free(c);
    eng_vision_ctx_free(vc);
    eng_vision_free(v);
    eng_model_free(m);
    return r;
}

int cmd_logits_image(int argc, char **argv) { return run_image("logits", argc, argv); }

static const char *const GENERATE_IMAGE_HELP =
    "\nWith an image (--mmproj and --image), as `mmsafe logits` with an image (see its --help)\n"
    "followed by the greedy continuation:\n"
    "  mmsafe generate --model LM.gguf --mmproj MMPROJ.gguf --image IMAGE (--prompt Q | --prompt-file F) [-n N]\n"
    "                  [--template NAME] [--raw] [--system TEXT] [--vision-mode llava|llama.cpp] [--ignore-eos]\n"
    "                  [--threads N] [--arith fast|exact] [--kv f16|f32] [--ctx N] [--no-bos] [--max-pixels N]\n"
    "                  [--min-image-tokens N] [--max-image-tokens N] [--timings]\n"
    "  --mmproj FILE        the vision projector GGUF (clip; projector mlp, qwen2vl_merger or qwen2.5vl_merger)\n"
    "  --image FILE         a JPEG, PNG, WebP or binary PPM (P6) file\n"
    "  --template NAME      auto (default; qwen-vl for a qwen2vl model) or a name logits --help lists\n"
    "  --raw                = --template raw: the prompt must contain the marker <__media__>\n"
    "  --system TEXT        system prompt\n"
    "  --vision-mode MODE   llava (= original; default) or llama.cpp\n"
    "  --min-image-tokens N Qwen: the fewest image tokens (default 8, or 4 original)\n"
    "  --max-image-tokens N Qwen: the most image tokens (default 4096)\n"
    "  --max-pixels N       refuse images above N pixels (default 67108864)\n"
    "  --timings            print how long each step took (stderr)\n"
    "  --ignore-eos         do not stop at end-of-generation tokens: always N tokens\n";

const char *cmd_generate_image_help(void) { return GENERATE_IMAGE_HELP; }
int cmd_generate_image(int argc, char **argv) { return run_image("generate", argc, argv); }
