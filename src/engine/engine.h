/*
 * engine.h - the native inference engine's public API (the only engine header
 * included from outside src/engine/).  Plain C11 + libm + OpenMP: no MPI,
 * HDF5, cJSON or image library anywhere below this header.
 *
 * Model: a LLaMA-architecture GGUF (LLaVA-1.5 / Vicuna / LLaMA-2 language
 * model) with a SentencePiece ("llama") vocabulary.  Weights stay in a
 * read-only mmap of the file (shared through the page cache by every process
 * that opens it); nothing large is copied.
 *
 * Ownership and lifetimes:
 *   - struct eng_model (eng_model_open / eng_model_free) owns the mapping, the
 *     vocabulary and the hyper-parameters.  It is read-only after loading and
 *     may be shared by several contexts and threads.
 *   - struct eng_ctx (eng_ctx_new / eng_ctx_free) owns one sequence's state:
 *     the KV cache, every scratch buffer (allocated once, at creation: no
 *     allocation per token) and the last logits.  One context per thread of
 *     use.  eng_ctx_reset() empties the KV cache so the next item can start;
 *     the model must outlive its contexts.
 *   - Pointers returned by eng_logits() stay valid until the next call that
 *     evaluates, resets or frees the context.
 *
 * Errors: functions return an enum rc code from err.h (RC_OK = 0) and leave a
 * message in a per-thread buffer read with eng_errmsg() (the message does not
 * name the model file: the caller prefixes it).
 */
#ifndef MMSAFE_ENGINE_H
#define MMSAFE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct eng_model;
struct eng_ctx;

/* Arithmetic path (job key `arith`, option --arith):
 *   ENG_ARITH_FAST  (default) what the reference (llama.cpp, CPU) does: activations
 *                   rounded to F16 for F16 weights, quantised to Q8_0/Q8_1/Q8_K for
 *                   quantised weights, integer SIMD dot products, F16 KV cache.
 *                   Agrees with the reference far more tightly, and is faster.
 *   ENG_ARITH_EXACT weights dequantised exactly, float32 activations and KV cache:
 *                   the model as written (within 1e-5 of a float64 forward, relative
 *                   to the largest logit; 4.6e-6 at worst on the fixtures). */
enum eng_arith { ENG_ARITH_FAST = 0, ENG_ARITH_EXACT = 1 };
/* KV cache element type; ENG_KV_AUTO = F16 for fast, F32 for exact. */
enum eng_kv { ENG_KV_AUTO = 0, ENG_KV_F32 = 1, ENG_KV_F16 = 2 };

struct eng_params {
    int n_threads;   /* OpenMP threads for this context's work; <= 0: 1 */
    int arith;       /* enum eng_arith */
    int kv_type;     /* enum eng_kv */
    int n_ctx;       /* positions in the KV cache; <= 0: the model's context_length */
    int no_blas;     /* 1: hand-written kernels only, even for prefill (measurements) */
    int file_eps;    /* qwen2vl: RMSNorm with the file's epsilon (the original model) instead of
                        the reference's 0 */
};
#define ENG_PARAMS_DEFAULT { 1, ENG_ARITH_FAST, ENG_KV_AUTO, 0, 0, 0 }

/* A position filled from an embedding row rather than a token (eng_prefill). */
#define ENG_TOKEN_EMBD (-1)

const char *eng_errmsg(void);

/* CPU kernel path, chosen once at start-up by cpuid (or MMSAFE_CPU=avx2|scalar):
 * "avx2" or "scalar" (the run's provenance should record it).  engine_cpu_desc()
 * adds the CPU's features and whether MMSAFE_CPU forced it.  engine_cpu_check():
 * RC_OK, or RC_ECONFIG with a message when the CPU lacks AVX2+FMA+F16C (and
 * MMSAFE_CPU=scalar was not asked for) or MMSAFE_CPU names a path it cannot run;
 * the program refuses to start then (the scalar kernels stay installed). */
