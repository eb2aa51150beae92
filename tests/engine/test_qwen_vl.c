/*
 * test_qwen_vl.c - Qwen2-VL and Qwen2.5-VL end to end against the reference
 * implementation (llama.cpp 3f545be, libllama + libmtmd) and an independent
 * float64 computation, on tiny random-weight pairs (tests/fixtures/qwen-vl/,
 * made by tools/reference/make_vl_goldens.py; tools/reference/README.md says how).
 *
 * The pairs are not committed: each LM is rewritten here with build/tools/
 * gguf_write and each mmproj with build/tools/make_tiny_llava from the
 * arguments in index.json, and must have the recorded sha256.  They use the
 * real Qwen2 vocabulary of ../shared/fixtures/vocab (skipped when absent).
 * The images are the synthetic ones of the index (the formula is repeated
 * below), a greyscale image (the PNG's pixels) and the progressive JPEG as
 * the reference's decoder (stb_image) decoded it.  For every case:
 *   - the pair is accepted (eng_vl_check_pair), the preprocessed size and the
 *     token grid are the reference's, the preprocessed tensor is bit-exact
 *     (FNV-1a of all its words and a sample);
 *   - the token ids of our Qwen-VL prompt (template qwen-vl, vision markers
 *     around the image) are the reference's, and so are the image's M-RoPE
 *     positions and the position after it;
 *   - fast arithmetic (F32 attention, the golden settings) against the
 *     reference: image embeddings and the logits after the prompt and after 3
 *     teacher-forced greedy steps within BOUNDS (max |diff| relative to the
 *     largest golden value), the argmax the reference's wherever its margin is
 *     more than twice the bound; exact arithmetic against float64;
 *   - the original (Hugging Face) computation, vision mode "original": the
 *     same checks against float64, both arithmetics;
 *   - 2 threads give bit-identical embeddings and logits to 1 thread.
 * QWEN_VL_REPORT=1 prints the measured worst cases per model and check.
 */
#include "engine/engine.h"
#include "engine/util.h"
#include "err.h"
#include "t.h"
#include "json_mini.h"

#include <libgen.h>
#include <unistd.h>

#define FIX "tests/fixtures/qwen-vl"
#define VOCAB "../shared/fixtures/vocab"
#define STEPS 4
#define TOPK 16

/* Bounds: max |ours - golden| / max |golden|.  The worst observed on the AVX2
 * AMD EPYC machine that made the goldens is in each comment; a bound is about
 * twice it.  "ref" = against the reference (fast arithmetic), "f64" = against
 * the float64 computation. */
struct bound { const char *type; double embd_ref, embd_f64, logits_ref, logits_f64; };
static const struct bound MM_BOUNDS[] = {   /* by mmproj type: image embeddings */
    { "F32", 1.6e-4, 2.5e-6, 0, 0 },   /* observed: ref 7.7e-5 (q2vl-A), f64 (exact) 8.0e-7 */
    { "F16", 4.5e-4, 2.5e-6, 0, 0 },   /* observed: ref 2.1e-4 (F16 activations), f64 7.2e-7 */
};
static const struct bound LM_BOUNDS[] = {   /* by LM type: logits, end to end from the pixels */
    { "F32", 0, 0, 1.5e-6, 1e-6 },      /* observed: ref 7.4e-7, f64 (exact) 2.4e-7 */
    { "F16", 0, 0, 3.5e-4, 1e-6 },      /* observed: ref 2.2e-4 (F16 activations), f64 2.4e-7 */
    { "Q4_K_M", 0, 0, 2e-2, 1e-6 },     /* observed: ref 9.3e-3 (Q8_K activations), f64 3.4e-7 */
};
/* the original computation against float64 with fast arithmetic (the
 * reference's roundings): observed embeddings 3.3e-4, logits 1.4e-5 */
#define HF_EMBD_FAST 7e-4
#define HF_LOGITS_FAST 3e-5

