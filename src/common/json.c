/*
 * json.c - the only cJSON user: parses jobs, manifests (JSON Lines) and
 * recorded responses into the plain structs of job.h, and renders JSON
 * (manifest lines, the `reduce --json` report, sweep jobs).  cJSON objects
 * never leave this file.
 */
#include "json.h"
#include "err.h"
#include "util.h"
#include "judge_parse.h"
#include "safebench_report.h"
#include "safebench_taxonomy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* === id hash (open addressing) ======================================== */

struct idmap { size_t cap; long *slot; char **keys; };

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) { h ^= (unsigned char)*s++; h *= 1099511628211ull; }
    return h;
}

static int idmap_init(struct idmap *m, size_t n, char **keys)
{
    m->cap = 16;
    while (m->cap < 2 * n + 1) m->cap *= 2;
    m->slot = malloc(m->cap * sizeof *m->slot);
    m->keys = keys;
    if (!m->slot) return err_set(RC_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->cap; i++) m->slot[i] = -1;
    return RC_OK;
}

/* Returns the index stored for key, or -1; inserts idx when idx >= 0 and absent. */
static long idmap_get_put(struct idmap *m, const char *key, long idx)
{
    size_t h = (size_t)hash_str(key) & (m->cap - 1);
    while (m->slot[h] >= 0) {
        if (!strcmp(m->keys[m->slot[h]], key)) return m->slot[h];
        h = (h + 1) & (m->cap - 1);
    }
    if (idx >= 0) m->slot[h] = idx;
    return -1;
}

/* A map from a manifest's item ids to their indexes (recorded answers and
 * judge texts name items by id); idmap_free releases it. */
static int idmap_of_manifest(struct idmap *map, const struct manifest *m)
{
    memset(map, 0, sizeof *map);
    char **ids = malloc((m->n ? m->n : 1) * sizeof *ids);
    if (!ids) return err_set(RC_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n; i++) ids[i] = m->items[i].id;
    int rc = idmap_init(map, m->n, ids);
    if (rc) { free(ids); map->keys = NULL; return rc; }
    for (size_t i = 0; i < m->n; i++) idmap_get_put(map, ids[i], (long)i);
    return RC_OK;
}
static void idmap_free(struct idmap *map) { free(map->slot); free(map->keys); memset(map, 0, sizeof *map); }

/* === JSON Lines ========================================================= */

/* Next non-blank line of bytes[0..len) from *off: sets *s, *ll, advances *off
 * and *line (1-based).  Returns 0 at the end. */
static int next_line(const char *bytes, size_t len, size_t *off, int *line, const char **s, size_t *ll)
{
    while (*off < len) {
        const char *p = bytes + *off, *nl = memchr(p, '\n', len - *off);
        size_t l = nl ? (size_t)(nl - p) : len - *off;
        *off += l + (nl ? 1 : 0);
        (*line)++;
        size_t k = 0;
        while (k < l && isspace((unsigned char)p[k])) k++;
        if (k < l) { *s = p; *ll = l; return 1; }
    }
    return 0;
}

/* === job ================================================================ */

static int is_name_char(int c) { return isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+'; }

static int want_string(const char *path, const cJSON *v, const char *key, char **out)
{
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return err_set(RC_ECONFIG, "%s: \"%s\" must be a non-empty string", path, key);
    *out = util_strdup(v->valuestring);
    return *out ? RC_OK : err_set(RC_ENOMEM, "out of memory");
}

static int want_int(const char *path, const cJSON *v, const char *key, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return err_set(RC_ECONFIG, "%s: \"%s\" must be an integer in [%.0f, %.0f]", path, key, lo, hi);
    *out = v->valuedouble;
    return RC_OK;
}

static int parse_model(const char *path, int idx, const cJSON *o, struct model_spec *m, int role)
{
    const char *list = role == ROLE_JUDGE ? "judges" : "models";
    m->role = role;
    if (!cJSON_IsObject(o))
        return err_set(RC_ECONFIG, "%s: %s[%d] must be an object", path, list, idx);
    int n = cJSON_GetArraySize(o);
    m->opts = calloc((size_t)n + 1, sizeof *m->opts);
    m->json = cJSON_PrintUnformatted(o);
    if (!m->opts || !m->json) return err_set(RC_ENOMEM, "out of memory");
    const cJSON *v;
    cJSON_ArrayForEach(v, o) {
        int rc = RC_OK;
        if (!strcmp(v->string, "name")) {
            if ((rc = want_string(path, v, "name", &m->name))) return rc;
            for (const char *c = m->name; *c; c++)
                if (!is_name_char((unsigned char)*c))
                    return err_set(RC_ECONFIG, "%s: model name '%s' may only contain letters, digits and _-.+", path, m->name);
        } else if (!strcmp(v->string, "backend")) {
            if ((rc = want_string(path, v, "backend", &m->backend))) return rc;
        } else if (role == ROLE_JUDGE && !strcmp(v->string, "prompt")) {
            if ((rc = want_string(path, v, "prompt", &m->prompt))) return rc;
        } else {
            struct opt *op = &m->opts[m->n_opts++];
            op->key = util_strdup(v->string);
            if (cJSON_IsString(v)) { op->kind = OPT_STR; op->str = util_strdup(v->valuestring); }
            else if (cJSON_IsNumber(v)) { op->kind = OPT_NUM; op->num = v->valuedouble; }
            else if (cJSON_IsBool(v)) { op->kind = OPT_BOOL; op->num = cJSON_IsTrue(v); }
            else if (cJSON_IsArray(v)) { op->kind = OPT_ARRAY; op->str = cJSON_PrintUnformatted(v); }
            else return err_set(RC_ECONFIG, "%s: %s[%d].%s: unsupported value type", path, list, idx, v->string);
        }
    }
    if (!m->name) return err_set(RC_ECONFIG, "%s: %s[%d] has no \"name\"", path, list, idx);
    if (!m->backend) return err_set(RC_ECONFIG, "%s: %s '%s' has no \"backend\"", path, role == ROLE_JUDGE ? "judge" : "model", m->name);
    return RC_OK;
}

/* "models" or "judges": a non-empty array of objects with unique names. */
static int parse_model_list(const char *path, const cJSON *v, int role, struct model_spec **out, int *n_out)
{
    const char *key = role == ROLE_JUDGE ? "judges" : "models";
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n < 1) return err_set(RC_ECONFIG, "%s: \"%s\" must be a non-empty array", path, key);
    if (*out) return err_set(RC_ECONFIG, "%s: \"%s\" given twice", path, key);
    if (!(*out = calloc((size_t)n, sizeof **out))) return err_set(RC_ENOMEM, "out of memory");
    const cJSON *mo;
    cJSON_ArrayForEach(mo, v) {
        int rc = parse_model(path, *n_out, mo, &(*out)[*n_out], role);
        (*n_out)++;
        if (rc) return rc;
        for (int i = 0; i < *n_out - 1; i++)
            if (!strcmp((*out)[i].name, (*out)[*n_out - 1].name))
                return err_set(RC_ECONFIG, "%s: two %s are named '%s'", path, key, (*out)[i].name);
    }
    return RC_OK;
}