const char *engine_cpu_path(void);
const char *engine_cpu_desc(void);
int engine_cpu_check(void);
const char *eng_arith_name(int arith);          /* "fast" / "exact" */
int eng_arith_parse(const char *s, int *arith); /* RC_OK or RC_ECONFIG */

/* Loading. */
int eng_model_open(const char *path, struct eng_model **out);
void eng_model_free(struct eng_model *m);       /* accepts NULL */
/* The same from a caller-owned buffer holding a whole GGUF file (fuzzing,
 * tests); buf must outlive the model. */
int eng_model_parse(const void *buf, size_t size, struct eng_model **out);
/* Loads only the vocabulary (e.g. llama.cpp's ggml-vocab-*.gguf files, which
 * have no tensors): tokenize / piece functions work, eng_ctx_new refuses. */
int eng_vocab_open(const char *path, struct eng_model **out);
/* The same from a caller-owned buffer (fuzzing, tests); buf must outlive the model. */
int eng_vocab_parse(const void *buf, size_t size, struct eng_model **out);

int eng_n_vocab(const struct eng_model *m);
int eng_n_embd(const struct eng_model *m);
int eng_n_ctx_train(const struct eng_model *m);
int32_t eng_token_bos(const struct eng_model *m);
int32_t eng_token_eos(const struct eng_model *m);
int eng_add_bos(const struct eng_model *m);     /* the file's tokenizer.ggml.add_bos_token */

/* Tokenizer (SPM or byte-level BPE, as llama.cpp's llama_tokenize; RC_EINPUT
 * for text that is not UTF-8 with a BPE vocabulary).  add_bos: push BOS first when
 * the file says to (add_special); parse_special: "<s>" etc. in the text become
 * control tokens.  Writes at most cap ids; *n_out is the full count (call again
 * with a bigger buffer when *n_out > cap). */
int eng_tokenize(const struct eng_model *m, const char *text, size_t len, int add_bos,
                 int parse_special, int32_t *ids, int cap, int *n_out);
/* Text of one token (spaces restored, byte tokens as their byte, control tokens
 * empty unless special).  Returns the byte count written (at most cap, no NUL). */
int eng_token_piece(const struct eng_model *m, int32_t id, int special, char *buf, int cap);
/* Streaming form for generated answers: a byte-level BPE token can end inside
 * a multi-byte UTF-8 character; the incomplete tail is held in h (start it
 * zeroed) until a later token completes it, so only whole characters are
 * written.  eng_token_flush writes whatever is still held. */
struct eng_utf8_hold { unsigned char b[4]; int n; };
int eng_token_piece_stream(const struct eng_model *m, struct eng_utf8_hold *h, int32_t id, int special, char *buf, int cap);
int eng_token_flush(struct eng_utf8_hold *h, char *buf, int cap);
/* Offset of the first byte of s[0..len) that does not start a valid UTF-8
 * character (overlong forms, surrogates and code points above U+10FFFF are
 * invalid), or len when all of it is valid. */
size_t eng_utf8_invalid_at(const char *s, size_t len);
/* Piece exactly as stored in the vocabulary (for --top / inspect); NULL if out of range. */
const char *eng_token_raw(const struct eng_model *m, int32_t id, size_t *len);
/* id of an exact piece, or -1. */
int32_t eng_token_find(const struct eng_model *m, const char *piece, size_t len);

/* Contexts. */
int eng_ctx_new(const struct eng_model *m, const struct eng_params *p, struct eng_ctx **out);
void eng_ctx_free(struct eng_ctx *c);           /* accepts NULL */
void eng_ctx_reset(struct eng_ctx *c);          /* empty the KV cache (n_past = 0) */
int eng_ctx_n_past(const struct eng_ctx *c);
const struct eng_model *eng_ctx_model(const struct eng_ctx *c);   /* the model it was made for */
int eng_ctx_n_ctx(const struct eng_ctx *c);
void eng_ctx_set_threads(struct eng_ctx *c, int n_threads);

