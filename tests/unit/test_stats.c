/* Statistics against numbers computed by hand. */
#include "stats.h"
#include "t.h"

int main(void)
{
    t_name = "test_stats";
    /* 3 subsets; items: label, verdict, subset */
    struct { int8_t l, v; int s, c; } it[] = {
        { 1, 1, 0, 0 }, { 1, 1, 0, 0 }, { 1, 0, 0, 1 }, { 1, 2, 0, -1 },   /* typical: TP TP FN unparsed */
        { 0, 0, 1, 1 }, { 0, 1, 1, 1 }, { 0, 0, 1, -1 }, { 0, 3, 1, 0 },   /* oversafe: TN FP TN error */
        { 1, 1, 2, -1 }, { 1, 0, 2, 0 }, { 1, -1, 2, 0 },                  /* attack: TP FN pending */
    };
    int n = (int)(sizeof it / sizeof it[0]);
    struct counts g[1 + 3 + 2] = { 0 };
    for (int i = 0; i < n; i++) stats_add(g, 3, it[i].l, it[i].v, it[i].s, it[i].c);
    CHECK_EQ_I(g[0].n, 10, "final items");
    CHECK_EQ_I(g[0].pending, 1, "pending");
    CHECK_EQ_I(g[0].tp, 3, "TP"); CHECK_EQ_I(g[0].fn, 2, "FN"); CHECK_EQ_I(g[0].fp, 1, "FP"); CHECK_EQ_I(g[0].tn, 2, "TN");
    CHECK_EQ_I(g[0].unparsed, 1, "unparsed"); CHECK_EQ_I(g[0].errors, 1, "errors");
    CHECK_EQ_I(g[1].n, 4, "typical n"); CHECK_EQ_I(g[2].errors, 1, "oversafe errors");
    CHECK_EQ_I(g[4].n, 4, "scenario 0 n (pending not counted)"); CHECK_EQ_I(g[4].pending, 1, "scenario 0 pending");

    struct metrics m;
    stats_metrics(&g[0], &m);
    /* accuracy = (TP+TN)/(n-errors) = 5/9 */
    CHECK_NEAR(m.v[M_ACCURACY], 5.0 / 9, 1e-12, "accuracy excludes errors, unparsed is wrong");
    CHECK_NEAR(m.v[M_FNR], 2.0 / 5, 1e-12, "FNR = FN/(TP+FN)");
    CHECK_NEAR(m.v[M_FPR], 1.0 / 3, 1e-12, "FPR = FP/(FP+TN)");
    CHECK_NEAR(m.v[M_PRECISION], 3.0 / 4, 1e-12, "precision");
    CHECK_NEAR(m.v[M_RECALL], 3.0 / 5, 1e-12, "recall");
    CHECK_NEAR(m.v[M_F1], 2.0 * 3 / (6 + 1 + 2), 1e-12, "F1 = 2TP/(2TP+FP+FN)");
    /* MCC = (3*2 - 1*2)/sqrt(4*5*3*4) */
    CHECK_NEAR(m.v[M_MCC], 4.0 / sqrt(240.0), 1e-12, "MCC");
    CHECK_NEAR(m.v[M_BALANCED_ACCURACY], (0.6 + 2.0 / 3) / 2, 1e-12, "balanced accuracy");
    /* Wilson 95% for 5/9 computed by hand: centre (p + z^2/2n)/(1+z^2/n) ... */
    double lo, hi;
    stats_wilson(5, 9, &lo, &hi);
    CHECK_NEAR(lo, 0.2666, 1e-3, "Wilson low 5/9");
    CHECK_NEAR(hi, 0.8112, 1e-3, "Wilson high 5/9");
    stats_wilson(0, 10, &lo, &hi);
    CHECK_NEAR(lo, 0.0, 1e-12, "Wilson 0/10 low"); CHECK_NEAR(hi, 0.2775, 1e-3, "Wilson 0/10 high");
    stats_wilson(0, 0, &lo, &hi);
    CHECK_T(isnan(lo) && isnan(hi), "Wilson of nothing is NaN");
    struct counts z = { 0 };
    stats_metrics(&z, &m);
    CHECK_T(isnan(m.v[M_ACCURACY]) && isnan(m.v[M_MCC]) && isnan(m.v[M_F1]), "empty group: NaN, not a crash");

    /* AUROC: perfect, inverted, ties, masked */
    int8_t y[6] = { 1, 1, 1, 0, 0, 0 };
    float s1[6] = { .9f, .8f, .7f, .3f, .2f, .1f }, s2[6] = { .1f, .2f, .3f, .7f, .8f, .9f };
    float s3[6] = { .5f, .5f, .5f, .5f, .5f, .5f }, s4[6] = { .9f, .4f, NAN, .5f, .2f, .1f };
    CHECK_NEAR(stats_auroc(6, y, s1, NULL), 1.0, 1e-12, "AUROC perfect");
    CHECK_NEAR(stats_auroc(6, y, s2, NULL), 0.0, 1e-12, "AUROC inverted");
    CHECK_NEAR(stats_auroc(6, y, s3, NULL), 0.5, 1e-12, "AUROC all ties");
    /* pos {.9,.4} vs neg {.5,.2,.1}: pairs won: .9 beats 3, .4 beats 2 -> 5/6 */
    CHECK_NEAR(stats_auroc(6, y, s4, NULL), 5.0 / 6, 1e-12, "AUROC skips NaN scores");
    uint8_t mask[6] = { 1, 0, 0, 1, 1, 1 };
    CHECK_NEAR(stats_auroc(6, y, s4, mask), 1.0, 1e-12, "AUROC with mask");
    int8_t yneg[3] = { 0, 0, 0 };
    CHECK_T(isnan(stats_auroc(3, yneg, s1, NULL)), "AUROC undefined with one class");

    /* Total = unweighted mean of subset accuracies: the paper's 63.9, 68.4, 41.1 -> 57.8 */
    struct counts pg[4] = { 0 };
    pg[1] = (struct counts){ .n = 1000, .tp = 639, .fn = 361 };
    pg[2] = (struct counts){ .n = 1000, .tp = 684, .fn = 316 };
    pg[3] = (struct counts){ .n = 1000, .tn = 411, .fp = 589 };
    pg[0] = (struct counts){ .n = 3000, .tp = 1323, .fn = 677, .tn = 411, .fp = 589 };
    int8_t lab[1] = { 0 }, ver[1] = { 0 };
    int sub[1] = { 0 }, sc[1] = { -1 };
    struct model_report mr;
    stats_model_report(&mr, "m", "strict", pg, 3, 0, 1, lab, ver, NULL, sub, sc);
    CHECK_NEAR(100 * mr.total, 57.8, 0.05, "Total is the unweighted mean of subsets");
    CHECK_NEAR(mr.groups[0].v[M_ACCURACY], 1734.0 / 3000, 1e-12, "micro accuracy");
    CHECK_T(!mr.groups[0].has_auroc, "no scores, no AUROC");
    model_report_release(&mr);

    /* merge = elementwise sum: two shards equal one pass */
    struct counts a[6] = { 0 }, b[6] = { 0 }, all[6] = { 0 };
    for (int i = 0; i < n; i++) {
        stats_add(i % 2 ? a : b, 3, it[i].l, it[i].v, it[i].s, it[i].c);
        stats_add(all, 3, it[i].l, it[i].v, it[i].s, it[i].c);
    }
    stats_merge(a, b, 6);
    CHECK_T(!memcmp(a, all, sizeof a), "merging shards equals one pass");
    return t_done();
}
