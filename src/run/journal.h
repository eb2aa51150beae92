/*
 * journal.h - the per-rank, append-only result journal that makes a run
 * survive SIGKILL and node loss.  Each rank appends one record per finished
 * item (write(2) right away: a killed process loses nothing written) and
 * fdatasync()s at chunk ends; the HDF5 file is written from the same rows.
 * The next run folds every journal into the results file, so a rank killed
 * mid-run loses at most the item it was evaluating, and a results file left
 * unreadable by a dying writer is rebuilt from the journals.
 *
 * Layout: RESULTS.h5.journal/r<rank>-<time>-<pid>.jnl, each file a 80-byte
 * header (magic, manifest sha256, job sha256) then records
 * { u32 magic, u32 crc32, u32 len, u16 model, u16 rank, u32 item, i8 verdict,
 *   i8 truncated, i16 error, f32 p_unsafe, f32 latency_ms, u32 resp_len,
 *   u32 reason_len, u32 full_len, response bytes, reason bytes [, ext] }, the
 * CRC over everything after it; ext (13 bytes: i32 n_prompt, i32 n_generated,
 * i8 stop, rating, result_path, rating_path, text_verdict) only in records
 * with struct row.ext set.  A torn or corrupt record (bad magic, lengths or CRC) is
 * skipped with a warning naming the file and byte offset, and replay goes on at
 * the next intact record: only the bad record's item is evaluated again.
 */
#ifndef MMSAFE_JOURNAL_H
#define MMSAFE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct row {
    int8_t verdict;
    int8_t truncated;       /* response longer than the stored width */
    int16_t error;          /* IE_* */
    int16_t rank;
    float p_unsafe;
    float latency_ms;
    uint32_t response_len;  /* full length before truncation */
    const char *response;   /* borrowed */
    const char *reason;     /* borrowed, error reason or "" */
    /* journalled only when ext is set: judged benchmarks' answers and votes,
     * and verdict rows that carry a text verdict */
    int8_t ext;
    int8_t text_verdict;    /* the verdict of a generated text (V_*), -1 none (MMSafeAware with generation) */
    int8_t stop;            /* enum stop_reason (backend.h) */
    int8_t rating;          /* a vote's Safety Rating 1-5, -1 none */
    int8_t result_path, rating_path;   /* enum jp_path (judge_parse.h) */
    int32_t n_prompt, n_generated;
};

struct journal;

/* Creates this rank's journal file inside dir (created if needed). */
int journal_open(struct journal **j, const char *dir, int rank, const char *manifest_sha, const char *job_sha);
int journal_append(struct journal *j, int model, uint32_t item, const struct row *r);
int journal_sync(struct journal *j);
void journal_close(struct journal *j);

/* Replays every journal in dir whose header matches the two digests; calls
 * fn for each intact record, oldest journal first (names carry the creation
 * time), so later records win when an item repeats.
 * Mismatching files are skipped with a warning; a missing dir is no error. */
int journal_replay(const char *dir, const char *manifest_sha, const char *job_sha,
                   void (*fn)(void *arg, int model, uint32_t item, const struct row *r), void *arg,
                   size_t *n_records /* out, may be NULL */);
/* Deletes dir and the journals in it. */
int journal_remove_all(const char *dir);

#endif
