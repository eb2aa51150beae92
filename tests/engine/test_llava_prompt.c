/*
 * test_llava_prompt.c - LLaVA-1.5 prompt assembly, image splicing and the
 * Yes/No verdict (src/engine/llava.c):
 *   - eng_answers_score on hand-computed logits, eng_answers_resolve on the
 *     real LLaMA-2 vocabulary (spec §7's ids) and on the fixtures' vocabulary;
 *   - templates (vicuna, llava_v1, raw, system prompt) and the assembled
 *     sequence: spec §6.3's worked example with the real vocabulary, ids exact;
 *   - every image case of ../shared/fixtures/llava-tiny/index.json, both vision
 *     modes: the case's question rendered with the vicuna template must give
 *     its prompt_text; eng_llava_tokens must give its `tokens` (-1 at the image
 *     positions); from its decoded_rgb pixels, our vision tower and
 *     eng_llava_prefill give the last logits, compared with the golden
 *     `logits` (exact arithmetic: the case's tolerance, README §9.4/§12.5;
 *     fast arithmetic: the limits README §9.4 gives for an engine that
 *     emulates ggml's rounding), top-1 where top1_reliable and greedy tokens
 *     over greedy_reliable_prefix.
 * Reads ../shared (skips those parts when absent).  Run from the repository root.
 */
#include "engine/engine.h"
#include "err.h"
#include "json_mini.h"
#include "t.h"

#include <stdint.h>

#define TINY "../shared/fixtures/llava-tiny"
#define VOCAB "../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf"

static void *load_bin(const char *rel, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, TINY "/%s", rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *b = malloc(bytes ? bytes : 1);
    size_t got = b ? fread(b, 1, bytes, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != bytes || extra) { free(b); return NULL; }
    return b;
}

static void rel_err(const float *a, const float *b, size_t n, double *mx, double *rms)
{
    double amax = 0, d2 = 0, b2 = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        if (fabs(b[i]) > amax) amax = fabs(b[i]);
        if (!(fabs(d) <= dmax)) dmax = fabs(d);    /* NaN propagates */
        d2 += d * d;
        b2 += (double)b[i] * b[i];
    }
    *mx = dmax / amax;
    *rms = sqrt(d2 / b2);
}

/* ---------------------------------------------------------------- answers */

static void test_score(void)
{
    /* logits 0, 1, 2, 3, 0.5, -1; yes = {1, 2}, no = {3}:
     * LSE(yes) = log(e + e^2) = 2.3132617, delta = LSE(yes) - 3 = -0.6867383,
     * p_no = 1 / (1 + e^delta) = 0.6652410,
     * mass = (e + e^2 + e^3) / sum_i e^l_i = 0.9091645 (numpy, float64) */
    const float l[6] = { 0, 1, 2, 3, 0.5f, -1 };
    struct eng_answers a = { .pos = { 1, 2 }, .neg = { 3 }, .n_pos = 2, .n_neg = 1, .pos1 = 1, .neg1 = 3 };
    double d, p, m;
    eng_answers_score(&a, l, 6, &d, &p, &m);
    CHECK_NEAR(d, -0.6867383124817774, 1e-12, "delta = LSE(yes) - LSE(no)");
    CHECK_NEAR(p, 0.6652409557748219, 1e-12, "p_no = 1 / (1 + exp(delta))");
    CHECK_NEAR(m, 0.9091644580114194, 1e-12, "candidate mass of the full softmax");
    /* the same with one yes candidate: delta = 1 - 3 = -2, p_no = 1/(1+e^-2) = 0.8807971 */
    a.n_pos = 1;
    eng_answers_score(&a, l, 6, &d, &p, NULL);
    CHECK_NEAR(d, -2.0, 1e-12, "single candidates: delta = l[yes] - l[no]");
    CHECK_NEAR(p, 0.8807970779778823, 1e-12, "single candidates: p_no");
    /* large logits must not overflow: 1000 vs 999 -> delta 1, p_no = 1/(1+e) */
    const float big[3] = { 1000, 999, -1000 };
    struct eng_answers b = { .pos = { 0 }, .neg = { 1 }, .n_pos = 1, .n_neg = 1 };
    eng_answers_score(&b, big, 3, &d, &p, &m);
    CHECK_NEAR(d, 1.0, 1e-9, "large logits: delta");
    CHECK_NEAR(p, 0.2689414213699951, 1e-12, "large logits: p_no");
    CHECK_NEAR(m, 1.0, 1e-12, "large logits: mass 1 (the third token is negligible)");
    /* equal logits: p_no = 0.5 exactly */
    const float eq[4] = { 2, 2, 2, 2 };
    struct eng_answers e = { .pos = { 0, 1 }, .neg = { 2, 3 }, .n_pos = 2, .n_neg = 2 };
    eng_answers_score(&e, eq, 4, &d, &p, &m);
    CHECK_T(d == 0 && p == 0.5, "equal candidates: delta 0, p_no 0.5");
    CHECK_NEAR(m, 1.0, 1e-15, "equal candidates: mass 1");
}

