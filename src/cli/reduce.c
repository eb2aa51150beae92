/*
 * reduce.c - `mmsafe reduce RESULTS.h5 [--json | --pending]`: recomputes every
 * statistic from the results file alone, through the same stats.c the run
 * uses, so it prints the same numbers the run printed.
 */
#include "benchmark.h"
#include "cli.h"
#include "err.h"
#include "json.h"
#include "reduce.h"
#include "safebench_report.h"
#include "stats.h"
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char reduce_help[] =
    "usage: mmsafe reduce RESULTS.h5 [--json | --pending]\n\n"
    "Recomputes every statistic from a results file and prints the table the run\n"
    "printed: per model the accuracy per subset (Typical, Attack, Over-Safe), Total\n"
    "(the unweighted mean of the subset accuracies, as in the MMSafeAware paper),\n"
    "micro accuracy, FNR, FPR, F1, MCC, AUROC (when scores exist), unparsed, errors.\n\n"
    "  --json     one JSON object: {\"models\": {NAME: {\"all\": M, \"subsets\": {..},\n"
    "             \"scenarios\": {..}, \"total\": x}}}; each M has n, tp, fn, fp, tn,\n"
    "             unparsed, errors, pending, accuracy, fnr, fpr, precision, recall, f1,\n"
    "             mcc, balanced_accuracy, ci (Wilson 95% intervals) and auroc when scored;\n"
    "             rates are fractions from 0 to 1 (the table prints percent);\n"
    "             text_logit_agreement {n, agree, rate} for native models that also\n"
    "             generated text: how often the text's own verdict equals the logits'\n"
    "  --pending  print only the number of (model, item) pairs without a verdict\n"
    "             (0 = complete)\n\n"
    "A SafeBench file (judged by a jury) prints the paper's table instead: per model\n"
    "(the jury's consensus) and per judge and round, ASR %/SRI for the 8 major\n"
    "categories (CO CI CS ET IC VI IS IO), AVG (their unweighted mean, as the paper\n"
    "computes it) and the pooled figure over every judged answer, then answers,\n"
    "parse paths, unparsed and failed votes, deliberation's changes and agreement\n"
    "(Fleiss' kappa, pairwise).  --json gives all of it, scenarios too (README\n"
    "\"SafeBench\"); --pending counts answers not yet judged to the end.\n";

int reduce_results(const struct results *res, struct report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->n_models = res->n_models;
    rep->n_subsets = res->n_subsets;
    rep->n_scenarios = res->n_scenarios;
    rep->subsets = res->subsets;
    rep->scenarios = res->scenarios;
    const struct benchmark *b = benchmark_find_runnable(res->benchmark);
    if (!b) return RC_EFORMAT;   /* a file of a newer mmsafe: err_set names the benchmark */
    rep->benchmark = b->name;
    rep->models = calloc((size_t)res->n_models + 1, sizeof *rep->models);
    int ng = stats_n_groups(res->n_subsets, res->n_scenarios);
    struct counts *g = calloc((size_t)ng, sizeof *g);
    float *sc = malloc((res->n ? res->n : 1) * sizeof *sc);
    if (!rep->models || !g || !sc) { free(g); free(sc); return err_set(RC_ENOMEM, "out of memory"); }
    int rc = RC_OK;
    for (int m = 0; m < res->n_models && !rc; m++) {
        const struct model_results *mr = &res->models[m];
        memset(g, 0, (size_t)ng * sizeof *g);
        for (size_t i = 0; i < res->n; i++) {
            stats_add(g, res->n_subsets, res->labels[i], mr->verdict[i], res->subset[i], res->scenario[i]);
            sc[i] = mr->verdict[i] == V_ERROR || mr->verdict[i] == V_PENDING ? NAN : mr->p_unsafe[i];
        }
        rc = stats_model_report(&rep->models[m], mr->name, mr->parser ? mr->parser : "", g, res->n_subsets,
                                res->n_scenarios, (int64_t)res->n, res->labels, mr->verdict, sc, res->subset, res->scenario);
        if (!rc) b->summarize(&rep->models[m], res->n_subsets);
        for (size_t i = 0; !rc && mr->text_verdict && i < res->n; i++)
            stats_text_add(&rep->models[m].text_n, &rep->models[m].text_agree, mr->verdict[i], mr->text_verdict[i]);
    }
    free(g);
    free(sc);
    return rc;
}

void report_release(struct report *rep)
{
    for (int m = 0; m < rep->n_models; m++) model_report_release(&rep->models[m]);
    free(rep->models);
    memset(rep, 0, sizeof *rep);
}

int cmd_reduce(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0, pending = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { fputs(reduce_help, stdout); return EXIT_OK; }
        else if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (!strcmp(argv[i], "--pending")) pending = 1;
        else if (argv[i][0] == '-') return cli_usage_error("reduce", "unknown option '%s'", argv[i]);
        else if (path) return cli_usage_error("reduce", "one results file at a time");
        else path = argv[i];
    }
    if (!path) return cli_usage_error("reduce", "no results file given");
    if (as_json && pending) return cli_usage_error("reduce", "give --json or --pending, not both");
    struct results_ident id;
    int rc = results_ident_read(path, &id);
    if (rc) { log_error("%s", err_msg()); return EXIT_ERR; }
    const struct benchmark *b = benchmark_find(id.benchmark);
    results_ident_release(&id);
    if (b && b->judged) {
        struct sb_file_report sr;
        if ((rc = sb_file_report_read(path, &sr))) { log_error("%s", err_msg()); return EXIT_ERR; }
        if (pending) {
            long long p = 0;
            for (int m = 0; m < sr.n_models; m++) p += sr.models[m].consensus.pooled.pending;
            printf("%lld\n", p);
        } else if (as_json) {
            char *s = json_safebench(&sr);
            if (s) { puts(s); free(s); } else { log_error("out of memory"); rc = RC_ENOMEM; }
        } else sb_file_report_print(stdout, &sr);
        sb_file_report_release(&sr);
        return rc ? EXIT_ERR : EXIT_OK;
    }
    struct results res;
    rc = results_read(path, 0, &res);
    if (rc) { log_error("%s", err_msg()); return EXIT_ERR; }
    if (pending) {
        long long p = 0;
        for (int m = 0; m < res.n_models; m++)
            for (size_t i = 0; i < res.n; i++) p += res.models[m].verdict[i] == V_PENDING;
        printf("%lld\n", p);
        results_release(&res);
        return EXIT_OK;
    }
    struct report rep;
    rc = reduce_results(&res, &rep);
    if (!rc) {
        if (as_json) {
            char *s = json_report(&rep);
            if (s) { puts(s); free(s); } else rc = err_set(RC_ENOMEM, "out of memory");
        } else {
            benchmark_find(rep.benchmark)->print_table(stdout, &rep);
        }
    }
    if (rc) log_error("%s", err_msg());
    report_release(&rep);
    results_release(&res);
    return rc ? EXIT_ERR : EXIT_OK;
}
