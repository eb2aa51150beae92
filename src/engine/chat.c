/*
 * chat.c - chat templates and the end-of-generation set (declarations in
 * engine.h).
 *
 * Rendering follows the reference's llama_chat_apply_template (llama.cpp
 * 3f545be, src/llama-chat.cpp: llm_chat_apply_template) byte for byte for the
 * templates we name as it does; `auto` recognises tokenizer.chat_template by
 * the markers the reference's llm_chat_detect_template looks for, in its
 * order, so a template with several markers resolves as it would there.
 * No Jinja: like the reference's simple renderer, this knows the formats, it
 * does not execute the file's template.
 */
#include "engine.h"
#include "tokenizer.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLAVA_SYSTEM "A chat between a curious human and an artificial intelligence assistant. " \
                     "The assistant gives helpful, detailed, and polite answers to the human's questions."

static const char *const NAMES[ENG_TMPL_COUNT] = {
    [ENG_TMPL_VICUNA] = "vicuna", [ENG_TMPL_LLAVA_V1] = "llava_v1", [ENG_TMPL_RAW] = "raw",
    [ENG_TMPL_AUTO] = "auto", [ENG_TMPL_MISTRAL] = "mistral",
    [ENG_TMPL_LLAMA3] = "llama3", [ENG_TMPL_CHATML] = "chatml", [ENG_TMPL_VICUNA_ORCA] = "vicuna-orca",
    [ENG_TMPL_MISTRAL_V1] = "mistral-v1", [ENG_TMPL_MISTRAL_V3] = "mistral-v3",
    [ENG_TMPL_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken", [ENG_TMPL_MISTRAL_V7] = "mistral-v7",
    [ENG_TMPL_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken", [ENG_TMPL_LLAMA2] = "llama2",
    [ENG_TMPL_LLAMA2_SYS] = "llama2-sys", [ENG_TMPL_LLAMA2_SYS_BOS] = "llama2-sys-bos",
    [ENG_TMPL_LLAMA2_SYS_STRIP] = "llama2-sys-strip", [ENG_TMPL_QWEN_VL] = "qwen-vl",
};

const char *eng_template_name(int tmpl)
{
    return tmpl >= 0 && tmpl < ENG_TMPL_COUNT ? NAMES[tmpl] : "?";
}

int eng_template_parse(const char *s, int *tmpl)
{
    for (int i = 0; i < ENG_TMPL_COUNT; i++)
        if (!strcmp(s, NAMES[i])) { *tmpl = i; return RC_OK; }
    return eng_err(RC_ECONFIG, "unknown template '%s' (known: %s)", s, ENG_TEMPLATE_NAMES);
}

static int is_inst_family(int t) { return t >= ENG_TMPL_MISTRAL_V1 && t <= ENG_TMPL_LLAMA2_SYS_STRIP; }

/* ================================================================ rendering */

struct sb { char *p; size_t n, cap; int oom; };

static void sb_put(struct sb *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (b->n + n + 1 > c) c *= 2;
        char *p = realloc(b->p, c);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(struct sb *b, const char *s) { sb_put(b, s, strlen(s)); }

/* The reference's trim(): C isspace() on both ends. */
static void sb_trim(struct sb *b, const char *s)
{
    size_t lo = 0, hi = strlen(s);
    while (lo < hi && strchr(" \t\n\v\f\r", s[lo])) lo++;
    while (hi > lo && strchr(" \t\n\v\f\r", s[hi - 1])) hi--;
    sb_put(b, s + lo, hi - lo);
}

static int role_is(const struct eng_chat_msg *m, const char *r) { return !strcmp(m->role, r); }

int eng_chat_render(int tmpl, const struct eng_chat_msg *msg, int n, int add_ass, char **out)
{
    struct sb b = { 0 };
    *out = NULL;
    sb_str(&b, "");
    switch (tmpl) {
    case ENG_TMPL_QWEN_VL:   /* Qwen2-VL's own template: a default system turn */
        if (n == 0 || !role_is(&msg[0], "system")) sb_str(&b, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
        /* fall through */
    case ENG_TMPL_CHATML:
        for (int i = 0; i < n; i++) {
            sb_str(&b, "<|im_start|>"); sb_str(&b, msg[i].role); sb_str(&b, "\n");
            sb_str(&b, msg[i].content); sb_str(&b, "<|im_end|>\n");
        }
        if (add_ass) sb_str(&b, "<|im_start|>assistant\n");
        break;
    case ENG_TMPL_LLAMA3:
        for (int i = 0; i < n; i++) {
            sb_str(&b, "<|start_header_id|>"); sb_str(&b, msg[i].role); sb_str(&b, "<|end_header_id|>\n\n");
            sb_trim(&b, msg[i].content); sb_str(&b, "<|eot_id|>");
        }
        if (add_ass) sb_str(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case ENG_TMPL_VICUNA:
    case ENG_TMPL_VICUNA_ORCA:
        for (int i = 0; i < n; i++) {
            if (role_is(&msg[i], "system")) {
                if (tmpl == ENG_TMPL_VICUNA_ORCA) { sb_str(&b, "SYSTEM: "); sb_str(&b, msg[i].content); sb_str(&b, "\n"); }
                else { sb_str(&b, msg[i].content); sb_str(&b, "\n\n"); }
            } else if (role_is(&msg[i], "user")) {
                sb_str(&b, "USER: "); sb_str(&b, msg[i].content); sb_str(&b, "\n");
            } else if (role_is(&msg[i], "assistant")) {
                sb_str(&b, "ASSISTANT: "); sb_str(&b, msg[i].content); sb_str(&b, "</s>\n");
            }
        }
        if (add_ass) sb_str(&b, "ASSISTANT:");
        break;
    case ENG_TMPL_LLAVA_V1: {
        /* LLaVA's conv_vicuna_v1 (llava/conversation.py): system, sep " ",
         * "USER: q ", "ASSISTANT: a</s>"; the system prompt defaults to LLaVA's */
        int has_sys = n > 0 && role_is(&msg[0], "system");
        sb_str(&b, has_sys ? msg[0].content : LLAVA_SYSTEM);
        sb_str(&b, " ");
        for (int i = has_sys; i < n; i++) {
            if (role_is(&msg[i], "user")) { sb_str(&b, "USER: "); sb_str(&b, msg[i].content); sb_str(&b, " "); }
            else if (role_is(&msg[i], "assistant")) { sb_str(&b, "ASSISTANT: "); sb_str(&b, msg[i].content); sb_str(&b, "</s>"); }
        }
        if (add_ass) sb_str(&b, "ASSISTANT:");
        break;
    }
    case ENG_TMPL_RAW:
        for (int i = 0; i < n; i++) sb_str(&b, msg[i].content);
        break;
    case ENG_TMPL_MISTRAL_V7:
    case ENG_TMPL_MISTRAL_V7_TEKKEN: {
        const char *sp = tmpl == ENG_TMPL_MISTRAL_V7 ? " " : "";
        for (int i = 0; i < n; i++) {
            if (role_is(&msg[i], "system")) { sb_str(&b, "[SYSTEM_PROMPT]"); sb_str(&b, sp); sb_str(&b, msg[i].content); sb_str(&b, "[/SYSTEM_PROMPT]"); }
            else if (role_is(&msg[i], "user")) { sb_str(&b, "[INST]"); sb_str(&b, sp); sb_str(&b, msg[i].content); sb_str(&b, "[/INST]"); }
            else { sb_str(&b, sp); sb_str(&b, msg[i].content); sb_str(&b, "</s>"); }
        }
        break;   /* the generation prompt is the [/INST] itself */
    }
    case ENG_TMPL_MISTRAL_V1:
    case ENG_TMPL_MISTRAL_V3:
    case ENG_TMPL_MISTRAL_V3_TEKKEN: {
        const char *lead = tmpl == ENG_TMPL_MISTRAL_V1 ? " " : "", *trail = tmpl == ENG_TMPL_MISTRAL_V3_TEKKEN ? "" : " ";
        int inside = 0;
        for (int i = 0; i < n; i++) {
            if (!inside) { sb_str(&b, lead); sb_str(&b, "[INST]"); sb_str(&b, trail); inside = 1; }
            if (role_is(&msg[i], "system")) { sb_str(&b, msg[i].content); sb_str(&b, "\n\n"); }
            else if (role_is(&msg[i], "user")) { sb_str(&b, msg[i].content); sb_str(&b, lead); sb_str(&b, "[/INST]"); }
            else {
                sb_str(&b, trail);
                if (tmpl == ENG_TMPL_MISTRAL_V3) sb_trim(&b, msg[i].content); else sb_str(&b, msg[i].content);
                sb_str(&b, "</s>");
                inside = 0;
            }
        }
        break;
    }
    case ENG_TMPL_LLAMA2:
    case ENG_TMPL_LLAMA2_SYS:
    case ENG_TMPL_LLAMA2_SYS_BOS:
    case ENG_TMPL_LLAMA2_SYS_STRIP: {
        int inside = 1;
        sb_str(&b, "[INST] ");
        for (int i = 0; i < n; i++) {
            if (!inside) { sb_str(&b, tmpl == ENG_TMPL_LLAMA2_SYS_BOS ? "<s>[INST] " : "[INST] "); inside = 1; }
            struct sb c = { 0 };
            if (tmpl == ENG_TMPL_LLAMA2_SYS_STRIP) sb_trim(&c, msg[i].content); else sb_str(&c, msg[i].content);
            const char *ct = c.p ? c.p : "";
            if (c.oom) b.oom = 1;
            if (role_is(&msg[i], "system")) {
                if (tmpl != ENG_TMPL_LLAMA2) { sb_str(&b, "<<SYS>>\n"); sb_str(&b, ct); sb_str(&b, "\n<</SYS>>\n\n"); }
                else { sb_str(&b, ct); sb_str(&b, "\n"); }
            } else if (role_is(&msg[i], "user")) { sb_str(&b, ct); sb_str(&b, " [/INST]"); }
            else { sb_str(&b, ct); sb_str(&b, "</s>"); inside = 0; }
            free(c.p);
        }
        break;
    }
    default:
        free(b.p);
        return eng_err(RC_ECONFIG, "template '%s' must be resolved for a model before rendering", eng_template_name(tmpl));
    }
    if (b.oom) { free(b.p); return eng_err(RC_ENOMEM, "out of memory"); }
    *out = b.p;
    return RC_OK;
}

int eng_chat_prompt(int tmpl, const char *system, const char *question, int media, char **out)
{
    *out = NULL;
    if (tmpl == ENG_TMPL_RAW) {
        if (system && *system) return eng_err(RC_ECONFIG, "a system prompt does not apply to the raw template (write it into the prompt)");
        char *s = malloc(strlen(question) + 1);
        if (!s) return eng_err(RC_ENOMEM, "out of memory");
        strcpy(s, question);
        *out = s;
        return RC_OK;
    }
    /* the image marker opens the user turn: "<__media__>\n{q}" for the
     * vicuna forms (the reference goldens' LLaVA-1.5 prompt), "<__media__>{q}"
     * elsewhere (the reference's mtmd-cli prepends the bare marker) */
    int nl = tmpl == ENG_TMPL_VICUNA || tmpl == ENG_TMPL_VICUNA_ORCA || tmpl == ENG_TMPL_LLAVA_V1;
    size_t ql = strlen(question);
    char *user = malloc(ql + sizeof ENG_MEDIA_MARKER + 1);
    if (!user) return eng_err(RC_ENOMEM, "out of memory");
    snprintf(user, ql + sizeof ENG_MEDIA_MARKER + 1, "%s%s%s", media ? ENG_MEDIA_MARKER : "", media && nl ? "\n" : "", question);
    struct eng_chat_msg m[2];
    int n = 0;
    /* llava_v1 alone keeps an explicitly empty system prompt ("" -> " USER: ...") */
    if (system && (*system || tmpl == ENG_TMPL_LLAVA_V1)) m[n++] = (struct eng_chat_msg){ "system", system };
    m[n++] = (struct eng_chat_msg){ "user", user };
    int rc = eng_chat_render(tmpl, m, n, 1, out);
    free(user);
    return rc;
}

char *eng_render_prompt(int tmpl, const char *system, const char *question)
{
    char *s = NULL;
    return eng_chat_prompt(tmpl, system, question, 1, &s) ? NULL : s;
}

/* ================================================================ detection */

struct tsrc { const char *s; size_t n; };

static int has(struct tsrc t, const char *needle)
{
    size_t k = strlen(needle);
    return k <= t.n && memmem(t.s, t.n, needle, k) != NULL;
}

/* The reference's name for the template text t (llm_chat_detect_template: its
 * whole text equal to a name, else the first marker rule that matches, in the
 * reference's order), or NULL when no rule matches; *why gets the markers
 * ("" when the text is the name). */
static const char *ref_detect(struct tsrc t, const char **why)
{
    static const char *const ref_names[] = {
        "chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "mistral-v1", "mistral-v3",
        "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "phi3", "phi4", "falcon3", "zephyr", "monarch",
        "gemma", "orion", "openchat", "vicuna", "vicuna-orca", "deepseek", "deepseek2", "deepseek3", "deepseek-ocr",
        "command-r", "llama3", "chatglm3", "chatglm4", "glmedge", "minicpm", "exaone3", "exaone4", "exaone-moe",
        "rwkv-world", "granite", "granite-4.0", "granite-4.1", "gigachat", "megrez", "yandex", "bailing",
        "bailing-think", "bailing2", "llama4", "smolvlm", "hunyuan-moe", "gpt-oss", "hunyuan-dense", "hunyuan-vl",
        "kimi-k2", "seed_oss", "grok-2", "pangu-embedded", "solar-open", NULL };
    for (int i = 0; ref_names[i]; i++)
        if (strlen(ref_names[i]) == t.n && !memcmp(ref_names[i], t.s, t.n)) { *why = ""; return ref_names[i]; }
#define R(name, w) do { *why = w; return name; } while (0)
    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>")) R("phi4", "<|im_start|> and <|im_sep|>");
        if (has(t, "<end_of_utterance>")) R("smolvlm", "<|im_start|> and <end_of_utterance>");
        R("chatml", "<|im_start|>");
    }
    if ((t.n >= 7 && !memcmp(t.s, "mistral", 7)) || has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]")) R("mistral-v7", "[INST] and [SYSTEM_PROMPT]");
        if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
            if (has(t, " [INST]")) R("mistral-v1", "[INST], the official v1/v3 markers and ' [INST]'");
            if (has(t, "\"[INST]\"")) R("mistral-v3-tekken", "[INST], the official v1/v3 markers and '\"[INST]\"'");
            R("mistral-v3", "[INST] and the official v3 markers");
        }
        if (has(t, "content.strip()")) R("llama2-sys-strip", "[INST] and content.strip()");
        if (has(t, "bos_token + '[INST]")) R("llama2-sys-bos", "[INST] and bos_token + '[INST]");
        if (has(t, "<<SYS>>")) R("llama2-sys", "[INST] and <<SYS>>");
        R("llama2", "[INST] without <<SYS>> or [SYSTEM_PROMPT]");
    }
    if (has(t, "<|assistant|>") && has(t, "<|end|>")) R("phi3", "<|assistant|> and <|end|>");
    if (has(t, "[gMASK]<sop>")) R("chatglm4", "[gMASK]<sop>");
    if (has(t, "<|assistant|>") && has(t, "<|user|>")) {
        if (has(t, "<|tool_declare|>")) R("exaone-moe", "<|assistant|>, <|user|> and <|tool_declare|>");
        if (has(t, "</s>")) R("falcon3", "<|assistant|>, <|user|> and </s>");
        R("glmedge", "<|assistant|> and <|user|>");
    }
    if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>")) R("glmedge", "<|{{ item['role'] }}|> and <|begin_of_image|>");
    if (has(t, "<|user|>") && has(t, "<|endoftext|>")) R("zephyr", "<|user|> and <|endoftext|>");
    if (has(t, "bos_token + message['role']")) R("monarch", "bos_token + message['role']");
    if (has(t, "<start_of_turn>")) R("gemma", "<start_of_turn>");
    if (has(t, "'\\n\\nAssistant: ' + eos_token")) R("orion", "'\\n\\nAssistant: ' + eos_token");
    if (has(t, "GPT4 Correct ")) R("openchat", "GPT4 Correct");
    if (has(t, "USER: ") && has(t, "ASSISTANT: ")) {
        if (has(t, "SYSTEM: ")) R("vicuna-orca", "USER:, ASSISTANT: and SYSTEM:");
        R("vicuna", "USER: and ASSISTANT:");
    }
    if (has(t, "### Instruction:") && has(t, "<|EOT|>")) R("deepseek", "### Instruction: and <|EOT|>");
    if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")) R("command-r", "<|START_OF_TURN_TOKEN|> and <|USER_TOKEN|>");
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) R("llama3", "<|start_header_id|> and <|end_header_id|>");
    if (has(t, "[gMASK]sop")) R("chatglm3", "[gMASK]sop");
    if (has(t, "<\xe7\x94\xa8\xe6\x88\xb7>")) R("minicpm", "<\xe7\x94\xa8\xe6\x88\xb7>");
    if (has(t, "'Assistant: ' + message['content'] + eos_token")) R("deepseek2", "'Assistant: ' + message['content'] + eos_token");
    if (has(t, "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>") && has(t, "<\xef\xbd\x9c" "User\xef\xbd\x9c>") &&
        has(t, "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"))
        R("deepseek3", "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>, <\xef\xbd\x9c" "User\xef\xbd\x9c> and end-of-sentence");
    if (has(t, "[|system|]") && has(t, "[|assistant|]") && has(t, "[|endofturn|]")) {
        if (has(t, "[|tool|]")) R("exaone4", "[|system|], [|assistant|], [|endofturn|] and [|tool|]");
        R("exaone3", "[|system|], [|assistant|] and [|endofturn|]");
    }
    if (has(t, "rwkv-world") || has(t, "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}")) R("rwkv-world", "the rwkv-world markers");
    if (has(t, "<|start_of_role|>")) {
        if (has(t, "<tool_call>") || has(t, "<tools>")) {
            if (has(t, "g4_default_system_message")) R("granite-4.0", "<|start_of_role|>, tools and g4_default_system_message");
            R("granite-4.1", "<|start_of_role|> and tools");
        }
        R("granite", "<|start_of_role|>");
    }
    if (has(t, "message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]"))
        R("gigachat", "additional_special_tokens around the content");
    if (has(t, "<|role_start|>")) R("megrez", "<|role_start|>");
    if (has(t, " \xd0\x90\xd1\x81\xd1\x81\xd0\xb8\xd1\x81\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82:")) R("yandex", "the yandex assistant marker");
    if (has(t, "<role>ASSISTANT</role>") && has(t, "'HUMAN'")) R("bailing", "<role>ASSISTANT</role> and 'HUMAN'");
    if (has(t, "<role>ASSISTANT</role>") && has(t, "\"HUMAN\"") && has(t, "<think>")) R("bailing-think", "<role>ASSISTANT</role>, \"HUMAN\" and <think>");
    if (has(t, "<role>ASSISTANT</role>") && has(t, "<role>HUMAN</role>") && has(t, "<|role_end|>")) R("bailing2", "<role>ASSISTANT</role>, <role>HUMAN</role> and <|role_end|>");
    if (has(t, "<|header_start|>") && has(t, "<|header_end|>")) R("llama4", "<|header_start|> and <|header_end|>");
    if (has(t, "<|endofuserprompt|>")) R("dots1", "<|endofuserprompt|>");
    if (has(t, "<|extra_0|>") && has(t, "<|extra_4|>")) R("hunyuan-moe", "<|extra_0|> and <|extra_4|>");
    if (has(t, "<|start|>") && has(t, "<|channel|>")) R("gpt-oss", "<|start|> and <|channel|>");
    if (has(t, "<\xef\xbd\x9chy_Assistant\xef\xbd\x9c>") && has(t, "<\xef\xbd\x9chy_begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"))
        R("hunyuan-vl", "the hunyuan-vl markers");
    if (has(t, "<\xef\xbd\x9chy_Assistant\xef\xbd\x9c>") && has(t, "<\xef\xbd\x9chy_place\xe2\x96\x81holder\xe2\x96\x81no\xe2\x96\x81" "3\xef\xbd\x9c>"))
        R("hunyuan-dense", "the hunyuan-dense markers");
    if (has(t, "<|im_assistant|>assistant<|im_middle|>")) R("kimi-k2", "<|im_assistant|>assistant<|im_middle|>");
    if (has(t, "<seed:bos>")) R("seed_oss", "<seed:bos>");
    if (has(t, "'Assistant: '  + message['content'] + '<|separator|>")) R("grok-2", "<|separator|> after the assistant content");
    if (has(t, "[unused9]\xe7\xb3\xbb\xe7\xbb\x9f\xef\xbc\x9a[unused10]")) R("pangu-embedded", "the pangu-embedded markers");
    if (has(t, "<|begin|>") && has(t, "<|end|>") && has(t, "<|content|>")) R("solar-open", "<|begin|>, <|end|> and <|content|>");
#undef R
    return NULL;
}

int eng_template_detect(const char *text, size_t len, int spm, int *tmpl, char *why, size_t cap)
{
    const char *fallback = spm ? "vicuna" : "chatml";
    int fb = spm ? ENG_TMPL_VICUNA : ENG_TMPL_CHATML;
    const char *fb_why = spm ? "the LLaVA-1.5 default for a SentencePiece vocabulary"
                             : "the reference's default when a model has no template";
    if (!text) {
        *tmpl = fb;
        if (why) snprintf(why, cap, "no tokenizer.chat_template: %s, %s", fallback, fb_why);
        return RC_OK;
    }
    const char *w = "";
    const char *ref = ref_detect((struct tsrc){ text, len }, &w);
    if (!ref) {
        *tmpl = fb;
        if (why) snprintf(why, cap, "tokenizer.chat_template has none of the markers the reference recognises: %s, %s",
                          fallback, fb_why);
        return RC_OK;
    }
    for (int i = 0; i < ENG_TMPL_COUNT; i++)
        if (!strcmp(NAMES[i], ref)) {
            *tmpl = i;
            if (why && *w) snprintf(why, cap, "tokenizer.chat_template has %s: %s", w, ref);
            else if (why) snprintf(why, cap, "tokenizer.chat_template is the name %s", ref);
            return RC_OK;
        }
    return eng_err(RC_ECONFIG, "the file's tokenizer.chat_template is the reference's '%s' template (%s%s), which mmsafe "
                   "does not render; choose a template explicitly (%s)", ref, *w ? "it has " : "its text is the name", w,
                   ENG_TEMPLATE_NAMES);
}

const char *eng_chat_template(const struct eng_model *m, size_t *len)
{
    const struct vocab *v = eng_model_vocab(m);
    if (len) *len = v->chat_template_len;
    return v->chat_template;
}

int eng_template_resolve(const struct eng_model *m, int tmpl, int *out, char *why, size_t cap)
{
    if (why && cap) why[0] = 0;
    if (tmpl < 0 || tmpl >= ENG_TMPL_COUNT) return eng_err(RC_ECONFIG, "template %d out of range", tmpl);
    if (tmpl != ENG_TMPL_AUTO && tmpl != ENG_TMPL_MISTRAL) { *out = tmpl; return RC_OK; }
    const struct vocab *v = eng_model_vocab(m);
    char w[256];
    int t, rc = eng_template_detect(v->chat_template, v->chat_template_len, v->bpe == NULL, &t, w, sizeof w);
    if (rc) return rc;
    if (tmpl == ENG_TMPL_MISTRAL && (!v->chat_template || !is_inst_family(t)))
        return eng_err(RC_ECONFIG, "template 'mistral' takes its [INST] variant from the file's tokenizer.chat_template, and %s; "
                       "name the variant: mistral-v7, mistral-v7-tekken, mistral-v3, mistral-v3-tekken, mistral-v1, llama2, "
                       "llama2-sys, llama2-sys-bos or llama2-sys-strip",
                       v->chat_template ? "the file's template is not an [INST] one" : "the file has none");
    *out = t;
    if (why) snprintf(why, cap, "%s: %s", eng_template_name(tmpl), w);
    if (t == ENG_TMPL_CHATML && eng_uses_mrope(m)) {   /* Qwen2-VL / Qwen2.5-VL */
        *out = ENG_TMPL_QWEN_VL;
        if (why) snprintf(why, cap, "%s: %s; a qwen2vl model: qwen-vl (its default system prompt)", eng_template_name(tmpl), w);
    }
    return RC_OK;
}

/* ================================================================ end of generation */

int32_t eng_token_eot(const struct eng_model *m) { return eng_model_vocab(m)->eot; }

int eng_token_is_eog(const struct eng_model *m, int32_t id) { return vocab_is_eog(eng_model_vocab(m), id); }

int eng_token_eog(const struct eng_model *m, int32_t *ids, int cap)
{
    const struct vocab *v = eng_model_vocab(m);
    for (int i = 0; i < v->n_eog && i < cap; i++) ids[i] = v->eog[i];
    return v->n_eog;
}

int eng_vocab_is_bpe(const struct eng_model *m) { return eng_model_vocab(m)->bpe != NULL; }
