/*
 * journal.c - append-only per-rank result journals (see journal.h).
 */
#include "journal.h"
#include "err.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define J_FILE_MAGIC "MMSJRNL1"
#define J_REC_MAGIC 0x4a524543u   /* "JREC" */
#define J_HDR 80

struct journal { int fd; char *path; int dirty; };

#pragma pack(push, 1)
struct jrec {
    uint32_t magic, crc, len;
    uint16_t model, rank;
    uint32_t item;
    int8_t verdict, truncated;
    int16_t error;
    float p_unsafe, latency_ms;
    uint32_t resp_len, reason_len, full_len;
};
struct jext { int32_t n_prompt, n_generated; int8_t stop, rating, result_path, rating_path, text_verdict; };
#pragma pack(pop)

static uint32_t crc32(uint32_t crc, const void *data, size_t n)
{
    static uint32_t table[256];
    static int init;
    if (!init) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        init = 1;
    }
    const uint8_t *p = data;
    crc = ~crc;
    while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void header(char out[J_HDR], const char *msha, const char *jsha)
{
    memset(out, 0, J_HDR);
    memcpy(out, J_FILE_MAGIC, 8);
    uint8_t a[32] = { 0 }, b[32] = { 0 };
    for (int i = 0; i < 32 && msha[2*i]; i++) sscanf(msha + 2*i, "%2hhx", &a[i]);
    for (int i = 0; i < 32 && jsha[2*i]; i++) sscanf(jsha + 2*i, "%2hhx", &b[i]);
    memcpy(out + 8, a, 32);
    memcpy(out + 40, b, 32);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        s += w; n -= (size_t)w;
    }
    return 0;
}

