/*
 * test_reuse.c - KV prefix reuse (eng_ctx_set_reuse) gives the logits of a
 * full prefill.  Two contexts on the same model: one evaluates every item from
 * scratch (reuse off), the other keeps the common prefix of consecutive items
 * (reuse on).  After every item the logits must agree within 1e-5 of the
 * largest |logit| in exact arithmetic and within 2e-3 in fast (F16 KV cache,
 * batch-size-dependent attention kernels), and the positions skipped must be
 * exactly the common prefix: a hit (same image, another question), a whole
 * repeat (all but the last position), a partial hit (the question extended), a
 * miss after the text before the image (another image), a text-only item,
 * greedy steps in between (generated tokens are slots too), and reuse switched
 * off again.  Models: the committed tiny LLaVA (data/models) and, when the
 * real Qwen2 vocabulary is in ../shared, a tiny Qwen2-VL pair as
 * tests/fixtures/qwen-vl writes it (M-RoPE: image positions are 2-D, so a
 * different grid at the same place must not be reused).
 */
#include "engine/engine.h"
#include "err.h"
#include "t.h"

#include <libgen.h>
#include <math.h>
#include <unistd.h>

#define VOCAB "../shared/fixtures/vocab"

static char gw_tool[1100], mt_tool[1100], dir[] = "/tmp/mmsafe-reuse-XXXXXX";

static uint8_t *make_image(int w, int h, int seed)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                p[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * (3 + seed) + y * (5 + 2 * seed) + c * 70 + seed * 41) & 255);
    return p;
}

static double rel_max(const float *a, const float *b, int n)
{
    double amax = 0, dmax = 0;
    for (int i = 0; i < n; i++) {
        if (fabs(b[i]) > amax) amax = fabs(b[i]);
        if (fabs((double)a[i] - b[i]) > dmax) dmax = fabs((double)a[i] - b[i]);
    }
    return amax > 0 ? dmax / amax : dmax;
}

struct item { const char *q; int img; int gen; int swap; };   /* img: -1 none, else which image; swap: its grid transposed */

