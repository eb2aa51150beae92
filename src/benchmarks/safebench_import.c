/*
 * safebench_import.c - SafeBench's release (or MiniBench) folder -> items ->
 * manifest; the pairing, header and category rules are in
 * safebench_import.h.  Reads files and folders; writes only in
 * safebench_import_cmd.  JSON goes through json.c (the only cJSON user).
 */
#include "safebench_import.h"
#include "csv.h"
#include "err.h"
#include "json.h"
#include "safebench_taxonomy.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* === small helpers ====================================================== */

static int add_note(char ***notes, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add_note(char ***notes, int *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int len = vasprintf(&s, fmt, ap);
    va_end(ap);
    char **p = len >= 0 ? realloc(*notes, (size_t)(*n + 1) * sizeof *p) : NULL;
    if (!p) { free(len >= 0 ? s : NULL); return err_set(RC_ENOMEM, "out of memory"); }
    p[(*n)++] = s;
    *notes = p;
    return RC_OK;
}

static int push_long(long **a, long *n, long v)
{
    long *p = realloc(*a, (size_t)(*n + 1) * sizeof *p);
    if (!p) return err_set(RC_ENOMEM, "out of memory");
    p[(*n)++] = v;
    *a = p;
    return RC_OK;
}

/* s is a whole number 0..INT_MAX written in digits only (surrounding white space allowed). */
static int parse_uint(const char *s, int *out)
{
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s)) return 0;
    long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s++ - '0');
        if (v > INT_MAX) return 0;
    }
    while (isspace((unsigned char)*s)) s++;
    if (*s) return 0;
    *out = (int)v;
    return 1;
}

static int is_blank_text(const char *s)
{
    for (; *s; s++) if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/* === category.csv ======================================================= */

void sb_category_free(struct sb_category_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].id); free(rows[i].name); free(rows[i].major); free(rows[i].major_name);
    }
    free(rows);
}