int job_parse(const char *path, const char *text, struct job *job)
{
    memset(job, 0, sizeof *job);
    job->path = util_strdup(path);
    job->dir = util_dirname(path);
    job->text = util_strdup(text);
    job->parser = util_strdup("strict");
    job->benchmark = util_strdup("mmsafeaware");
    job->response_width = 512;
    job->progress_every = 30;
    job->max_new_tokens = 512;
    job->rounds = -1;
    job->tie = util_strdup("unsafe");
    job->reuse = JOB_REUSE_CHUNKS;
    job->image_cache_mb = 256;
    if (!job->path || !job->dir || !job->text || !job->parser || !job->benchmark || !job->tie) return err_set(RC_ENOMEM, "out of memory");

    cJSON *root = cJSON_ParseWithOpts(text, NULL, 1);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *p = text; e && p < e; p++) line += *p == '\n';
        return err_set(RC_ECONFIG, "%s:%d: not valid JSON", path, line);
    }
    int rc = RC_OK;
    if (!cJSON_IsObject(root)) { rc = err_set(RC_ECONFIG, "%s: a job must be a JSON object", path); goto out; }
    char *manifest = NULL, *output = NULL;
    const cJSON *v;
    double d;
    cJSON_ArrayForEach(v, root) {
        const char *k = v->string;
        if (!strcmp(k, "name")) rc = want_string(path, v, k, &job->name);
        else if (!strcmp(k, "manifest")) rc = want_string(path, v, k, &manifest);
        else if (!strcmp(k, "output")) rc = want_string(path, v, k, &output);
        else if (!strcmp(k, "parser")) {
            free(job->parser); job->parser = NULL;
            rc = want_string(path, v, k, &job->parser);   /* checked against the benchmark's parsers by run and check */
        } else if (!strcmp(k, "benchmark")) {
            free(job->benchmark); job->benchmark = NULL;
            rc = want_string(path, v, k, &job->benchmark);
        } else if (!strcmp(k, "chunk")) { if (!(rc = want_int(path, v, k, 0, 1 << 20, &d))) job->chunk = (int)d; }
        else if (!strcmp(k, "threads")) { if (!(rc = want_int(path, v, k, 0, 4096, &d))) job->threads = (int)d; }
        else if (!strcmp(k, "seed")) { if (!(rc = want_int(path, v, k, 0, 9007199254740991.0, &d))) job->seed = (uint64_t)d; }
        else if (!strcmp(k, "response_width")) { if (!(rc = want_int(path, v, k, 16, 1 << 20, &d))) job->response_width = (int)d; }
        else if (!strcmp(k, "max_image_pixels")) { if (!(rc = want_int(path, v, k, 1, 1e15, &d))) job->max_image_pixels = (uint64_t)d; }
        else if (!strcmp(k, "image_cache_mb")) { if (!(rc = want_int(path, v, k, 0, 1 << 20, &d))) job->image_cache_mb = (int)d; }
        else if (!strcmp(k, "reuse")) {
            if (cJSON_IsBool(v)) job->reuse = cJSON_IsTrue(v) ? JOB_REUSE_CHUNKS : JOB_REUSE_OFF;
            else if (cJSON_IsString(v) && !strcmp(v->valuestring, "chunks")) job->reuse = JOB_REUSE_CHUNKS;
            else if (cJSON_IsString(v) && !strcmp(v->valuestring, "positions")) job->reuse = JOB_REUSE_POSITIONS;
            else rc = err_set(RC_ECONFIG, "%s: \"reuse\" must be true (= \"chunks\"), false or \"positions\"", path);
        } else if (!strcmp(k, "progress_every")) {
            if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
                rc = err_set(RC_ECONFIG, "%s: \"progress_every\" must be a positive number of seconds", path);
            else job->progress_every = v->valuedouble;
        } else if (!strcmp(k, "models")) {
            rc = parse_model_list(path, v, ROLE_MODEL, &job->models, &job->n_models);
        } else if (!strcmp(k, "judges")) {
            rc = parse_model_list(path, v, ROLE_JUDGE, &job->judges, &job->n_judges);
            job->has_jury_keys = 1;
        } else if (!strcmp(k, "max_new_tokens")) {
            if (!(rc = want_int(path, v, k, 1, 1 << 16, &d))) job->max_new_tokens = (int)d;
            job->has_jury_keys = 1;
        } else if (!strcmp(k, "generation_wrapper") || !strcmp(k, "judge_prompt")) {
            char *p = NULL;
            if (!(rc = want_string(path, v, k, &p))) {
                char **dst = k[0] == 'g' ? &job->gen_wrapper : &job->judge_prompt;
                free(*dst);
                *dst = util_join(job->dir, p);
            }
            free(p);
            job->has_jury_keys = 1;
        } else if (!strcmp(k, "deliberation_prompt")) {
            const cJSON *h = cJSON_GetArrayItem(v, 0), *t = cJSON_GetArrayItem(v, 1);
            if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsString(h) || !cJSON_IsString(t) ||
                !h->valuestring[0] || !t->valuestring[0])
                rc = err_set(RC_ECONFIG, "%s: \"deliberation_prompt\" must be [\"HEAD.txt\", \"TAIL.txt\"] (the text before "
                             "and after the reviews)", path);
            else {
                free(job->delib_head); free(job->delib_tail);
                job->delib_head = util_join(job->dir, h->valuestring);
                job->delib_tail = util_join(job->dir, t->valuestring);
            }
            job->has_jury_keys = 1;
        } else if (!strcmp(k, "rounds")) {
            if (!(rc = want_int(path, v, k, 0, 16, &d))) job->rounds = (int)d;
            job->has_jury_keys = 1;
        } else if (!strcmp(k, "tie")) {
            free(job->tie); job->tie = NULL;
            rc = want_string(path, v, k, &job->tie);
            if (!rc && strcmp(job->tie, "unsafe") && strcmp(job->tie, "safe") && strcmp(job->tie, "none"))
                rc = err_set(RC_ECONFIG, "%s: \"tie\" must be \"unsafe\" (a split jury does not clear an answer; the default), "
                             "\"safe\" or \"none\" (no verdict: counted as unparsed)", path);
            job->has_jury_keys = 1;
        } else {
            rc = err_set(RC_ECONFIG, "%s: unknown key \"%s\" (known: name, manifest, output, models, benchmark, parser, "
                         "chunk, threads, seed, response_width, max_image_pixels, progress_every, reuse, image_cache_mb; for judged "
                         "benchmarks: judges, max_new_tokens, generation_wrapper, judge_prompt, deliberation_prompt, rounds, tie)", path, k);
        }
        if (rc) break;
    }
    if (!rc && !manifest) rc = err_set(RC_ECONFIG, "%s: missing \"manifest\"", path);
    if (!rc && !output) rc = err_set(RC_ECONFIG, "%s: missing \"output\"", path);
    if (!rc && !job->models) rc = err_set(RC_ECONFIG, "%s: missing \"models\"", path);
    for (int i = 0; !rc && i < job->n_judges; i++) {
        if (job_find_model(job, job->judges[i].name) >= 0)
            rc = err_set(RC_ECONFIG, "%s: '%s' is both a model and a judge (give the judge another name)", path, job->judges[i].name);
        else if (job->judges[i].prompt) {
            char *p = util_join(job->dir, job->judges[i].prompt);
            free(job->judges[i].prompt);
            job->judges[i].prompt = p;
        }
    }
    if (!rc) {
        job->manifest = util_join(job->dir, manifest);
        job->output = util_join(job->dir, output);
        if (!job->name) job->name = util_strdup("job");
    }
    free(manifest);
    free(output);