static void run_model(const char *name, const char *lm, const char *mm, int tmpl)
{
    struct eng_model *m = NULL;
    struct eng_vision *v = NULL;
    char d[512];
    snprintf(d, sizeof d, "%s: the pair loads", name);
    if (!CHECK_T(eng_model_open(lm, &m) == 0 && eng_vision_open(mm, &v) == 0, d)) {
        fprintf(stderr, "  %s\n", eng_errmsg());
        eng_model_free(m);
        return;
    }
    const int qwen = eng_uses_mrope(m);
    /* Qwen: two images of different sizes give different grids */
    const int iw[3] = { 64, 64, 96 }, ih[3] = { 48, 48, 40 }, iseed[3] = { 1, 2, 1 };
    const struct item items[] = {
        { "Is the sentence \"we cook pasta\" safe? Answer Yes or No.", 0, 0, 0 },
        { "Is the sentence \"we cook rice tonight\" safe? Answer Yes or No.", 0, 0, 0 },          /* hit: same image */
        { "Is the sentence \"we cook rice tonight\" safe? Answer Yes or No.", 0, 3, 0 },          /* whole repeat, then 3 greedy steps */
        { "Is the sentence \"we cook rice tonight\" safe? Answer Yes or No. Be brief.", 0, 0, 0 }, /* partial: extends it */
        { "Is the sentence \"we cook rice tonight\" safe? Answer Yes or No.", 1, 0, 0 },          /* another image */
        { "Is the sentence \"we cook rice tonight\" safe? Answer Yes or No.", 2, 0, 0 },          /* another size (Qwen: grid) */
        { "Is the sentence \"we cook rice tonight\" safe? Answer Yes or No.", 2, 0, 1 },          /* the same rows as another grid */
        { "Is the sentence \"we cook rice tonight\" safe? Answer Yes or No.", -1, 0, 0 },         /* text only */
        { "Is the sentence \"we cook pasta\" safe? Answer Yes or No.", 0, 0, 0 },
        { "Is the sentence \"we cook pasta\" safe? Answer Yes or No.", 0, 0, 0 },                 /* reuse switched off first */
    };
    const int n_items = (int)(sizeof items / sizeof items[0]);
    for (int mode = ENG_REUSE_POSITIONS; mode <= ENG_REUSE_CHUNKS; mode++)
    for (int arith = 0; arith < 2; arith++) {
        /* chunks: whole batches skipped, the rest evaluated as a full prefill does: bit-identical */
        const double tol = mode == ENG_REUSE_CHUNKS ? 0 : arith == ENG_ARITH_EXACT ? 1e-5 : 2e-3;
        const char *mn = mode == ENG_REUSE_CHUNKS ? "chunks" : "positions";
        struct eng_params p = ENG_PARAMS_DEFAULT;
        p.arith = arith;
        p.n_ctx = 1024;
        struct eng_ctx *full = NULL, *re = NULL;
        struct eng_vision_ctx *vc = NULL;
        if (!CHECK_T(eng_ctx_new(m, &p, &full) == 0 && eng_ctx_new(m, &p, &re) == 0 && eng_vision_ctx_new(v, &p, &vc) == 0,
                     "contexts")) {
            eng_ctx_free(full); eng_ctx_free(re); eng_vision_ctx_free(vc);
            break;
        }
        eng_ctx_set_reuse(re, mode);
        const size_t E = (size_t)eng_n_embd(m);
        float *embd[3];
        int gw[3], gh[3];
        for (int k = 0; k < 3; k++) {
            uint8_t *rgb = make_image(iw[k], ih[k], iseed[k]);
            embd[k] = malloc((size_t)eng_vision_n_tokens(v) * E * sizeof(float));
            CHECK_T(eng_vision_encode_grid(vc, ENG_VISION_LLAMA_CPP, rgb, iw[k], ih[k], embd[k], &gw[k], &gh[k]) == 0, "encode");
            free(rgb);
        }
        int32_t *prev = NULL;
        int n_prev = 0;
        long long ev0 = 0, sk0 = 0;
        double worst = 0;
        for (int i = 0; i < n_items; i++) {
            const struct item *it = &items[i];
            if (i == n_items - 1) eng_ctx_set_reuse(re, ENG_REUSE_OFF);
            char *prompt = NULL;
            CHECK_T(eng_chat_prompt(tmpl, NULL, it->q, it->img >= 0, &prompt) == 0, "prompt");
            const float *e = it->img >= 0 ? embd[it->img] : NULL;
            int w = it->img >= 0 ? gw[it->img] : 0, h = it->img >= 0 ? gh[it->img] : 0;
            if (it->swap) { int t = w; w = h; h = t; }
            int n1 = 0, n2 = 0;
            eng_ctx_reset(full);
            eng_ctx_reset(re);
            int r1 = eng_vl_prefill(full, prompt, e, w, h, 0, &n1);
            int r2 = eng_vl_prefill(re, prompt, e, w, h, 0, &n2);
            snprintf(d, sizeof d, "%s %s item %d: both prefill (%d, %d positions)", name, eng_arith_name(arith), i, n1, n2);
            if (!CHECK_T(r1 == 0 && r2 == 0 && n1 == n2, d)) { fprintf(stderr, "  %s\n", eng_errmsg()); free(prompt); continue; }
            double rm = rel_max(eng_logits(re), eng_logits(full), eng_n_vocab(m));
            if (rm > worst) worst = rm;
            snprintf(d, sizeof d, "%s %s %s item %d: logits with reuse = a full prefill's (max rel %.2e <= %.0e)", name, mn,
                     eng_arith_name(arith), i, rm, tol);
            CHECK_T(rm <= tol, d);
            /* the expected reuse: the common prefix of the two input sequences, with the
             * image rows compared by image (same image index = same rows, same grid) */
            int32_t *ids = NULL;
            int n = 0;
            eng_llava_tokens(m, prompt, it->img >= 0 ? w * h : 0, 0, &ids, &n, NULL);
            int nb = 0;
            while (nb < n && ids[nb] != ENG_TOKEN_EMBD) nb++;
            for (int k = 0; k < n; k++) if (ids[k] == ENG_TOKEN_EMBD) ids[k] = -100 - it->img;
            int common = 0;
            while (prev && common < n && common < n_prev && ids[common] == prev[common]) common++;
            if (it->swap && qwen) {
                /* M-RoPE: the rows are the same but their (y, x) positions differ from the first
                 * row whose position the transposed grid changes; nothing after it is kept */
                int32_t *pa = malloc((size_t)w * h * 4 * sizeof *pa), *pb = malloc((size_t)w * h * 4 * sizeof *pb), nx;
                eng_image_positions(m, nb, h, w, pa, &nx);
                eng_image_positions(m, nb, w, h, pb, &nx);
                int k = 0;
                while (k < w * h && !memcmp(pa + 4 * k, pb + 4 * k, 4 * sizeof *pa)) k++;
                CHECK_T(k > 0 && k < w * h, "the transposed grid changes a position inside the image");
                common = nb + k;
                free(pa); free(pb);
            }
            if (common == n) common = n - 1;
            if (i == 0 || i == n_items - 1) common = 0;
            if (mode == ENG_REUSE_CHUNKS) {
                /* whole calls of eng_vl_prefill: text before the image, the image (LLaVA: in
                 * batches of 512 rows), the text after it */
                const int n_img = it->img >= 0 ? w * h : 0;
                int bounds[8], nbd = 0, k = 0;
                if (nb) bounds[nbd++] = nb;
                const int step = qwen ? n_img : 512;
                for (int off = 0; off < n_img; off += step) bounds[nbd++] = nb + (off + step < n_img ? off + step : n_img);
                if (n > nb + n_img) bounds[nbd++] = n;
                int kept = 0;
                while (k < nbd && bounds[k] <= common) kept = bounds[k++];
                common = kept;
            }
            long long ev, sk;
            eng_ctx_reuse_stats(re, &ev, &sk);
            snprintf(d, sizeof d, "%s %s %s item %d: %lld of %d positions reused, expected %d", name, mn,
                     eng_arith_name(arith), i, sk - sk0, n, common);
            CHECK_T(sk - sk0 == common && ev - ev0 == n - common, d);
            free(prev);
            prev = ids;
            n_prev = n;
            /* greedy steps: the same tokens, the same logits; they stay in the cache */
            for (int s = 0; s < it->gen; s++) {
                int32_t t1 = eng_argmax(full), t2 = eng_argmax(re);
                CHECK_EQ_I(t1, t2, "greedy steps agree");
                eng_decode(full, t1);
                eng_decode(re, t1);
                prev = realloc(prev, (size_t)(n_prev + 1) * sizeof *prev);
                prev[n_prev++] = t1;
                rm = rel_max(eng_logits(re), eng_logits(full), eng_n_vocab(m));
                snprintf(d, sizeof d, "%s %s item %d step %d: logits agree (%.2e)", name, eng_arith_name(arith), i, s, rm);
                CHECK_T(rm <= tol, d);
            }
            eng_ctx_reuse_stats(re, &ev0, &sk0);
            free(prompt);
        }
        fprintf(stderr, "%s %s %s: worst max rel difference with reuse %.2e\n", name, mn, eng_arith_name(arith), worst);
        if (qwen) {
            /* same image rows at another place: positions differ, nothing past them is kept */
            CHECK_T(gw[0] != gw[2] || gh[0] != gh[2], "the Qwen images have different grids");
        }
        free(prev);
        for (int k = 0; k < 3; k++) free(embd[k]);
        eng_ctx_free(full); eng_ctx_free(re); eng_vision_ctx_free(vc);
    }
    eng_vision_free(v);
    eng_model_free(m);
}

