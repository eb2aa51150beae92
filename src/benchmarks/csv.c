/*
 * csv.c - RFC 4180 reader; see csv.h for the dialect and the choices made
 * where Python's csv module and the RFC differ.  Pure except csv_read.
 */
#include "csv.h"
#include "err.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void csv_release(struct csv *c)
{
    if (!c) return;
    for (long r = 0; r < c->n_rows; r++) {
        for (int f = 0; f < c->rows[r].n_fields; f++) free(c->rows[r].fields[f]);
        free(c->rows[r].fields);
        free(c->rows[r].lens);
    }
    free(c->rows);
    free(c->name);
    memset(c, 0, sizeof *c);
}

const char *csv_field(const struct csv *c, long r, int f)
{
    if (r < 0 || r >= c->n_rows || f < 0 || f >= c->rows[r].n_fields) return "";
    return c->rows[r].fields[f];
}

static int add_row(struct csv *c, long *cap, int line, int blank)
{
    if (c->n_rows == *cap) {
        long nc = *cap ? *cap * 2 : 64;
        struct csv_row *p = realloc(c->rows, (size_t)nc * sizeof *p);
        if (!p) return err_set(RC_ENOMEM, "out of memory reading '%s'", c->name);
        c->rows = p;
        *cap = nc;
    }
    struct csv_row *r = &c->rows[c->n_rows];
    memset(r, 0, sizeof *r);
    r->index = c->n_rows++;
    r->line = line;
    r->blank = blank;
    return RC_OK;
}

/* Takes ownership of the field buffer. */
static int add_field(struct csv *c, struct buf *b)
{
    struct csv_row *r = &c->rows[c->n_rows - 1];
    char **f = realloc(r->fields, (size_t)(r->n_fields + 1) * sizeof *f);
    if (f) r->fields = f;
    size_t *l = realloc(r->lens, (size_t)(r->n_fields + 1) * sizeof *l);
    if (l) r->lens = l;
    if (!f || !l) { buf_release(b); return err_set(RC_ENOMEM, "out of memory reading '%s'", c->name); }
    if (!b->p && buf_add(b, "", 0)) return RC_ENOMEM;   /* an empty field is "" */
    r->fields[r->n_fields] = b->p;
    r->lens[r->n_fields] = b->n;
    r->n_fields++;
    memset(b, 0, sizeof *b);
    return RC_OK;
}

/* Consumes one record terminator at *pos (CRLF, LF or a lone CR); 1 if there was one. */
static int eat_eol(const char *d, size_t len, size_t *pos, struct csv *c)
{
    if (*pos >= len) return 0;
    if (d[*pos] == '\n') { (*pos)++; return 1; }
    if (d[*pos] == '\r') {
        (*pos)++;
        if (*pos < len && d[*pos] == '\n') { (*pos)++; c->crlf = 1; }
        return 1;
    }
    return 0;
}

int csv_parse(const char *name, const char *d, size_t len, struct csv *c)
{
    memset(c, 0, sizeof *c);
    c->name = util_strdup(name ? name : "(csv)");
    if (!c->name) return err_set(RC_ENOMEM, "out of memory");
    size_t pos = 0;
    if (len >= 3 && (unsigned char)d[0] == 0xEF && (unsigned char)d[1] == 0xBB && (unsigned char)d[2] == 0xBF) {
        pos = 3;
        c->had_bom = 1;
    }
    long cap = 0;
    int line = 1, rc = RC_OK;
    struct buf b = { 0 };
    while (pos < len && !rc) {
        if (d[pos] == '\n' || d[pos] == '\r') {          /* an empty line: a blank row */
            rc = add_row(c, &cap, line, 1);
            eat_eol(d, len, &pos, c);
            line++;
            continue;
        }
        rc = add_row(c, &cap, line, 0);
        while (!rc) {                                     /* one field per pass */
            if (pos < len && d[pos] == '"') {
                int qline = line;
                pos++;
                for (;;) {
                    if (pos >= len) { rc = err_set(RC_EFORMAT, "%s:%d: quoted field never closed (a '\"' is missing)", c->name, qline); break; }
                    char ch = d[pos];
                    if (ch == '"') {
                        if (pos + 1 < len && d[pos + 1] == '"') { rc = buf_add(&b, "\"", 1); pos += 2; if (rc) break; continue; }
                        pos++;
                        break;
                    }
                    if (ch == 0) { rc = err_set(RC_EFORMAT, "%s:%d: NUL byte in a field", c->name, line); break; }
                    /* line breaks inside quotes are kept byte for byte; they still count as lines */
                    if (ch == '\n' || (ch == '\r' && !(pos + 1 < len && d[pos + 1] == '\n'))) line++;
                    rc = buf_add(&b, &d[pos], 1);
                    pos++;
                    if (rc) break;
                }
                if (!rc && pos < len && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r')
                    rc = err_set(RC_EFORMAT, "%s:%d: unexpected '%c' after a closing quote (a quote inside a quoted field must be doubled: \"\")",
                                 c->name, line, d[pos]);
            } else {
                size_t s = pos;
                while (pos < len && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r') {
                    if (d[pos] == 0) { rc = err_set(RC_EFORMAT, "%s:%d: NUL byte in a field", c->name, line); break; }
                    pos++;
                }
                if (!rc) rc = buf_add(&b, d + s, pos - s);
            }
            if (rc) break;
            rc = add_field(c, &b);
            if (rc) break;
            if (pos < len && d[pos] == ',') { pos++; continue; }
            if (eat_eol(d, len, &pos, c)) line++;
            break;
        }
    }
    buf_release(&b);
    if (rc) csv_release(c);
    return rc;
}

int csv_read(const char *path, struct csv *out)
{
    char *text = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    int rc = util_read_file(path, &text, &len);
    if (!rc) rc = csv_parse(path, text, len, out);
    free(text);
    return rc;
}
