/*
 * test_chat.c - chat templates, their auto detection, the end-of-generation
 * set and the answer pieces of byte-level BPE vocabularies (src/engine/chat.c,
 * tokenizer.c, llava.c):
 *   - rendering, every template: one question with and without a system
 *     prompt, with the image marker, and a multi-turn conversation, against the
 *     strings the reference's llama_chat_apply_template (llama.cpp 3f545be,
 *     src/llama-chat.cpp) builds for them;
 *   - detection: synthetic templates with each marker set the reference looks
 *     for (and the order between them), unknown and missing templates, a
 *     template the reference knows and mmsafe does not render;
 *   - end of generation: synthetic vocabularies (names, keys, the reference's
 *     two exceptions) and, from ../shared/fixtures/vocab, the real Llama 3 and
 *     Qwen vocabularies against vocab_info_as_loaded_by_llama_cpp, their own
 *     chat_template strings, every templated prompt of mmsafeaware-llama3.json
 *     and mmsafeaware-qwen2.json rendered by us and tokenized with
 *     parse_special (ids exact), and the "ĠYes"/"ĠNo" answer pieces.
 * Reads ../shared (skips those parts when absent).  Run from the repository root.
 */
#include "engine/engine.h"
#include "err.h"
#include "json_mini.h"
#include "t.h"

#include <unistd.h>

#define VOCAB "../shared/fixtures/vocab"
#define LLAVA_SYS "A chat between a curious human and an artificial intelligence assistant. " \
                  "The assistant gives helpful, detailed, and polite answers to the human's questions."

static int parse(const char *name)
{
    int t = -1;
    if (eng_template_parse(name, &t)) return -1;
    return t;
}

/* eng_chat_prompt(name, system, question, media) == want */
static void prompt_is(const char *name, const char *sys, const char *q, int media, const char *want, const char *desc)
{
    char *s = NULL, d[300];
    int rc = eng_chat_prompt(parse(name), sys, q, media, &s);
    snprintf(d, sizeof d, "%s: %s", name, desc);
    if (rc) fprintf(stderr, "  (%s: %s)\n", name, eng_errmsg());
    CHECK_STR(rc ? NULL : s, want, d);
    free(s);
}

/* ---------------------------------------------------------------- rendering */