static char gw_tool[1024], mt_tool[1024], dir[] = "/tmp/mmsafe-qwen-vl-XXXXXX";
static int report;
static double worst[16];
enum { W_PRE, W_EMBD_REF, W_EMBD_F64, W_LOG_REF, W_LOG_F64, W_HF_EMBD_FAST, W_HF_EMBD_EXACT, W_HF_LOG_FAST, W_HF_LOG_EXACT, W_N };
static const char *WNAMES[W_N] = { "pre", "embd fast/ref", "embd exact/f64", "logits fast/ref", "logits exact/f64",
                                  "hf embd fast", "hf embd exact", "hf logits fast", "hf logits exact" };

static const struct bound *find(const struct bound *b, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++) if (!strcmp(b[i].type, type)) return &b[i];
    return NULL;
}

/* FNV-1a 64 over 32-bit little-endian words (the bytes zero-padded to a multiple of 4). */
static uint64_t fnv64(const void *p, size_t bytes)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < bytes; i += 4) {
        uint32_t w = 0;
        for (size_t k = 0; k < 4 && i + k < bytes; k++) w |= (uint32_t)b[i + k] << (8 * k);
        h = (h ^ w) * 0x100000001b3ull;
    }
    return h;
}

/* The synthetic images of make_vl_goldens.py. */
static uint8_t *synth(int w, int h, int seed, int grey)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    if (!p) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                const int64_t cc = grey ? 0 : c;
                int64_t v = (int64_t)x * (2 + cc) + (int64_t)y * (3 + cc) + 37 * (((x >> 3) ^ (y >> 4)) & 7) + 61 * cc + 17 * (int64_t)seed;
                p[((size_t)y * w + x) * 3 + c] = (uint8_t)(v & 255);
            }
    return p;
}

static const struct jn *by_name(const struct jn *arr, const char *name)
{
    for (int i = 0; i < arr->n; i++) if (!strcmp(jn_str(&arr->kids[i], "name"), name)) return &arr->kids[i];
    return NULL;
}

static uint8_t *case_pixels(const struct jn *img, int *w, int *h)
{
    *w = (int)jn_num(img, "w", 0);
    *h = (int)jn_num(img, "h", 0);
    const char *kind = jn_str(img, "kind");
    if (!strcmp(kind, "raw")) return synth(*w, *h, (int)jn_num(img, "seed", 0), 0);
    if (!strcmp(kind, "png-grey")) return synth(*w, *h, (int)jn_num(img, "seed", 0), 1);
    char fn[512];
    snprintf(fn, sizeof fn, FIX "/%s.stb.rgb", jn_str(img, "name"));
    size_t n;
    uint8_t *p = t_slurp(fn, &n);
    if (p && n != (size_t)*w * *h * 3) { free(p); p = NULL; }
    return p;
}

static int write_model(const char *tool, const char *path, const struct jn *args)
{
    char cmd[8192];
    int o = snprintf(cmd, sizeof cmd, "%s %s%s", tool, strstr(tool, "make_tiny") ? "--mmproj " : "", path);
    for (int i = 0; i < args->n; i++) {
        const char *a = args->kids[i].str;
        if (!strncmp(a, "VOCAB_DIR", 9)) o += snprintf(cmd + o, sizeof cmd - (size_t)o, " '%s%s'", VOCAB, a + 9);
        else o += snprintf(cmd + o, sizeof cmd - (size_t)o, " '%s'", a);
    }
    o += snprintf(cmd + o, sizeof cmd - (size_t)o, " > /dev/null");
    return system(cmd) == 0;
}

static void *bin(const struct jn *c, const char *what, size_t want)
{
    char fn[1024];
    snprintf(fn, sizeof fn, FIX "/%s.%s.bin", jn_str(c, "file"), what);
    size_t n;
    void *p = t_slurp(fn, &n);
    if (p && n != want) { fprintf(stderr, "%s: %zu bytes, expected %zu\n", fn, n, want); free(p); return NULL; }
    return p;
}

static void note(int which, double v) { if (v > worst[which]) worst[which] = v; }