/* Appends n positions to the sequence, evaluated as one batch (matrix
 * products over all of them).  tokens[i] >= 0 is a token id; tokens[i] ==
 * ENG_TOKEN_EMBD takes the next row of embd (n_embd floats per row, in order);
 * embd may be NULL when no position uses it.  tokens == NULL: every position
 * is an embedding row.  Computes the logits of the last position (eng_logits).
 * RC_ECTX when n_past + n exceeds the context, RC_EINPUT for a bad id. */
int eng_prefill(struct eng_ctx *c, const int32_t *tokens, int n, const float *embd);
/* Single-token decode: appends one token, computes its logits. */
int eng_decode(struct eng_ctx *c, int32_t token);
/* Positions.  eng_prefill / eng_decode give input i the next text position
 * p = eng_ctx_pos(c) + i (KV slots and positions advance together; with M-RoPE
 * the four components are (p, p, p, 0), as the reference's batches).  With
 * M-RoPE (eng_uses_mrope: qwen2vl) an image is a grid of gw x gh tokens (row
 * major) whose positions are (t, y, x, e) = (p0, p0 + row, p0 + column, 0),
 * p0 = eng_ctx_pos(c), and the text after it resumes at p0 + max(gw, gh), as
 * the reference assigns them; other models number image rows like text.
 * eng_image_positions writes those n = gw*gh rows of four into pos and the
 * position after the image into *next (a pure function, for tests);
 * eng_prefill_image appends the image's embedding rows (n x n_embd) with them. */
int eng_uses_mrope(const struct eng_model *m);
int eng_ctx_pos(const struct eng_ctx *c);
int eng_image_positions(const struct eng_model *m, int p0, int gw, int gh, int32_t *pos, int *next);
int eng_prefill_image(struct eng_ctx *c, const float *embd, int gw, int gh);
/* Prefix reuse (off by default).  With it on, eng_ctx_reset keeps the KV cache:
 * the next sequence's leading inputs that repeat the previous one's (the same
 * token id or the same embedding row bytes, at the same position: with M-RoPE
 * all four components) are not evaluated again.
 *   ENG_REUSE_POSITIONS  evaluation starts at the first input that differs (at
 *                        the latest at the last input, for its logits): the
 *                        logits are a full prefill's up to the rounding of the
 *                        smaller batch (kernels and attention depend on the
 *                        batch size): within 1e-5 relative in exact arithmetic.
 *   ENG_REUSE_CHUNKS     only whole evaluation calls (eng_prefill / _ex /
 *                        _image: eng_vl_prefill's text-before, image and
 *                        text-after parts) are skipped, when every input of the
 *                        call repeats and its logits are not needed; the first
 *                        call that differs is evaluated whole, in the batches a
 *                        full prefill uses: the logits are bit-identical to it.
 * eng_ctx_reuse_stats: positions evaluated and skipped since the context was made. */
enum eng_reuse { ENG_REUSE_OFF = 0, ENG_REUSE_POSITIONS = 1, ENG_REUSE_CHUNKS = 2 };
void eng_ctx_set_reuse(struct eng_ctx *c, int mode);
void eng_ctx_reuse_stats(const struct eng_ctx *c, long long *evaluated, long long *skipped);
/* eng_prefill / eng_prefill_image for a part of a sequence that needs no logits
 * (want_logits 0: a wholly repeated part is then skipped entirely). */
int eng_prefill_ex(struct eng_ctx *c, const int32_t *tokens, int n, const float *embd, int want_logits);
int eng_prefill_image_ex(struct eng_ctx *c, const float *embd, int gw, int gh, int want_logits);
/* Logits of the last evaluated position (n_vocab floats), NULL before any evaluation. */
const float *eng_logits(const struct eng_ctx *c);
/* Greedy: argmax of the current logits (lowest id on ties). */
int32_t eng_argmax(const struct eng_ctx *c);

/* Description for `mmsafe inspect`: hyper-parameters, tokenizer, tensor table
 * and validation problems, written to f (a FILE *). */
int eng_inspect(const char *path, void *f);