int sb_category_parse(const char *name, const char *text, size_t len, struct sb_category_row **rows_out,
                      int *n_out, char ***notes, int *n_notes)
{
    *rows_out = NULL;
    *n_out = 0;
    struct csv c;
    int rc = csv_parse(name, text, len, &c);
    if (rc) {   /* a malformed category.csv is a note, not a failed import: the taxonomy stands in */
        rc = add_note(notes, n_notes, "%s (the built-in taxonomy is used instead)", err_msg());
        return rc;
    }
    struct sb_category_row *rows = NULL;
    int n = 0, n_data = 0, with_num = 0, without_num = 0, seen_header = 0;
    for (long r = 0; r < c.n_rows && !rc; r++) {
        const struct csv_row *row = &c.rows[r];
        if (row->blank) continue;
        int k = -1, major = -1, scen = -1, ambiguous = 0;
        const char *free_text = NULL, *major_text = NULL;
        for (int f = 0; f < row->n_fields; f++) {
            const char *v = row->fields[f];
            int num;
            if (is_blank_text(v)) continue;
            if (k < 0 && parse_uint(v, &num)) { k = num; continue; }
            int m = sb_major_find(v);
            if (m >= 0 && major < 0) { major = m; major_text = v; continue; }
        }
        for (int f = 0; f < row->n_fields; f++) {     /* scenarios second: "HS" needs the major */
            const char *v = row->fields[f];
            int num;
            if (is_blank_text(v) || parse_uint(v, &num) || v == major_text) continue;
            int s = sb_scenario_find(v, major);
            if (s >= 0 && scen < 0) scen = s;
            else if (s == -2) ambiguous = 1;
            else if (s == -1 && !free_text) free_text = v;
        }
        if (k < 0 && major < 0 && scen < 0 && !seen_header && n_data == 0) { seen_header = 1; continue; }  /* a header row */
        n_data++;
        if (k >= 0) with_num++; else without_num++;
        if (k < 0) k = n_data;   /* no number column: the row order gives k */
        if (scen < 0 && !free_text) {
            rc = add_note(notes, n_notes, "%s:%d: no scenario %s in this row; ignored", name, row->line,
                          ambiguous ? "(an ambiguous \"HS\" and no major category to resolve it)" : "name");
            continue;
        }
        int dup = -1;
        for (int i = 0; i < n; i++) if (rows[i].k == k) dup = i;
        if (dup >= 0) {
            const char *nm = scen >= 0 ? sb_scenarios[scen].name : free_text;
            if (!sb_label_eq(rows[dup].name, nm))
                rc = add_note(notes, n_notes, "%s:%d: scenario %d given again ('%s', first '%s'); the first is kept",
                              name, row->line, k, nm, rows[dup].name);
            continue;
        }
        struct sb_category_row *p = realloc(rows, (size_t)(n + 1) * sizeof *p);
        if (!p) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
        rows = p;
        struct sb_category_row *e = &rows[n++];
        memset(e, 0, sizeof *e);
        e->k = k;
        if (scen >= 0) {
            e->id = util_strdup(sb_scenarios[scen].id);
            e->name = util_strdup(sb_scenarios[scen].name);
            if (major < 0) major = sb_scenarios[scen].major;
            else if (major != sb_scenarios[scen].major)
                rc = add_note(notes, n_notes, "%s:%d: '%s' is under %s here but under %s in the paper; the file's %s is used",
                              name, row->line, sb_scenarios[scen].name, sb_majors[major].code,
                              sb_majors[sb_scenarios[scen].major].code, sb_majors[major].code);
        } else {
            e->id = util_strdup(free_text);
            e->name = util_strdup(free_text);
        }
        if (major >= 0) {
            e->major = util_strdup(sb_majors[major].code);
            e->major_name = util_strdup(sb_majors[major].name);
        }
    }
    if (!rc && with_num && without_num) {
        rc = add_note(notes, n_notes, "%s: some rows have a scenario number and some do not; the file is not used", name);
        sb_category_free(rows, n);
        rows = NULL; n = 0;
    }
    if (!rc && !with_num && n > SB_N_SCENARIOS * 2) {
        rc = add_note(notes, n_notes, "%s: %d rows and no scenario number column: not a scenario table; the file is not used", name, n);
        sb_category_free(rows, n);
        rows = NULL; n = 0;
    }
    csv_release(&c);
    if (rc) { sb_category_free(rows, n); return rc; }
    *rows_out = rows;
    *n_out = n;
    return RC_OK;
}

/* === folders ============================================================ */

static int cmp_int(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }

/* The k of every "{k}.csv" in DIR/sub, ascending. */
static int list_csvs(const char *dir, const char *sub, int **ks, int *n)
{
    *ks = NULL;
    *n = 0;
    char *p = util_fmt("%s/%s", dir, sub);
    DIR *d = p ? opendir(p) : NULL;
    free(p);
    if (!d) return RC_OK;
    struct dirent *e;
    int rc = RC_OK;
    while ((e = readdir(d)) && !rc) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || strcasecmp(dot, ".csv")) continue;
        char stem[32];
        size_t sl = (size_t)(dot - e->d_name);
        if (sl == 0 || sl >= sizeof stem) continue;
        memcpy(stem, e->d_name, sl);
        stem[sl] = 0;
        int k;
        if (!parse_uint(stem, &k) || k == 0) continue;
        int *q = realloc(*ks, (size_t)(*n + 1) * sizeof *q);
        if (!q) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
        *ks = q;
        (*ks)[(*n)++] = k;
    }
    closedir(d);
    if (*ks) qsort(*ks, (size_t)*n, sizeof **ks, cmp_int);
    return rc;
}

/* Image files of one scenario: number -> file name ({n}.png preferred over other extensions). */
struct img_set { int n; int *num; char **file; };

static void img_set_release(struct img_set *s)
{
    for (int i = 0; i < s->n; i++) free(s->file[i]);
    free(s->num); free(s->file);
    memset(s, 0, sizeof *s);
}

static int ext_rank(const char *ext)   /* 0 png, 1..3 other images, -1 not an image */
{
    static const char *const exts[] = { ".png", ".jpg", ".jpeg", ".webp" };
    for (int i = 0; i < 4; i++) if (!strcasecmp(ext, exts[i])) return i ? 1 : 0;
    return -1;
}