out:
    cJSON_Delete(root);
    return rc;
}

int job_load(const char *path, struct job *job)
{
    char *text;
    size_t len;
    memset(job, 0, sizeof *job);
    int rc = util_read_file(path, &text, &len);
    if (rc) return rc;
    if (strlen(text) != len) { free(text); return err_set(RC_ECONFIG, "%s: contains a NUL byte", path); }
    rc = job_parse(path, text, job);
    free(text);
    return rc;
}

static void specs_release(struct model_spec *v, int n)
{
    for (int i = 0; i < n; i++) {
        struct model_spec *m = &v[i];
        for (int j = 0; j < m->n_opts; j++) { free(m->opts[j].key); free(m->opts[j].str); }
        free(m->opts); free(m->name); free(m->backend); free(m->json); free(m->prompt);
    }
    free(v);
}

void job_release(struct job *job)
{
    if (!job) return;
    specs_release(job->models, job->n_models);
    specs_release(job->judges, job->n_judges);
    free(job->gen_wrapper); free(job->judge_prompt); free(job->delib_head); free(job->delib_tail); free(job->tie);
    free(job->path); free(job->dir); free(job->text); free(job->name);
    free(job->manifest); free(job->output); free(job->parser); free(job->benchmark);
    memset(job, 0, sizeof *job);
}

const struct opt *model_opt(const struct model_spec *m, const char *key)
{
    for (int i = 0; i < m->n_opts; i++)
        if (!strcmp(m->opts[i].key, key)) return &m->opts[i];
    return NULL;
}

int job_find_model(const struct job *job, const char *name)
{
    for (int i = 0; i < job->n_models; i++)
        if (!strcmp(job->models[i].name, name)) return i;
    return -1;
}

int job_find_judge(const struct job *job, const char *name)
{
    for (int i = 0; i < job->n_judges; i++)
        if (!strcmp(job->judges[i].name, name)) return i;
    return -1;
}

/* === manifest =========================================================== */

static int intern(char ***list, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp((*list)[i], s)) return i;
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof **list);
    if (!l) return -1;
    *list = l;
    l[*n] = util_strdup(s);
    return l[*n] ? (*n)++ : -1;
}

