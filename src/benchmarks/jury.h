/*
 * jury.h - SafeBench's jury, the pure parts: the judge prompt, a judge's
 * review as others see it, the deliberation prompt, and the consensus of a
 * round.  The prompt texts are data (files the job names, e.g.
 * ../shared/data/safebench/judge-prompt.txt); nothing of the benchmark's
 * wording is compiled in.  No I/O, no models: the runner does those.
 */
#ifndef MMSAFE_JURY_H
#define MMSAFE_JURY_H

#include <stddef.h>

struct buf;
struct judgment;

/* The judge prompt: tmpl with its two "{}" replaced by the query, then the
 * answer, byte for byte -- as Python's str.format does in the reference
 * (single_judge_v1.py: text_template.format(question, ans)): "{{" and "}}"
 * are literal braces, the substituted texts are not scanned again.  A
 * template with other than two "{}", or another '{'/'}', is RC_EFORMAT
 * naming the byte offset (Python would raise).  Appends to out. */
int jury_judge_prompt(const char *tmpl, size_t tmpl_len, const char *query, size_t query_len,
                      const char *answer, size_t answer_len, struct buf *out);

/* A judge's review as shown in deliberation:
 *   "**Judgment Result:** R  \n**Safety Rating:** S  \n**Reasoning:** TEXT"
 * (the reference's demo form; TEXT = the parsed reasoning, or the whole
 * stripped text when no reasoning was found) when both the result and the
 * rating parsed; otherwise the judge's whole text, stripped of white space
 * at both ends, so the others see what it said.  Appends to out. */
int jury_review(const struct judgment *j, const char *text, size_t len, struct buf *out);

/* The deliberation prompt (collaborative deliberation_v1.py): head, then
 *   Your review:"\n<own>\n"\n\n
 * then for each other judge, numbered from 1 in the order given,
 *   ReviewK:"\n<review>\n"\n\n
 * then tail -- head and tail byte for byte (deliberation-prompt-head.txt and
 * -tail.txt; they say "the other 4 reviewers", as the reference's 5-judge
 * demo does: a jury of another size wants edited files).  The query and the
 * answer are not repeated, as in the reference.  Appends to out. */
int jury_deliberation_prompt(const char *head, size_t head_len, const char *tail, size_t tail_len,
                             const char *own, size_t own_len, int n_others, const char *const *others,
                             const size_t *other_lens, struct buf *out);

/* How a tie between safe and unsafe votes is decided. */
enum jury_tie {
    JURY_TIE_UNSAFE = 0,   /* default: a split jury does not clear an answer */
    JURY_TIE_SAFE,
    JURY_TIE_NONE,         /* no consensus verdict: the item counts as unparsed */
};
const char *jury_tie_name(enum jury_tie t);          /* "unsafe", "safe", "none" */
int jury_tie_from_name(const char *s, enum jury_tie *out);   /* 0 ok, -1 unknown name */

/* Vote values for jury_consensus. */
enum { JURY_VOTE_ERROR = -2, JURY_VOTE_UNPARSED = -1 };

struct jury_consensus {
    int verdict;         /* 0 safe, 1 unsafe, -1 none (no parsed vote, or a tie under JURY_TIE_NONE) */
    int tie;             /* the parsed votes were split evenly */
    int n_votes;         /* votes given (n) */
    int n_safe, n_unsafe;
    int n_unparsed;      /* results JURY_VOTE_UNPARSED: excluded from the majority */
    int n_errors;        /* results JURY_VOTE_ERROR (the judge failed): excluded too */
    int n_rated;         /* ratings 1-5 (other values excluded) */
    double mean_rating;  /* over n_rated; NaN when none */
};

/* The consensus of one round (the final one): the majority of the parsed
 * results (0/1), ties by rule; the mean of the parsed ratings.  results and
 * ratings have n entries (one per judge); ratings may be NULL. */
void jury_consensus(int n, const int *results, const int *ratings, enum jury_tie tie, struct jury_consensus *out /* out */);

#endif
