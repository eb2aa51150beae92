/*
 * stats.c - confusion counts, metrics, Wilson intervals, AUROC, the table.
 * Pure: used identically by `run` (after the MPI reduction) and by `reduce`
 * (from the file alone), so both print the same numbers.
 */
#include "stats.h"
#include "err.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const metric_names[METRIC_COUNT] = {
    "accuracy", "fnr", "fpr", "precision", "recall", "f1", "mcc", "balanced_accuracy"
};

int metric_is_proportion(int k) { return k <= M_RECALL; }

void stats_add(struct counts *g, int n_subsets, int8_t label, int8_t verdict, int subset, int scenario)
{
    struct counts *targets[3] = { &g[0], subset >= 0 ? &g[1 + subset] : NULL,
                                  scenario >= 0 ? &g[1 + n_subsets + scenario] : NULL };
    for (int t = 0; t < 3; t++) {
        struct counts *c = targets[t];
        if (!c) continue;
        if (verdict == V_PENDING) { c->pending++; continue; }
        c->n++;
        switch (verdict) {
        case V_UNSAFE: if (label == 1) c->tp++; else c->fp++; break;
        case V_SAFE:   if (label == 1) c->fn++; else c->tn++; break;
        case V_UNPARSED: c->unparsed++; break;
        default: c->errors++; break;
        }
    }
}

void stats_merge(struct counts *dst, const struct counts *src, int n_groups)
{
    for (int i = 0; i < n_groups; i++) {
        dst[i].n += src[i].n; dst[i].tp += src[i].tp; dst[i].fn += src[i].fn; dst[i].fp += src[i].fp;
        dst[i].tn += src[i].tn; dst[i].unparsed += src[i].unparsed; dst[i].errors += src[i].errors;
        dst[i].pending += src[i].pending;
    }
}

void stats_wilson(int64_t k, int64_t n, double *lo, double *hi)
{
    if (n <= 0) { *lo = *hi = NAN; return; }
    const double z = 1.959963984540054;
    double p = (double)k / (double)n, z2 = z * z, nn = (double)n;
    double den = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / den;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
}

static double ratio(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : NAN; }

void stats_metrics(const struct counts *c, struct metrics *m)
{
    memset(m, 0, sizeof *m);
    m->c = *c;
    m->auroc = NAN;
    int64_t scored = c->n - c->errors;
    int64_t num[METRIC_COUNT] = { 0 }, den[METRIC_COUNT] = { 0 };
    num[M_ACCURACY] = c->tp + c->tn;  den[M_ACCURACY] = scored;
    num[M_FNR] = c->fn;               den[M_FNR] = c->tp + c->fn;
    num[M_FPR] = c->fp;               den[M_FPR] = c->fp + c->tn;
    num[M_PRECISION] = c->tp;         den[M_PRECISION] = c->tp + c->fp;
    num[M_RECALL] = c->tp;            den[M_RECALL] = c->tp + c->fn;
    for (int k = 0; k < METRIC_COUNT; k++) { m->v[k] = m->lo[k] = m->hi[k] = NAN; }
    for (int k = 0; k <= M_RECALL; k++) {
        m->v[k] = ratio(num[k], den[k]);
        stats_wilson(num[k], den[k], &m->lo[k], &m->hi[k]);
    }
    double p = m->v[M_PRECISION], r = m->v[M_RECALL];
    m->v[M_F1] = (c->tp + c->fp + c->fn) > 0 ? 2.0 * (double)c->tp / (double)(2 * c->tp + c->fp + c->fn) : NAN;
    (void)p; (void)r;
    double tp = (double)c->tp, tn = (double)c->tn, fp = (double)c->fp, fn = (double)c->fn;
    double d = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn);
    m->v[M_MCC] = d > 0 ? (tp * tn - fp * fn) / sqrt(d) : NAN;
    double tpr = ratio(c->tp, c->tp + c->fn), tnr = ratio(c->tn, c->tn + c->fp);
    m->v[M_BALANCED_ACCURACY] = (tpr + tnr) / 2;
}

struct scored { float s; int8_t y; };
static int cmp_scored(const void *a, const void *b)
{
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return (x > y) - (x < y);
}

double stats_auroc(int64_t n, const int8_t *labels, const float *scores, const uint8_t *mask)
{
    struct scored *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return NAN;
    int64_t m = 0, npos = 0, nneg = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((mask && !mask[i]) || !isfinite(scores[i])) continue;
        v[m].s = scores[i]; v[m].y = labels[i];
        if (labels[i] == 1) npos++; else nneg++;
        m++;
    }
    double res = NAN;
    if (npos > 0 && nneg > 0) {
        qsort(v, (size_t)m, sizeof *v, cmp_scored);
        double rank_sum = 0;
        for (int64_t i = 0; i < m;) {
            int64_t j = i;
            while (j < m && v[j].s == v[i].s) j++;
            double avg = (double)(i + j + 1) / 2.0;  /* ranks i+1..j averaged */
            for (int64_t k = i; k < j; k++) if (v[k].y == 1) rank_sum += avg;
            i = j;
        }
        res = (rank_sum - (double)npos * (double)(npos + 1) / 2.0) / ((double)npos * (double)nneg);
    }
    free(v);
    return res;
}

int stats_model_report(struct model_report *mr, const char *name, const char *parser,
                       const struct counts *groups, int n_subsets, int n_scenarios,
                       int64_t n, const int8_t *labels, const int8_t *verdicts, const float *scores,
                       const int *subset, const int *scenario)
{
    memset(mr, 0, sizeof *mr);
    int ng = stats_n_groups(n_subsets, n_scenarios);
    mr->name = util_strdup(name);
    snprintf(mr->parser, sizeof mr->parser, "%s", parser ? parser : "");
    mr->groups = calloc((size_t)ng, sizeof *mr->groups);
    uint8_t *mask = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!mr->name || !mr->groups || !mask) { free(mask); return err_set(RC_ENOMEM, "out of memory"); }
    int have_scores = 0;
    for (int64_t i = 0; scores && i < n; i++)
        if (isfinite(scores[i]) && verdicts[i] != V_ERROR && verdicts[i] != V_PENDING) { have_scores = 1; break; }
    for (int g = 0; g < ng; g++) {
        stats_metrics(&groups[g], &mr->groups[g]);
        if (have_scores) {
            for (int64_t i = 0; i < n; i++) {
                int in = g == 0 || (g <= n_subsets ? subset[i] == g - 1 : scenario[i] == g - 1 - n_subsets);
                mask[i] = in && verdicts[i] != V_ERROR && verdicts[i] != V_PENDING;
            }
            mr->groups[g].has_auroc = 1;
            mr->groups[g].auroc = stats_auroc(n, labels, scores, mask);
        }
    }
    mr->total = NAN;   /* the benchmark's headline: benchmark.h's summarize */
    free(mask);
    return RC_OK;
}

void model_report_release(struct model_report *mr)
{
    if (!mr) return;
    free(mr->name);
    free(mr->groups);
    memset(mr, 0, sizeof *mr);
}

void stats_text_add(int64_t *n, int64_t *agree, int8_t verdict, int8_t text_verdict)
{
    if (text_verdict < 0 || (verdict != V_SAFE && verdict != V_UNSAFE)) return;
    (*n)++;
    *agree += text_verdict == verdict;
}