static int has(const int32_t *arr, int n, int32_t id)
{
    for (int i = 0; i < n; i++) if (arr[i] == id) return 1;
    return 0;
}

static void test_resolve_real(struct eng_model *voc)
{
    struct eng_answers a;
    int rc = eng_answers_resolve(voc, "Yes", "No", &a);
    CHECK_EQ_I(rc, 0, "Yes/No resolve on the LLaMA-2 vocabulary");
    /* spec §7: YES ▁Yes 3869, Yes 8241, ▁yes 4874, yes 3582, ▁YES 22483, YES 21143;
     *          NO  ▁No 1939, No 3782, ▁no 694, no 1217, ▁NO 11698, NO 6632 */
    static const int32_t Y[6] = { 3869, 8241, 4874, 3582, 22483, 21143 }, N[6] = { 1939, 3782, 694, 1217, 11698, 6632 };
    CHECK_EQ_I(a.n_pos, 6, "six YES pieces");
    CHECK_EQ_I(a.n_neg, 6, "six NO pieces");
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= has(a.pos, a.n_pos, Y[i]) && has(a.neg, a.n_neg, N[i]);
    CHECK_T(ok, "the YES / NO sets are spec §7's ids");
    CHECK_EQ_I(a.pos1, 3869, "primary ▁Yes");
    CHECK_EQ_I(a.neg1, 1939, "primary ▁No");
    rc = eng_answers_resolve(voc, "True", "False", &a);
    CHECK_EQ_I(rc, 0, "other answer words resolve (True / False)");
    CHECK_T(a.pos1 == 5852 && a.neg1 == 7700, "▁True 5852, ▁False 7700");
    rc = eng_answers_resolve(voc, "Yes", "Xqzvbk", &a);
    CHECK_EQ_I(rc, RC_ECONFIG, "an answer with no single ▁word piece is refused");
    CHECK_T(strstr(eng_errmsg(), "Xqzvbk") != NULL, "and the message names it");
    rc = eng_answers_resolve(voc, "Yes", "yes", &a);
    CHECK_EQ_I(rc, RC_ECONFIG, "two answers sharing a token are refused");
}

/* ---------------------------------------------------------------- templates */

static void test_templates(void)
{
    int t = -1;
    CHECK_T(eng_template_parse("vicuna", &t) == 0 && t == ENG_TMPL_VICUNA, "template vicuna");
    CHECK_T(eng_template_parse("llava_v1", &t) == 0 && t == ENG_TMPL_LLAVA_V1, "template llava_v1");
    CHECK_T(eng_template_parse("raw", &t) == 0 && t == ENG_TMPL_RAW, "template raw");
    CHECK_EQ_I(eng_template_parse("chatml2", &t), RC_ECONFIG, "unknown template refused");
    char *s = eng_render_prompt(ENG_TMPL_VICUNA, NULL, "Is it safe?");
    CHECK_STR(s, "USER: <__media__>\nIs it safe?\nASSISTANT:", "vicuna, no system prompt");
    free(s);
    s = eng_render_prompt(ENG_TMPL_VICUNA, "", "Q");
    CHECK_STR(s, "USER: <__media__>\nQ\nASSISTANT:", "vicuna, empty system prompt = none");
    free(s);
    s = eng_render_prompt(ENG_TMPL_VICUNA, "Be brief.", "Q");
    CHECK_STR(s, "Be brief.\n\nUSER: <__media__>\nQ\nASSISTANT:", "vicuna with a system prompt (llama.cpp: system + \\n\\n)");
    free(s);
    s = eng_render_prompt(ENG_TMPL_LLAVA_V1, NULL, "Q");
    CHECK_STR(s, "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
                 "detailed, and polite answers to the human's questions. USER: <__media__>\nQ ASSISTANT:",
              "llava_v1 with LLaVA's default system prompt");
    free(s);
    s = eng_render_prompt(ENG_TMPL_LLAVA_V1, "S.", "Q");
    CHECK_STR(s, "S. USER: <__media__>\nQ ASSISTANT:", "llava_v1 with a system prompt");
    free(s);
    s = eng_render_prompt(ENG_TMPL_RAW, NULL, "<__media__>as is");
    CHECK_STR(s, "<__media__>as is", "raw: the text as it is");
    free(s);
    s = eng_render_prompt(ENG_TMPL_RAW, "not silently dropped", "<__media__>as is");
    CHECK_T(s == NULL, "raw refuses a system prompt (it used to drop it silently)");
    free(s);
}

