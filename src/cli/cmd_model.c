/*
 * cmd_model.c - the model commands: inspect, tokenize, logits, generate.
 * A thin front-end over engine.h (no MPI here).
 */
#include "cli.h"
#include "err.h"
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mopts {
    const char *model, *prompt, *prompt_file, *out, *system;
    int no_bos, parse_special, threads, arith, kv, n_ctx, top, n_gen, tmpl, ignore_eos;
    char *text; size_t text_len;
};

static const char *ARITH_HELP =
    "  --arith MODE         fast (default) or exact.\n"
    "                       fast: what the reference (llama.cpp, CPU) computes: activations rounded\n"
    "                       to F16 for F16 weights and quantised to 8 bits for quantised weights,\n"
    "                       integer SIMD dot products, F16 KV cache. It is the default because\n"
    "                       mmsafe reproduces the reference's results: fast agrees with llama.cpp's\n"
    "                       logits several times more tightly than exact, and it is faster.\n"
    "                       exact: weights dequantised exactly, float32 activations and KV cache\n"
    "                       (the model as written; within 1e-5 of a float64 forward).\n"
    "  --kv f16|f32         KV cache type (default: f16 with fast, f32 with exact)\n";

static const char *COMMON_HELP =
    "  --model FILE         the language-model GGUF (general.architecture llama, qwen2 or qwen3)\n"
    "  --prompt TEXT        the prompt text\n"
    "  --prompt-file F      read the prompt from F (its exact bytes)\n"
    "  --no-bos             do not add BOS even if the file's add_bos_token says to\n"
    "  --parse-special      text such as <s> becomes the control token (default: plain text)\n";

static const char *TMPL_HELP =
    "  --template NAME      put the prompt into a chat template as the user turn, followed by\n"
    "                       the generation prompt (default raw: the prompt as it is). auto: the template\n"
    "                       the file's tokenizer.chat_template is, recognised by llama.cpp's markers\n"
    "                       (llama3, chatml, mistral-v7, ...); without one: vicuna for a SentencePiece\n"
    "                       vocabulary, chatml otherwise. stderr says which was used and why.\n"
    "                       Names: auto, llama3, chatml, mistral (the file's [INST] variant),\n"
    "                       mistral-v7, mistral-v7-tekken, mistral-v3, mistral-v3-tekken, mistral-v1,\n"
    "                       llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip, vicuna, vicuna-orca,\n"
    "                       llava_v1, raw.\n"
    "                       A template implies --parse-special (its markers are control tokens)\n"
    "  --system TEXT        system prompt (needs --template; none by default)\n";

static int model_error(const char *path)
{
    fprintf(stderr, "mmsafe: error: %s: %s\n", path, eng_errmsg());
    return EXIT_ERR;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "mmsafe: error: %s: %s\n", path, strerror(errno)); return EXIT_ERR; }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) { fclose(f); fprintf(stderr, "mmsafe: error: %s: out of memory\n", path); return EXIT_ERR; }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        char *nb = realloc(b, cap);
        if (!nb) free(b);
        b = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); fprintf(stderr, "mmsafe: error: %s: read error\n", path); return EXIT_ERR; }
    *out = b;
    *len = n;
    return EXIT_OK;
}

static int parse_int(const char *cmd, const char *opt, const char *v, int lo, int hi, int *out)
{
    long long x;
    if (cli_parse_num(cmd, opt, v, lo, hi, &x)) return EXIT_USAGE;
    *out = (int)x;
    return EXIT_OK;
}

/* Options beyond the shared ones (--model, --prompt, --prompt-file, --no-bos,
 * --parse-special), per command; any other is a usage error, never ignored. */
enum { MO_OUT = 1, MO_TOP = 2, MO_N = 4, MO_COMPUTE = 8 /* --threads --ctx --arith --kv */,
       MO_TMPL = 16 /* --template --system */, MO_EOS = 32 /* --ignore-eos */ };

