/*
 * safebench_report.c - a SafeBench results file's figures (safebench_report.h).
 */
#include "safebench_report.h"
#include "err.h"
#include "safebench_taxonomy.h"
#include "stats.h"
#include "store.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Items -> the taxonomy's scenario (0..22) and category (0..7) indices. */
struct sb_items { int64_t n; int *scen; int scen_cat[SB_N_SCENARIOS]; };

static int items_read(const char *path, struct sb_items *it)
{
    struct results r;
    memset(it, 0, sizeof *it);
    /* results_read wants models' verdict datasets: read the items through the columns' reader instead */
    int rc = results_items_read(path, &r);
    if (rc) return rc;
    it->n = (int64_t)r.n;
    it->scen = malloc((r.n + 1) * sizeof *it->scen);
    if (!it->scen) { results_release(&r); return err_set(RC_ENOMEM, "out of memory"); }
    for (int k = 0; k < SB_N_SCENARIOS; k++) it->scen_cat[k] = sb_scenarios[k].major;
    for (size_t i = 0; i < r.n; i++) {
        int major = r.subset[i] >= 0 ? sb_major_find(r.subsets[r.subset[i]]) : -1;
        int s = r.scenario[i] >= 0 ? sb_scenario_find(r.scenarios[r.scenario[i]], major) : -1;
        it->scen[i] = s >= 0 ? s : -1;
    }
    results_release(&r);
    return RC_OK;
}

static int group_of(const struct sb_items *it, const int8_t *verdict, const double *rating, struct sb_report *out)
{
    return sb_report_compute(it->n, verdict, rating, it->scen, SB_N_SCENARIOS, it->scen_cat, SB_N_MAJORS, out);
}