/* ---- Vision: CLIP tower + MLP projector from an mmproj GGUF (vision.c) ----
 * Input: decoded 8-bit RGB pixels ((h, w, 3), rows top to bottom); output:
 * n_tokens rows of n_embd floats, the LM's inputs at the image positions.
 * vision_mode (spec §0.3): ENG_VISION_LLAVA (default; the original LLaVA-1.5
 * computation) or ENG_VISION_LLAMA_CPP (what llama.cpp 3f545be computes).
 * eng_params.arith: fast = llama.cpp's F16 roundings (im2col, F16-weight
 * activations, GELU tables); exact = plain float32.  The eng_vision is
 * read-only after loading and may be shared; one eng_vision_ctx per thread. */
struct eng_vision;
struct eng_vision_ctx;
enum eng_vision_mode { ENG_VISION_LLAVA = 0, ENG_VISION_LLAMA_CPP = 1 };
const char *eng_vision_mode_name(int mode);           /* "llava" / "llama.cpp" */
int eng_vision_mode_parse(const char *s, int *mode);  /* RC_OK or RC_ECONFIG */

int eng_vision_open(const char *path, struct eng_vision **out);   /* RC_EIO/RC_EFORMAT/RC_ENOMEM */
void eng_vision_free(struct eng_vision *v);                       /* accepts NULL */
int eng_vision_image_size(const struct eng_vision *v);  /* S: the tower's input is S x S (0: Qwen, dynamic) */
int eng_vision_n_tokens(const struct eng_vision *v);    /* image tokens per image (Qwen: the most an image can give) */
int eng_vision_n_embd(const struct eng_vision *v);      /* projector output width (= LM n_embd) */

/* Families: the file's projector type.  ENG_VISION_CLIP is LLaVA-1.5 (CLIP ViT
 * + mlp, a fixed S x S input and token count); the Qwen towers
 * (qwen2vl_merger, qwen2.5vl_merger) take any image at a dynamic resolution
 * (sides multiples of 28) and give gw x gh tokens, one per 2x2 patches, which
 * the qwen2vl LM positions in 2-D (eng_prefill_image).  For them the vision
 * modes are ENG_VISION_LLAMA_CPP (the reference: letterboxed bilinear resize,
 * tanh-GELU merger) and ENG_VISION_LLAVA, read "original" (Hugging Face's
 * processor and model: stretched Pillow-bicubic resize, erf-GELU merger). */
enum eng_vision_family { ENG_VISION_CLIP = 0, ENG_VISION_QWEN2VL = 1, ENG_VISION_QWEN25VL = 2 };
int eng_vision_family(const struct eng_vision *v);
const char *eng_vision_family_name(int family);
/* Qwen: the number of image tokens an image is resized to lie between (0 =
 * default: 8 (llama.cpp mode) or 4 (original) .. 4096).  Set it before making
 * contexts: they are sized for the maximum.  RC_ECONFIG for min > max.  A
 * no-op for CLIP towers. */
int eng_vision_set_token_limits(struct eng_vision *v, int min_tokens, int max_tokens);
/* What a w x h image becomes: the tower's input in_w x in_h (the preprocessed
 * tensor is (3, in_h, in_w)) and the LM's gw x gh image tokens (CLIP: S x S
 * and n_tokens x 1).  RC_EINPUT for an image the limits cannot fit. */
int eng_vision_geometry(const struct eng_vision *v, int mode, int w, int h, int *in_w, int *in_h, int *gw, int *gh);

/* The normalised (3, S, S) float32 tensor the tower sees (caller allocates
 * 3*S*S floats; Qwen: (3, in_h, in_w) of eng_vision_geometry).  RC_OK,
 * RC_EINPUT or RC_ENOMEM. */
int eng_vision_preprocess(const struct eng_vision *v, int mode, const uint8_t *rgb, int w, int h,
                          float *out);