/* Parses the shared options; positional text goes to prompt when allow_pos. */
static int parse_opts(const char *cmd, int argc, char **argv, struct mopts *o, int allow_pos, unsigned allow)
{
    memset(o, 0, sizeof *o);
    o->threads = 1; o->arith = ENG_ARITH_FAST; o->kv = ENG_KV_AUTO; o->top = 0; o->n_gen = 16; o->tmpl = ENG_TMPL_RAW;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = EXIT_OK;
#define NEEDV() do { if (!v) return cli_usage_error(cmd, "%s needs a value", a); i++; } while (0)
#define ALLOWED(bit) do { if (!(allow & (bit))) return cli_usage_error(cmd, "option '%s' does not apply to %s", a, cmd); } while (0)
        if (!strcmp(a, "--model")) { NEEDV(); o->model = v; }
        else if (!strcmp(a, "--prompt")) { NEEDV(); o->prompt = v; }
        else if (!strcmp(a, "--prompt-file")) { NEEDV(); o->prompt_file = v; }
        else if (!strcmp(a, "-o")) { ALLOWED(MO_OUT); NEEDV(); o->out = v; }
        else if (!strcmp(a, "--no-bos")) o->no_bos = 1;
        else if (!strcmp(a, "--parse-special")) o->parse_special = 1;
        else if (!strcmp(a, "--threads")) { ALLOWED(MO_COMPUTE); NEEDV(); r = parse_int(cmd, a, v, 1, 1024, &o->threads); }
        else if (!strcmp(a, "--ctx")) { ALLOWED(MO_COMPUTE); NEEDV(); r = parse_int(cmd, a, v, 1, 1 << 24, &o->n_ctx); }
        else if (!strcmp(a, "--top")) { ALLOWED(MO_TOP); NEEDV(); r = parse_int(cmd, a, v, 1, 1 << 24, &o->top); }
        else if (!strcmp(a, "-n")) { ALLOWED(MO_N); NEEDV(); r = parse_int(cmd, a, v, 0, 1 << 24, &o->n_gen); }
        else if (!strcmp(a, "--arith")) { ALLOWED(MO_COMPUTE); NEEDV(); if (eng_arith_parse(v, &o->arith)) return cli_usage_error(cmd, "--arith: expected fast or exact, got '%s'", v); }
        else if (!strcmp(a, "--template")) { ALLOWED(MO_TMPL); NEEDV();
            if (eng_template_parse(v, &o->tmpl)) return cli_usage_error(cmd, "--template: expected one of %s, got '%s'", ENG_TEMPLATE_NAMES, v); }
        else if (!strcmp(a, "--system")) { ALLOWED(MO_TMPL); NEEDV(); o->system = v; }
        else if (!strcmp(a, "--ignore-eos")) { ALLOWED(MO_EOS); o->ignore_eos = 1; }
        else if (!strcmp(a, "--kv")) { ALLOWED(MO_COMPUTE); NEEDV();
            if (!strcmp(v, "f16")) o->kv = ENG_KV_F16; else if (!strcmp(v, "f32")) o->kv = ENG_KV_F32;
            else return cli_usage_error(cmd, "--kv: expected f16 or f32, got '%s'", v); }
        else if (a[0] == '-' && a[1]) return cli_usage_error(cmd, "unknown option '%s'", a);
        else if (allow_pos && !o->prompt) o->prompt = a;
        else return cli_usage_error(cmd, "unexpected argument '%s'", a);
        if (r) return r;
#undef NEEDV
#undef ALLOWED
    }
    if (!o->model) return cli_usage_error(cmd, "--model is required");
    if (o->prompt && o->prompt_file) return cli_usage_error(cmd, "give either --prompt or --prompt-file, not both");
    if (!o->prompt && !o->prompt_file) return cli_usage_error(cmd, "no prompt (--prompt TEXT or --prompt-file F)");
    if (o->system && o->tmpl == ENG_TMPL_RAW) return cli_usage_error(cmd, "--system needs --template (the raw prompt has no system turn)");
    if (o->prompt_file) return read_file(o->prompt_file, &o->text, &o->text_len);
    o->text_len = strlen(o->prompt);
    o->text = malloc(o->text_len + 1);
    if (!o->text) { fprintf(stderr, "mmsafe: error: out of memory\n"); return EXIT_ERR; }
    memcpy(o->text, o->prompt, o->text_len + 1);
    return EXIT_OK;
}