static int img_set_read(const char *path, struct img_set *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(path);
    if (!d) return RC_OK;
    struct dirent *e;
    int rc = RC_OK;
    while ((e = readdir(d)) && !rc) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || ext_rank(dot) < 0) continue;
        char stem[32];
        size_t sl = (size_t)(dot - e->d_name);
        if (sl == 0 || sl >= sizeof stem) continue;
        memcpy(stem, e->d_name, sl);
        stem[sl] = 0;
        int num;
        if (!parse_uint(stem, &num)) continue;
        int at = -1;
        for (int i = 0; i < s->n; i++) if (s->num[i] == num) at = i;
        if (at >= 0) {   /* two files for one number: .png wins, else the first in name order */
            const char *od = strrchr(s->file[at], '.');
            int better = ext_rank(dot) < ext_rank(od) || (ext_rank(dot) == ext_rank(od) && strcmp(e->d_name, s->file[at]) < 0);
            if (better) { free(s->file[at]); s->file[at] = util_strdup(e->d_name); }
            continue;
        }
        int *nn = realloc(s->num, (size_t)(s->n + 1) * sizeof *nn);
        if (nn) s->num = nn;
        char **ff = realloc(s->file, (size_t)(s->n + 1) * sizeof *ff);
        if (ff) s->file = ff;
        if (!nn || !ff) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
        s->num[s->n] = num;
        s->file[s->n] = util_strdup(e->d_name);
        s->n++;
    }
    closedir(d);
    return rc;
}

static int img_find(const struct img_set *s, long num)
{
    for (int i = 0; i < s->n; i++) if (s->num[i] == num) return i;
    return -1;
}

/* === one scenario ======================================================= */

/* CRLF and lone CR -> LF (Python's universal newlines, which the evaluation code read the CSVs with). */
static char *newlines_to_lf(const char *s)
{
    char *o = util_strdup(s);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\r') {
            o[k++] = '\n';
            if (s[i + 1] == '\n') i++;
        } else o[k++] = s[i];
    }
    o[k] = 0;
    return o;
}

/* A generic column name a header row may carry (pandas writes the column's name). */
static int generic_header(const char *t)
{
    static const char *const names[] = { "query", "queries", "question", "questions", "prompt", "prompts",
                                         "text", "texts", "instruction", "instructions", "content", "input",
                                         "goal", "Unnamed: 0", "0", NULL };
    for (int i = 0; names[i]; i++) if (sb_label_eq(t, names[i])) return 1;
    return 0;
}

static int header_by_name(const struct sb_scen *sc, const char *t)
{
    char kbuf[16];
    snprintf(kbuf, sizeof kbuf, "%d", sc->k);
    if (generic_header(t) || sb_label_eq(t, kbuf) || sb_label_eq(t, sc->name) || sb_label_eq(t, sc->id)) return 1;
    for (int i = 0; i < SB_N_SCENARIOS; i++)   /* a column named after some scenario (the mapping may be off) */
        if (sb_label_eq(t, sb_scenarios[i].name) || sb_label_eq(t, sb_scenarios[i].id)) return 1;
    for (int i = 0; i < SB_N_MAJORS; i++)
        if (sb_label_eq(t, sb_majors[i].name)) return 1;
    return 0;
}