/* Scratch for encoding, allocated once (p: n_threads, arith, and kv_type: ENG_KV_F16
 * rounds K and V to F16 as llama.cpp's default flash attention does; otherwise the
 * tower's attention is F32, as in the goldens; NULL = defaults). */
int eng_vision_ctx_new(const struct eng_vision *v, const struct eng_params *p, struct eng_vision_ctx **out);
void eng_vision_ctx_free(struct eng_vision_ctx *c);   /* accepts NULL */
/* Preprocess + encode: out gets n_tokens * n_embd floats. */
int eng_vision_encode(struct eng_vision_ctx *c, int mode, const uint8_t *rgb, int w, int h, float *out);
/* Encode an already preprocessed (3, S, S) tensor. */
int eng_vision_encode_pre(struct eng_vision_ctx *c, int mode, const float *pre, float *out);
/* The same with the grid: *gw x *gh tokens written (either may be NULL). */
int eng_vision_encode_grid(struct eng_vision_ctx *c, int mode, const uint8_t *rgb, int w, int h, float *out, int *gw, int *gh);
/* Encode a preprocessed (3, in_h, in_w) tensor (any family). */
int eng_vision_encode_pre_wh(struct eng_vision_ctx *c, int mode, const float *pre, int in_w, int in_h, float *out);

/* ---- Chat templates and end of generation (chat.c) ----
 * A template turns (system prompt, question) into the text the model was
 * trained on.  The names are the reference's (llama.cpp 3f545be,
 * src/llama-chat.cpp), and each renders byte for byte as its
 * llama_chat_apply_template does with add_generation_prompt; BOS is never
 * part of the text (the tokenizer adds it when the file's add_bos says so):
 *   llama3       "<|start_header_id|>system<|end_header_id|>\n\n{sys}<|eot_id|>"
 *                "<|start_header_id|>user<|end_header_id|>\n\n{q}<|eot_id|>"
 *                "<|start_header_id|>assistant<|end_header_id|>\n\n" (contents trimmed)
 *   chatml       "<|im_start|>system\n{sys}<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n"
 *                "<|im_start|>assistant\n" (Qwen; no default system prompt, as the reference)
 *   mistral-v7   "[SYSTEM_PROMPT] {sys}[/SYSTEM_PROMPT][INST] {q}[/INST]" (-tekken: no spaces)
 *   mistral-v1 / -v3 / -v3-tekken   " [INST] {sys}\n\n{q} [/INST]" / "[INST] {sys}\n\n{q}[/INST]" /
 *                "[INST]{sys}\n\n{q}[/INST]" (the system prompt opens the first user turn)
 *   llama2 / -sys / -sys-bos / -sys-strip   "[INST] {sys}\n{q} [/INST]" / "[INST] <<SYS>>\n{sys}\n<</SYS>>\n\n{q} [/INST]"
 *   vicuna       "[{sys}\n\n]USER: {q}\nASSISTANT:" (the LLaVA-1.5 goldens' form)
 *   vicuna-orca  "[SYSTEM: {sys}\n]USER: {q}\nASSISTANT:"
 *   llava_v1     "{sys} USER: {q} ASSISTANT:" (LLaVA's own; sys defaults to LLaVA's system prompt)
 *   raw          the question as it is (no system prompt)
 *   qwen-vl      chatml with Qwen2-VL's default system prompt "You are a helpful
 *                assistant." when none is given: what the file's own (Jinja) template
 *                renders and the reference's mtmd-cli applies; with an image the
 *                prefill puts <|vision_start|> / <|vision_end|> around it
 * and two that a model resolves (eng_template_resolve):
 *   auto         from the file's tokenizer.chat_template by the markers the reference's
 *                llm_chat_detect_template looks for, in its order; no template or none of
 *                its markers: vicuna for a SentencePiece ("llama") vocabulary (LLaVA-1.5
 *                files carry no template), chatml otherwise (the reference's default);
 *                chatml becomes qwen-vl for a qwen2vl language model (Qwen2-VL/2.5-VL);
 *                a template the reference knows but mmsafe does not render (gemma,
 *                phi3, ...): RC_ECONFIG naming it
 *   mistral      the [INST] variant (mistral-*, llama2*) the file's template is. */