static int tokenize(const struct eng_model *m, const struct mopts *o, int32_t **ids, int *n)
{
    /* byte fallback can give 3 ids per input byte (a space becomes the 3 bytes of U+2581) */
    size_t cap = 3 * o->text_len + 8;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (cap > (1u << 30)) { fprintf(stderr, "mmsafe: error: the prompt is too long\n"); return EXIT_ERR; }
        free(*ids);
        *ids = malloc(cap * sizeof **ids);
        if (!*ids) { fprintf(stderr, "mmsafe: error: out of memory\n"); return EXIT_ERR; }
        int rc = eng_tokenize(m, o->text, o->text_len, !o->no_bos, o->parse_special, *ids, (int)cap, n);
        if (rc) return model_error(rc == RC_EINPUT ? (o->prompt_file ? o->prompt_file : "--prompt") : o->model);
        if ((size_t)*n <= cap) return EXIT_OK;
        cap = (size_t)*n;
    }
    fprintf(stderr, "mmsafe: error: internal: token count changed between calls\n");
    return EXIT_ERR;
}

static void print_piece_json(FILE *f, const char *s, int n)
{
    fputc('"', f);
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int cmd_inspect(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        printf("usage: mmsafe inspect FILE.gguf\n\n"
               "Prints the GGUF header, metadata and the tensor table (name, type, shape, size) of\n"
               "any file the engine loads, then what it is:\n"
               "  a language model (general.architecture llama, qwen2, qwen3): hyper-parameters and tokenizer;\n"
               "  an mmproj (general.architecture clip): the vision tower (image and patch size,\n"
               "  blocks, width, heads, activation), the projector, image mean/std;\n"
               "and validation problems.  Exit 1 when the file cannot be used.\n");
        return EXIT_OK;
    }
    if (argc != 2) return cli_usage_error("inspect", "expected one GGUF file");
    if (eng_inspect(argv[1], stdout)) { fflush(stdout); return model_error(argv[1]); }
    printf("engine kernels: %s\n", engine_cpu_desc());
    return EXIT_OK;
}

/* Puts o->text (the question) into the template: o->text becomes the rendered
 * prompt, tokenized with special tokens parsed (the template's markers are
 * control tokens), as the reference tokenizes a formatted chat. */
static int apply_template(struct mopts *o, const struct eng_model *m)
{
    int t;
    char why[300];
    if (eng_template_resolve(m, o->tmpl, &t, why, sizeof why)) return model_error(o->model);
    /* o->text holds the file's bytes, not NUL-terminated */
    if (memchr(o->text, 0, o->text_len)) {
        fprintf(stderr, "mmsafe: error: %s: the prompt contains a NUL byte\n", o->prompt_file ? o->prompt_file : "--prompt");
        return EXIT_ERR;
    }
    char *q = malloc(o->text_len + 1), *r = NULL;
    if (!q) { fprintf(stderr, "mmsafe: error: out of memory\n"); return EXIT_ERR; }
    memcpy(q, o->text, o->text_len);
    q[o->text_len] = 0;
    int rc = eng_chat_prompt(t, o->system, q, 0, &r);
    free(q);
    if (rc) { fprintf(stderr, "mmsafe: error: %s\n", eng_errmsg()); return EXIT_ERR; }
    if (why[0]) fprintf(stderr, "mmsafe: template %s (%s)\n", eng_template_name(t), why);
    else fprintf(stderr, "mmsafe: template %s\n", eng_template_name(t));
    free(o->text);
    o->text = r;
    o->text_len = strlen(r);
    o->parse_special = 1;
    return EXIT_OK;
}

int cmd_tokenize(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        printf("usage: mmsafe tokenize --model MODEL.gguf (TEXT | --prompt TEXT | --prompt-file F) [--no-bos] [--parse-special]\n"
               "                       [--template NAME] [--system TEXT]\n\n"
               "Prints the token ids as one JSON array on stdout.  Tokenizing is single-threaded\n"
               "and has no arithmetic: --threads, --arith and the other compute options are refused.\n"
               "With --template, the ids of the templated prompt `generate --template` evaluates.\n\n%s%s", COMMON_HELP, TMPL_HELP);
        return EXIT_OK;
    }
    struct mopts o;
    int r = parse_opts("tokenize", argc, argv, &o, 1, MO_TMPL);
    if (r) return r;
    struct eng_model *m = NULL;
    int32_t *ids = NULL;
    int n = 0;
    /* only the vocabulary is needed: vocabulary-only GGUF files work too */
    if (eng_vocab_open(o.model, &m)) { r = model_error(o.model); goto out; }
    if (o.tmpl != ENG_TMPL_RAW && (r = apply_template(&o, m))) goto out;
    if ((r = tokenize(m, &o, &ids, &n))) goto out;
    putchar('[');
    for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
    printf("]\n");