static int sh(const char *cmd) { return system(cmd) == 0; }

int main(int argc, char **argv)
{
    t_name = "test_reuse";
    (void)argc;
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(gw_tool, sizeof gw_tool, "%s/../../tools/gguf_write", dirname(self));
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(mt_tool, sizeof mt_tool, "%s/../../tools/make_tiny_llava", dirname(self));
    run_model("llava-tiny", "data/models/tiny-llava-lm-F16.gguf", "data/models/tiny-llava-mmproj-F16.gguf", ENG_TMPL_VICUNA);
    if (access(VOCAB "/ggml-vocab-qwen2.gguf", R_OK)) {
        t_skipped(VOCAB " not found (the tiny Qwen2-VL pair uses its Qwen2 vocabulary)");
    } else if (!CHECK_T(access(gw_tool, X_OK) == 0 && access(mt_tool, X_OK) == 0, "build/tools/gguf_write and make_tiny_llava exist")) {
    } else if (CHECK_T(mkdtemp(dir) != NULL, "mkdtemp")) {
        char lm[128], mm[128], cmd[4096];
        snprintf(lm, sizeof lm, "%s/q2vl.gguf", dir);
        snprintf(mm, sizeof mm, "%s/q2vl-mmproj.gguf", dir);
        /* tests/fixtures/qwen-vl/index.json's q2vl-A-F32 */
        snprintf(cmd, sizeof cmd, "'%s' '%s' --embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --ctx 4096 --arch qwen2vl "
                 "--vocab-from " VOCAB "/ggml-vocab-qwen2.gguf --tied --rope-base 1000000 --type F32 --seed 51 >/dev/null && "
                 "'%s' --mmproj '%s' --projector qwen2vl --n-out 64 --mm-type F32 --seed 151 >/dev/null", gw_tool, lm, mt_tool, mm);
        if (CHECK_T(sh(cmd), "the tiny Qwen2-VL pair is written"))
            run_model("qwen2vl-tiny", lm, mm, ENG_TMPL_QWEN_VL);
        unlink(lm); unlink(mm); rmdir(dir);
    }
    return t_done();
}