#define ENG_MEDIA_MARKER "<__media__>"
enum eng_template {
    ENG_TMPL_VICUNA = 0, ENG_TMPL_LLAVA_V1 = 1, ENG_TMPL_RAW = 2,
    ENG_TMPL_AUTO, ENG_TMPL_MISTRAL,
    ENG_TMPL_LLAMA3, ENG_TMPL_CHATML, ENG_TMPL_VICUNA_ORCA,
    ENG_TMPL_MISTRAL_V1, ENG_TMPL_MISTRAL_V3, ENG_TMPL_MISTRAL_V3_TEKKEN, ENG_TMPL_MISTRAL_V7, ENG_TMPL_MISTRAL_V7_TEKKEN,
    ENG_TMPL_LLAMA2, ENG_TMPL_LLAMA2_SYS, ENG_TMPL_LLAMA2_SYS_BOS, ENG_TMPL_LLAMA2_SYS_STRIP,
    ENG_TMPL_QWEN_VL,
    ENG_TMPL_COUNT
};
#define ENG_TEMPLATE_NAMES "auto, llama3, chatml, mistral, mistral-v7, mistral-v7-tekken, mistral-v3, " \
    "mistral-v3-tekken, mistral-v1, llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip, vicuna, vicuna-orca, llava_v1, qwen-vl, raw"
int eng_template_parse(const char *s, int *tmpl);            /* RC_OK or RC_ECONFIG */
const char *eng_template_name(int tmpl);
/* AUTO and MISTRAL -> the concrete template for model m (others are returned
 * as they are).  why (may be NULL) gets how it was chosen, e.g. "auto:
 * tokenizer.chat_template has <|start_header_id|> and <|end_header_id|>:
 * llama3"; empty for an explicit template.  RC_ECONFIG with a message when
 * there is no template to use. */
int eng_template_resolve(const struct eng_model *m, int tmpl, int *out, char *why, size_t cap);
/* The detection alone: text[0..len) is a tokenizer.chat_template (NULL: none),
 * spm: the vocabulary is SentencePiece (decides the fallback). */
int eng_template_detect(const char *text, size_t len, int spm, int *tmpl, char *why, size_t cap);
/* tokenizer.chat_template (borrowed, not NUL-terminated), or NULL. */
const char *eng_chat_template(const struct eng_model *m, size_t *len);

/* One message of a conversation (role "system", "user" or "assistant"). */
struct eng_chat_msg { const char *role, *content; };
/* Renders msgs[0..n) with a concrete template as the reference's
 * llama_chat_apply_template(tmpl, msgs, n, add_ass); *out malloc'd (free()).
 * RC_ECONFIG for AUTO/MISTRAL (resolve them first), RC_ENOMEM. */
int eng_chat_render(int tmpl, const struct eng_chat_msg *msgs, int n, int add_ass, char **out);
/* The prompt of one question: an optional system turn (NULL or "": none;
 * llava_v1: NULL = LLaVA's system prompt) and a user turn, then the generation
 * prompt.  media: the user turn opens with ENG_MEDIA_MARKER, followed by "\n"
 * for vicuna, vicuna-orca and llava_v1 (the reference goldens' LLaVA-1.5 form)
 * and directly by the question elsewhere (the reference's mtmd-cli prepends the
 * bare marker).  raw: the question as it is (a system prompt is RC_ECONFIG). */
int eng_chat_prompt(int tmpl, const char *system, const char *question, int media, char **out);
/* = eng_chat_prompt(tmpl, system, question, 1): the image prompt; NULL on error. */
char *eng_render_prompt(int tmpl, const char *system, const char *question);

/* End of generation, as the reference's llama_vocab_is_eog: EOS, the EOT and
 * EOM tokens (the file's keys, else found by their text: <|eot_id|>,
 * <|im_end|>, ...), the FIM pad/repo/separator tokens, and every token whose
 * text is one the reference lists (<|eot_id|>, <|im_end|>, <|endoftext|>,
 * <|end_of_text|>, </s>, <end_of_turn>, ...).  Llama 3: {128001, 128009}. */
