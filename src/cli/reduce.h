/*
 * reduce.h - statistics of a results file (used by `reduce` and `merge`).
 */
#ifndef MMSAFE_REDUCE_H
#define MMSAFE_REDUCE_H

#include "stats.h"
#include "store.h"

/* Builds the report of every model in res; the report borrows res's names. */
int reduce_results(const struct results *res, struct report *rep /* out */);
void report_release(struct report *rep);

#endif