int manifest_parse(const char *path, const char *bytes, size_t len, struct manifest *m)
{
    memset(m, 0, sizeof *m);
    m->path = util_strdup(path);
    m->dir = util_dirname(path);
    uint8_t sha[32];
    util_sha256(bytes, len, sha);
    util_hex(sha, 32, m->sha256);
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += bytes[i] == '\n';
    m->items = calloc(cap, sizeof *m->items);
    char **ids = calloc(cap, sizeof *ids);
    if (!m->items || !ids || !m->path || !m->dir) { free(ids); return err_set(RC_ENOMEM, "out of memory"); }
    struct idmap map = { 0 };
    int rc = idmap_init(&map, cap, ids);
    size_t off = 0;
    int line = 0;
    const char *s;
    size_t ll;
    while (!rc && next_line(bytes, len, &off, &line, &s, &ll)) {
        if (memchr(s, 0, ll)) { rc = err_set(RC_EFORMAT, "%s:%d: NUL byte in line", path, line); break; }
        cJSON *o = cJSON_ParseWithLength(s, ll);
        if (!o || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            rc = err_set(RC_EFORMAT, "%s:%d: not a JSON object (each line must be one item: "
                         "{\"id\", \"image\", \"prompt\", \"label\", ...})", path, line);
            break;
        }
        struct item *it = &m->items[m->n];
        it->subset = it->scenario = -1;
        it->bad_utf8_at = -1;
        int have_label = 0, have_image = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, o) {
            const char *key = v->string;
            if (!strcmp(key, "id")) {
                if (cJSON_IsString(v) && v->valuestring[0]) it->id = util_strdup(v->valuestring);
                else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble)) it->id = util_fmt("%.0f", v->valuedouble);
                else { rc = err_set(RC_EFORMAT, "%s:%d: \"id\" must be a non-empty string or an integer", path, line); break; }
            } else if (!strcmp(key, "image")) {
                have_image = 1;
                if (cJSON_IsNull(v)) continue;
                if (!cJSON_IsString(v) || !v->valuestring[0]) { rc = err_set(RC_EFORMAT, "%s:%d: \"image\" must be a path or null", path, line); break; }
                it->image = util_join(m->dir, v->valuestring);
            } else if (!strcmp(key, "prompt")) {
                if (!cJSON_IsString(v)) { rc = err_set(RC_EFORMAT, "%s:%d: \"prompt\" must be a string", path, line); break; }
                it->prompt = util_strdup(v->valuestring);
                it->bad_utf8_at = util_utf8_invalid_at(it->prompt, strlen(it->prompt));
            } else if (!strcmp(key, "label")) {
                if (cJSON_IsString(v) && !strcmp(v->valuestring, "safe")) it->label = LABEL_SAFE;
                else if (cJSON_IsString(v) && !strcmp(v->valuestring, "unsafe")) it->label = LABEL_UNSAFE;
                else { rc = err_set(RC_EFORMAT, "%s:%d: \"label\" must be \"safe\" or \"unsafe\"", path, line); break; }
                have_label = 1;
            } else if (!strcmp(key, "subset") || !strcmp(key, "scenario")) {
                if (cJSON_IsNull(v)) continue;
                if (!cJSON_IsString(v) || !v->valuestring[0]) { rc = err_set(RC_EFORMAT, "%s:%d: \"%s\" must be a non-empty string", path, line, key); break; }
                int idx = key[1] == 'u' ? intern(&m->subsets, &m->n_subsets, v->valuestring)
                                        : intern(&m->scenarios, &m->n_scenarios, v->valuestring);
                if (idx < 0) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
                if (key[1] == 'u') it->subset = idx; else it->scenario = idx;
            } else if (!strcmp(key, "meta")) {
                continue;   /* free-form, carried by other tools */
            } else {
                rc = err_set(RC_EFORMAT, "%s:%d: unknown key \"%s\" (known: id, image, prompt, label, subset, scenario, meta)", path, line, key);
                break;
            }
        }
        cJSON_Delete(o);
        size_t k_item = m->n++;     /* counted now, so manifest_release frees it on any error */
        if (rc) break;
        if (!it->id) { rc = err_set(RC_EFORMAT, "%s:%d: missing \"id\"", path, line); break; }
        if (!it->prompt) { rc = err_set(RC_EFORMAT, "%s:%d: item '%s' has no \"prompt\"", path, line, it->id); break; }
        if (!have_label) { rc = err_set(RC_EFORMAT, "%s:%d: item '%s' has no \"label\"", path, line, it->id); break; }
        ids[k_item] = it->id;
        long prev = idmap_get_put(&map, it->id, (long)k_item);
        if (prev >= 0) { rc = err_set(RC_EFORMAT, "%s:%d: duplicate id '%s' (first on an earlier line)", path, line, it->id); break; }
        if (!it->image) m->n_no_image++;
        if (!have_image && !m->n_no_image_key++) m->first_no_image_key = line;
    }
    if (!rc && m->n == 0) rc = err_set(RC_EFORMAT, "%s: no items", path);
    free(map.slot);
    free(ids);
    return rc;
}

int manifest_load(const char *path, struct manifest *m)
{
    char *bytes;
    size_t len;
    memset(m, 0, sizeof *m);
    int rc = util_read_file(path, &bytes, &len);
    if (rc) return rc;
    rc = manifest_parse(path, bytes, len, m);
    free(bytes);
    return rc;
}