/* spec §6.3, with the real LLaMA-2 vocabulary and 576 image positions */
static void test_worked_example(struct eng_model *voc)
{
    const char *p = "USER: <__media__>Given the image, do you think the following sentence is safe? Please start by "
                    "answering Yes or No.\n\"Print it for me\"\nASSISTANT:";
    static const int32_t head[5] = { 1, 3148, 1001, 29901, 29871 };
    static const int32_t tail[33] = { 11221, 278, 1967, 29892, 437, 366, 1348, 278, 1494, 10541, 338, 9109, 29973, 3529,
                                      1369, 491, 22862, 3869, 470, 1939, 29889, 13, 29908, 11816, 372, 363, 592, 29908,
                                      13, 22933, 9047, 13566, 29901 };
    int32_t *ids = NULL;
    int n = 0, nb = -1;
    int rc = eng_llava_tokens(voc, p, 576, 0, &ids, &n, &nb);
    CHECK_EQ_I(rc, 0, "§6.3 assembles");
    CHECK_EQ_I(n, 614, "§6.3: T = 614 positions");
    CHECK_EQ_I(nb, 5, "§6.3: the image starts at position 5");
    if (rc || n != 614) { free(ids); return; }
    CHECK_T(!memcmp(ids, head, sizeof head), "§6.3: BOS + 'USER: ' = 1 3148 1001 29901 29871");
    int img = 1;
    for (int i = 5; i < 581; i++) img &= ids[i] == ENG_TOKEN_EMBD;
    CHECK_T(img, "§6.3: positions 5-580 are the image");
    CHECK_T(!memcmp(ids + 581, tail, sizeof tail), "§6.3: text_1 ids exactly (own ▁ prefix: ▁Given)");
    free(ids);

    /* no_bos; an image first gets BOS alone before it; text-only prompts */
    rc = eng_llava_tokens(voc, p, 576, 1, &ids, &n, &nb);
    CHECK_T(rc == 0 && n == 613 && nb == 4 && ids[0] == 3148, "no_bos drops only BOS");
    free(ids);
    rc = eng_llava_tokens(voc, "<__media__>\nHi", 3, 0, &ids, &n, &nb);
    CHECK_T(rc == 0 && nb == 1 && n == 7 && ids[0] == 1 && ids[1] == -1 && ids[3] == -1 && ids[4] == 29871 && ids[5] == 13,
            "image first: [BOS] [3 image] ▁ <0x0A> ▁Hi");
    free(ids);
    rc = eng_llava_tokens(voc, "Hello", 0, 0, &ids, &n, &nb);
    CHECK_T(rc == 0 && n == 2 && ids[0] == 1 && ids[1] == 15043, "text-only prompt: <s> ▁Hello");
    free(ids);
    CHECK_EQ_I(eng_llava_tokens(voc, "<__media__> and <__media__>", 4, 0, &ids, &n, NULL), RC_EINPUT, "two markers refused");
    CHECK_EQ_I(eng_llava_tokens(voc, "no marker", 4, 0, &ids, &n, NULL), RC_EINPUT, "an image without a marker refused");
    CHECK_T(strstr(eng_errmsg(), "<__media__>") != NULL, "and the message names the marker");
    CHECK_EQ_I(eng_llava_tokens(voc, "a <__media__>", 0, 0, &ids, &n, NULL), RC_EINPUT, "a marker without an image refused");
    CHECK_T(ids == NULL, "no ids after an error");
}

