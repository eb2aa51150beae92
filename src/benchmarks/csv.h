/*
 * csv.h - a CSV reader (RFC 4180) for benchmark files: fields separated by
 * commas, records by CRLF or LF (a lone CR also ends a record, as Python's
 * csv module reads it); a field that starts with '"' is quoted and may hold
 * commas, line breaks and doubled quotes ("" -> "); a leading UTF-8 BOM is
 * skipped.  Every raw row is kept in file order with its 0-based index and the
 * line it starts on, blank rows (an empty line) included and flagged, because
 * SafeBench pairs rows with images by raw index (blank rows counted).
 *
 * Deliberately tolerant where Python's csv.reader is (so files the benchmark's
 * own code read are read the same): a quote inside an unquoted field is kept
 * as a character.  Deliberately strict where silence would shift rows: an
 * unterminated quoted field, text after a closing quote and a NUL byte are
 * errors naming FILE:LINE.  No I/O besides csv_read; no dependencies.
 */
#ifndef MMSAFE_CSV_H
#define MMSAFE_CSV_H

#include <stddef.h>

struct csv_row {
    long index;        /* 0-based raw row number (what the benchmark's enumerate() gives) */
    int line;          /* 1-based physical line the row starts on */
    int blank;         /* an empty line: no fields at all (Python's csv gives []) */
    int n_fields;      /* 0 for a blank row */
    char **fields;     /* [n_fields], NUL-terminated, quotes removed */
    size_t *lens;      /* [n_fields] byte lengths */
};

struct csv {
    char *name;                /* the file name used in messages */
    long n_rows;
    struct csv_row *rows;      /* [n_rows], every raw row in file order */
    int had_bom;               /* the file started with a UTF-8 BOM (skipped) */
    int crlf;                  /* at least one record ended with CRLF */
};

/* Parses len bytes (need not be NUL-terminated).  name is used in error
 * messages ("NAME:LINE: ...").  On error *out is released and rc is
 * RC_EFORMAT (malformed) or RC_ENOMEM; err_msg() says where and why. */
int csv_parse(const char *name, const char *data, size_t len, struct csv *out /* out */);
/* Reads and parses a file; the message names the path. */
int csv_read(const char *path, struct csv *out /* out */);
/* Frees everything; accepts a zeroed or half-built struct. */
void csv_release(struct csv *c);

/* Field f of row r as a string, "" when the row has fewer fields (borrowed:
 * valid until csv_release). */
const char *csv_field(const struct csv *c, long r, int f);

#endif