int eng_token_is_eog(const struct eng_model *m, int32_t id);
int32_t eng_token_eot(const struct eng_model *m);                  /* -1 none */
/* The set, ascending: writes at most cap ids, returns the count. */
int eng_token_eog(const struct eng_model *m, int32_t *ids, int cap);
int eng_vocab_is_bpe(const struct eng_model *m);                   /* byte-level BPE ("gpt2") */

/* ---- LLaVA-1.5 image prompts and Yes/No verdicts (llava.c) ---- */

/* Prefills a rendered prompt holding at most one marker: each text part is
 * tokenized on its own (parse_special, no BOS), BOS first when the file says so
 * (unless no_bos), and the image's n_img rows (n_embd floats each) take the
 * marker's place; text-only when img == NULL (the marker is then an error).
 * Evaluated in llama.cpp's chunks (text, image in batches of 512, text).
 * *n_pos (may be NULL) gets the sequence length.  RC_ECTX when too long. */
int eng_llava_prefill(struct eng_ctx *c, const char *prompt, const float *img, int n_img,
                      int no_bos, int *n_pos);
/* The same for an image of gw x gh tokens (row major; LLaVA: n_img x 1): a
 * Qwen-VL LM (eng_uses_mrope) gets <|vision_start|> / <|vision_end|> around the
 * image and 2-D positions (eng_prefill_image); other LMs as eng_llava_prefill. */
int eng_vl_prefill(struct eng_ctx *c, const char *prompt, const float *img, int gw, int gh, int no_bos, int *n_pos);
/* RC_OK when the language model and the mmproj are a pair: a Qwen-VL mmproj
 * with a qwen2vl LM, a CLIP one with a 1-D LM, and the projector's output
 * width equal to the LM's n_embd; RC_ECONFIG with the reason otherwise. */
int eng_vl_check_pair(const struct eng_model *m, const struct eng_vision *v);
/* The input sequence eng_llava_prefill evaluates, without evaluating it (works
 * on a vocabulary-only model): *ids (malloc'd, free()) gets *n ids with
 * ENG_TOKEN_EMBD at the n_img image positions (n_img = 0: a text-only prompt);
 * *n_before (may be NULL) = the positions before the image (BOS included; for
 * a Qwen-VL LM <|vision_start|> too). */
int eng_llava_tokens(const struct eng_model *m, const char *prompt, int n_img, int no_bos,
                     int32_t **ids, int *n, int *n_before);

/* Candidate answer tokens, resolved by exact piece ("▁Yes", "Yes", "▁yes", ...;
 * byte-level BPE: "ĠYes", "Yes", "Ġyes", ...). */
struct eng_answers {
    int32_t pos[8], neg[8];     /* "safe" answer (Yes) and "unsafe" answer (No) pieces */
    int n_pos, n_neg;
    int32_t pos1, neg1;         /* primary pieces: "▁Yes", "▁No" (BPE: "ĠYes", "ĠNo") */
};
/* Resolves the pieces of two answer words (e.g. "Yes", "No"): with and without
 * the leading-space piece (SentencePiece U+2581 '▁', byte-level BPE U+0120 'Ġ'),
 * in the given, lower and upper case.  RC_ECONFIG when a primary piece (space +
 * word) is not in the vocabulary. */
int eng_answers_resolve(const struct eng_model *m, const char *yes, const char *no, struct eng_answers *a);
/* From the last logits: delta = logsumexp(yes) - logsumexp(no) (double),
 * p_no = P(no | candidates) = 1 / (1 + exp(delta)), mass = the candidates'
 * share of the full softmax (a small mass: the model was not about to answer). */
void eng_answers_score(const struct eng_answers *a, const float *logits, int n_vocab,
                       double *delta, double *p_no, double *mass);

#endif