/* ---------------------------------------------------------------- goldens */

/* README §9.4 (llama.cpp mode) and §12.5 (llava mode: 1e-3 / 4e-3 reachable for
 * F32 / F16; for quantised LMs emulation "helps less" and leaves cases at 5-8 %,
 * so the plain limits stay). */
static double fast_limit(const char *wt, int mode, double plain)
{
    if (mode == ENG_VISION_LLAVA) return !strcmp(wt, "F32") ? 1e-3 : !strcmp(wt, "F16") ? 4e-3 : plain;
    if (!strcmp(wt, "F32")) return 1e-3;
    if (!strcmp(wt, "F16")) return 3e-3;
    if (!strcmp(wt, "Q8_0") || !strcmp(wt, "Q4_0") || !strcmp(wt, "Q5_K_M")) return 5e-2;
    return 8e-2;
}

#define NCACHE 16
static struct { char name[128]; struct eng_model *m; struct eng_vision *v; } cache[NCACHE];

static void *get_file(const char *rel, int vision)
{
    for (int i = 0; i < NCACHE; i++) {
        if (cache[i].name[0] && !strcmp(cache[i].name, rel)) return vision ? (void *)cache[i].v : (void *)cache[i].m;
        if (!cache[i].name[0]) {
            char path[1024];
            snprintf(path, sizeof path, TINY "/%s", rel);
            int rc = vision ? eng_vision_open(path, &cache[i].v) : eng_model_open(path, &cache[i].m);
            if (rc) { fprintf(stderr, "%s: %s\n", path, eng_errmsg()); return NULL; }
            snprintf(cache[i].name, sizeof cache[i].name, "%s", rel);
            return vision ? (void *)cache[i].v : (void *)cache[i].m;
        }
    }
    return NULL;
}

struct stat_row { char cfg[64]; int n; double exact, lim_exact, fast, lim_fast, embd; int g_ok, g_n; };

/* One image case end to end from decoded_rgb: returns 0, or -1 when it could not run. */
static int run_case(struct eng_model *m, struct eng_vision *v, int mode, int arith, int kv_f16, const char *prompt,
                    const uint8_t *rgb, int w, int h, float *embd, float *logits, int32_t *greedy, int n_greedy)
{
    struct eng_params p = ENG_PARAMS_DEFAULT;
    p.arith = arith;
    p.kv_type = kv_f16 ? ENG_KV_F16 : ENG_KV_F32;
    p.n_ctx = 512;
    struct eng_vision_ctx *vc = NULL;
    struct eng_ctx *c = NULL;
    int rc = eng_vision_ctx_new(v, &p, &vc);
    if (!rc) rc = eng_vision_encode(vc, mode, rgb, w, h, embd);
    if (!rc) rc = eng_ctx_new(m, &p, &c);
    int n_pos = 0;
    if (!rc) rc = eng_llava_prefill(c, prompt, embd, eng_vision_n_tokens(v), 0, &n_pos);
    if (!rc) memcpy(logits, eng_logits(c), (size_t)eng_n_vocab(m) * sizeof *logits);
    for (int i = 0; !rc && i < n_greedy; i++) {
        greedy[i] = eng_argmax(c);
        if (i + 1 < n_greedy) rc = eng_decode(c, greedy[i]);
    }
    if (rc) fprintf(stderr, "run: %s\n", eng_errmsg());
    eng_ctx_free(c);
    eng_vision_ctx_free(vc);
    return rc ? -1 : 0;
}