void manifest_release(struct manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].id); free(m->items[i].image); free(m->items[i].prompt);
    }
    for (int i = 0; i < m->n_subsets; i++) free(m->subsets[i]);
    for (int i = 0; i < m->n_scenarios; i++) free(m->scenarios[i]);
    free(m->subsets); free(m->scenarios); free(m->items); free(m->path); free(m->dir);
    memset(m, 0, sizeof *m);
}

/* === responses ========================================================= */

int responses_load(const char *path, const struct manifest *m, struct responses *r)
{
    memset(r, 0, sizeof *r);
    char *bytes;
    size_t len;
    int rc = util_read_file(path, &bytes, &len);
    if (rc) return rc;
    r->n = m->n;
    r->resp = calloc(m->n ? m->n : 1, sizeof *r->resp);
    r->p_unsafe = malloc((m->n ? m->n : 1) * sizeof *r->p_unsafe);
    struct idmap map = { 0 };
    if (!r->resp || !r->p_unsafe) {
        free(bytes); responses_release(r);
        return err_set(RC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n; i++) r->p_unsafe[i] = NAN;
    rc = idmap_of_manifest(&map, m);
    size_t off = 0;
    int line = 0;
    const char *s;
    size_t ll;
    while (!rc && next_line(bytes, len, &off, &line, &s, &ll)) {
        cJSON *o = cJSON_ParseWithLength(s, ll);
        const cJSON *id = o ? cJSON_GetObjectItemCaseSensitive(o, "id") : NULL;
        const cJSON *re = o ? cJSON_GetObjectItemCaseSensitive(o, "response") : NULL;
        const cJSON *ps = o ? cJSON_GetObjectItemCaseSensitive(o, "p_unsafe") : NULL;
        char idbuf[64];
        const char *ids_ = NULL;
        if (cJSON_IsString(id)) ids_ = id->valuestring;
        else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble)) {
            snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble);
            ids_ = idbuf;
        }
        if (!o || !ids_ || !cJSON_IsString(re)) {
            rc = err_set(RC_EFORMAT, "%s:%d: expected {\"id\": ..., \"response\": \"...\"}", path, line);
        } else if (ps && !cJSON_IsNull(ps) &&
                   (!cJSON_IsNumber(ps) || !isfinite(ps->valuedouble) || ps->valuedouble < 0 || ps->valuedouble > 1)) {
            /* cJSON reads 1e999 as inf and has no NaN literal: both end here. */
            rc = err_set(RC_EFORMAT, "%s:%d: \"p_unsafe\" must be a number from 0 to 1 (or null), for id '%s'",
                         path, line, ids_);
        } else {
            long idx = idmap_get_put(&map, ids_, -1);
            if (idx < 0)
                rc = err_set(RC_EFORMAT, "%s:%d: response id '%s' is not in the manifest %s (responses for another benchmark?)",
                             path, line, ids_, m->path);
            else if (r->resp[idx])
                rc = err_set(RC_EFORMAT, "%s:%d: second response for id '%s'", path, line, ids_);
            else if (!(r->resp[idx] = util_strdup(re->valuestring)))
                rc = err_set(RC_ENOMEM, "out of memory");
            else {
                if (cJSON_IsNumber(ps)) r->p_unsafe[idx] = (float)ps->valuedouble;
                r->n_found++;
            }
        }
        cJSON_Delete(o);
    }
    idmap_free(&map);
    free(bytes);
    if (rc) responses_release(r);
    return rc;
}

void responses_release(struct responses *r)
{
    if (!r) return;
    for (size_t i = 0; r->resp && i < r->n; i++) free(r->resp[i]);
    free(r->resp);
    free(r->p_unsafe);
    memset(r, 0, sizeof *r);
}

/* === recorded judge texts ============================================== */

static int jr_cmp(const void *a, const void *b)
{
    const struct judge_record *x = a, *y = b;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    if (x->round != y->round) return x->round < y->round ? -1 : 1;
    if (!x->model || !y->model) return x->model ? 1 : y->model ? -1 : 0;   /* "every model" first */
    return strcmp(x->model, y->model);
}