/* One case in one arithmetic: returns 0 when it could not run. */
static int run_case(const struct eng_model *m, struct eng_vision *v, const struct jn *model, const struct jn *c,
                    const struct jn *idx, int arith, int nt, float *embd_out, float *logits_out)
{
    const char *id = jn_str(c, "id"), *lt = jn_str(model, "lm_type"), *mt = jn_str(model, "mmproj_type");
    const int hf = !strcmp(jn_str(c, "mode"), "hf"), mode = hf ? ENG_VISION_LLAVA : ENG_VISION_LLAMA_CPP;
    const int fast = arith == ENG_ARITH_FAST, first = fast && nt == 1;
    const struct bound *mb = find(MM_BOUNDS, 2, mt), *lb = find(LM_BOUNDS, 3, lt);
    char d[256];
    if (!CHECK_T(mb && lb, "bounds for the model's types")) return 0;
    const struct jn *img = by_name(jn_get(idx, "images"), jn_str(c, "image"));
    int w, h;
    uint8_t *rgb = img ? case_pixels(img, &w, &h) : NULL;
    snprintf(d, sizeof d, "%s: the image's pixels", id);
    if (!CHECK_T(rgb, d)) return 0;
    char hx[32];
    snprintf(hx, sizeof hx, "%016llx", (unsigned long long)fnv64(rgb, (size_t)w * h * 3));
    if (first) { snprintf(d, sizeof d, "%s: the pixels the reference was given", id); CHECK_STR(hx, jn_str(c, "rgb_fnv64"), d); }
    /* geometry */
    CHECK_T(eng_vision_set_token_limits(v, (int)jn_num(c, "min_tokens", 0), (int)jn_num(c, "max_tokens", 0)) == 0, "token limits");
    int in_w = 0, in_h = 0, gw = 0, gh = 0;
    int rc = eng_vision_geometry(v, mode, w, h, &in_w, &in_h, &gw, &gh);
    snprintf(d, sizeof d, "%s: %dx%d -> %dx%d px, %dx%d tokens as the golden (%s)", id, w, h, in_w, in_h, gw, gh, rc ? eng_errmsg() : "ok");
    if (!CHECK_T(rc == 0 && in_w == (int)jn_num(c, "in_w", 0) && in_h == (int)jn_num(c, "in_h", 0) && gw == (int)jn_num(c, "gw", 0) &&
                 gh == (int)jn_num(c, "gh", 0), d)) { free(rgb); return 0; }
    /* preprocessing: bit-exact */
    const size_t npre = (size_t)3 * in_w * in_h;
    float *pre = malloc(npre * sizeof *pre);
    rc = pre ? eng_vision_preprocess(v, mode, rgb, w, h, pre) : RC_ENOMEM;
    free(rgb);
    if (first) {
        snprintf(hx, sizeof hx, "%016llx", rc ? 0ull : (unsigned long long)fnv64(pre, npre * 4));
        snprintf(d, sizeof d, "%s: the preprocessed tensor is bit-exact", id);
        CHECK_STR(hx, jn_str(c, "pre_fnv64"), d);
        float *ps = bin(c, "pre", 2048 * 4);
        int same = ps != NULL && rc == 0;
        for (int i = 0; same && i < 2048; i++) same = ps[i] == pre[(size_t)i * npre / 2048];
        snprintf(d, sizeof d, "%s: its sample equals the golden's", id);
        CHECK_T(same, d);
        free(ps);
    }
    /* vision */
    struct eng_params ep = ENG_PARAMS_DEFAULT;
    ep.n_threads = nt; ep.arith = arith;
    struct eng_vision_ctx *vc = NULL;
    const int ne = eng_vision_n_embd(v), n_img = gw * gh;
    float *embd = malloc((size_t)n_img * ne * sizeof *embd);
    rc = eng_vision_ctx_new(v, &ep, &vc);
    if (!rc) rc = eng_vision_encode_pre_wh(vc, mode, pre, in_w, in_h, embd);
    free(pre);
    eng_vision_ctx_free(vc);
    snprintf(d, sizeof d, "%s: encodes (%s)", id, rc ? eng_errmsg() : "ok");
    if (!CHECK_T(rc == 0, d)) { free(embd); return 0; }
    const struct jn *rows = jn_get(c, "embd_rows");
    const int R = rows->n;
    float *eb = bin(c, "embd", (size_t)2 * R * ne * 4);
    if (eb) {
        const float *want = eb + (fast && !hf ? 0 : (size_t)R * ne);
        double mx = 0, ma = 0;
        for (int r = 0; r < R; r++)
            for (int k = 0; k < ne; k++) {
                const double g = want[(size_t)r * ne + k], o = embd[(size_t)rows->kids[r].num * ne + k];
                if (fabs(o - g) > mx) mx = fabs(o - g);
                if (fabs(g) > ma) ma = fabs(g);
            }
        mx /= ma;
        const double lim = hf ? (fast ? HF_EMBD_FAST : mb->embd_f64) : (fast ? mb->embd_ref : mb->embd_f64);
        if (nt == 1) note(hf ? (fast ? W_HF_EMBD_FAST : W_HF_EMBD_EXACT) : (fast ? W_EMBD_REF : W_EMBD_F64), mx);
        snprintf(d, sizeof d, "%s %s: image embeddings within %.3g of the %s (%.3g)", id, eng_arith_name(arith), lim,
                 fast && !hf ? "reference" : "float64", mx);
        CHECK_T(mx <= lim, d);
        free(eb);
    } else CHECK_T(0, "embd golden");
    if (embd_out) memcpy(embd_out, embd, (size_t)n_img * ne * sizeof *embd);
    /* prompt: tokens and positions */
    char *prompt = eng_render_prompt(ENG_TMPL_QWEN_VL, NULL, jn_str(idx, "question"));
    int32_t *ids = NULL;
    int n = 0, nb = 0;
    rc = eng_llava_tokens(m, prompt, n_img, 0, &ids, &n, &nb);
    const struct jn *tok = jn_get(c, "tokens");
    int same = rc == 0 && n == tok->n;
    for (int i = 0; same && i < n; i++) same = ids[i] == (int32_t)tok->kids[i].num;
    if (first) { snprintf(d, sizeof d, "%s: the prompt's ids are the reference's (%d vs %d)", id, n, tok->n); CHECK_T(same, d); }
    int32_t *pg = bin(c, "pos", (size_t)(tok->n + STEPS - 1) * 16);
    if (first && pg && same) {
        int32_t *pos = malloc((size_t)n_img * 16);
        int next = -1;
        rc = eng_image_positions(m, nb, gw, gh, pos, &next);
        int ok = rc == 0 && !memcmp(pos, pg + (size_t)nb * 4, (size_t)n_img * 16);
        snprintf(d, sizeof d, "%s: the image's M-RoPE positions are the reference's", id);
        CHECK_T(ok, d);
        snprintf(d, sizeof d, "%s: the text after the image resumes at the reference's position", id);
        CHECK_EQ_I(next, pg[(size_t)(nb + n_img) * 4], d);
        free(pos);
    }
    free(pg);
    free(ids);
    /* language model, end to end */
    float *lb_all = bin(c, "logits", (size_t)2 * STEPS * (512 + TOPK) * 4);
    struct eng_params lp = ENG_PARAMS_DEFAULT;
    lp.n_threads = nt; lp.arith = arith; lp.kv_type = ENG_KV_F32; lp.n_ctx = 1024; lp.file_eps = hf;
    struct eng_ctx *ctx = NULL;
    rc = eng_ctx_new(m, &lp, &ctx);
    if (!rc) rc = eng_vl_prefill(ctx, prompt, embd, gw, gh, 0, NULL);
    snprintf(d, sizeof d, "%s: prefill (%s)", id, rc ? eng_errmsg() : "ok");
    CHECK_T(rc == 0, d);
    const struct jn *sample = jn_get(model, "sample_ids"), *top = jn_get(c, "top16"), *maxabs = jn_get(c, "max_abs");
    const struct jn *margin = jn_get(c, "margin"), *greedy = jn_get(c, "greedy");
    const double lim = hf ? (fast ? HF_LOGITS_FAST : lb->logits_f64) : (fast ? lb->logits_ref : lb->logits_f64);
    const int S = sample->n, W = S + TOPK, nv = eng_n_vocab(m);
    for (int s = 0; rc == 0 && lb_all && s < STEPS; s++) {
        const float *lg = eng_logits(ctx);
        if (logits_out) memcpy(logits_out + (size_t)s * nv, lg, (size_t)nv * sizeof *lg);
        const float *wr = lb_all + (fast && !hf ? 0 : (size_t)STEPS * W) + (size_t)s * W;
        const struct jn *tp = &top->kids[s];
        double mx = 0;
        for (int i = 0; i < W; i++) {
            const int vid = i < S ? (int)sample->kids[i].num : (int)tp->kids[i - S].num;
            const double e = fabs((double)lg[vid] - (double)wr[i]);
            if (e > mx) mx = e;
        }
        mx /= maxabs->kids[s].num;
        if (nt == 1) note(hf ? (fast ? W_HF_LOG_FAST : W_HF_LOG_EXACT) : (fast ? W_LOG_REF : W_LOG_F64), mx);
        snprintf(d, sizeof d, "%s %s t%d step %d: logits within %.3g of the %s (%.3g)", id, eng_arith_name(arith), nt, s, lim,
                 fast && !hf ? "reference" : "float64", mx);
        CHECK_T(mx <= lim, d);
        if ((fast || hf) && margin->kids[s].num > 2 * lim * maxabs->kids[s].num) {
            snprintf(d, sizeof d, "%s step %d: the argmax is the golden's %d", id, s, (int)greedy->kids[s].num);
            CHECK_EQ_I(eng_argmax(ctx), (int)greedy->kids[s].num, d);
        }
        if (s + 1 < STEPS) rc = eng_decode(ctx, (int32_t)greedy->kids[s].num);
    }
    if (!lb_all) CHECK_T(0, "logits golden");
    free(lb_all);
    eng_ctx_free(ctx);
    free(prompt);
    free(embd);
    return 1;
}