out:
    free(ids); free(o.text);
    eng_model_free(m);
    return r;
}

/* Opens the model unless *mp is already open, tokenizes o->text, prefills it. */
static int prefill_prompt(struct mopts *o, struct eng_model **mp, struct eng_ctx **cp, int32_t **ids, int *n)
{
    if (!*mp && eng_model_open(o->model, mp)) return model_error(o->model);
    int r = tokenize(*mp, o, ids, n);
    if (r) return r;
    if (*n == 0) { fprintf(stderr, "mmsafe: error: %s: the prompt has no tokens\n", o->model); return EXIT_ERR; }
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.n_threads = o->threads; p.arith = o->arith; p.kv_type = o->kv; p.n_ctx = o->n_ctx;
    if (eng_ctx_new(*mp, &p, cp)) return model_error(o->model);
    if (eng_prefill(*cp, *ids, *n, NULL)) return model_error(o->model);
    return EXIT_OK;
}

int cmd_logits(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        printf("usage: mmsafe logits --model MODEL.gguf (--prompt TEXT | --prompt-file F) [-o OUT.bin] [--top K]\n"
               "                     [--threads N] [--arith fast|exact] [--kv f16|f32] [--ctx N] [--no-bos] [--parse-special]\n\n"
               "Prefills the prompt as one batch and writes the last position's logits\n"
               "(n_vocab little-endian float32) to OUT.bin; --top K prints the K best 'id piece logit'.\n\n%s"
               "  -o FILE              write the logits here\n"
               "  --top K              print the K largest logits\n"
               "  --threads N          OpenMP threads (default 1)\n"
               "  --ctx N              context size (default: the model's context_length)\n%s", COMMON_HELP, ARITH_HELP);
        fputs(cmd_logits_image_help(), stdout);
        return EXIT_OK;
    }
    for (int i = 1; i < argc; i++)   /* an image prompt: cmd_vision.c */
        if (!strcmp(argv[i], "--mmproj") || !strcmp(argv[i], "--image")) return cmd_logits_image(argc, argv);
    struct mopts o;
    int r = parse_opts("logits", argc, argv, &o, 0, MO_OUT | MO_TOP | MO_COMPUTE);
    if (r) return r;
    if (!o.out && !o.top) { free(o.text); return cli_usage_error("logits", "nothing to do: give -o OUT.bin and/or --top K"); }
    struct eng_model *m = NULL;
    struct eng_ctx *c = NULL;
    int32_t *ids = NULL;
    int n = 0;
    if ((r = prefill_prompt(&o, &m, &c, &ids, &n))) goto out;
    const float *lg = eng_logits(c);
    int nv = eng_n_vocab(m);
    if (o.out) {
        FILE *f = fopen(o.out, "wb");
        if (!f || fwrite(lg, sizeof(float), (size_t)nv, f) != (size_t)nv || fclose(f) != 0) {
            fprintf(stderr, "mmsafe: error: %s: cannot write: %s\n", o.out, strerror(errno));
            r = EXIT_ERR;
            goto out;
        }
    }
    if (o.top) {
        int k = o.top < nv ? o.top : nv;
        int *best = malloc((size_t)k * sizeof *best);
        if (!best) { r = EXIT_ERR; goto out; }
        for (int i = 0; i < k; i++) best[i] = -1;
        for (int v = 0; v < nv; v++) {
            int j = k;
            while (j > 0 && (best[j - 1] < 0 || lg[v] > lg[best[j - 1]])) j--;
            if (j >= k) continue;
            memmove(best + j + 1, best + j, (size_t)(k - j - 1) * sizeof *best);
            best[j] = v;
        }
        for (int i = 0; i < k; i++) {
            size_t pl;
            const char *p = eng_token_raw(m, best[i], &pl);
            printf("%d ", best[i]);
            print_piece_json(stdout, p, (int)pl);
            printf(" %.6f\n", lg[best[i]]);
        }
        free(best);
    }
