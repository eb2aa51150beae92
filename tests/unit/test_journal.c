/* journal_replay on damaged journals: a torn tail, a corrupt record in the
 * middle (payload, header, length, magic), a journal of another job; later
 * records of an item win, across files by creation time, not by rank. */
#include "journal.h"
#include "t.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define JSHA "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define N 12
#define REC_HDR 44   /* sizeof(struct jrec) in journal.c */

struct seen { int n_calls; int count[2][N]; int verdict[2][N]; char resp[2][N][64]; struct row last; char last_reason[64]; };

static void on_rec(void *arg, int model, uint32_t item, const struct row *r)
{
    struct seen *s = arg;
    s->n_calls++;
    if (model < 0 || model > 1 || item >= N) return;
    s->count[model][item]++;
    s->verdict[model][item] = r->verdict;
    snprintf(s->resp[model][item], sizeof s->resp[model][item], "%s", r->response ? r->response : "");
    s->last = *r;
    snprintf(s->last_reason, sizeof s->last_reason, "%s", r->reason ? r->reason : "");
}

static char g_dir[256];

/* Writes one journal of N records for model 0 (item i: verdict i % 2,
 * response "answer i" + i x's); returns its path and each record's offset. */
static char *write_journal(int rank, const char *tag, size_t off[N + 1])
{
    struct journal *j;
    if (journal_open(&j, g_dir, rank, MSHA, JSHA) != 0) return NULL;
    size_t pos = 80;
    for (int i = 0; i < N; i++) {
        char resp[64];
        snprintf(resp, sizeof resp, "%s %d %.*s", tag, i, i, "xxxxxxxxxxxxxxxx");
        struct row r = { .verdict = (int8_t)(i % 2), .rank = (int16_t)rank, .p_unsafe = 0.25f, .latency_ms = 1.5f,
                         .response_len = (uint32_t)strlen(resp), .response = resp, .reason = "" };
        journal_append(j, 0, (uint32_t)i, &r);
        if (off) off[i] = pos;
        pos += REC_HDR + strlen(resp);
    }
    if (off) off[N] = pos;
    journal_close(j);
    /* the newest file in the folder is ours */
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char *best = NULL;
    time_t bt = 0;
    long bns = -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && (st.st_mtim.tv_sec > bt || (st.st_mtim.tv_sec == bt && st.st_mtim.tv_nsec > bns))) {
            bt = st.st_mtim.tv_sec; bns = st.st_mtim.tv_nsec;
            free(best); best = strdup(p);
        }
    }
    closedir(d);
    usleep(5000);   /* journal names carry the time in ms */
    return best;
}

static void flip(const char *path, size_t at)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (pread(fd, &c, 1, (off_t)at) == 1) { c ^= 0x5a; if (pwrite(fd, &c, 1, (off_t)at) != 1) perror("pwrite"); }
    close(fd);
}

static void clear_dir(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
}

/* Replays g_dir with stderr captured into *warn (caller frees). */
static size_t replay(struct seen *s, char **warn)
{
    memset(s, 0, sizeof *s);
    char wp[300];
    snprintf(wp, sizeof wp, "%s.stderr", g_dir);
    fflush(stderr);
    int save = dup(2), fd = open(wp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    size_t n = 0;
    int rc = journal_replay(g_dir, MSHA, JSHA, on_rec, s, &n);
    fflush(stderr);
    dup2(save, 2);
    close(save);
    size_t len;
    *warn = t_slurp(wp, &len);
    if (!*warn) *warn = strdup("");
    unlink(wp);
    CHECK_EQ_I(rc, 0, "journal_replay returns 0");
    return n;
}

static int count_str(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) k++;
    return k;
}