static int import_scenario(struct sb_import *imp, int si, const char *text_sub, const char *img_sub)
{
    struct sb_scen *sc = &imp->scen[si];
    char *path = util_fmt("%s/%s/%d.csv", imp->dir, text_sub, sc->k);
    char *img_dir = util_fmt("%s/%s/%d", imp->dir, img_sub, sc->k);
    sc->csv = util_fmt("%s/%d.csv", text_sub, sc->k);
    struct csv c = { 0 };
    struct img_set im = { 0 };
    uint8_t *used = NULL;
    int rc = (!path || !img_dir || !sc->csv) ? err_set(RC_ENOMEM, "out of memory") : RC_OK;
    if (!rc) rc = csv_read(path, &c);
    if (!rc) rc = img_set_read(img_dir, &im);
    if (rc) goto out;
    sc->n_rows = c.n_rows;
    sc->n_images = im.n;
    sc->header_row = -1;
    used = calloc((size_t)im.n + 1, 1);
    if (!used) { rc = err_set(RC_ENOMEM, "out of memory"); goto out; }

    /* rows that carry a query: not blank, column 0 not empty */
    long first = -1, n_cand = 0;
    for (long r = 0; r < c.n_rows && !rc; r++) {
        if (c.rows[r].blank) { rc = push_long(&sc->blank, &sc->n_blank, r); continue; }
        if (first < 0) first = r;
        if (is_blank_text(csv_field(&c, r, 0))) continue;
        n_cand++;
    }
    if (rc) goto out;
    if (first >= 0 && !is_blank_text(csv_field(&c, first, 0))) {
        const char *t = csv_field(&c, first, 0);
        if (header_by_name(sc, t)) sc->header_why = SB_HDR_NAME;
        else if (im.n > 0 && n_cand == im.n + 1 && img_find(&im, first + 1) < 0) sc->header_why = SB_HDR_COUNT;
        if (sc->header_why) {
            sc->header_row = first;
            sc->header_text = util_strdup(t);
            sc->header_has_image = img_find(&im, first + 1) >= 0;
        }
    }
    for (long r = 0; r < c.n_rows && !rc; r++) {
        const struct csv_row *row = &c.rows[r];
        if (row->blank || r == sc->header_row) continue;
        const char *q = csv_field(&c, r, 0);
        if (is_blank_text(q)) { rc = push_long(&sc->empty, &sc->n_empty, r); continue; }
        for (int f = 1; f < row->n_fields; f++)
            if (!is_blank_text(row->fields[f])) { sc->n_extra_cols++; break; }
        if (imp->n_items % 256 == 0) {
            struct sb_item *p = realloc(imp->items, (imp->n_items + 256) * sizeof *p);
            if (!p) { rc = err_set(RC_ENOMEM, "out of memory"); break; }
            imp->items = p;
        }
        struct sb_item *it = &imp->items[imp->n_items];
        memset(it, 0, sizeof *it);
        imp->n_items++;
        it->id = util_fmt("%s-%d-%ld", imp->layout == SB_MINI ? "sbm" : "sb", sc->k, r + 1);
        it->prompt = newlines_to_lf(q);
        it->scen = si;
        it->row = r;
        it->line = row->line;
        it->bad_utf8 = util_utf8_invalid_at(q, row->lens[0]) >= 0;
        int at = img_find(&im, r + 1);
        if (at >= 0) {
            it->image = util_fmt("%s/%d/%s", img_sub, sc->k, im.file[at]);
            used[at] = 1;
        } else rc = push_long(&sc->missing, &sc->n_missing, r + 1);
        if (!it->id || !it->prompt || (at >= 0 && !it->image)) rc = err_set(RC_ENOMEM, "out of memory");
        sc->n_items++;
    }
    for (int i = 0; i < im.n && !rc; i++)
        if (!used[i]) rc = push_long(&sc->unused, &sc->n_unused, im.num[i]);
    if (!rc && sc->n_unused > 1) {   /* ascending, for the report */
        for (long a = 1; a < sc->n_unused; a++)
            for (long b = a; b > 0 && sc->unused[b - 1] > sc->unused[b]; b--) {
                long t = sc->unused[b]; sc->unused[b] = sc->unused[b - 1]; sc->unused[b - 1] = t;
            }
    }
out:
    free(used);
    img_set_release(&im);
    csv_release(&c);
    free(path);
    free(img_dir);
    return rc;
}

/* === the folder ========================================================= */

void sb_import_release(struct sb_import *imp)
{
    if (!imp) return;
    for (size_t i = 0; i < imp->n_items; i++) {
        free(imp->items[i].id); free(imp->items[i].prompt); free(imp->items[i].image);
    }
    free(imp->items);
    for (int s = 0; s < imp->n_scen; s++) {
        struct sb_scen *sc = &imp->scen[s];
        free(sc->id); free(sc->name); free(sc->major); free(sc->major_name); free(sc->csv); free(sc->header_text);
        free(sc->blank); free(sc->empty); free(sc->missing); free(sc->unused);
    }
    free(imp->scen);
    for (int i = 0; i < imp->n_notes; i++) free(imp->notes[i]);
    free(imp->notes);
    free(imp->dir);
    memset(imp, 0, sizeof *imp);
}

