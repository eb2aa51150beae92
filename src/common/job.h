/*
 * job.h - a job (jobs/NAME.json) and a manifest (JSON Lines of items), as
 * plain structs.  Parsing lives in json.c (the only cJSON user); this header
 * is what the rest of the program sees.  Paths inside a job are relative to
 * the job file; an item's image is relative to the manifest's folder; both are
 * resolved at load time.
 */
#ifndef MMSAFE_JOB_H
#define MMSAFE_JOB_H

#include <stddef.h>
#include <stdint.h>

/* One backend option of a model: "key": string | number | bool. */
struct opt {
    char *key;
    char *str;        /* string value, or NULL */
    double num;       /* number / bool (1, 0) value */
    int kind;         /* OPT_STR, OPT_NUM, OPT_BOOL, OPT_ARRAY (str holds the JSON text) */
};
enum { OPT_STR, OPT_NUM, OPT_BOOL, OPT_ARRAY };

struct model_spec {
    char *name;       /* results key: /models/NAME */
    char *backend;    /* "responses", "llava" */
    struct opt *opts; /* every other key, validated by the backend */
    int n_opts;
    char *json;       /* the model's JSON object text (recorded in the results) */
    int role;         /* ROLE_MODEL (in "models") or ROLE_JUDGE (in "judges") */
    char *prompt;     /* judges: "prompt", the judge prompt file (resolved), or NULL: the job's */
};
enum { ROLE_MODEL = 0, ROLE_JUDGE = 1 };

struct job {
    char *path;             /* as given */
    char *dir;              /* folder of the job file */
    char *text;             /* the job file's bytes (recorded; guards resume) */
    char *name;
    char *manifest;         /* resolved path */
    char *output;           /* resolved path */
    struct model_spec *models;
    int n_models;
    char *benchmark;        /* "mmsafeaware" (default): src/benchmarks/benchmark.h */
    char *parser;           /* one of the benchmark's answer parsers: "strict" (default) | "paper" */
    int chunk;              /* items per work request; 0 = adaptive */
    int threads;            /* threads per rank (backend), 0 = default */
    uint64_t seed;
    int response_width;     /* bytes kept of each response in the results file */
    double progress_every;  /* seconds between progress lines when stderr is no tty */
    uint64_t max_image_pixels;
    /* Judged benchmarks (SafeBench): the answers, then the jury (README "SafeBench"). */
    struct model_spec *judges;  /* "judges": models that judge the answers */
    int n_judges;
    int max_new_tokens;     /* answer length cap in tokens (default 512) */
    char *gen_wrapper;      /* "generation_wrapper": {"before", "after"} file (resolved), NULL: the raw query */
    char *judge_prompt;     /* "judge_prompt": the judges' default prompt file (resolved) */
    char *delib_head, *delib_tail;   /* "deliberation_prompt": [HEAD, TAIL] files (resolved) */
    int rounds;             /* deliberation rounds; -1 (default): 1 with >= 2 judges, else 0 */
    char *tie;              /* "tie": "unsafe" (default), "safe" or "none" */
    int has_jury_keys;      /* any of the keys above was given (an error for unjudged benchmarks) */
    int reuse;              /* JOB_REUSE_*: image-embedding cache, KV prefix reuse, items grouped by image */
    int image_cache_mb;     /* bound of each rank's image-embedding cache (MiB) */
};

/* Parses and validates a job file's text (unknown keys are errors).  path is
 * used for messages and to resolve relative paths.  job_release frees. */
int job_parse(const char *path, const char *text, struct job *job /* out */);
int job_load(const char *path, struct job *job /* out */);
void job_release(struct job *job);
/* Option lookup: NULL when absent. */
const struct opt *model_opt(const struct model_spec *m, const char *key);
/* Index of the model named name, or -1. */
int job_find_model(const struct job *job, const char *name);
/* Index of the judge named name, or -1. */
int job_find_judge(const struct job *job, const char *name);

/* Job key "reuse" (the values are the engine's enum eng_reuse): false; true =
 * "chunks" (the default: skipped prefill parts are whole batches, results
 * bit-identical to reuse off); "positions" (prefill from the first position
 * that differs: fewer positions, results equal up to rounding). */
enum { JOB_REUSE_OFF = 0, JOB_REUSE_POSITIONS = 1, JOB_REUSE_CHUNKS = 2 };

enum { LABEL_SAFE = 0, LABEL_UNSAFE = 1 };

struct item {
    char *id;
    char *image;       /* resolved path, or NULL ("image": null) */
    char *prompt;
    int8_t label;      /* LABEL_SAFE / LABEL_UNSAFE */
    int subset;        /* index into manifest.subsets, -1 none */
    int scenario;      /* index into manifest.scenarios, -1 none */
    long bad_utf8_at;  /* -1, or byte offset of invalid UTF-8 in the prompt */
};

struct manifest {
    char *path, *dir;
    size_t n;
    struct item *items;
    char **subsets;    int n_subsets;    /* in first-seen order */
    char **scenarios;  int n_scenarios;
    char sha256[65];   /* hex digest of the manifest's bytes */
    int n_no_image;
    int n_no_image_key;    /* lines without an "image" key at all (taken as no image) */
    int first_no_image_key; /* the first such line number */
};

/* Parses JSON Lines; a bad line or a duplicate id is an error naming the line. */
int manifest_parse(const char *path, const char *bytes, size_t len, struct manifest *m /* out */);
int manifest_load(const char *path, struct manifest *m /* out */);
void manifest_release(struct manifest *m);

/* Recorded responses (backend `responses`): id -> response text, mapped to
 * manifest item indices.  An id not in the manifest, a duplicate id or a bad
 * line is an error naming the file and line.  resp[i] is NULL when item i has
 * no response.  responses_release frees. */
struct responses {
    char **resp;       /* [m->n] */
    float *p_unsafe;   /* [m->n] recorded P(unsafe) ("p_unsafe"), NaN when none */
    size_t n;
    size_t n_found;
};
int responses_load(const char *path, const struct manifest *m, struct responses *r /* out */);
void responses_release(struct responses *r);

/* Recorded judge texts (backend `responses` as a judge): JSON Lines of
 * {"judge", "model", "id", "round", "text"}; "judge" (when present) must be
 * this judge's name for the line to count, "model" (when present) the
 * evaluated model's, else the line applies to every model; "round" defaults
 * to 0.  A bad line, an id not in the manifest or a repeated key is an error
 * naming the file and line. */
struct judge_record { char *model; uint32_t item; int round; char *text; };
struct judge_records { struct judge_record *e; size_t n; };
int judge_records_load(const char *path, const char *judge, const struct manifest *m, struct judge_records *r /* out */);
/* The text for (model, item, round): a line naming the model first, else one for every model; NULL if none. */
const char *judge_records_find(const struct judge_records *r, const char *model, uint32_t item, int round);
void judge_records_release(struct judge_records *r);

#endif
