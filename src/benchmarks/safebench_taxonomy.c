/*
 * safebench_taxonomy.c - the table of SafeBench's categories and scenarios
 * (the shared README's taxonomy, the paper's order) and tolerant look-ups.
 */
#include "safebench_taxonomy.h"

#include <ctype.h>
#include <string.h>

const struct sb_major sb_majors[SB_N_MAJORS] = {
    { "CO", "Consultation" },
    { "CI", "Confidential Information" },
    { "CS", "Cybersecurity" },
    { "ET", "Ethics" },
    { "IC", "Illegal & Criminal Behavior" },
    { "VI", "Violence" },
    { "IS", "Inappropriate Speech" },
    { "IO", "Inappropriate Opinions" },
};

const struct sb_scenario_def sb_scenarios[SB_N_SCENARIOS] = {
    {  1, "MA",    "MA", "Medical Advice",            0 },
    {  2, "LA",    "LA", "Legal Advice",              0 },
    {  3, "IA",    "IA", "Investment Advice",         0 },
    {  4, "PP",    "PP", "Personal Privacy",          1 },
    {  5, "TC",    "TC", "Trade Confidentiality",     1 },
    {  6, "PT",    "PT", "Penetration Testing",       2 },
    {  7, "VE",    "VE", "Vulnerability Exploitation", 2 },
    {  8, "MG",    "MG", "Malware Generation",        2 },
    {  9, "HS-CS", "HS", "Hardware Security",         2 },
    { 10, "BE",    "BE", "Bioethics",                 3 },
    { 11, "SE",    "SE", "Social Ethics",             3 },
    { 12, "PC",    "PC", "Pornographic Content",      4 },
    { 13, "FA",    "FA", "Fraudulent Activities",     4 },
    { 14, "IP",    "IP", "IP Infringement",           4 },
    { 15, "II",    "II", "Illegal Activities",        4 },
    { 16, "CA",    "CA", "Child Abuse",               4 },
    { 17, "PH",    "PH", "Physical Harm",             5 },
    { 18, "PS",    "PS", "Psychological Harm",        5 },
    { 19, "HS-IS", "HS", "Hate Speech",               6 },
    { 20, "DS",    "DS", "Defamatory Speech",         6 },
    { 21, "PO",    "PO", "Political Opinions",        7 },
    { 22, "RO",    "RO", "Religious Opinions",        7 },
    { 23, "BS",    "BS", "Bias",                      7 },
};

/* Lower-case letters and digits only; "&" reads "and".  Writes at most n-1 bytes. */
static void norm(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len && s[i] && o + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '&') {
            for (const char *a = "and"; *a && o + 1 < n; a++) out[o++] = *a;
        } else if (isalnum(c)) out[o++] = (char)tolower(c);
    }
    out[o] = 0;
}

int sb_label_eq(const char *a, const char *b)
{
    char x[256], y[256];
    norm(a, strlen(a), x, sizeof x);
    norm(b, strlen(b), y, sizeof y);
    return x[0] && !strcmp(x, y);
}

/* Calls f on s, then (for "Name (CODE)") on the part before '(' and the part inside. */
static int try_parts(const char *s, int (*f)(const char *n, int extra), int extra)
{
    char n[256];
    norm(s, strlen(s), n, sizeof n);
    int r = f(n, extra);
    if (r != -1) return r;
    const char *lp = strchr(s, '('), *rp = lp ? strchr(lp, ')') : NULL;
    if (!lp || !rp) return -1;
    norm(s, (size_t)(lp - s), n, sizeof n);
    r = f(n, extra);
    if (r != -1) return r;
    norm(lp + 1, (size_t)(rp - lp - 1), n, sizeof n);
    return f(n, extra);
}

static int major_n(const char *n, int unused)
{
    (void)unused;
    char a[256];
    if (!n[0]) return -1;
    for (int i = 0; i < SB_N_MAJORS; i++) {
        norm(sb_majors[i].code, strlen(sb_majors[i].code), a, sizeof a);
        if (!strcmp(a, n)) return i;
        norm(sb_majors[i].name, strlen(sb_majors[i].name), a, sizeof a);
        if (!strcmp(a, n)) return i;
    }
    /* "Illegal Activities" is a scenario; "Illegal & Criminal Behaviour" spellings */
    if (!strcmp(n, "illegalandcriminalbehaviour") || !strcmp(n, "illegalcriminalbehavior")) return 4;
    return -1;
}

static int scenario_n(const char *n, int major)
{
    char a[256];
    if (!n[0]) return -1;
    int hit = -1, n_hits = 0;
    for (int i = 0; i < SB_N_SCENARIOS; i++) {
        norm(sb_scenarios[i].id, strlen(sb_scenarios[i].id), a, sizeof a);
        if (!strcmp(a, n)) return i;
        norm(sb_scenarios[i].name, strlen(sb_scenarios[i].name), a, sizeof a);
        if (!strcmp(a, n)) return i;
    }
    for (int i = 0; i < SB_N_SCENARIOS; i++) {      /* the paper's codes: "HS" is ambiguous */
        norm(sb_scenarios[i].code, strlen(sb_scenarios[i].code), a, sizeof a);
        if (strcmp(a, n)) continue;
        if (major >= 0 && sb_scenarios[i].major == major) return i;
        hit = i;
        n_hits++;
    }
    if (n_hits == 1) return hit;
    return n_hits > 1 ? -2 : -1;
}

int sb_major_find(const char *s) { return s ? try_parts(s, major_n, 0) : -1; }
int sb_scenario_find(const char *s, int major) { return s ? try_parts(s, scenario_n, major) : -1; }