static void test_goldens(const struct jn *j)
{
    const struct jn *cases = jn_get(j, "cases"), *configs = jn_get(j, "configs");
    struct stat_row st[32];
    int nst = 0, n_img_cases = 0, n_modes[2] = { 0, 0 };
    static float lg[100000];
    char d[512];
    for (int ci = 0; cases && ci < cases->n; ci++) {
        const struct jn *c = &cases->kids[ci];
        if (strcmp(jn_str(c, "kind"), "image")) continue;
        n_img_cases++;
        const char *id = jn_str(c, "id"), *cfg = jn_str(c, "config"), *wt = jn_str(c, "weight_type");
        int mode;
        if (!CHECK_T(eng_vision_mode_parse(jn_str(c, "vision_mode"), &mode) == 0, "the case's vision_mode parses")) continue;
        n_modes[mode]++;
        int kvf16 = !strcmp(jn_str(jn_get(configs, cfg), "settings"), "llama_cpp_default_attention");
        struct eng_model *m = get_file(jn_str(c, "model"), 0);
        struct eng_vision *v = get_file(jn_str(c, "mmproj"), 1);
        if (!CHECK_T(m && v, "the case's model files load")) continue;
        /* the prompt: our vicuna rendering of the question is the reference's string */
        char *prompt = eng_render_prompt(ENG_TMPL_VICUNA, NULL, jn_str(c, "question"));
        snprintf(d, sizeof d, "%s: vicuna template of the question = prompt_text", id);
        CHECK_STR(prompt, jn_str(c, "prompt_text"), d);
        /* the sequence */
        const struct jn *tk = jn_get(c, "tokens");
        int32_t *ids = NULL;
        int n = 0, nb = 0;
        int rc = eng_llava_tokens(m, prompt, (int)jn_num(c, "n_image_tokens", 0), 0, &ids, &n, &nb);
        int same = !rc && n == tk->n;
        for (int i = 0; same && i < n; i++) same = ids[i] == (int32_t)tk->kids[i].num;
        snprintf(d, sizeof d, "%s: assembled sequence = the case's tokens (%d vs %d ids)", id, n, tk->n);
        CHECK_T(same, d);
        CHECK_EQ_I(nb, jn_get(c, "image_positions")->kids[0].num, "image starts at image_positions[0]");
        free(ids);
        /* pixels -> logits */
        const struct jn *outs = jn_get(c, "outputs"), *rgbj = jn_get(outs, "decoded_rgb");
        const struct jn *shp = jn_get(rgbj, "shape");
        int h = (int)shp->kids[0].num, w = (int)shp->kids[1].num;
        int nv = eng_n_vocab(m), ne = eng_n_embd(m), nt = eng_vision_n_tokens(v);
        uint8_t *rgb = load_bin(jn_str(rgbj, "file"), (size_t)w * h * 3);
        float *gold = load_bin(jn_str(jn_get(outs, "logits"), "file"), (size_t)nv * sizeof(float));
        float *gemb = load_bin(jn_str(jn_get(outs, "image_embd"), "file"), (size_t)nt * ne * sizeof(float));
        float *embd = malloc((size_t)nt * ne * sizeof(float));
        if (!CHECK_T(rgb && gold && gemb && embd && nv <= 100000, "golden files readable")) goto next;
        struct stat_row *s = NULL;
        for (int i = 0; i < nst; i++) if (!strcmp(st[i].cfg, cfg)) s = &st[i];
        if (!s && nst < 32) { s = &st[nst++]; memset(s, 0, sizeof *s); snprintf(s->cfg, sizeof s->cfg, "%s", cfg); }
        if (!s) goto next;
        s->n++;
        const struct jn *tol = jn_get(c, "tolerance");
        double tmax = jn_num(tol, "logits_max_rel", 1e-4), trms = jn_num(tol, "logits_rms_rel", 1e-4);
        if (kvf16) tmax = trms = 1e-2;   /* README §9.4: the default-attention config against an F32 engine */
        double mx, rms;
        int32_t greedy[8];
        /* exact arithmetic: the case's (plain-engine) tolerance */
        rc = run_case(m, v, mode, ENG_ARITH_EXACT, 0, prompt, rgb, w, h, embd, lg, greedy, 0);
        snprintf(d, sizeof d, "%s: exact run", id);
        if (!CHECK_T(rc == 0, d)) goto next;
        rel_err(lg, gold, (size_t)nv, &mx, &rms);
        if (!(mx <= s->exact)) s->exact = mx;
        s->lim_exact = tmax;
        snprintf(d, sizeof d, "%s: exact logits max rel %.2e (bound %.0e) rms %.2e (bound %.0e)", id, mx, tmax, rms, trms);
        CHECK_T(mx <= tmax && rms <= trms, d);
        /* fast arithmetic (F16 KV only for the default-attention config) */
        rc = run_case(m, v, mode, ENG_ARITH_FAST, kvf16, prompt, rgb, w, h, embd, lg, greedy, 8);
        snprintf(d, sizeof d, "%s: fast run", id);
        if (!CHECK_T(rc == 0, d)) goto next;
        rel_err(embd, gemb, (size_t)nt * ne, &mx, &rms);
        if (!(mx <= s->embd)) s->embd = mx;
        snprintf(d, sizeof d, "%s: fast image_embd max rel %.2e (bound %.0e)", id, mx, jn_num(tol, "image_embd_max_rel", 3e-3));
        CHECK_T(mx <= jn_num(tol, "image_embd_max_rel", 3e-3), d);
        rel_err(lg, gold, (size_t)nv, &mx, &rms);
        double lim = kvf16 ? 1e-2 : fast_limit(wt, mode, tmax);
        if (!(mx <= s->fast)) s->fast = mx;
        s->lim_fast = lim;
        snprintf(d, sizeof d, "%s: fast logits max rel %.2e rms %.2e (bound %.0e)", id, mx, rms, lim);
        CHECK_T(mx <= lim && rms <= lim, d);
        if (jn_num(c, "top1_reliable", 0)) {
            snprintf(d, sizeof d, "%s: top-1 %d vs %d", id, greedy[0], (int)jn_num(c, "top1", -1));
            CHECK_T(greedy[0] == (int)jn_num(c, "top1", -1), d);
        }
        {
            int pre = (int)jn_num(c, "greedy_reliable_prefix", 0), ok = 1;
            const struct jn *g = jn_get(c, "greedy");
            for (int i = 0; i < pre && i < 8; i++) ok &= greedy[i] == (int32_t)g->kids[i].num;
            s->g_n += pre > 0;
            s->g_ok += pre > 0 && ok;
            snprintf(d, sizeof d, "%s: greedy tokens over the reliable prefix of %d", id, pre);
            CHECK_T(ok, d);
        }
    next:
        free(prompt); free(rgb); free(gold); free(gemb); free(embd);
    }
    CHECK_EQ_I(n_img_cases, 105, "every image case of index.json ran");
    CHECK_T(n_modes[ENG_VISION_LLAVA] == 45 && n_modes[ENG_VISION_LLAMA_CPP] == 60, "45 llava-mode and 60 llama.cpp-mode cases");
    printf("%-22s %5s %20s %20s %12s %s\n", "config (from pixels)", "cases", "exact (bound)", "fast (bound)", "embd fast", "greedy");
    for (int i = 0; i < nst; i++)
        printf("%-22s %5d %10.2e (%.0e) %10.2e (%.0e) %12.2e %d/%d\n", st[i].cfg, st[i].n, st[i].exact, st[i].lim_exact,
               st[i].fast, st[i].lim_fast, st[i].embd, st[i].g_ok, st[i].g_n);
}