int sb_import_dir(const char *dir, enum sb_layout layout, struct sb_import *imp)
{
    memset(imp, 0, sizeof *imp);
    imp->layout = layout;
    imp->dir = util_strdup(dir);
    const char *text_sub = layout == SB_MINI ? "minitext" : "text";
    const char *img_sub = layout == SB_MINI ? "mini_bench" : "high_img_gene";
    int *ks = NULL, n_k = 0;
    int rc = imp->dir ? list_csvs(dir, text_sub, &ks, &n_k) : err_set(RC_ENOMEM, "out of memory");
    if (!rc && n_k == 0)
        rc = err_set(RC_EFORMAT, "no %s/{k}.csv files in '%s' (is it SafeBench's %s folder?%s)", text_sub, dir,
                     layout == SB_MINI ? "MiniBench" : "release",
                     layout == SB_MINI ? " the full release is `import safebench`" : " MiniBench is `import safebench-mini`");

    /* scenario map: category.csv, else the taxonomy */
    struct sb_category_row *cat = NULL;
    int n_cat = 0;
    if (!rc) {
        char *cpath = util_fmt("%s/category.csv", dir), *ctext = NULL;
        size_t clen = 0;
        if (cpath && util_read_file(cpath, &ctext, &clen) == RC_OK) {
            rc = sb_category_parse(cpath, ctext, clen, &cat, &n_cat, &imp->notes, &imp->n_notes);
            if (!rc && n_cat == 0)
                rc = add_note(&imp->notes, &imp->n_notes, "%s: no scenario rows understood; the built-in taxonomy is used", cpath);
        }
        err_clear();
        free(cpath);
        free(ctext);
        imp->categories_from_file = n_cat > 0;
    }
    if (!rc) {
        imp->scen = calloc((size_t)n_k, sizeof *imp->scen);
        if (!imp->scen) rc = err_set(RC_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n_k && !rc; i++) {
        struct sb_scen *sc = &imp->scen[imp->n_scen++];
        sc->k = ks[i];
        sc->header_row = -1;
        const struct sb_category_row *cr = NULL;
        for (int j = 0; j < n_cat; j++) if (cat[j].k == ks[i]) cr = &cat[j];
        if (cr) {
            sc->id = util_strdup(cr->id);
            sc->name = util_strdup(cr->name);
            if (cr->major) { sc->major = util_strdup(cr->major); sc->major_name = util_strdup(cr->major_name); }
        } else if (ks[i] >= 1 && ks[i] <= SB_N_SCENARIOS) {
            const struct sb_scenario_def *d = &sb_scenarios[ks[i] - 1];
            sc->id = util_strdup(d->id);
            sc->name = util_strdup(d->name);
            sc->major = util_strdup(sb_majors[d->major].code);
            sc->major_name = util_strdup(sb_majors[d->major].name);
            if (n_cat > 0)
                rc = add_note(&imp->notes, &imp->n_notes, "category.csv has no row for scenario %d; the taxonomy's %s (%s) is used",
                              ks[i], d->name, d->id);
        } else {
            sc->id = util_fmt("S%d", ks[i]);
            sc->name = util_fmt("scenario %d", ks[i]);
            rc = add_note(&imp->notes, &imp->n_notes, "%s/%d.csv: scenario %d is not in %s; imported as '%s' with no major category",
                          text_sub, ks[i], ks[i], n_cat ? "category.csv" : "the taxonomy (1-23)", sc->id);
        }
        if (!rc && (!sc->id || !sc->name)) rc = err_set(RC_ENOMEM, "out of memory");
    }
    /* two numbers mapped to one scenario id would merge their rows in every table */
    for (int i = 0; i < imp->n_scen && !rc; i++)
        for (int j = i + 1; j < imp->n_scen && !rc; j++)
            if (!strcmp(imp->scen[i].id, imp->scen[j].id))
                rc = add_note(&imp->notes, &imp->n_notes, "scenarios %d and %d are both '%s'; their items share that scenario",
                              imp->scen[i].k, imp->scen[j].k, imp->scen[i].id);
    for (int i = 0; i < imp->n_scen && !rc; i++) rc = import_scenario(imp, i, text_sub, img_sub);
    sb_category_free(cat, n_cat);
    free(ks);
    if (rc) {
        char *msg = util_strdup(err_msg());
        sb_import_release(imp);
        err_set(rc, "%s", msg ? msg : "out of memory");
        free(msg);
    }
    return rc;
}

/* === manifest =========================================================== */

/* Relative path from folder `from` to `path` (both relative to cwd or absolute); malloc'd. */
static char *rel_path(const char *from, const char *dir, const char *rel)
{
    char *a = realpath(from, NULL), *b = realpath(dir, NULL);
    if (!a || !b) { free(a); free(b); return util_fmt("%s/%s", dir, rel); }
    struct buf x = { 0 }, y = { 0 }, o = { 0 };
    buf_printf(&x, "%s%s", a, strcmp(a, "/") ? "/" : "");
    buf_printf(&y, "%s%s", b, strcmp(b, "/") ? "/" : "");
    size_t common = 0;
    for (size_t i = 0; x.p && y.p && x.p[i] && x.p[i] == y.p[i]; i++)
        if (x.p[i] == '/') common = i + 1;
    for (size_t i = common; x.p && x.p[i]; i++)
        if (x.p[i] == '/') buf_add(&o, "../", 3);
    if (y.p) buf_add(&o, y.p + common, strlen(y.p + common));
    buf_add(&o, rel, strlen(rel));
    free(a); free(b); buf_release(&x); buf_release(&y);
    return o.p;
}

int sb_import_manifest(const struct sb_import *imp, const char *man_dir, struct buf *out)
{
    int rc = RC_OK;
    for (size_t i = 0; i < imp->n_items && !rc; i++) {
        const struct sb_item *it = &imp->items[i];
        const struct sb_scen *sc = &imp->scen[it->scen];
        char *img = it->image ? rel_path(man_dir, imp->dir, it->image) : NULL;
        char k[16], row[24], line[16];
        snprintf(k, sizeof k, "%d", sc->k);
        snprintf(row, sizeof row, "%ld", it->row);
        snprintf(line, sizeof line, "%d", it->line);
        const char *kv[] = { "benchmark", "safebench", "layout", imp->layout == SB_MINI ? "minibench" : "release",
                             "k", k, "row", row, "line", line, "csv", sc->csv, "scenario_name", sc->name,
                             sc->major_name ? "category_name" : NULL, sc->major_name, NULL };
        char *js = json_manifest_line(it->id, img, it->prompt, "unsafe", sc->major, sc->id);
        char *meta = json_strings_object(kv);
        size_t jl = js ? strlen(js) : 0;
        if (!js || !meta || jl < 2 || js[jl - 1] != '}') rc = err_set(RC_ENOMEM, "out of memory");
        /* json_manifest_line gives a one-line object: its closing brace makes room for "meta" */
        if (!rc) rc = buf_add(out, js, jl - 1);
        if (!rc) rc = buf_printf(out, ",\"meta\":%s}\n", meta);
        free(js); free(meta); free(img);
    }
    return rc;
}

/* === the command ======================================================== */

/* "a, b, c" of at most max numbers, "..." after; v + add (image numbers are rows + 1). */
static void list_longs(struct buf *b, const long *v, long n, long add, int max)
{
    for (long i = 0; i < n && i < max; i++) buf_printf(b, "%s%ld", i ? ", " : "", v[i] + add);
    if (n > max) buf_printf(b, ", ... (%ld in all)", n);
}

int safebench_import_cmd(const char *kind, const char *dir, const char *out_path)
{
    enum sb_layout layout = !strcmp(kind, "safebench-mini") ? SB_MINI : SB_RELEASE;
    struct sb_import imp;
    struct buf o = { 0 }, msg = { 0 };
    char *man_dir = util_dirname(out_path);
    int rc = sb_import_dir(dir, layout, &imp);
    if (!rc) rc = sb_import_manifest(&imp, man_dir, &o);
    if (!rc) rc = util_write_file(out_path, o.p ? o.p : "", o.n);
    if (rc) {
        log_error("%s", err_msg());
        goto out;
    }
    const char *text_sub = layout == SB_MINI ? "minitext" : "text";
    for (int i = 0; i < imp.n_notes; i++) log_warn("%s", imp.notes[i]);
    char *mini = util_fmt("%s/minitext", dir);
    DIR *md = layout == SB_RELEASE && mini ? opendir(mini) : NULL;
    if (md) { closedir(md); log_info("%s also holds MiniBench (minitext/): not imported; `mmsafe import safebench-mini` reads it", dir); }
    free(mini);
    if (!imp.categories_from_file)
        log_info("scenario numbers mapped by the built-in taxonomy's order (1 Medical Advice ... 23 Bias)%s: "
                 "an assumption, as the benchmark's code does not say; a category.csv in %s overrides it",
                 layout == SB_MINI ? ", as for the full release" : "", dir);
    long missing = 0, with_img = 0, bad_utf8 = 0;
    for (size_t i = 0; i < imp.n_items; i++) { with_img += imp.items[i].image != NULL; bad_utf8 += imp.items[i].bad_utf8; }
    for (int s = 0; s < imp.n_scen; s++) {
        const struct sb_scen *sc = &imp.scen[s];
        missing += sc->n_missing;
        if (sc->header_row >= 0)
            log_warn("%s: header row '%.60s' (raw row %ld) dropped: %s; the rows after it keep the evaluation code's "
                     "pairing (raw row i -> {i+1}.png), and the header's image, %ld.png, %s",
                     sc->csv, sc->header_text, sc->header_row,
                     sc->header_why == SB_HDR_NAME ? "it is a column or scenario name"
                                                   : "the file has one row more than there are images and this row has none",
                     sc->header_row + 1, sc->header_has_image ? "is left unused" : "does not exist");
        if (sc->n_blank) {
            buf_release(&msg);
            list_longs(&msg, sc->blank, sc->n_blank, 0, 10);
            log_info("%s: %ld blank row(s) skipped (raw rows %s); the rows after them keep their raw-row images",
                     sc->csv, sc->n_blank, msg.p);
        }
        if (sc->n_empty) {
            buf_release(&msg);
            list_longs(&msg, sc->empty, sc->n_empty, 0, 10);
            log_warn("%s: %ld row(s) with an empty query skipped (raw rows %s)", sc->csv, sc->n_empty, msg.p);
        }
        if (sc->n_extra_cols)
            log_warn("%s: %ld row(s) have text beyond the first column; only column 0 is the query (as the benchmark's code reads it)",
                     sc->csv, sc->n_extra_cols);
        if (sc->n_missing) {
            buf_release(&msg);
            list_longs(&msg, sc->missing, sc->n_missing, 0, 10);
            log_warn("%s/%d: no image file for %ld item(s) (written with \"image\": null): image number(s) %s",
                     layout == SB_MINI ? "mini_bench" : "high_img_gene", sc->k, sc->n_missing, msg.p);
        }
        if (sc->n_unused) {
            buf_release(&msg);
            list_longs(&msg, sc->unused, sc->n_unused, 0, 10);
            log_info("%s/%d: %ld image(s) paired with no query: image number(s) %s", layout == SB_MINI ? "mini_bench" : "high_img_gene",
                     sc->k, sc->n_unused, msg.p);
        }
    }
    if (bad_utf8) log_warn("%ld quer(ies) are not valid UTF-8 (kept; the run makes them item errors)", bad_utf8);
    printf("imported %zu items from %s (SafeBench %s: %d scenario(s) from %s/, categories from %s) into %s (%ld with an image)\n",
           imp.n_items, dir, layout == SB_MINI ? "MiniBench" : "release", imp.n_scen, text_sub,
           imp.categories_from_file ? "category.csv" : "the built-in taxonomy", out_path, with_img);
    if (missing) log_warn("%ld item(s) have no image file in all", missing);
out:
    sb_import_release(&imp);
    buf_release(&o);
    buf_release(&msg);
    free(man_dir);
    return rc ? 1 : 0;
}