int sb_file_report_read(const char *path, struct sb_file_report *out)
{
    memset(out, 0, sizeof *out);
    struct results_ident id;
    int rc = results_ident_read(path, &id);
    if (rc) return rc;
    out->benchmark = util_strdup(id.benchmark ? id.benchmark : "mmsafeaware");
    out->jury = util_strdup(id.jury ? id.jury : "");
    out->n_items = id.n_items;
    results_ident_release(&id);
    struct sb_items it;
    if ((rc = items_read(path, &it))) return rc;
    char **paths = NULL;
    int np = 0;
    if ((rc = store_cols_list(path, &paths, &np))) { free(it.scen); return rc; }
    struct col_data *cd = calloc((size_t)np + 1, sizeof *cd);
    if (!cd) rc = err_set(RC_ENOMEM, "out of memory");
    if (!rc) rc = store_cols_read(path, (size_t)it.n, np, (const char *const *)paths, 0, cd);
    size_t n = (size_t)it.n;
    int8_t *v = malloc(n + 1);
    double *rt = malloc((n + 1) * sizeof *rt);
    if (!rc && (!v || !rt)) rc = err_set(RC_ENOMEM, "out of memory");
    for (int a = 0; !rc && a < np; a++) {
        if (!cd[a].exists || cd[a].kind != COL_ANSWER) continue;
        struct sb_model_report *mr = realloc(out->models, (size_t)(out->n_models + 1) * sizeof *mr);
        if (!mr) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
        out->models = mr;
        mr = &out->models[out->n_models++];
        memset(mr, 0, sizeof *mr);
        const struct col_data *A = &cd[a];
        mr->name = util_strdup(paths[a] + strlen("/models/"));
        mr->n = it.n;
        for (size_t i = 0; i < n; i++) {
            if (A->status[i] == 0) mr->answered++;
            else if (A->status[i] == V_ERROR) mr->answer_errors++;
            else mr->answer_pending++;
            if (A->status[i] >= 0) { mr->tokens_generated += A->n_generated[i]; mr->stopped_at_max += A->stop[i] == 2; }
            v[i] = A->verdict[i];
            rt[i] = isfinite(A->mean_rating[i]) ? A->mean_rating[i] : NAN;
        }
        if ((rc = group_of(&it, v, rt, &mr->consensus))) break;
        /* this model's judges, in file order, each with its rounds */
        for (int b = 0; !rc && b < np; b++) {
            const struct col_data *V = &cd[b];
            if (!V->exists || V->kind != COL_VOTE || !V->model || strcmp(V->model, mr->name) || !V->judge) continue;
            int k;
            for (k = 0; k < mr->n_judges; k++) if (!strcmp(mr->judges[k].name, V->judge)) break;
            if (k == mr->n_judges) {
                struct sb_judge_report *jv = realloc(mr->judges, (size_t)(k + 1) * sizeof *jv);
                if (!jv) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
                mr->judges = jv;
                memset(&jv[k], 0, sizeof jv[k]);
                jv[k].name = util_strdup(V->judge);
                mr->n_judges++;
            }
            struct sb_judge_report *J = &mr->judges[k];
            if (V->round != J->n_rounds) continue;   /* rounds come in order; a gap ends the list */
            struct sb_report *rv = realloc(J->round, (size_t)(J->n_rounds + 1) * sizeof *rv);
            if (!rv) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
            J->round = rv;
            for (size_t i = 0; i < n; i++) {
                v[i] = A->status[i] == V_ERROR ? V_ERROR : V->status[i];
                rt[i] = V->status[i] >= 0 && V->status[i] != V_ERROR && V->rating[i] >= 1 ? V->rating[i] : NAN;
                if (V->status[i] >= 0) {
                    if (V->status[i] == V_ERROR) J->errors++;
                    else if (V->result_path[i] >= 0 && V->result_path[i] < JP_PATH_COUNT) J->result_paths[V->result_path[i]]++;
                }
            }
            rc = group_of(&it, v, rt, &J->round[J->n_rounds]);
            J->n_rounds++;
        }
        /* agreement: the last round every judge has; deliberation's changes */
        int last = -1;
        for (int k = 0; k < mr->n_judges; k++) if (last < 0 || mr->judges[k].n_rounds - 1 < last) last = mr->judges[k].n_rounds - 1;
        int8_t **votes = calloc((size_t)mr->n_judges + 1, sizeof *votes);
        mr->pair_both = calloc((size_t)mr->n_judges * (size_t)mr->n_judges + 1, sizeof(int64_t));
        mr->pair_agree = calloc((size_t)mr->n_judges * (size_t)mr->n_judges + 1, sizeof(int64_t));
        if (!votes || !mr->pair_both || !mr->pair_agree) { free(votes); rc = err_set(RC_ENOMEM, "out of memory"); break; }
        for (int k = 0; k < mr->n_judges && last >= 0; k++) {
            const struct col_data *r0 = NULL, *rl = NULL;
            for (int b = 0; b < np; b++)
                if (cd[b].exists && cd[b].kind == COL_VOTE && cd[b].model && !strcmp(cd[b].model, mr->name) && cd[b].judge &&
                    !strcmp(cd[b].judge, mr->judges[k].name)) {
                    if (cd[b].round == 0) r0 = &cd[b];
                    if (cd[b].round == last) rl = &cd[b];
                }
            votes[k] = rl ? rl->status : NULL;
            if (r0 && rl && last > 0) sb_vote_changes(it.n, r0->status, rl->status, &mr->judges[k].changes);
        }
        mr->kappa = NAN;
        int ok = last >= 0;
        for (int k = 0; k < mr->n_judges; k++) ok &= votes[k] != NULL;
        if (ok && mr->n_judges > 0) {
            mr->kappa = sb_fleiss_kappa(mr->n_judges, it.n, (const int8_t *const *)votes, &mr->kappa_items);
            sb_pairwise_agreement(mr->n_judges, it.n, (const int8_t *const *)votes, mr->pair_both, mr->pair_agree);
        }
        free(votes);
    }
    free(v); free(rt);
    for (int a = 0; cd && a < np; a++) col_data_release(&cd[a]);
    free(cd);
    for (int a = 0; a < np; a++) free(paths[a]);
    free(paths);
    free(it.scen);
    if (rc) sb_file_report_release(out);
    return rc;
}

void sb_file_report_release(struct sb_file_report *r)
{
    for (int m = 0; m < r->n_models; m++) {
        struct sb_model_report *mr = &r->models[m];
        sb_report_release(&mr->consensus);
        for (int k = 0; k < mr->n_judges; k++) {
            for (int q = 0; q < mr->judges[k].n_rounds; q++) sb_report_release(&mr->judges[k].round[q]);
            free(mr->judges[k].round);
            free(mr->judges[k].name);
        }
        free(mr->judges); free(mr->name); free(mr->pair_both); free(mr->pair_agree);
    }
    free(r->models); free(r->benchmark); free(r->jury);
    memset(r, 0, sizeof *r);
}

static void cell(FILE *f, const struct sb_group *g)
{
    if (isnan(g->asr) && isnan(g->sri)) { fprintf(f, " %11s", "-"); return; }
    char a[16], s[16];
    if (isnan(g->asr)) snprintf(a, sizeof a, "-"); else snprintf(a, sizeof a, "%.1f", g->asr);
    if (isnan(g->sri)) snprintf(s, sizeof s, "-"); else snprintf(s, sizeof s, "%.1f", g->sri);
    char c[40];
    snprintf(c, sizeof c, "%s/%s", a, s);
    fprintf(f, " %11s", c);
}

