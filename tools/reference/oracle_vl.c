/*
 * oracle_vl.c - dumps what the reference implementation (llama.cpp 3f545be:
 * libllama + libmtmd) computes on a vision-language pair (a language model GGUF
 * and an mmproj GGUF), for the goldens in tests/fixtures/qwen-vl/.  Written
 * against the public C APIs only (llama.h, mtmd.h, mtmd-helper.h, ggml.h for
 * the eval callbacks); not built by `make`.  See tools/reference/README.md.
 *
 *   oracle_vl LM.gguf MMPROJ.gguf PROMPT_HEX IMAGE OUTPREFIX [--min-tokens N] [--max-tokens N]
 *             [--steps N] [--threads N] [--ctx N] [--no-capture]
 *
 *   PROMPT_HEX  the prompt's UTF-8 bytes in hex, with mtmd's marker <__media__> where the
 *               image goes (tokenized by mtmd_tokenize: add_special = true, parse_special = true)
 *   IMAGE       a file (decoded by the reference's stb_image via mtmd_helper_bitmap_init_from_file)
 *               or raw:W:H:PATH (W*H*3 RGB bytes, given to mtmd_bitmap_init as they are)
 *   --min-tokens / --max-tokens  mtmd_context_params.image_min_tokens / image_max_tokens
 *
 * Writes:
 *   OUTPREFIX.rgb     the decoded bitmap, RGB bytes, rows top to bottom
 *   OUTPREFIX.pre     float32 [3][H][W]: the vision graph's input image as the patch
 *                     convolution read it (captured by an eval callback on the first IM2COL)
 *   OUTPREFIX.embd    float32 [n_img][n_embd]: mtmd_encode_chunk + mtmd_get_output_embd
 *   OUTPREFIX.pos     int32 [n_total][4] (t, y, x, e): the positions each LM input got
 *                     (captured from layer 0's RoPE of every llama_decode)
 *   OUTPREFIX.logits  float32 [steps][n_vocab]: after mtmd_helper_eval_chunks (logits of the
 *                     last position), then after each greedy token
 *   OUTPREFIX.json    sizes, the token sequence (-1 at image positions), chunk layout, greedy ids
 * Golden settings: F32 K/V cache, flash attention off (LM and mtmd), warmup off, n_batch =
 * n_ubatch = 512, 1 thread.  --no-capture runs without eval callbacks (a check that capturing
 * changes no number).  ORACLE_DUMP=name1,name2 also writes OUTPREFIX.<name>.f32 for graph
 * tensors of those names (e.g. layer_out-0 in the vision graph), with their ne in the JSON.
 */
#define _POSIX_C_SOURCE 200809L
#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"
#include "mtmd.h"
#include "mtmd-helper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void quiet(enum ggml_log_level level, const char *text, void *ud) { (void)level; (void)text; (void)ud; }

static char *unhex(const char *h, size_t *n)
{
    size_t l = strlen(h);
    char *s = malloc(l / 2 + 1);
    for (size_t i = 0; i < l / 2; i++) { unsigned v; sscanf(h + 2 * i, "%2x", &v); s[i] = (char)v; }
    s[l / 2] = 0;
    *n = l / 2;
    return s;
}

static const char *prefix;
static int capture = 1, n_layer;
static FILE *jdump;                  /* the "dumps" part of the JSON, collected as we go */

/* positions, appended per llama_decode */
static int32_t *pos_all;
static int n_pos_all, cap_pos_all;

static void write_file(const char *suffix, const void *p, size_t n)
{
    char fn[4096];
    snprintf(fn, sizeof fn, "%s.%s", prefix, suffix);
    FILE *f = fopen(fn, "wb");
    if (!f || fwrite(p, 1, n, f) != n) { fprintf(stderr, "oracle_vl: cannot write %s\n", fn); exit(1); }
    fclose(f);
}

