/*
 * backend.h - a model backend: a type table (struct backend_ops, one static
 * const instance per implementation) plus an instance context.  The runner
 * opens a backend once per rank and model and keeps it for every item of that
 * model (loading a checkpoint costs far more than an item).
 *   responses  (backend_responses.c) replays answers recorded elsewhere: how
 *              API models are scored, and the model-free path the pipeline
 *              tests take.
 *   native     (backend_llava.c; "llava" is an alias) the native engine: a
 *              language model + mmproj pair, LLaVA-1.5 (CLIP + projector +
 *              LLaMA) or Qwen2-VL / Qwen2.5-VL (dynamic-resolution tower +
 *              merger + qwen2vl), the family read from the files.
 */
#ifndef MMSAFE_BACKEND_H
#define MMSAFE_BACKEND_H

#include "image.h"
#include "job.h"

#include <stddef.h>
#include <stdint.h>

/* Per-item error codes stored in /models/NAME/error (0 = none). */
enum item_error {
    IE_NONE = 0,
    IE_NO_IMAGE = 1,      /* the manifest has no image, or the file is missing */
    IE_IMAGE = 2,         /* the image cannot be decoded */
    IE_NO_RESPONSE = 3,   /* responses backend: no recorded answer for the id */
    IE_PROMPT = 4,        /* the prompt is not valid UTF-8 */
    IE_CONTEXT = 5,       /* prompt + image exceed the model's context */
    IE_BACKEND = 6,       /* the model failed on this item */
    IE_API = 7,           /* a recorded answer is empty or an API's error text: never judged */
    IE_NO_ANSWER = 8,     /* a vote on an answer that is an error (never made; consensus: error) */
};

/* Why a generation stopped (SafeBench answers and judge texts). */
enum stop_reason {
    STOP_NONE = 0,        /* not generated here (a recorded text), or an error */
    STOP_EOG = 1,         /* an end-of-generation token */
    STOP_MAX = 2,         /* max_new_tokens reached */
    STOP_CTX = 3,         /* the context is full */
};
const char *stop_reason_name(int stop);
const char *item_error_name(int code);

struct eval_out {
    const char *text;     /* the text answer, or NULL; borrowed: valid until the next eval on this ctx */
    int8_t verdict;       /* V_SAFE/V_UNSAFE when the backend decides (logits); V_PENDING: parse the response */
    float p_unsafe;       /* NaN when the backend has no score */
    int16_t error;        /* IE_* ; non-zero makes the verdict V_ERROR */
    char reason[200];     /* why, for errors */
    int8_t generated;     /* eval: text is a generated answer beside a logit verdict (its own verdict is compared) */
    /* generate only */
    int32_t n_prompt;     /* prompt positions (0 when unknown, e.g. recorded) */
    int32_t n_generated;  /* tokens generated */
    int8_t stop;          /* enum stop_reason */
};

/* One generation request (judged benchmarks): an answer to an item (round
 * -1, with the item's image), or a judge's text (round >= 0, text only).  The
 * backend applies its own chat template to prompt.  model/item/round say what
 * is asked, for backends that replay recorded texts. */
struct gen_req {
    const char *prompt;
    const struct image *img;   /* NULL: text only */
    int max_new;               /* tokens */
    const char *model;         /* the evaluated model's name */
    size_t item;               /* manifest index */
    const struct item *it;
    int round;                 /* -1: an answer; >= 0: a judge's vote in that round */
};

struct backend_ops {
    const char *name;
    int needs_pixels;     /* the runner decodes the item's image only when set ... */
    int (*wants_pixels)(void *ctx);   /* ... or when this (optional) says so for an instance */
    /* Checks the model's options (unknown keys are errors) and the files they
     * name, cheaply (no weights loaded).  Called by rank 0 and `check`.
     * settings (may be NULL) gets what the backend resolved from the files
     * (e.g. the chat template `auto` picked) as a one-line JSON object, or "":
     * the run records it as the model's `settings` attribute. */
    int (*check)(const struct model_spec *m, const struct job *j, const struct manifest *man, char *settings, size_t cap);
    /* Loads the model for evaluating many items. */
    int (*open)(void **ctx, const struct model_spec *m, const struct job *j, const struct manifest *man);
    /* Evaluates item idx; img is NULL unless needs_pixels.  Item-level problems
     * go into out->error (return RC_OK); a non-OK return is a run-level error. */
    int (*eval)(void *ctx, size_t idx, const struct item *it, const struct image *img, struct eval_out *out);
    void (*close)(void *ctx);   /* NULL ctx is a no-op */
    /* Judged benchmarks: a whole answer or a judge's text (NULL: the backend
     * cannot).  A model_spec with role ROLE_JUDGE is opened (check, open) as a
     * text-only judge.  Item problems go into out->error, as for eval. */
    int (*generate)(void *ctx, const struct gen_req *q, struct eval_out *out);
};

/* NULL (with err_msg set) for an unknown backend name. */
const struct backend_ops *backend_find(const char *name);

/* Option helpers for backends: fail on keys not in known (NULL-terminated). */
int backend_check_keys(const struct model_spec *m, const struct job *j, const char *const *known);

#endif