int main(void)
{
    t_name = "test_journal";
    snprintf(g_dir, sizeof g_dir, "%s/mmsafe-tj.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    struct seen s;
    char *w, want[800];
    size_t off[N + 1];

    /* intact */
    char *p = write_journal(0, "a", off);
    if (!p) { CHECK_T(0, "could not write a journal"); return t_done(); }
    CHECK_EQ_I(replay(&s, &w), N, "intact journal: every record replayed");
    CHECK_STR(w, "", "intact journal: no warning");
    CHECK_STR(s.resp[0][5], "a 5 xxxxx", "record content round-trips");
    CHECK_EQ_I(s.verdict[0][5], 1, "verdict round-trips");
    free(w);

    /* damage in the middle: payload of 3, item field of 5, length of 7, magic of 9; torn tail in 11 */
    flip(p, off[3] + REC_HDR + 2);
    flip(p, off[5] + 16);
    flip(p, off[7] + 8);
    flip(p, off[9] + 1);
    if (truncate(p, (off_t)(off[11] + 20)) != 0) perror("truncate");
    size_t n = replay(&s, &w);
    CHECK_EQ_I(n, N - 5, "damaged journal: every intact record replayed");
    int lost = 0, wrong = 0;
    for (int i = 0; i < N; i++) {
        int bad = i == 3 || i == 5 || i == 7 || i == 9 || i == 11;
        if (bad && s.count[0][i]) lost--;
        if (!bad && s.count[0][i] != 1) lost++;
        char e[64];
        snprintf(e, sizeof e, "a %d %.*s", i, i, "xxxxxxxxxxxxxxxx");
        if (!bad && strcmp(s.resp[0][i], e)) wrong++;
    }
    CHECK_EQ_I(lost, 0, "only the damaged records are missing, and all of them");
    CHECK_EQ_I(wrong, 0, "the intact records' contents are unchanged");
    CHECK_EQ_I(s.n_calls, N - 5, "no record reported for a bogus model or item");
    for (int i = 3; i <= 9; i += 2) {
        snprintf(want, sizeof want, "journal '%s': corrupt record at byte %zu (%zu byte(s) skipped, next intact record at byte %zu)",
                 p, off[i], off[i + 1] - off[i], off[i + 1]);
        char d[900];
        snprintf(d, sizeof d, "warning names the file and offset of record %d: %s", i, want);
        CHECK_T(strstr(w, want) != NULL, d);
    }
    snprintf(want, sizeof want, "journal '%s': torn or corrupt record at byte %zu (20 byte(s) up to the end)", p, off[11]);
    CHECK_T(strstr(w, want) != NULL, "torn tail: warning names the file and offset");
    CHECK_EQ_I(count_str(w, "warning:"), 5, "one warning per bad record");
    free(w);

    /* a tail shorter than a record header is torn too */
    if (truncate(p, (off_t)(off[11] + 3)) != 0) perror("truncate");
    replay(&s, &w);
    snprintf(want, sizeof want, "torn or corrupt record at byte %zu (3 byte(s) up to the end)", off[11]);
    CHECK_T(strstr(w, want) != NULL, "a 3-byte torn tail is reported");
    free(w);
    free(p);

    /* later records win: rank 1's journal, then a newer rank 0 journal with other answers */
    clear_dir();
    char *p1 = write_journal(1, "old", NULL);
    char *p0 = write_journal(0, "new", NULL);
    n = replay(&s, &w);
    CHECK_EQ_I(n, 2 * N, "two journals replayed");
    CHECK_EQ_I(s.count[0][4], 2, "an item in two journals is reported twice");
    CHECK_STR(s.resp[0][4], "new 4 xxxx", "the newer journal's record wins (creation time, not rank)");
    free(w);
    /* within one file: the last record of an item wins */
    struct journal *j;
    journal_open(&j, g_dir, 2, MSHA, JSHA);
    struct row r1 = { .verdict = 1, .rank = 2, .p_unsafe = 0.5f, .latency_ms = 1.0f, .response_len = 5, .response = "first", .reason = "" },
               r2 = { .verdict = 0, .rank = 2, .p_unsafe = 0.5f, .latency_ms = 1.0f, .response_len = 4, .response = "last", .reason = "" };
    journal_append(j, 1, 6, &r1);
    journal_append(j, 1, 6, &r2);
    journal_close(j);
    replay(&s, &w);
    CHECK_STR(s.resp[1][6], "last", "within a journal the last record of an item wins");
    CHECK_EQ_I(s.verdict[1][6], 0, "... with its verdict");
    free(w);

    /* the extension of answers and votes (row.ext): every field comes back; a row without it replays ext 0 */
    clear_dir();
    journal_open(&j, g_dir, 3, MSHA, JSHA);
    struct row rx = { .verdict = 2, .rank = 3, .p_unsafe = 0.0f, .latency_ms = 7.0f, .response_len = 9, .response = "judge txt",
                      .reason = "why", .ext = 1, .text_verdict = 1, .stop = 2, .rating = 4, .result_path = 5, .rating_path = 6,
                      .n_prompt = 123456, .n_generated = 789 };
    journal_append(j, 1, 3, &rx);
    journal_close(j);
    n = replay(&s, &w);
    CHECK_EQ_I(n, 1, "a record with the extension replays");
    CHECK_T(s.last.ext == 1 && s.last.text_verdict == 1 && s.last.stop == 2 && s.last.rating == 4 && s.last.result_path == 5 &&
            s.last.rating_path == 6 && s.last.n_prompt == 123456 && s.last.n_generated == 789 && s.last.verdict == 2 &&
            s.last.latency_ms == 7.0f && !strcmp(s.resp[1][3], "judge txt") && !strcmp(s.last_reason, "why"),
            "... with every extension field, the text and the reason");
    free(w);
    clear_dir();
    journal_open(&j, g_dir, 3, MSHA, JSHA);
    journal_append(j, 1, 3, &r1);
    journal_close(j);
    replay(&s, &w);
    CHECK_T(s.last.ext == 0 && s.last.n_prompt == 0 && s.last.text_verdict == -1, "a record without it: ext 0, no text verdict");
    free(w);

    /* a journal of another job is ignored with a warning */
    clear_dir();
    journal_open(&j, g_dir, 0, MSHA, MSHA);
    journal_append(j, 0, 1, &r1);
    journal_close(j);
    n = replay(&s, &w);
    CHECK_EQ_I(n, 0, "another job's journal: nothing replayed");
    CHECK_T(strstr(w, "belongs to another manifest or job") != NULL, "another job's journal: warned");
    free(w);
    free(p0); free(p1);

    clear_dir();
    rmdir(g_dir);
    return t_done();
}