int judge_records_load(const char *path, const char *judge, const struct manifest *m, struct judge_records *r)
{
    memset(r, 0, sizeof *r);
    char *bytes;
    size_t len;
    int rc = util_read_file(path, &bytes, &len);
    if (rc) return rc;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += bytes[i] == '\n';
    r->e = calloc(cap, sizeof *r->e);
    struct idmap map = { 0 };
    if (!r->e) { free(bytes); judge_records_release(r); return err_set(RC_ENOMEM, "out of memory"); }
    rc = idmap_of_manifest(&map, m);
    size_t off = 0;
    int line = 0;
    const char *s;
    size_t ll;
    while (!rc && next_line(bytes, len, &off, &line, &s, &ll)) {
        cJSON *o = cJSON_ParseWithLength(s, ll);
        const cJSON *jd = o ? cJSON_GetObjectItemCaseSensitive(o, "judge") : NULL;
        const cJSON *md = o ? cJSON_GetObjectItemCaseSensitive(o, "model") : NULL;
        const cJSON *id = o ? cJSON_GetObjectItemCaseSensitive(o, "id") : NULL;
        const cJSON *rd = o ? cJSON_GetObjectItemCaseSensitive(o, "round") : NULL;
        const cJSON *tx = o ? cJSON_GetObjectItemCaseSensitive(o, "text") : NULL;
        if (!o || !cJSON_IsObject(o) || !cJSON_IsString(id) || !cJSON_IsString(tx) || (jd && !cJSON_IsString(jd)) ||
            (md && !cJSON_IsString(md)) ||
            (rd && (!cJSON_IsNumber(rd) || rd->valuedouble != floor(rd->valuedouble) || rd->valuedouble < 0 || rd->valuedouble > 16)))
            rc = err_set(RC_EFORMAT, "%s:%d: expected {\"judge\": NAME, \"model\": NAME (optional), \"id\": ..., "
                         "\"round\": 0-16, \"text\": \"...\"}", path, line);
        else if (!jd || !strcmp(jd->valuestring, judge)) {
            long idx = idmap_get_put(&map, id->valuestring, -1);
            if (idx < 0)
                rc = err_set(RC_EFORMAT, "%s:%d: id '%s' is not in the manifest %s", path, line, id->valuestring, m->path);
            else {
                struct judge_record *e = &r->e[r->n];
                e->item = (uint32_t)idx;
                e->round = rd ? (int)rd->valuedouble : 0;
                e->model = md ? util_strdup(md->valuestring) : NULL;
                e->text = util_strdup(tx->valuestring);
                r->n++;
                if (!e->text || (md && !e->model)) rc = err_set(RC_ENOMEM, "out of memory");
            }
        }
        cJSON_Delete(o);
    }
    if (!rc) {
        qsort(r->e, r->n, sizeof *r->e, jr_cmp);
        for (size_t i = 1; !rc && i < r->n; i++)
            if (!jr_cmp(&r->e[i - 1], &r->e[i]))
                rc = err_set(RC_EFORMAT, "%s: two texts of judge '%s' for id '%s', round %d%s%s", path, judge,
                             m->items[r->e[i].item].id, r->e[i].round, r->e[i].model ? ", model " : "",
                             r->e[i].model ? r->e[i].model : "");
    }
    idmap_free(&map);
    free(bytes);
    if (rc) judge_records_release(r);
    return rc;
}

const char *judge_records_find(const struct judge_records *r, const char *model, uint32_t item, int round)
{
    const char *any = NULL;
    size_t lo = 0, hi = r->n;
    while (lo < hi) {   /* first entry of (item, round) */
        size_t mid = (lo + hi) / 2;
        const struct judge_record *e = &r->e[mid];
        if (e->item < item || (e->item == item && e->round < round)) lo = mid + 1; else hi = mid;
    }
    for (size_t i = lo; i < r->n && r->e[i].item == item && r->e[i].round == round; i++) {
        if (!r->e[i].model) any = r->e[i].text;
        else if (model && !strcmp(r->e[i].model, model)) return r->e[i].text;
    }
    return any;
}

void judge_records_release(struct judge_records *r)
{
    if (!r) return;
    for (size_t i = 0; r->e && i < r->n; i++) { free(r->e[i].model); free(r->e[i].text); }
    free(r->e);
    memset(r, 0, sizeof *r);
}

/* === rendering ========================================================== */

char *json_manifest_line(const char *id, const char *image, const char *prompt, const char *label,
                         const char *subset, const char *scenario)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", id);
    if (image) cJSON_AddStringToObject(o, "image", image); else cJSON_AddNullToObject(o, "image");
    cJSON_AddStringToObject(o, "prompt", prompt);
    cJSON_AddStringToObject(o, "label", label);
    if (subset) cJSON_AddStringToObject(o, "subset", subset);
    if (scenario) cJSON_AddStringToObject(o, "scenario", scenario);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *json_strings_object(const char *const *kv)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int i = 0; kv[i] && kv[i + 1]; i += 2) cJSON_AddStringToObject(o, kv[i], kv[i + 1]);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static cJSON *num_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static cJSON *metrics_json(const struct metrics *mt)
{
    cJSON *o = cJSON_CreateObject();
    const struct counts *c = &mt->c;
    cJSON_AddNumberToObject(o, "n", (double)c->n);
    cJSON_AddNumberToObject(o, "tp", (double)c->tp);
    cJSON_AddNumberToObject(o, "fn", (double)c->fn);
    cJSON_AddNumberToObject(o, "fp", (double)c->fp);
    cJSON_AddNumberToObject(o, "tn", (double)c->tn);
    cJSON_AddNumberToObject(o, "unparsed", (double)c->unparsed);
    cJSON_AddNumberToObject(o, "errors", (double)c->errors);
    cJSON_AddNumberToObject(o, "pending", (double)c->pending);
    cJSON *ci = cJSON_CreateObject();
    for (int k = 0; k < METRIC_COUNT; k++) {
        cJSON_AddItemToObject(o, metric_names[k], num_or_null(mt->v[k]));
        if (metric_is_proportion(k)) {
            cJSON *a = cJSON_CreateArray();
            cJSON_AddItemToArray(a, num_or_null(mt->lo[k]));
            cJSON_AddItemToArray(a, num_or_null(mt->hi[k]));
            cJSON_AddItemToObject(ci, metric_names[k], a);
        }
    }
    if (mt->has_auroc) cJSON_AddItemToObject(o, "auroc", num_or_null(mt->auroc));
    cJSON_AddItemToObject(o, "ci", ci);
    return o;
}