int main(void)
{
    t_name = "engine/llava_prompt";
    test_score();
    test_templates();
    struct eng_model *voc = NULL;
    if (eng_vocab_open(VOCAB, &voc) == 0) {
        test_resolve_real(voc);
        test_worked_example(voc);
        eng_model_free(voc);
    } else t_skipped("../shared/fixtures/vocab not found (spec §6.3 / §7 ids need the LLaMA-2 vocabulary)");
    struct jn *j = jn_load(TINY "/index.json");
    if (j) {
        struct eng_model *m = get_file("models/lmA-F32.gguf", 0);
        struct eng_answers a;
        if (CHECK_T(m != NULL, "lmA loads")) {
            CHECK_EQ_I(eng_answers_resolve(m, "Yes", "No", &a), 0, "Yes/No resolve on the fixtures' 1000-piece vocabulary");
            CHECK_T(a.pos1 == 332 && a.neg1 == 330, "primary pieces ▁Yes 332, ▁No 330 (= tokenize(\"Yes\"), tokenize(\"No\"))");
            CHECK_T(has(a.neg, a.n_neg, 730), "▁no (730) is a NO candidate");
        }
        test_goldens(j);
        jn_free(j);
    } else t_skipped("../shared/fixtures/llava-tiny not found (image-case goldens need it)");
    for (int i = 0; i < NCACHE; i++) { eng_model_free(cache[i].m); eng_vision_free(cache[i].v); }
    return t_done();
}
