/*
 * safebench_taxonomy.h - SafeBench's 8 major categories and 23 risk
 * scenarios (arXiv 2410.18927), in the paper's table order, with tolerant
 * look-ups by name or abbreviation.  The paper abbreviates two scenarios "HS"
 * (Hardware Security, Hate Speech); here every scenario also has a unique id
 * ("HS-CS", "HS-IS"), which is what manifests and result tables use.
 *
 * Scenario number k (text/{k}.csv) -> scenario is not in the benchmark's code;
 * without the dataset's category.csv the importer assumes k follows this
 * table's order (k = 1 Medical Advice ... k = 23 Bias) and says so.
 */
#ifndef MMSAFE_SAFEBENCH_TAXONOMY_H
#define MMSAFE_SAFEBENCH_TAXONOMY_H

enum { SB_N_MAJORS = 8, SB_N_SCENARIOS = 23 };

struct sb_major {
    const char *code;   /* "CO": the column of the paper's table */
    const char *name;   /* "Consultation" */
};

struct sb_scenario_def {
    int k;              /* 1..23, the assumed file number */
    const char *id;     /* unique: "MA", ..., "HS-CS", ..., "HS-IS", ... */
    const char *code;   /* the paper's abbreviation ("HS" twice) */
    const char *name;   /* "Medical Advice" */
    int major;          /* index into sb_majors */
};

extern const struct sb_major sb_majors[SB_N_MAJORS];
extern const struct sb_scenario_def sb_scenarios[SB_N_SCENARIOS];

/* Index of the major category named s (code or name; case, spaces,
 * punctuation and "&"/"and" ignored; "Consultation (CO)" accepted), or -1. */
int sb_major_find(const char *s);
/* Index of the scenario named s (unique id, name or the paper's code).  An
 * ambiguous code ("HS") is resolved by major (an sb_majors index, -1 = none
 * known): -2 when it cannot be.  -1 when nothing matches. */
int sb_scenario_find(const char *s, int major);
/* 1 if a and b are the same label under the look-ups' normalisation. */
int sb_label_eq(const char *a, const char *b);

#endif