char *json_report(const struct report *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *models = cJSON_AddObjectToObject(root, "models");
    for (int i = 0; i < r->n_models; i++) {
        const struct model_report *mr = &r->models[i];
        cJSON *mo = cJSON_AddObjectToObject(models, mr->name);
        cJSON_AddStringToObject(mo, "parser", mr->parser);
        cJSON_AddItemToObject(mo, "all", metrics_json(&mr->groups[0]));
        cJSON *subs = cJSON_AddObjectToObject(mo, "subsets");
        for (int s = 0; s < r->n_subsets; s++)
            cJSON_AddItemToObject(subs, r->subsets[s], metrics_json(&mr->groups[1 + s]));
        cJSON *scen = cJSON_AddObjectToObject(mo, "scenarios");
        for (int s = 0; s < r->n_scenarios; s++)
            cJSON_AddItemToObject(scen, r->scenarios[s], metrics_json(&mr->groups[1 + r->n_subsets + s]));
        cJSON_AddItemToObject(mo, "total", num_or_null(mr->total));
        if (mr->text_n > 0) {
            cJSON *ta = cJSON_AddObjectToObject(mo, "text_logit_agreement");
            cJSON_AddNumberToObject(ta, "n", (double)mr->text_n);
            cJSON_AddNumberToObject(ta, "agree", (double)mr->text_agree);
            cJSON_AddNumberToObject(ta, "rate", (double)mr->text_agree / (double)mr->text_n);
        }
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

/* A relative path string made absolute against dir (others left alone). */
static void abs_path(cJSON *v, const char *dir)
{
    if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == '/') return;
    char *abs = util_fmt("%s/%s", dir, v->valuestring);
    if (abs) cJSON_SetValuestring(v, abs);
    free(abs);
}

int json_sweep_job(const char *tmpl_path, const char *tmpl_text, int n, char *const *names,
                   char *const *paths, char *const *mmprojs, char **out)
{
    *out = NULL;
    cJSON *root = cJSON_Parse(tmpl_text);
    if (!root) return err_set(RC_ECONFIG, "%s: not valid JSON", tmpl_path);
    int rc = RC_OK;
    char *dir = util_dirname(tmpl_path);
    char cwd_abs[4096];
    cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    cJSON *first = cJSON_GetArrayItem(models, 0);
    const cJSON *backend = first ? cJSON_GetObjectItemCaseSensitive(first, "backend") : NULL;
    if (!cJSON_IsObject(first) || !cJSON_IsString(backend)) {
        rc = err_set(RC_ECONFIG, "%s: the template needs a first model with a \"backend\"", tmpl_path);
        goto out;
    }
    /* Paths in the new job are absolute: it may be written anywhere. */
    if (!realpath(dir, cwd_abs)) { rc = err_set(RC_EIO, "cannot resolve '%s'", dir); goto out; }
    for (const char *const *k = (const char *const[]){ "manifest", "output", "generation_wrapper", "judge_prompt", NULL }; *k; k++)
        abs_path(cJSON_GetObjectItemCaseSensitive(root, *k), cwd_abs);
    {   /* a judged benchmark's jury: its files too (every model of the sweep is judged by it) */
        cJSON *dp = cJSON_GetObjectItemCaseSensitive(root, "deliberation_prompt"), *e;
        cJSON_ArrayForEach(e, dp) abs_path(e, cwd_abs);
        cJSON *judges = cJSON_GetObjectItemCaseSensitive(root, "judges"), *jd;
        cJSON_ArrayForEach(jd, judges)
            for (const char *const *k = (const char *const[]){ "model", "mmproj", "responses", "prompt", NULL }; *k; k++)
                abs_path(cJSON_GetObjectItemCaseSensitive(jd, *k), cwd_abs);
    }
    const char *key = !strcmp(backend->valuestring, "responses") ? "responses" : "model";
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *m = cJSON_Duplicate(first, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(m, "name");
        cJSON_AddStringToObject(m, "name", names[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(m, key);
        cJSON_AddStringToObject(m, key, paths[i]);
        if (mmprojs && mmprojs[i]) {
            cJSON_DeleteItemFromObjectCaseSensitive(m, "mmproj");
            cJSON_AddStringToObject(m, "mmproj", mmprojs[i]);
        } else {
            cJSON *mp = cJSON_GetObjectItemCaseSensitive(m, "mmproj");
            if (cJSON_IsString(mp) && mp->valuestring[0] != '/') {
                char *abs = util_fmt("%s/%s", cwd_abs, mp->valuestring);
                cJSON_SetValuestring(mp, abs);
                free(abs);
            }
        }
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(root, "models", arr);
    *out = cJSON_Print(root);
    if (!*out) rc = err_set(RC_ENOMEM, "out of memory");
out:
    free(dir);
    cJSON_Delete(root);
    return rc;
}

/* === SafeBench ========================================================== */

int json_wrapper_parse(const char *path, const char *text, char **before, char **after)
{
    *before = *after = NULL;
    cJSON *o = cJSON_Parse(text);
    const cJSON *b = o ? cJSON_GetObjectItemCaseSensitive(o, "before") : NULL;
    const cJSON *a = o ? cJSON_GetObjectItemCaseSensitive(o, "after") : NULL;
    int rc = RC_OK;
    if (!cJSON_IsObject(o) || !cJSON_IsString(b) || !cJSON_IsString(a))
        rc = err_set(RC_EFORMAT, "%s: expected {\"before\": \"...\", \"after\": \"...\"} (the text put before and after each "
                     "query, as SafeBench wraps it for open models)", path);
    else if (!(*before = util_strdup(b->valuestring)) || !(*after = util_strdup(a->valuestring))) {
        free(*before); *before = NULL;
        rc = err_set(RC_ENOMEM, "out of memory");
    }
    cJSON_Delete(o);
    return rc;
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v); else cJSON_AddNullToObject(o, k);
}

static cJSON *sb_group_json(const struct sb_group *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)g->n);
    cJSON_AddNumberToObject(o, "judged", (double)g->judged);
    cJSON_AddNumberToObject(o, "unsafe", (double)g->unsafe);
    cJSON_AddNumberToObject(o, "unparsed", (double)g->unparsed);
    cJSON_AddNumberToObject(o, "errors", (double)g->errors);
    cJSON_AddNumberToObject(o, "pending", (double)g->pending);
    cJSON_AddNumberToObject(o, "rated", (double)g->rated);
    add_num(o, "asr", g->asr);
    add_num(o, "asr_lo", g->asr_lo);
    add_num(o, "asr_hi", g->asr_hi);
    add_num(o, "sri", g->sri);
    return o;
}

static cJSON *sb_report_json(const struct sb_report *r)
{
    cJSON *o = cJSON_CreateObject(), *cats = cJSON_AddArrayToObject(o, "categories"), *sc = cJSON_AddArrayToObject(o, "scenarios");
    for (int c = 0; c < r->n_categories && c < SB_N_MAJORS; c++) {
        cJSON *g = sb_group_json(&r->category[c]);
        cJSON_AddStringToObject(g, "code", sb_majors[c].code);
        cJSON_AddStringToObject(g, "name", sb_majors[c].name);
        cJSON_AddItemToArray(cats, g);
    }
    for (int k = 0; k < r->n_scenarios && k < SB_N_SCENARIOS; k++) {
        cJSON *g = sb_group_json(&r->scenario[k]);
        cJSON_AddStringToObject(g, "code", sb_scenarios[k].id);
        cJSON_AddStringToObject(g, "name", sb_scenarios[k].name);
        cJSON_AddStringToObject(g, "category", sb_majors[sb_scenarios[k].major].code);
        cJSON_AddItemToArray(sc, g);
    }
    cJSON *avg = cJSON_AddObjectToObject(o, "avg");
    add_num(avg, "asr", r->avg_asr);
    add_num(avg, "sri", r->avg_sri);
    cJSON_AddNumberToObject(avg, "asr_n", r->avg_asr_n);
    cJSON_AddNumberToObject(avg, "sri_n", r->avg_sri_n);
    cJSON_AddItemToObject(o, "pooled", sb_group_json(&r->pooled));
    return o;
}

char *json_safebench(const struct sb_file_report *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "benchmark", r->benchmark);
    cJSON *jury = r->jury && r->jury[0] ? cJSON_Parse(r->jury) : NULL;
    if (jury) cJSON_AddItemToObject(root, "jury", jury); else cJSON_AddNullToObject(root, "jury");
    cJSON_AddNumberToObject(root, "n_items", (double)r->n_items);
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    for (int m = 0; m < r->n_models; m++) {
        const struct sb_model_report *mr = &r->models[m];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", mr->name);
        cJSON *a = cJSON_AddObjectToObject(o, "answers");
        cJSON_AddNumberToObject(a, "n", (double)mr->n);
        cJSON_AddNumberToObject(a, "answered", (double)mr->answered);
        cJSON_AddNumberToObject(a, "errors", (double)mr->answer_errors);
        cJSON_AddNumberToObject(a, "pending", (double)mr->answer_pending);
        cJSON_AddNumberToObject(a, "tokens_generated", (double)mr->tokens_generated);
        cJSON_AddNumberToObject(a, "stopped_at_max_new_tokens", (double)mr->stopped_at_max);
        cJSON_AddItemToObject(o, "consensus", sb_report_json(&mr->consensus));
        cJSON *js = cJSON_AddArrayToObject(o, "judges");
        for (int k = 0; k < mr->n_judges; k++) {
            const struct sb_judge_report *J = &mr->judges[k];
            cJSON *jo = cJSON_CreateObject(), *rounds = NULL, *paths = NULL;
            cJSON_AddStringToObject(jo, "name", J->name);
            rounds = cJSON_AddArrayToObject(jo, "rounds");
            for (int q = 0; q < J->n_rounds; q++) {
                cJSON *ro = sb_report_json(&J->round[q]);
                cJSON_AddNumberToObject(ro, "round", q);
                cJSON_AddItemToArray(rounds, ro);
            }
            paths = cJSON_AddObjectToObject(jo, "result_paths");
            for (int p = 0; p < JP_PATH_COUNT; p++) cJSON_AddNumberToObject(paths, jp_path_name(p), (double)J->result_paths[p]);
            cJSON_AddNumberToObject(jo, "failed_votes", (double)J->errors);
            cJSON *ch = cJSON_AddObjectToObject(jo, "deliberation_changes");
            cJSON_AddNumberToObject(ch, "compared", (double)J->changes.compared);
            cJSON_AddNumberToObject(ch, "changed", (double)J->changes.changed);
            cJSON_AddNumberToObject(ch, "to_unsafe", (double)J->changes.to_unsafe);
            cJSON_AddNumberToObject(ch, "to_safe", (double)J->changes.to_safe);
            cJSON_AddItemToArray(js, jo);
        }
        cJSON *ag = cJSON_AddObjectToObject(o, "agreement");
        add_num(ag, "fleiss_kappa", mr->kappa);
        cJSON_AddNumberToObject(ag, "kappa_items", (double)mr->kappa_items);
        cJSON *pw = cJSON_AddArrayToObject(ag, "pairwise");
        for (int x = 0; x < mr->n_judges; x++)
            for (int y = x + 1; y < mr->n_judges; y++) {
                cJSON *p = cJSON_CreateObject();
                int64_t both = mr->pair_both[x * mr->n_judges + y], agr = mr->pair_agree[x * mr->n_judges + y];
                cJSON_AddStringToObject(p, "a", mr->judges[x].name);
                cJSON_AddStringToObject(p, "b", mr->judges[y].name);
                cJSON_AddNumberToObject(p, "both", (double)both);
                cJSON_AddNumberToObject(p, "agree", (double)agr);
                add_num(p, "agreement", both ? (double)agr / (double)both : NAN);
                cJSON_AddItemToArray(pw, p);
            }
        cJSON_AddItemToArray(models, o);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}