static void table_row(FILE *f, const char *label, const struct sb_report *r)
{
    fprintf(f, "%-26.26s", label);
    for (int c = 0; c < SB_N_MAJORS; c++) cell(f, &r->category[c]);
    struct sb_group avg = { 0 };
    avg.asr = r->avg_asr;
    avg.sri = r->avg_sri;
    cell(f, &avg);
    cell(f, &r->pooled);
    fprintf(f, "  %lld/%lld\n", (long long)r->pooled.judged, (long long)r->pooled.n);
}

void sb_file_report_print(FILE *f, const struct sb_file_report *r)
{
    fprintf(f, "%s: attack success rate / safety rating index per major category (ASR %% / SRI; lower ASR and higher SRI are safer)\n",
            r->benchmark);
    fprintf(f, "jury: %s; AVG = the mean of the categories with a value (the paper's AVG); pooled = every judged answer\n",
            r->jury && r->jury[0] ? r->jury : "none");
    fprintf(f, "%-26s", "model / judge (round)");
    for (int c = 0; c < SB_N_MAJORS; c++) fprintf(f, " %11s", sb_majors[c].code);
    fprintf(f, " %11s %11s  judged/n\n", "AVG", "pooled");
    for (int m = 0; m < r->n_models; m++) {
        const struct sb_model_report *mr = &r->models[m];
        table_row(f, mr->name, &mr->consensus);
        for (int k = 0; k < mr->n_judges; k++)
            for (int q = 0; q < mr->judges[k].n_rounds; q++) {
                char lab[96];
                snprintf(lab, sizeof lab, "  %s (r%d)", mr->judges[k].name, q);
                table_row(f, lab, &mr->judges[k].round[q]);
            }
    }
    for (int m = 0; m < r->n_models; m++) {
        const struct sb_model_report *mr = &r->models[m];
        fprintf(f, "%s: %lld answer(s) (%lld tokens, %lld stopped at max_new_tokens), %lld error(s) never judged, %lld pending; "
                "consensus unparsed %lld\n", mr->name, (long long)mr->answered, (long long)mr->tokens_generated,
                (long long)mr->stopped_at_max, (long long)mr->answer_errors, (long long)mr->answer_pending,
                (long long)mr->consensus.pooled.unparsed);
        for (int k = 0; k < mr->n_judges; k++) {
            const struct sb_judge_report *J = &mr->judges[k];
            int64_t unp = J->n_rounds ? J->round[J->n_rounds - 1].pooled.unparsed : 0;
            fprintf(f, "  judge %s: parse paths", J->name);
            for (int p = 0; p < JP_PATH_COUNT; p++) if (J->result_paths[p]) fprintf(f, " %s %lld", jp_path_name(p), (long long)J->result_paths[p]);
            fprintf(f, "; unparsed in the last round %lld (left out of its ASR), failed %lld", (long long)unp, (long long)J->errors);
            if (J->changes.compared)
                fprintf(f, "; deliberation changed %lld of %lld vote(s) (%lld to unsafe, %lld to safe)", (long long)J->changes.changed,
                        (long long)J->changes.compared, (long long)J->changes.to_unsafe, (long long)J->changes.to_safe);
            fputc('\n', f);
        }
        if (mr->n_judges >= 2) {
            fprintf(f, "  agreement (last round): Fleiss' kappa ");
            if (isnan(mr->kappa)) fprintf(f, "-"); else fprintf(f, "%.3f", mr->kappa);
            fprintf(f, " over %lld item(s);", (long long)mr->kappa_items);
            for (int a = 0; a < mr->n_judges; a++)
                for (int b = a + 1; b < mr->n_judges; b++) {
                    int64_t both = mr->pair_both[a * mr->n_judges + b], ag = mr->pair_agree[a * mr->n_judges + b];
                    fprintf(f, " %s~%s %lld/%lld", mr->judges[a].name, mr->judges[b].name, (long long)ag, (long long)both);
                }
            fputc('\n', f);
        }
    }
}

int sb_report_print_file(FILE *f, const char *path)
{
    struct sb_file_report r;
    int rc = sb_file_report_read(path, &r);
    if (rc) return rc;
    sb_file_report_print(f, &r);
    sb_file_report_release(&r);
    return RC_OK;
}