static void test_render_one(void)
{
    /* chatml (Qwen): no default system prompt, as the reference's renderer */
    prompt_is("chatml", NULL, "Q", 0, "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", "no system prompt");
    prompt_is("chatml", "S", "Q", 0, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", "system prompt");
    prompt_is("chatml", "", "Q", 0, "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", "empty system prompt = none");
    prompt_is("chatml", NULL, "Q", 1, "<|im_start|>user\n<__media__>Q<|im_end|>\n<|im_start|>assistant\n", "image marker opens the user turn");
    prompt_is("chatml", NULL, " Q \n", 0, "<|im_start|>user\n Q \n<|im_end|>\n<|im_start|>assistant\n", "content not trimmed");
    /* llama3: contents trimmed; BOS is the tokenizer's, not the text's */
    prompt_is("llama3", NULL, "Q", 0,
              "<|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "no system prompt");
    prompt_is("llama3", "S", "Q", 0,
              "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n", "system prompt");
    prompt_is("llama3", " S\t", "\n Q  \n", 0,
              "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n", "contents trimmed (the reference's trim)");
    prompt_is("llama3", NULL, " Q ", 1,
              "<|start_header_id|>user<|end_header_id|>\n\n<__media__> Q<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
              "image marker first, then the content trimmed as a whole");
    /* the [INST] family */
    prompt_is("mistral-v7", "S", "Q", 0, "[SYSTEM_PROMPT] S[/SYSTEM_PROMPT][INST] Q[/INST]", "system prompt in [SYSTEM_PROMPT]");
    prompt_is("mistral-v7", NULL, "Q", 1, "[INST] <__media__>Q[/INST]", "image marker");
    prompt_is("mistral-v7-tekken", "S", "Q", 0, "[SYSTEM_PROMPT]S[/SYSTEM_PROMPT][INST]Q[/INST]", "no spaces");
    prompt_is("mistral-v1", "S", "Q", 0, " [INST] S\n\nQ [/INST]", "system prompt opens the first user turn");
    prompt_is("mistral-v1", NULL, "Q", 0, " [INST] Q [/INST]", "no system prompt");
    prompt_is("mistral-v3", "S", "Q", 0, "[INST] S\n\nQ[/INST]", "system prompt opens the first user turn");
    prompt_is("mistral-v3", NULL, "Q", 1, "[INST] <__media__>Q[/INST]", "image marker");
    prompt_is("mistral-v3-tekken", "S", "Q", 0, "[INST]S\n\nQ[/INST]", "system prompt, no spaces");
    prompt_is("llama2", "S", "Q", 0, "[INST] S\nQ [/INST]", "system prompt without <<SYS>>");
    prompt_is("llama2", NULL, "Q", 0, "[INST] Q [/INST]", "no system prompt");
    prompt_is("llama2-sys", "S", "Q", 0, "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST]", "<<SYS>> block");
    prompt_is("llama2-sys-bos", "S", "Q", 0, "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST]", "single turn as llama2-sys");
    prompt_is("llama2-sys-strip", " S ", " Q ", 1, "[INST] <<SYS>>\nS\n<</SYS>>\n\n<__media__> Q [/INST]", "contents trimmed");
    /* vicuna and LLaVA forms: unchanged, the marker followed by a newline */
    prompt_is("vicuna", NULL, "Q", 1, "USER: <__media__>\nQ\nASSISTANT:", "image prompt as before");
    prompt_is("vicuna", "S", "Q", 0, "S\n\nUSER: Q\nASSISTANT:", "text only with a system prompt");
    prompt_is("vicuna-orca", "S", "Q", 1, "SYSTEM: S\nUSER: <__media__>\nQ\nASSISTANT:", "SYSTEM: line");
    prompt_is("llava_v1", NULL, "Q", 0, LLAVA_SYS " USER: Q ASSISTANT:", "LLaVA's system prompt by default");
    prompt_is("llava_v1", "", "Q", 1, " USER: <__media__>\nQ ASSISTANT:", "explicitly empty system prompt kept");
    prompt_is("raw", NULL, "as <__media__> is", 1, "as <__media__> is", "the text as it is");
    char *s = NULL;
    CHECK_EQ_I(eng_chat_prompt(ENG_TMPL_RAW, "S", "Q", 0, &s), RC_ECONFIG, "raw refuses a system prompt");
    CHECK_EQ_I(eng_chat_prompt(ENG_TMPL_AUTO, NULL, "Q", 0, &s), RC_ECONFIG, "auto must be resolved before rendering");
    CHECK_EQ_I(eng_chat_prompt(ENG_TMPL_MISTRAL, NULL, "Q", 0, &s), RC_ECONFIG, "mistral must be resolved before rendering");
    CHECK_T(s == NULL, "no text on error");
}

static void render_is(const char *name, const struct eng_chat_msg *m, int n, int add_ass, const char *want)
{
    char *s = NULL, d[200];
    int rc = eng_chat_render(parse(name), m, n, add_ass, &s);
    snprintf(d, sizeof d, "%s: multi-turn conversation", name);
    CHECK_STR(rc ? NULL : s, want, d);
    free(s);
}

static void test_render_turns(void)
{
    const struct eng_chat_msg c[4] = { { "system", "S" }, { "user", "Q" }, { "assistant", " A " }, { "user", "R" } };
    render_is("chatml", c, 4, 1, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n A <|im_end|>\n"
                                 "<|im_start|>user\nR<|im_end|>\n<|im_start|>assistant\n");
    render_is("llama3", c, 4, 1, "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
                                 "<|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nR<|eot_id|>"
                                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    render_is("mistral-v7", c, 4, 1, "[SYSTEM_PROMPT] S[/SYSTEM_PROMPT][INST] Q[/INST]  A </s>[INST] R[/INST]");
    render_is("mistral-v7-tekken", c, 4, 1, "[SYSTEM_PROMPT]S[/SYSTEM_PROMPT][INST]Q[/INST] A </s>[INST]R[/INST]");
    render_is("mistral-v1", c, 4, 1, " [INST] S\n\nQ [/INST]  A </s> [INST] R [/INST]");
    render_is("mistral-v3", c, 4, 1, "[INST] S\n\nQ[/INST] A</s>[INST] R[/INST]");
    render_is("mistral-v3-tekken", c, 4, 1, "[INST]S\n\nQ[/INST] A </s>[INST]R[/INST]");
    render_is("llama2", c, 4, 1, "[INST] S\nQ [/INST] A </s>[INST] R [/INST]");
    render_is("llama2-sys", c, 4, 1, "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST] A </s>[INST] R [/INST]");
    render_is("llama2-sys-bos", c, 4, 1, "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST] A </s><s>[INST] R [/INST]");
    render_is("llama2-sys-strip", c, 4, 1, "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST]A</s>[INST] R [/INST]");
    render_is("vicuna", c, 4, 1, "S\n\nUSER: Q\nASSISTANT:  A </s>\nUSER: R\nASSISTANT:");
    render_is("vicuna-orca", c, 4, 1, "SYSTEM: S\nUSER: Q\nASSISTANT:  A </s>\nUSER: R\nASSISTANT:");
    render_is("llava_v1", c, 4, 1, "S USER: Q ASSISTANT:  A </s>USER: R ASSISTANT:");
    render_is("chatml", c + 1, 1, 0, "<|im_start|>user\nQ<|im_end|>\n");
    render_is("llama3", c + 1, 1, 0, "<|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>");
    render_is("vicuna", c + 1, 1, 0, "USER: Q\n");
}

static void test_names(void)
{
    static const char *names[] = { "auto", "llama3", "chatml", "mistral", "mistral-v7", "mistral-v7-tekken", "mistral-v3",
                                   "mistral-v3-tekken", "mistral-v1", "llama2", "llama2-sys", "llama2-sys-bos",
                                   "llama2-sys-strip", "vicuna", "vicuna-orca", "llava_v1", "raw", "qwen-vl" };
    int seen = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int t = parse(names[i]);
        char d[100];
        snprintf(d, sizeof d, "template '%s' parses and keeps its name", names[i]);
        CHECK_STR(t >= 0 ? eng_template_name(t) : NULL, names[i], d);
        if (t >= 0) seen |= 1 << t;
    }
    CHECK_EQ_I(seen, (1 << ENG_TMPL_COUNT) - 1, "every template has a name");
    CHECK_EQ_I(parse("Llama3"), -1, "names are case-sensitive");
    CHECK_EQ_I(parse("gemma"), -1, "a reference template mmsafe does not render is refused");
    CHECK_T(strstr(ENG_TEMPLATE_NAMES, "mistral-v7-tekken") != NULL, "ENG_TEMPLATE_NAMES lists the variants");
}

/* ---------------------------------------------------------------- detection */

/* detect(text) with a SentencePiece (spm = 1) or BPE vocabulary gives want (a
 * name), or refuses (want NULL) with a message containing `ref`. */
static void detect_is(const char *text, int spm, const char *want, const char *why_has)
{
    int t = -1;
    char why[256] = "", d[300], d2[700];
    int rc = eng_template_detect(text, text ? strlen(text) : 0, spm, &t, why, sizeof why);
    snprintf(d, sizeof d, "detect '%.60s' (%s vocabulary)", text ? text : "(none)", spm ? "SPM" : "BPE");
    if (want) {
        CHECK_STR(rc ? NULL : eng_template_name(t), want, d);
        if (why_has) {
            snprintf(d2, sizeof d2, "detect '%.40s': why names '%s' (%s)", text ? text : "(none)", why_has, why);
            CHECK_T(strstr(why, why_has) != NULL, d2);
        }
    } else {
        CHECK_EQ_I(rc, RC_ECONFIG, d);
        snprintf(d2, sizeof d2, "detect '%.40s': the error names '%s' (%s)", text, why_has, eng_errmsg());
        CHECK_T(rc && strstr(eng_errmsg(), why_has) != NULL, d2);
    }
}

static void test_detect(void)
{
    detect_is(NULL, 1, "vicuna", "no tokenizer.chat_template");
    detect_is(NULL, 0, "chatml", "no tokenizer.chat_template");
    detect_is("{% for m in messages %}{{ m.content }}{% endfor %}", 1, "vicuna", "none of the markers");
    detect_is("{% for m in messages %}{{ m.content }}{% endfor %}", 0, "chatml", "none of the markers");
    detect_is("{{ '<|im_start|>' + message['role'] + '\\n' }}", 0, "chatml", "<|im_start|>");
    detect_is("{{ '<|im_start|>' + message['role'] + '\\n' }}", 1, "chatml", "<|im_start|>");
    detect_is("<|im_start|><|im_sep|>", 0, NULL, "phi4");
    detect_is("<|im_start|><end_of_utterance>", 0, NULL, "smolvlm");
    detect_is("<|im_start|> <|start_header_id|><|end_header_id|>", 0, "chatml", NULL);   /* chatml is tested first */
    detect_is("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}", 0, "llama3", "<|start_header_id|>");
    detect_is("<|start_header_id|>", 0, "chatml", "none of the markers");               /* llama3 needs both */
    detect_is("USER: {{ q }} ASSISTANT: <|start_header_id|><|end_header_id|>", 0, "vicuna", NULL);   /* vicuna before llama3 */
    detect_is("{{ 'USER: ' + content }}{{ 'ASSISTANT: ' }}", 1, "vicuna", "USER: and ASSISTANT:");
    detect_is("SYSTEM: {{ s }} USER: {{ q }} ASSISTANT: ", 1, "vicuna-orca", "SYSTEM:");
    detect_is("USER: {{ q }}\\nASSISTANT:", 1, "vicuna", "none of the markers");       /* "ASSISTANT: " needs its space */
    detect_is("[INST] {{ s }} [SYSTEM_PROMPT]", 0, "mistral-v7", "[SYSTEM_PROMPT]");
    detect_is("{{ ' [INST] ' + system_message }}", 1, "mistral-v1", NULL);
    detect_is("[AVAILABLE_TOOLS]{{ '[INST]' }}", 1, "mistral-v3", NULL);
    detect_is("[AVAILABLE_TOOLS]{{ \"[INST]\" }}", 0, "mistral-v3-tekken", NULL);
    detect_is("[AVAILABLE_TOOLS]{{ \"[INST]\" }} [INST]", 0, "mistral-v1", NULL);     /* " [INST]" wins over "\"[INST]\"" */
    detect_is("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}", 1, "llama2", "[INST]");
    detect_is("[INST] <<SYS>>\\n", 1, "llama2-sys", "<<SYS>>");
    detect_is("{{ bos_token + '[INST] ' }} <<SYS>>", 1, "llama2-sys-bos", NULL);
    detect_is("[INST] {{ content.strip() }} <<SYS>> bos_token + '[INST]", 1, "llama2-sys-strip", NULL);   /* strip first */
    detect_is("mistral-chat", 1, "llama2", NULL);                                       /* starts with "mistral" */
    detect_is("llama3", 1, "llama3", "is the name");                                     /* the name itself */
    detect_is("chatml", 1, "chatml", "is the name");
    detect_is("mistral-v7-tekken", 0, "mistral-v7-tekken", "is the name");
    detect_is("gemma", 0, NULL, "gemma");
    detect_is("<start_of_turn>user", 0, NULL, "'gemma'");
    detect_is("<|assistant|><|end|>", 0, NULL, "phi3");
    detect_is("<|header_start|>user<|header_end|>", 0, NULL, "llama4");
    detect_is("<|user|> <|assistant|> </s>", 0, NULL, "falcon3");
    detect_is("<|START_OF_TURN_TOKEN|><|USER_TOKEN|> <|start_header_id|><|end_header_id|>", 0, NULL, "command-r");
    /* a template longer than its markers, NUL bytes included */
    static const char withnul[] = "x\0<|im_start|>";
    int t = -1;
    /* (SentencePiece: the fallback would be vicuna, so chatml means the marker was found) */
    CHECK_T(eng_template_detect(withnul, sizeof withnul - 1, 1, &t, NULL, 0) == 0 && t == ENG_TMPL_CHATML,
            "markers after a NUL byte are found (the template has a length)");
}

/* ---------------------------------------------------------------- end of generation, synthetic */

struct gb { unsigned char *p; size_t n, cap; };
static void gput(struct gb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 256; b->p = realloc(b->p, b->cap); }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void gu32(struct gb *b, uint32_t v) { gput(b, &v, 4); }
static void gu64(struct gb *b, uint64_t v) { gput(b, &v, 8); }
static void gstr(struct gb *b, const char *s) { gu64(b, strlen(s)); gput(b, s, strlen(s)); }
static void gkey(struct gb *b, const char *k, uint32_t type) { gstr(b, k); gu32(b, type); }

/* A vocabulary-only GGUF (SentencePiece "llama"): tokens with types, bos 1,
 * eos `eos`, plus one optional u32 key.  Returns the loaded vocabulary. */
static struct eng_model *synth(const char *const *tok, const int32_t *type, int n, int eos, const char *key, uint32_t val,
                               const char *tmpl)
{
    struct gb b = { 0 };
    int nkv = 6 + (key != NULL) + (tmpl != NULL);
    gput(&b, "GGUF", 4); gu32(&b, 3); gu64(&b, 0); gu64(&b, (uint64_t)nkv);
    gkey(&b, "general.architecture", 8); gstr(&b, "llama");
    gkey(&b, "tokenizer.ggml.model", 8); gstr(&b, "llama");
    gkey(&b, "tokenizer.ggml.tokens", 9); gu32(&b, 8); gu64(&b, (uint64_t)n);
    for (int i = 0; i < n; i++) gstr(&b, tok[i]);
    gkey(&b, "tokenizer.ggml.token_type", 9); gu32(&b, 5); gu64(&b, (uint64_t)n); gput(&b, type, 4 * (size_t)n);
    gkey(&b, "tokenizer.ggml.bos_token_id", 4); gu32(&b, 1);
    gkey(&b, "tokenizer.ggml.eos_token_id", 4); gu32(&b, (uint32_t)eos);
    if (key) { gkey(&b, key, 4); gu32(&b, val); }
    if (tmpl) { gkey(&b, "tokenizer.chat_template", 8); gstr(&b, tmpl); }
    char path[] = "/tmp/mmsafe-chat-XXXXXX";
    int fd = mkstemp(path);
    struct eng_model *m = NULL;
    if (fd >= 0 && write(fd, b.p, b.n) == (ssize_t)b.n && close(fd) == 0) {
        if (eng_vocab_open(path, &m)) fprintf(stderr, "  synthetic vocabulary: %s\n", eng_errmsg());
    }
    if (fd >= 0) unlink(path);
    free(b.p);
    return m;
}

/* the EOG set of m is exactly want[0..n) */
static void eog_is(const struct eng_model *m, const int32_t *want, int n, const char *desc)
{
    int32_t got[64];
    int k = m ? eng_token_eog(m, got, 64) : -1;
    int ok = k == n;
    for (int i = 0; ok && i < n; i++) ok = got[i] == want[i];
    char d[300];
    int l = snprintf(d, sizeof d, "%s: EOG {", desc);
    for (int i = 0; i < k && i < 16 && l < 250; i++) l += snprintf(d + l, sizeof d - (size_t)l, "%s%d", i ? ", " : "", got[i]);
    snprintf(d + l, sizeof d - (size_t)l, "}");
    CHECK_T(ok, d);
    for (int id = 0; m && id < eng_n_vocab(m); id++) {
        int in = 0;
        for (int i = 0; i < n; i++) in |= want[i] == id;
        if (eng_token_is_eog(m, id) != in) {
            snprintf(d, sizeof d, "%s: eng_token_is_eog(%d) = %d", desc, id, !in);
            CHECK_T(0, d);
        }
    }
}

static void test_eog_synthetic(void)
{
    /*                          0        1     2       3             4                  5              6             7 */
    static const char *t1[] = { "<unk>", "<s>", "</s>", "<|eot_id|>", "<|end_of_text|>", "<|fim_pad|>", "<|fim_prefix|>", "<|eom_id|>",
                                "hello", "<|im_end|>", "<my_eot>" };
    static const int32_t y1[] = { 2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    struct eng_model *m = synth(t1, y1, 11, 2, NULL, 0, NULL);
    CHECK_T(m != NULL, "synthetic vocabulary loads");
    if (!m) return;
    static const int32_t w1[] = { 2, 3, 4, 5, 7, 9 };
    eog_is(m, w1, 6, "names (EOS, <|eot_id|>, <|end_of_text|>, <|fim_pad|>, <|eom_id|>, <|im_end|>)");
    CHECK_EQ_I(eng_token_eot(m), 3, "EOT by name: <|eot_id|> before <|im_end|> (list order)");
    char piece[32];
    CHECK_EQ_I(eng_token_piece(m, 3, 0, piece, 32), 0, "a NORMAL-typed <|eot_id|> is made CONTROL (hidden in text)");
    CHECK_EQ_I(eng_token_piece(m, 6, 0, piece, 32), 0, "<|fim_prefix|> is made CONTROL");
    CHECK_T(!eng_token_is_eog(m, 6), "<|fim_prefix|> does not end generation");
    CHECK_EQ_I(eng_token_piece(m, 8, 0, piece, 32), 5, "an ordinary token keeps its text");
    eng_model_free(m);

    /* tokenizer.ggml.eot_token_id names the EOT: it ends generation, <|im_end|> is not the EOT */
    m = synth(t1, y1, 11, 2, "tokenizer.ggml.eot_token_id", 10, NULL);
    static const int32_t w2[] = { 2, 3, 4, 5, 7, 9, 10 };
    eog_is(m, w2, 7, "eot_token_id key adds <my_eot>");
    CHECK_EQ_I(m ? eng_token_eot(m) : -2, 10, "EOT from the key");
    eng_model_free(m);

    /* gpt-oss: <|return|> and <|call|> present -> <|end|> is not EOG (and becomes USER_DEFINED: shown) */
    static const char *t3[] = { "<unk>", "<s>", "</s>", "<|end|>", "<|return|>", "<|call|>", "x" };
    static const int32_t y3[] = { 2, 3, 3, 3, 3, 3, 1 };
    m = synth(t3, y3, 7, 4, NULL, 0, NULL);
    static const int32_t w3[] = { 2, 4, 5 };
    eog_is(m, w3, 3, "<|return|> + <|call|>: <|end|> removed");
    CHECK_EQ_I(m ? eng_token_piece(m, 3, 0, piece, 32) : -1, 7, "the removed <|end|> is user-defined text");
    eng_model_free(m);
    /* without <|call|>, <|end|> stays (and is the EOT by name) */
    m = synth(t3, y3, 5, 4, NULL, 0, NULL);
    static const int32_t w4[] = { 2, 3, 4 };
    eog_is(m, w4, 3, "<|return|> alone: <|end|> kept");
    CHECK_EQ_I(m ? eng_token_eot(m) : -2, 3, "<|end|> is the EOT");
    eng_model_free(m);
    /* gemma4 / paddleocr: <|tool_response> present -> </s> is not EOG, even as EOS (the reference removes it after adding EOS) */
    static const char *t5[] = { "<unk>", "<s>", "</s>", "<|tool_response>", "<eos>", "y" };
    static const int32_t y5[] = { 2, 3, 1, 3, 3, 1 };
    m = synth(t5, y5, 6, 2, NULL, 0, NULL);
    static const int32_t w5[] = { 3, 4 };
    eog_is(m, w5, 2, "<|tool_response>: </s> removed");
    CHECK_EQ_I(m ? eng_token_piece(m, 2, 0, piece, 32) : -1, 4, "the removed </s> is normal text");
    eng_model_free(m);

    /* the template of the file decides auto; a SentencePiece vocabulary without one is vicuna */
    static const char *t6[] = { "<unk>", "<s>", "</s>" };
    static const int32_t y6[] = { 2, 3, 3 };
    char why[256];
    int t = -1;
    m = synth(t6, y6, 3, 2, NULL, 0, "{{ '<|start_header_id|>' }}<|end_header_id|>");
    CHECK_T(m && eng_template_resolve(m, ENG_TMPL_AUTO, &t, why, sizeof why) == 0 && t == ENG_TMPL_LLAMA3, "auto: the file's template (llama3)");
    CHECK_T(m && strstr(why, "auto: tokenizer.chat_template has <|start_header_id|> and <|end_header_id|>: llama3"), why);
    size_t tl = 0;
    CHECK_T(m && eng_chat_template(m, &tl) && tl == 44, "eng_chat_template: the text and its length");
    eng_model_free(m);
    m = synth(t6, y6, 3, 2, NULL, 0, NULL);
    CHECK_T(m && eng_template_resolve(m, ENG_TMPL_AUTO, &t, why, sizeof why) == 0 && t == ENG_TMPL_VICUNA,
            "auto: a SentencePiece vocabulary without a template is vicuna (LLaVA-1.5)");
    CHECK_T(m && !eng_chat_template(m, NULL), "no template: NULL");
    CHECK_T(m && eng_template_resolve(m, ENG_TMPL_MISTRAL, &t, why, sizeof why) == RC_ECONFIG, "mistral without an [INST] template is refused");
    CHECK_T(m && eng_template_resolve(m, ENG_TMPL_CHATML, &t, why, sizeof why) == 0 && t == ENG_TMPL_CHATML && !why[0],
            "an explicit template is kept, with no explanation");
    eng_model_free(m);
    m = synth(t6, y6, 3, 2, NULL, 0, "{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% endfor %}");
    CHECK_T(m && eng_template_resolve(m, ENG_TMPL_MISTRAL, &t, why, sizeof why) == 0 && t == ENG_TMPL_LLAMA2,
            "mistral: the file's [INST] variant (Mistral-7B-Instruct-v0.2's template is the reference's llama2)");
    CHECK_T(m && !strncmp(why, "mistral: ", 9), why);
    eng_model_free(m);
    m = synth(t6, y6, 3, 2, NULL, 0, "<start_of_turn>");
    CHECK_T(m && eng_template_resolve(m, ENG_TMPL_AUTO, &t, why, sizeof why) == RC_ECONFIG, "auto on a gemma template is refused");
    eng_model_free(m);
}

/* ---------------------------------------------------------------- the real vocabularies */

static int32_t ids[4096];

static int same_ids(const int32_t *a, int na, const struct jn *arr)
{
    if (!arr || arr->type != JN_ARR || arr->n != na) return 0;
    for (int i = 0; i < na; i++) if ((int32_t)arr->kids[i].num != a[i]) return 0;
    return 1;
}

/* the MMSafeAware prompt of `id` (the first case of its pair) */
static const char *prompt_of(const struct jn *cases, const char *id)
{
    char src[64];
    snprintf(src, sizeof src, "mmsafeaware:%s", id);
    for (int i = 0; i < cases->n; i++)
        if (jn_str(&cases->kids[i], "source") && !strcmp(jn_str(&cases->kids[i], "source"), src))
            return jn_str(&cases->kids[i], "text");
    return NULL;
}

static char *cat(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 1);
    strcpy(s, a);
    strcat(s, b);
    return s;
}

/* Every `template` case: the conversation its note describes, rendered by us
 * (the question is the MMSafeAware prompt the note names), must be its text
 * (Llama 3: less the <|begin_of_text|> the tokenizer adds) and tokenize, BOS
 * as the file says and parse_special on, to the reference's ids. */
static void templated_cases(const struct eng_model *m, const struct jn *cases, int llama3, const char *name)
{
    const char *SYS = "You are a helpful assistant.", *VL = "<|vision_start|><|image_pad|><|vision_end|>";
    int n = 0, ok_text = 0, ok_ids = 0;
    for (int i = 0; i < cases->n; i++) {
        const struct jn *c = &cases->kids[i];
        if (strcmp(jn_str(c, "source"), "template")) continue;
        const struct jn *jt = jn_get(c, "text");
        const char *note = jn_str(c, "note"), *u = strstr(note, "user=");
        int ps = jn_get(c, "parse_special")->num != 0;
        const char *q = u ? prompt_of(cases, u + 5) : "";
        struct eng_chat_msg msg[4];
        int k = 0, think = 0;
        char *tmp = NULL;
        if (!q) { CHECK_T(0, "the note's MMSafeAware prompt is in the file"); continue; }
        if (strstr(note, "with system") || strstr(note, "vision markers") || strstr(note, "default system") || strstr(note, "4 image pads"))
            msg[k++] = (struct eng_chat_msg){ "system", SYS };
        if (strstr(note, "vision markers")) msg[k++] = (struct eng_chat_msg){ "user", tmp = cat(VL, q) };
        else if (strstr(note, "4 image pads"))
            msg[k++] = (struct eng_chat_msg){ "user", tmp = cat("<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>", q) };
        else if (strstr(note, "video marker")) msg[k++] = (struct eng_chat_msg){ "user", "<|vision_start|><|video_pad|><|vision_end|>Describe the video." };
        else msg[k++] = (struct eng_chat_msg){ "user", q };
        if (strstr(note, "multi-turn")) {
            msg[k++] = (struct eng_chat_msg){ "assistant", "No" };
            msg[k++] = (struct eng_chat_msg){ "user", llama3 ? "Why not?" : "Explain." };
        }
        think = strstr(note, "think block") != NULL;    /* Qwen3 with thinking off: our chatml (as the reference's) does not add it */
        char *r = NULL;
        if (eng_chat_render(llama3 ? ENG_TMPL_LLAMA3 : ENG_TMPL_CHATML, msg, k, 1, &r)) { CHECK_T(0, "render"); free(tmp); continue; }
        if (think) { char *r2 = cat(r, "<think>\n\n</think>\n\n"); free(r); r = r2; }
        const char *want = jt->str;
        int bot = llama3 && !strncmp(want, "<|begin_of_text|>", 17);
        if (bot) want += 17;
        n++;
        if (!strcmp(r, want)) ok_text++;
        else { char d[300]; snprintf(d, sizeof d, "%s: '%s': rendered text differs:\n%s\n---\n%s", name, note, r, want); CHECK_T(0, d); }
        if (ps) {   /* our text, BOS from the tokenizer (Llama 3), special tokens parsed */
            int got = -1;
            eng_tokenize(m, r, strlen(r), 1, 1, ids, 4096, &got);
            const struct jn *ref = jn_get(c, bot ? "ids_no_special" : "ids_add_special");
            if (same_ids(ids, got, ref)) ok_ids++;
            else { char d[300]; snprintf(d, sizeof d, "%s: '%s': ids differ from the reference's", name, note); CHECK_T(0, d); }
        }
        free(r);
        free(tmp);
    }
    char d[200];
    snprintf(d, sizeof d, "%s: %d/%d templated prompts render to the reference's text", name, ok_text, n);
    CHECK_T(n == 24 && ok_text == n, d);
    snprintf(d, sizeof d, "%s: %d/%d templated prompts (parse_special) tokenize to the reference's ids", name, ok_ids, n / 2);
    CHECK_T(n == 24 && ok_ids == n / 2, d);
}

static void real_vocab(const char *file, const char *json, int llama3)
{
    char path[256];
    snprintf(path, sizeof path, VOCAB "/%s", file);
    struct eng_model *m = NULL;
    if (access(path, R_OK)) { t_skipped("../shared/fixtures/vocab not found (real vocabularies)"); return; }
    if (eng_vocab_open(path, &m)) { CHECK_T(0, eng_errmsg()); return; }
    snprintf(path, sizeof path, VOCAB "/%s", json);
    struct jn *j = jn_load(path);
    if (!j) { t_skipped("golden JSON missing"); eng_model_free(m); return; }
    const struct jn *info = jn_get(j, "vocab_info_as_loaded_by_llama_cpp"), *eog = jn_get(info, "eog");
    int32_t want[64];
    int n = 0;
    for (int i = 0; eog && i < eog->n && i < 64; i++) want[n++] = (int32_t)eog->kids[i].num;
    CHECK_T(n >= 2, "the reference's EOG list is in the JSON");
    eog_is(m, want, n, file);
    CHECK_EQ_I(eng_token_eot(m), (int)jn_num(info, "eot", -9), "EOT as the reference loaded it");
    CHECK_EQ_I(eng_token_eos(m), (int)jn_num(info, "eos", -9), "EOS as the reference loaded it");

    /* auto on the file's own chat_template */
    int t = -1;
    char why[256];
    CHECK_T(eng_template_resolve(m, ENG_TMPL_AUTO, &t, why, sizeof why) == 0 && t == (llama3 ? ENG_TMPL_LLAMA3 : ENG_TMPL_CHATML),
            llama3 ? "auto: the Llama-3-Instruct template is llama3" : "auto: the Qwen3 template is chatml");
    CHECK_T(strstr(why, llama3 ? "<|start_header_id|>" : "<|im_start|>") != NULL, why);
    CHECK_EQ_I(eng_template_resolve(m, ENG_TMPL_MISTRAL, &t, why, sizeof why), RC_ECONFIG, "mistral on a non-[INST] file is refused");

    templated_cases(m, jn_get(j, "cases"), llama3, file);

    /* the image marker of chatml is where Qwen-VL puts its vision block */
    if (!llama3) {
        char *s = NULL;
        eng_chat_prompt(ENG_TMPL_CHATML, "You are a helpful assistant.", "Q", 1, &s);
        CHECK_STR(s, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" ENG_MEDIA_MARKER "Q<|im_end|>\n<|im_start|>assistant\n",
                  "chatml: the image marker opens the user turn, as the fixture's <|vision_start|> block");
        free(s);
    }

    /* answer pieces: the leading space is U+0120 'Ġ' */
    struct eng_answers a;
    CHECK_EQ_I(eng_answers_resolve(m, "Yes", "No", &a), 0, "BPE answers resolve");
    int got = -1;
    eng_tokenize(m, " Yes", 4, 0, 0, ids, 16, &got);
    CHECK_T(got == 1 && a.pos1 == ids[0], "primary Yes piece = the token of ' Yes'");
    eng_tokenize(m, " No", 3, 0, 0, ids, 16, &got);
    CHECK_T(got == 1 && a.neg1 == ids[0], "primary No piece = the token of ' No'");
    size_t pl = 0;
    const char *p = eng_token_raw(m, a.pos1, &pl);
    CHECK_T(p && pl == 5 && !memcmp(p, "\xc4\xa0Yes", 5), "primary piece is 'ĠYes'");
    static const char *const yes_words[] = { "Yes", " yes", "yes", " YES", "YES" }, *const no_words[] = { "No", " no", "no", " NO", "NO" };
    for (int w = 0; w < 5; w++) {
        for (int side = 0; side < 2; side++) {
            const char *s = side ? no_words[w] : yes_words[w];
            eng_tokenize(m, s, strlen(s), 0, 0, ids, 16, &got);
            if (got != 1) continue;            /* not a single token in this vocabulary */
            int in = 0;
            for (int i = 0; i < (side ? a.n_neg : a.n_pos); i++) in |= (side ? a.neg : a.pos)[i] == ids[0];
            char d[100];
            snprintf(d, sizeof d, "%s: '%s' is a candidate", file, s);
            CHECK_T(in, d);
        }
    }
    CHECK_T(a.n_pos >= 4 && a.n_neg >= 4, "with and without the space, several cases");
    jn_free(j);
    eng_model_free(m);
}

static void spm_vocab(void)
{
    struct eng_model *m = NULL;
    if (access(VOCAB "/ggml-vocab-llama-spm.gguf", R_OK)) { t_skipped("../shared/fixtures/vocab not found (SPM vocabulary)"); return; }
    if (eng_vocab_open(VOCAB "/ggml-vocab-llama-spm.gguf", &m)) { CHECK_T(0, eng_errmsg()); return; }
    static const int32_t w[] = { 2 };
    eog_is(m, w, 1, "LLaMA-2 SentencePiece vocabulary");
    int t = -1;
    char why[256];
    CHECK_T(eng_template_resolve(m, ENG_TMPL_AUTO, &t, why, sizeof why) == 0 && t == ENG_TMPL_VICUNA,
            "auto on the LLaVA-1.5 / LLaMA-2 vocabulary (no chat_template): vicuna, the existing default");
    struct eng_answers a;
    CHECK_T(eng_answers_resolve(m, "Yes", "No", &a) == 0 && a.pos1 == 3869 && a.neg1 == 1939, "SPM answers unchanged: ▁Yes 3869, ▁No 1939");
    eng_model_free(m);
}

int main(void)
{
    t_name = "test_chat";
    test_names();
    test_render_one();
    test_render_turns();
    test_detect();
    test_eog_synthetic();
    real_vocab("ggml-vocab-llama3.gguf", "mmsafeaware-llama3.json", 1);
    real_vocab("ggml-vocab-qwen2.gguf", "mmsafeaware-qwen2.json", 0);
    spm_vocab();
    return t_done();
}