int journal_open(struct journal **out, const char *dir, int rank, const char *msha, const char *jsha)
{
    *out = NULL;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return err_set(RC_EIO, "cannot create journal folder '%s': %s", dir, strerror(errno));
    struct journal *j = calloc(1, sizeof *j);
    if (!j) return err_set(RC_ENOMEM, "out of memory");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    j->path = util_fmt("%s/r%d-%lld%03ld-%d.jnl", dir, rank, (long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid());
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        int rc = err_set(RC_EIO, "cannot create journal '%s': %s", j->path, strerror(errno));
        free(j->path); free(j);
        return rc;
    }
    char h[J_HDR];
    header(h, msha, jsha);
    if (write_all(j->fd, h, J_HDR) != 0 || fsync(j->fd) != 0) {
        int rc = err_set(RC_EIO, "cannot write journal '%s': %s", j->path, strerror(errno));
        journal_close(j);
        return rc;
    }
    /* Make the new file's directory entry durable too. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    *out = j;
    return RC_OK;
}

int journal_append(struct journal *j, int model, uint32_t item, const struct row *r)
{
    size_t rl = r->response ? strlen(r->response) : 0, el = r->reason ? strlen(r->reason) : 0;
    size_t xl = r->ext ? sizeof(struct jext) : 0;
    size_t len = sizeof(struct jrec) + rl + el + xl;
    char stackbuf[4096], *b = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!b) return err_set(RC_ENOMEM, "out of memory");
    struct jrec h = { J_REC_MAGIC, 0, (uint32_t)len, (uint16_t)model, (uint16_t)r->rank, item, r->verdict,
                      r->truncated, r->error, r->p_unsafe, r->latency_ms, (uint32_t)rl, (uint32_t)el,
                      r->response_len };
    memcpy(b, &h, sizeof h);
    if (rl) memcpy(b + sizeof h, r->response, rl);
    if (el) memcpy(b + sizeof h + rl, r->reason, el);
    if (xl) {
        struct jext x = { r->n_prompt, r->n_generated, r->stop, r->rating, r->result_path, r->rating_path, r->text_verdict };
        memcpy(b + sizeof h + rl + el, &x, sizeof x);
    }
    uint32_t crc = crc32(0, b + 8, len - 8);
    memcpy(b + 4, &crc, 4);
    int rc = write_all(j->fd, b, len) ? err_set(RC_EIO, "cannot append to journal '%s': %s", j->path, strerror(errno)) : RC_OK;
    if (b != stackbuf) free(b);
    j->dirty = 1;
    return rc;
}

int journal_sync(struct journal *j)
{
    if (!j || !j->dirty) return RC_OK;
    j->dirty = 0;
    if (fdatasync(j->fd) != 0) return err_set(RC_EIO, "cannot sync journal '%s': %s", j->path, strerror(errno));
    return RC_OK;
}

void journal_close(struct journal *j)
{
    if (!j) return;
    if (j->fd >= 0) { if (j->dirty) fdatasync(j->fd); close(j->fd); }
    free(j->path);
    free(j);
}

/* Is there an intact record at off?  Magic, both length fields and the CRC
 * must agree; fills *h when there is. */
static int record_at(const char *data, size_t len, size_t off, struct jrec *h)
{
    if (off > len || len - off < sizeof *h) return 0;
    memcpy(h, data + off, sizeof *h);
    if (h->magic != J_REC_MAGIC) return 0;
    if (h->len < sizeof *h || h->len > len - off) return 0;
    size_t body = h->len - sizeof *h;
    if ((size_t)h->resp_len + h->reason_len != body && (size_t)h->resp_len + h->reason_len + sizeof(struct jext) != body) return 0;
    return crc32(0, data + off + 8, h->len - 8) == h->crc;
}

static int replay_file(const char *path, const char *want_hdr,
                       void (*fn)(void *, int, uint32_t, const struct row *), void *arg, size_t *count)
{
    char *data;
    size_t len;
    int rc = util_read_file(path, &data, &len);
    if (rc) return rc;
    if (len < J_HDR || memcmp(data, want_hdr, J_HDR) != 0) {
        log_warn("journal '%s' belongs to another manifest or job; ignored", path);
        free(data);
        return RC_OK;
    }
    size_t off = J_HDR;
    while (off < len) {
        struct jrec h;
        if (!record_at(data, len, off, &h)) {
            /* Torn (a rank died while writing it) or corrupt: skip to the next
             * intact record, so one bad record costs only its own item. */
            size_t next = off + 1;
            while (next < len && !record_at(data, len, next, &h)) next++;
            if (next >= len) {
                log_warn("journal '%s': torn or corrupt record at byte %zu (%zu byte(s) up to the end); ignored, "
                         "its item is evaluated again", path, off, len - off);
                break;
            }
            log_warn("journal '%s': corrupt record at byte %zu (%zu byte(s) skipped, next intact record at byte %zu); "
                     "ignored, its item is evaluated again", path, off, next - off, next);
            off = next;
        }
        char *resp = util_strndup(data + off + sizeof h, h.resp_len);
        char *reason = util_strndup(data + off + sizeof h + h.resp_len, h.reason_len);
        struct row r = { .verdict = h.verdict, .truncated = h.truncated, .error = h.error, .rank = (int16_t)h.rank,
                         .p_unsafe = h.p_unsafe, .latency_ms = h.latency_ms, .response_len = h.full_len,
                         .response = resp, .reason = reason, .text_verdict = -1 };
        if (h.len - sizeof h == (size_t)h.resp_len + h.reason_len + sizeof(struct jext)) {
            struct jext x;
            memcpy(&x, data + off + sizeof h + h.resp_len + h.reason_len, sizeof x);
            r.ext = 1; r.n_prompt = x.n_prompt; r.n_generated = x.n_generated; r.stop = x.stop;
            r.rating = x.rating; r.result_path = x.result_path; r.rating_path = x.rating_path; r.text_verdict = x.text_verdict;
        }
        fn(arg, h.model, h.item, &r);
        free(resp);
        free(reason);
        (*count)++;
        off += h.len;
    }
    free(data);
    return RC_OK;
}

/* Journal names are r<rank>-<creation time in ms>-<pid>.jnl: order by the
 * time (then by name), not by rank, so that later records win. */
static int cmp_jname(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    const char *tx = strchr(x, '-'), *ty = strchr(y, '-');
    unsigned long long vx = tx ? strtoull(tx + 1, NULL, 10) : 0, vy = ty ? strtoull(ty + 1, NULL, 10) : 0;
    if (vx != vy) return vx < vy ? -1 : 1;
    return strcmp(x, y);
}

int journal_replay(const char *dir, const char *msha, const char *jsha,
                   void (*fn)(void *, int, uint32_t, const struct row *), void *arg, size_t *n_records)
{
    size_t count = 0;
    if (n_records) *n_records = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? RC_OK : err_set(RC_EIO, "cannot read journal folder '%s': %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".jnl")) continue;
        char **nn = realloc(names, (n + 1) * sizeof *names);
        if (!nn) break;
        names = nn;
        names[n++] = util_strdup(e->d_name);
    }
    closedir(d);
    /* Oldest first, so later results win. */
    qsort(names, n, sizeof *names, cmp_jname);
    char hdr[J_HDR];
    header(hdr, msha, jsha);
    int rc = RC_OK;
    for (size_t i = 0; i < n; i++) {
        char *p = util_fmt("%s/%s", dir, names[i]);
        if (!rc) rc = replay_file(p, hdr, fn, arg, &count);
        free(p);
        free(names[i]);
    }
    free(names);
    if (n_records) *n_records = count;
    return rc;
}

int journal_remove_all(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? RC_OK : err_set(RC_EIO, "cannot read '%s': %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".jnl")) continue;
        char *p = util_fmt("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT) return err_set(RC_EIO, "cannot remove '%s': %s", dir, strerror(errno));
    return RC_OK;
}
