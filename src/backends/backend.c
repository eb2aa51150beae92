/*
 * backend.c - the backend registry and option checks shared by backends.
 */
#include "backend.h"
#include "err.h"

#include <string.h>

extern const struct backend_ops backend_responses;
extern const struct backend_ops backend_llava;

static const struct backend_ops *const registry[] = {
    &backend_responses,
    &backend_llava,
    NULL,
};

/* Old names that keep working: the native engine was the "llava" backend
 * before it also ran Qwen2-VL / Qwen2.5-VL. */
static const struct { const char *alias, *name; } aliases[] = { { "llava", "native" } };

const struct backend_ops *backend_find(const char *name)
{
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++)
        if (!strcmp(aliases[a].alias, name)) name = aliases[a].name;
    for (int i = 0; registry[i]; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    char known[256] = "";
    for (int i = 0; registry[i]; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i]->name, sizeof known - strlen(known) - 1);
    }
    err_set(RC_ECONFIG, "unknown backend '%s' (known: %s; llava = native)", name, known);
    return NULL;
}

int backend_check_keys(const struct model_spec *m, const struct job *j, const char *const *known)
{
    for (int i = 0; i < m->n_opts; i++) {
        int ok = 0;
        for (int k = 0; known[k]; k++) ok |= !strcmp(known[k], m->opts[i].key);
        if (!ok) {
            char list[512] = "";
            for (int k = 0; known[k]; k++) {
                strncat(list, k ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, known[k], sizeof list - strlen(list) - 1);
            }
            return err_set(RC_ECONFIG, "%s: %s '%s': unknown key \"%s\" for backend %s (known: name, backend, %s%s)",
                           j->path, m->role == ROLE_JUDGE ? "judge" : "model", m->name, m->opts[i].key, m->backend, m->role == ROLE_JUDGE ? "prompt, " : "", list);
        }
    }
    return RC_OK;
}

const char *item_error_name(int code)
{
    switch (code) {
    case IE_NONE: return "none";
    case IE_NO_IMAGE: return "no_image";
    case IE_IMAGE: return "bad_image";
    case IE_NO_RESPONSE: return "no_response";
    case IE_PROMPT: return "bad_prompt";
    case IE_CONTEXT: return "context";
    case IE_BACKEND: return "backend";
    case IE_API: return "api_error";
    case IE_NO_ANSWER: return "no_answer";
    default: return "unknown";
    }
}

const char *stop_reason_name(int stop)
{
    switch (stop) {
    case STOP_NONE: return "none";
    case STOP_EOG: return "eog";
    case STOP_MAX: return "max_new_tokens";
    case STOP_CTX: return "context";
    default: return "?";
    }
}