out:
    free(ids); free(o.text);
    eng_ctx_free(c);
    eng_model_free(m);
    return r;
}

int cmd_generate(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        printf("usage: mmsafe generate --model MODEL.gguf (--prompt TEXT | --prompt-file F) [-n N]\n"
               "                       [--template NAME] [--system TEXT] [--ignore-eos]\n"
               "                       [--threads N] [--arith fast|exact] [--kv f16|f32] [--ctx N] [--no-bos] [--parse-special]\n\n"
               "Greedy continuation (argmax, lowest id on ties) of at most N tokens; stops at the\n"
               "first end-of-generation token (EOS, the end-of-turn token such as <|eot_id|> or\n"
               "<|im_end|>, and the others llama.cpp's llama_vocab_is_eog counts).  Prints the\n"
               "generated ids as a JSON array on the first line (the end-of-generation token\n"
               "included, as its last id) and their text on the second: decoded as a stream, so\n"
               "a character split over several tokens comes out whole; control tokens (the\n"
               "end-of-generation token too) are not shown.  stderr says which template was used\n"
               "and where generation stopped.\n\n%s"
               "  -n N                 tokens to generate at most (default 16)\n%s"
               "  --ignore-eos         do not stop at end-of-generation tokens: always N tokens\n"
               "  --threads N          OpenMP threads (default 1)\n"
               "  --ctx N              context size (default: the model's context_length)\n%s", COMMON_HELP,
               TMPL_HELP, ARITH_HELP);
        fputs(cmd_generate_image_help(), stdout);
        return EXIT_OK;
    }
    for (int i = 1; i < argc; i++)   /* an image prompt: cmd_vision.c */
        if (!strcmp(argv[i], "--mmproj") || !strcmp(argv[i], "--image")) return cmd_generate_image(argc, argv);
    struct mopts o;
    int r = parse_opts("generate", argc, argv, &o, 0, MO_N | MO_COMPUTE | MO_TMPL | MO_EOS);
    if (r) return r;
    struct eng_model *m = NULL;
    struct eng_ctx *c = NULL;
    int32_t *ids = NULL, *gen = NULL;
    int n = 0, n_gen = 0, eog = 0;
    if (eng_model_open(o.model, &m)) { r = model_error(o.model); goto out; }
    if (o.tmpl != ENG_TMPL_RAW && (r = apply_template(&o, m))) goto out;
    if ((r = prefill_prompt(&o, &m, &c, &ids, &n))) goto out;
    gen = malloc(((size_t)o.n_gen + 1) * sizeof *gen);
    if (!gen) { r = EXIT_ERR; goto out; }
    while (n_gen < o.n_gen) {
        int32_t t = eng_argmax(c);
        gen[n_gen++] = t;
        if (!o.ignore_eos && eng_token_is_eog(m, t)) { eog = 1; break; }
        if (n_gen < o.n_gen && eng_decode(c, t)) { r = model_error(o.model); goto out; }
    }
    putchar('[');
    for (int i = 0; i < n_gen; i++) printf("%s%d", i ? ", " : "", gen[i]);
    printf("]\n");
    struct eng_utf8_hold hold = { { 0 }, 0 };
    char buf[1100];
    for (int i = 0; i < n_gen; i++) {
        int l = eng_token_piece_stream(m, &hold, gen[i], 0, buf, sizeof buf);
        fwrite(buf, 1, (size_t)l, stdout);
    }
    fwrite(buf, 1, (size_t)eng_token_flush(&hold, buf, sizeof buf), stdout);
    putchar('\n');
    if (eog) {
        size_t pl = 0;
        const char *p = eng_token_raw(m, gen[n_gen - 1], &pl);
        fprintf(stderr, "mmsafe: stopped at end-of-generation token %d '%.*s' after %d token(s)\n", gen[n_gen - 1], (int)pl, p ? p : "", n_gen);
    }
out:
    free(ids); free(gen); free(o.text);
    eng_ctx_free(c);
    eng_model_free(m);
    return r;
}