int main(int argc, char **argv)
{
    t_name = "test_qwen_vl";
    report = getenv("QWEN_VL_REPORT") != NULL;
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(gw_tool, sizeof gw_tool, "%s/../../tools/gguf_write", dirname(self));
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(mt_tool, sizeof mt_tool, "%s/../../tools/make_tiny_llava", dirname(self));
    if (!CHECK_T(access(gw_tool, X_OK) == 0 && access(mt_tool, X_OK) == 0, "build/tools/gguf_write and make_tiny_llava exist"))
        return t_done();
    struct jn *idx = jn_load(FIX "/index.json");
    if (!CHECK_T(idx != NULL, FIX "/index.json loads")) return t_done();
    if (access(VOCAB "/ggml-vocab-qwen2.gguf", R_OK)) {
        t_skipped(VOCAB " not found (the Qwen-VL goldens use its Qwen2 vocabulary)");
        jn_free(idx);
        return t_done();
    }
    if (!mkdtemp(dir)) { CHECK_T(0, "mkdtemp"); return t_done(); }
    eng_tables_init();
    const struct jn *models = jn_get(idx, "models"), *cases = jn_get(idx, "cases");
    for (int mi = 0; mi < models->n; mi++) {
        const struct jn *model = &models->kids[mi];
        const char *name = jn_str(model, "name");
        char lm[1024], mm[1024], d[256];
        snprintf(lm, sizeof lm, "%s/%s.gguf", dir, name);
        snprintf(mm, sizeof mm, "%s/%s-mmproj.gguf", dir, name);
        snprintf(d, sizeof d, "%s: the writers make the pair", name);
        if (!CHECK_T(write_model(gw_tool, lm, jn_get(model, "gguf_write_args")) &&
                     write_model(mt_tool, mm, jn_get(model, "make_tiny_llava_args")), d)) continue;
        snprintf(d, sizeof d, "%s: the files are the ones the goldens were made on (sha256)", name);
        if (!CHECK_T(t_sha256_is(lm, jn_str(model, "lm_sha256")) && t_sha256_is(mm, jn_str(model, "mmproj_sha256")), d)) {
            unlink(lm); unlink(mm);
            continue;
        }
        struct eng_model *m = NULL;
        struct eng_vision *v = NULL;
        snprintf(d, sizeof d, "%s: both load", name);
        if (!CHECK_T(eng_model_open(lm, &m) == 0 && eng_vision_open(mm, &v) == 0, d)) {
            fprintf(stderr, "  %s\n", eng_errmsg());
            eng_model_free(m); unlink(lm); unlink(mm);
            continue;
        }
        snprintf(d, sizeof d, "%s: a pair (%s)", name, eng_errmsg());
        CHECK_T(eng_vl_check_pair(m, v) == 0 && eng_uses_mrope(m), d);
        CHECK_EQ_I(eng_vision_family(v), !strcmp(jn_str(model, "family"), "q25vl") ? ENG_VISION_QWEN25VL : ENG_VISION_QWEN2VL,
                   "the family from the projector type");
        int t = -1;
        CHECK_T(eng_template_resolve(m, ENG_TMPL_AUTO, &t, NULL, 0) == 0 && t == ENG_TMPL_QWEN_VL, "auto is qwen-vl for a qwen2vl LM");
        char *pr = eng_render_prompt(ENG_TMPL_QWEN_VL, NULL, jn_str(idx, "question"));
        CHECK_STR(pr, jn_str(idx, "prompt"), "qwen-vl renders the reference's prompt (default system prompt, image first)");
        free(pr);
        if (mi == 0) {
            /* mismatched pairs are refused, naming the reason */
            char other[512], cmd[4096];
            struct eng_model *o = NULL;
            snprintf(other, sizeof other, "%s/llama.gguf", dir);
            snprintf(cmd, sizeof cmd, "%s %s --embd %d --layers 1 --heads 4 --ff 128 --vocab 300 > /dev/null", gw_tool, other, eng_vision_n_embd(v));
            if (CHECK_T(system(cmd) == 0 && eng_model_open(other, &o) == 0, "a LLaMA LM of the same width")) {
                CHECK_EQ_I(eng_vl_check_pair(o, v), RC_ECONFIG, "a Qwen mmproj with a LLaMA LM is refused");
                CHECK_T(strstr(eng_errmsg(), "needs a qwen2vl language model") != NULL, eng_errmsg());
            }
            eng_model_free(o);
            o = NULL;
            unlink(other);
            snprintf(cmd, sizeof cmd, "%s %s --arch qwen2vl --tokenizer gpt2 --vocab 400 --embd 32 --layers 1 --heads 2 --ff 64 > /dev/null",
                     gw_tool, other);
            if (CHECK_T(system(cmd) == 0 && eng_model_open(other, &o) == 0, "a narrower qwen2vl LM")) {
                CHECK_EQ_I(eng_vl_check_pair(o, v), RC_ECONFIG, "an mmproj of another width is refused");
                CHECK_T(strstr(eng_errmsg(), "n_embd is 32") != NULL, eng_errmsg());
            }
            eng_model_free(o);
            unlink(other);
            struct eng_vision *clip = NULL;
            snprintf(other, sizeof other, "%s/clip.gguf", dir);
            snprintf(cmd, sizeof cmd, "%s --mmproj %s --n-out %d > /dev/null", mt_tool, other, eng_n_embd(m));
            if (CHECK_T(system(cmd) == 0 && eng_vision_open(other, &clip) == 0, "a LLaVA mmproj of the same width")) {
                CHECK_EQ_I(eng_vision_family(clip), ENG_VISION_CLIP, "its family");
                CHECK_EQ_I(eng_vl_check_pair(m, clip), RC_ECONFIG, "a LLaVA mmproj with a qwen2vl LM is refused");
                CHECK_T(strstr(eng_errmsg(), "needs a Qwen2-VL or Qwen2.5-VL mmproj") != NULL, eng_errmsg());
            }
            eng_vision_free(clip);
            unlink(other);
        }
        {
            /* an image of 441 tokens (1,764 patches): every product runs in chunks of
             * rows (the scratch's); fast and exact agree, 2 threads = 1 thread */
            CHECK_T(eng_vision_set_token_limits(v, 0, 0) == 0, "default token limits");
            uint8_t *big = synth(600, 600, 9, 0);
            int iw, ih, bgw, bgh;
            if (CHECK_T(big && eng_vision_geometry(v, ENG_VISION_LLAMA_CPP, 600, 600, &iw, &ih, &bgw, &bgh) == 0 && bgw * bgh == 441,
                        "600x600: 21 x 21 tokens")) {
                const size_t ne = (size_t)eng_vision_n_embd(v), n = (size_t)bgw * bgh * ne;
                float *e[3] = { malloc(n * 4), malloc(n * 4), malloc(n * 4) };
                const int ar[3] = { ENG_ARITH_FAST, ENG_ARITH_FAST, ENG_ARITH_EXACT }, th[3] = { 1, 2, 1 };
                int ok = 1;
                for (int k = 0; k < 3; k++) {
                    struct eng_params ep = ENG_PARAMS_DEFAULT;
                    ep.arith = ar[k]; ep.n_threads = th[k];
                    struct eng_vision_ctx *vc = NULL;
                    int gw2 = 0, gh2 = 0;
                    ok &= e[k] && eng_vision_ctx_new(v, &ep, &vc) == 0 &&
                          eng_vision_encode_grid(vc, ENG_VISION_LLAMA_CPP, big, 600, 600, e[k], &gw2, &gh2) == 0 && gw2 * gh2 == 441;
                    eng_vision_ctx_free(vc);
                }
                CHECK_T(ok, "600x600: encodes in both arithmetics");
                double mx = 0, ma = 0;
                for (size_t i = 0; ok && i < n; i++) {
                    if (fabs((double)e[0][i] - e[2][i]) > mx) mx = fabs((double)e[0][i] - e[2][i]);
                    if (fabs((double)e[2][i]) > ma) ma = fabs((double)e[2][i]);
                }
                snprintf(d, sizeof d, "%s 600x600: fast within 1e-3 of exact (%.3g)", name, mx / ma);
                CHECK_T(ok && isfinite(mx) && mx <= 1e-3 * ma, d);
                CHECK_T(ok && !memcmp(e[0], e[1], n * 4), "600x600: 2 threads give bit-identical embeddings");
                for (int k = 0; k < 3; k++) free(e[k]);
            }
            free(big);
        }
        int threads_done = 0;
        for (int ci = 0; ci < cases->n; ci++) {
            const struct jn *c = &cases->kids[ci];
            if (strcmp(jn_str(c, "model"), name)) continue;
            const int nv = eng_n_vocab(m), n_img = (int)(jn_num(c, "gw", 0) * jn_num(c, "gh", 0)), ne = eng_vision_n_embd(v);
            float *e1 = NULL, *l1 = NULL;
            if (!threads_done && !strcmp(jn_str(c, "mode"), "llama.cpp")) {
                e1 = malloc((size_t)n_img * ne * 4);
                l1 = malloc((size_t)STEPS * nv * 4);
            }
            if (run_case(m, v, model, c, idx, ENG_ARITH_FAST, 1, e1, l1) && e1) {
                /* the same with 2 threads: bit-identical */
                float *e2 = malloc((size_t)n_img * ne * 4), *l2 = malloc((size_t)STEPS * nv * 4);
                run_case(m, v, model, c, idx, ENG_ARITH_FAST, 2, e2, l2);
                snprintf(d, sizeof d, "%s: 2 threads give bit-identical embeddings and logits", jn_str(c, "id"));
                CHECK_T(!memcmp(e1, e2, (size_t)n_img * ne * 4) && !memcmp(l1, l2, (size_t)STEPS * nv * 4), d);
                free(e2); free(l2);
                threads_done = 1;
            }
            free(e1); free(l1);
            run_case(m, v, model, c, idx, ENG_ARITH_EXACT, 1, NULL, NULL);
        }
        if (report) {
            fprintf(stderr, "%-16s", name);
            for (int k = 1; k < W_N; k++) if (worst[k] > 0) fprintf(stderr, "  %s %.2g", WNAMES[k], worst[k]);
            fprintf(stderr, "\n");
            memset(worst, 0, sizeof worst);
        }
        eng_vision_free(v);
        eng_model_free(m);
        unlink(lm);
        unlink(mm);
    }
    rmdir(dir);
    jn_free(idx);
    return t_done();
}