static int wanted(const char *name)
{
    const char *list = getenv("ORACLE_DUMP");
    if (!list || !*name) return 0;
    size_t l = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == l && !strncmp(p, name, l)) return 1;
        p += k + (e ? 1 : 0);
    }
    return 0;
}

static void dump_named(struct ggml_tensor *t)
{
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return;
    size_t nb = ggml_nbytes(t);
    float *buf = malloc(nb);
    ggml_backend_tensor_get(t, buf, 0, nb);
    char suf[256];
    snprintf(suf, sizeof suf, "%s.f32", t->name);
    write_file(suf, buf, nb);
    fprintf(jdump, "%s\"%s\": [%lld, %lld, %lld, %lld]", ftell(jdump) ? ", " : "", t->name, (long long)t->ne[0],
            (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    free(buf);
}

/* vision graph: the patch convolution's input (the first IM2COL's src[1]) */
static int have_pre;
static bool cb_vision(struct ggml_tensor *t, bool ask, void *ud)
{
    (void)ud;
    if (ask) return (t->op == GGML_OP_IM2COL && !have_pre) || wanted(t->name);
    if (t->op == GGML_OP_IM2COL && !have_pre) {
        const struct ggml_tensor *in = t->src[1];
        size_t nb = ggml_nbytes(in);
        float *buf = malloc(nb);
        ggml_backend_tensor_get((struct ggml_tensor *)in, buf, 0, nb);
        write_file("pre", buf, nb);
        fprintf(jdump, "%s\"pre_ne\": [%lld, %lld, %lld, %lld]", ftell(jdump) ? ", " : "", (long long)in->ne[0],
                (long long)in->ne[1], (long long)in->ne[2], (long long)in->ne[3]);
        free(buf);
        have_pre = 1;
    }
    if (wanted(t->name)) dump_named(t);
    return true;
}

/* LM graph: layer 0's Q RoPE carries the positions of the batch */
static bool cb_lm(struct ggml_tensor *t, bool ask, void *ud)
{
    (void)ud;
    const int is_q0 = t->op == GGML_OP_ROPE && !strcmp(t->name, "Qcur-0");
    if (ask) return is_q0 || wanted(t->name);
    if (is_q0) {
        const struct ggml_tensor *p = t->src[1];
        const int T = (int)t->ne[2], per = (int)(p->ne[0] / T);
        int32_t *buf = malloc(ggml_nbytes(p));
        ggml_backend_tensor_get((struct ggml_tensor *)p, buf, 0, ggml_nbytes(p));
        if (n_pos_all + T > cap_pos_all) {
            cap_pos_all = (n_pos_all + T) * 2;
            pos_all = realloc(pos_all, (size_t)cap_pos_all * 4 * sizeof *pos_all);
        }
        for (int i = 0; i < T; i++)
            for (int k = 0; k < 4; k++) pos_all[(size_t)(n_pos_all + i) * 4 + k] = k < per ? buf[(size_t)k * T + i] : -1;
        n_pos_all += T;
        free(buf);
    }
    if (wanted(t->name)) dump_named(t);
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 6) { fprintf(stderr, "usage: see the comment at the top of oracle_vl.c\n"); return 2; }
    const char *lm = argv[1], *mm = argv[2], *phex = argv[3], *image = argv[4];
    prefix = argv[5];
    int min_tok = -1, max_tok = -1, steps = 8, nt = 1, n_ctx = 1024;
    for (int i = 6; i < argc; i++) {
        if (!strcmp(argv[i], "--min-tokens") && i + 1 < argc) min_tok = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-tokens") && i + 1 < argc) max_tok = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) nt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ctx") && i + 1 < argc) n_ctx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-capture")) capture = 0;
        else { fprintf(stderr, "oracle_vl: bad argument %s\n", argv[i]); return 2; }
    }
    llama_log_set(quiet, NULL);
    mtmd_helper_log_set(quiet, NULL);
    llama_backend_init();
    jdump = tmpfile();

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(lm, mp);
    if (!model) { fprintf(stderr, "oracle_vl: cannot load %s\n", lm); return 1; }
    n_layer = llama_model_n_layer(model);
    const struct llama_vocab *voc = llama_model_get_vocab(model);
    const int nv = llama_vocab_n_tokens(voc);

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx; cp.n_batch = 512; cp.n_ubatch = 512; cp.n_seq_max = 1;
    cp.n_threads = nt; cp.n_threads_batch = nt;
    cp.type_k = GGML_TYPE_F32; cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    if (capture) { cp.cb_eval = cb_lm; cp.cb_eval_user_data = NULL; }
    struct llama_context *lctx = llama_init_from_model(model, cp);
    if (!lctx) { fprintf(stderr, "oracle_vl: cannot create a context\n"); return 1; }

    struct mtmd_context_params mparams = mtmd_context_params_default();
    mparams.use_gpu = false;
    mparams.print_timings = false;
    mparams.n_threads = nt;
    mparams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    mparams.warmup = false;
    mparams.image_min_tokens = min_tok;
    mparams.image_max_tokens = max_tok;
    if (capture) { mparams.cb_eval = cb_vision; mparams.cb_eval_user_data = NULL; }
    mtmd_context *mctx = mtmd_init_from_file(mm, model, mparams);
    if (!mctx) { fprintf(stderr, "oracle_vl: cannot load %s\n", mm); return 1; }

    /* the image */
    mtmd_bitmap *bmp = NULL;
    if (!strncmp(image, "raw:", 4)) {
        unsigned w, h;
        char path[4096];
        if (sscanf(image + 4, "%u:%u:%4095s", &w, &h, path) != 3) { fprintf(stderr, "oracle_vl: bad raw spec\n"); return 2; }
        size_t n = (size_t)w * h * 3;
        unsigned char *px = malloc(n);
        FILE *f = fopen(path, "rb");
        if (!f || fread(px, 1, n, f) != n) { fprintf(stderr, "oracle_vl: cannot read %zu bytes from %s\n", n, path); return 1; }
        fclose(f);
        bmp = mtmd_bitmap_init(w, h, px);
        free(px);
    } else {
        struct mtmd_helper_bitmap_wrapper bw = mtmd_helper_bitmap_init_from_file(mctx, image, false);
        bmp = bw.bitmap;
    }
    if (!bmp) { fprintf(stderr, "oracle_vl: cannot load the image %s\n", image); return 1; }
    const unsigned bw = mtmd_bitmap_get_nx(bmp), bh = mtmd_bitmap_get_ny(bmp);
    write_file("rgb", mtmd_bitmap_get_data(bmp), mtmd_bitmap_get_n_bytes(bmp));

    /* tokenize */
    size_t plen;
    char *prompt = unhex(phex, &plen);
    mtmd_input_text txt = { prompt, plen, true, true };
    mtmd_input_chunks *chunks = mtmd_input_chunks_init();
    const mtmd_bitmap *bl[1] = { bmp };
    int32_t r = mtmd_tokenize(mctx, chunks, &txt, bl, 1);
    if (r) { fprintf(stderr, "oracle_vl: mtmd_tokenize returned %d\n", r); return 1; }

    /* encode the image chunk once ourselves for the embeddings */
    const size_t nch = mtmd_input_chunks_size(chunks);
    int n_img = 0, nx = 0, ny = 0, n_pos_img = 0, n_embd = llama_model_n_embd(model);
    FILE *jt = tmpfile();
    int ntok = 0;
    for (size_t i = 0; i < nch; i++) {
        const mtmd_input_chunk *ch = mtmd_input_chunks_get(chunks, i);
        if (mtmd_input_chunk_get_type(ch) == MTMD_INPUT_CHUNK_TYPE_TEXT) {
            size_t n;
            const llama_token *tk = mtmd_input_chunk_get_tokens_text(ch, &n);
            for (size_t k = 0; k < n; k++) fprintf(jt, "%s%d", ntok++ ? ", " : "", tk[k]);
        } else {
            const mtmd_image_tokens *it = mtmd_input_chunk_get_tokens_image(ch);
            n_img = (int)mtmd_image_tokens_get_n_tokens(it);
            nx = (int)mtmd_image_tokens_get_nx(it);
            ny = (int)mtmd_image_tokens_get_ny(it);
            n_pos_img = (int)mtmd_image_tokens_get_n_pos(it);
            for (int k = 0; k < n_img; k++) fprintf(jt, "%s-1", ntok++ ? ", " : "");
            if (mtmd_encode_chunk(mctx, ch)) { fprintf(stderr, "oracle_vl: encode failed\n"); return 1; }
            write_file("embd", mtmd_get_output_embd(mctx), (size_t)n_img * n_embd * sizeof(float));
        }
    }

    /* evaluate as the reference's CLI does, then greedy steps */
    llama_pos new_n_past = 0;
    if (mtmd_helper_eval_chunks(mctx, lctx, chunks, 0, 0, 512, true, &new_n_past)) {
        fprintf(stderr, "oracle_vl: eval failed (context too small?)\n");
        return 1;
    }
    float *rows = malloc((size_t)steps * nv * sizeof *rows);
    int32_t *greedy = malloc((size_t)steps * sizeof *greedy);
    llama_pos n_past = new_n_past;
    struct llama_batch b = llama_batch_init(1, 0, 1);
    for (int s = 0; s < steps; s++) {
        const float *lg = llama_get_logits_ith(lctx, -1);
        memcpy(rows + (size_t)s * nv, lg, (size_t)nv * sizeof *lg);
        int32_t best = 0;
        for (int i = 1; i < nv; i++) if (lg[i] > lg[best]) best = i;
        greedy[s] = best;
        if (s + 1 == steps) break;
        b.n_tokens = 1;
        b.token[0] = best; b.pos[0] = n_past++; b.n_seq_id[0] = 1; b.seq_id[0][0] = 0; b.logits[0] = 1;
        if (llama_decode(lctx, b)) { fprintf(stderr, "oracle_vl: decode failed\n"); return 1; }
    }
    write_file("logits", rows, (size_t)steps * nv * sizeof *rows);
    if (capture) write_file("pos", pos_all, (size_t)n_pos_all * 4 * sizeof *pos_all);

    /* JSON */
    char fn[4096];
    snprintf(fn, sizeof fn, "%s.json", prefix);
    FILE *j = fopen(fn, "w");
    fprintf(j, "{\"w\": %u, \"h\": %u, \"n_img\": %d, \"nx\": %d, \"ny\": %d, \"n_pos_img\": %d, \"n_embd\": %d, "
               "\"n_vocab\": %d, \"n_past_after\": %d, \"n_pos_captured\": %d, \"n_chunks\": %zu,\n \"tokens\": [",
            bw, bh, n_img, nx, ny, n_pos_img, n_embd, nv, (int)new_n_past, n_pos_all, nch);
    rewind(jt);
    int c;
    while ((c = fgetc(jt)) != EOF) fputc(c, j);
    fprintf(j, "],\n \"greedy\": [");
    for (int s = 0; s < steps; s++) fprintf(j, "%s%d", s ? ", " : "", greedy[s]);
    fprintf(j, "],\n \"dumps\": {");
    rewind(jdump);
    while ((c = fgetc(jdump)) != EOF) fputc(c, j);
    fprintf(j, "}}\n");
    fclose(j);

    llama_batch_free(b);
    mtmd_input_chunks_free(chunks);
    mtmd_bitmap_free(bmp);
    mtmd_free(mctx);
    llama_free(lctx);
    llama_model_free(model);
    free(prompt); free(rows); free(greedy); free(pos_all);
    return 0;
}
