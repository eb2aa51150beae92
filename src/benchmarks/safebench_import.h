/*
 * safebench_import.h - SafeBench's release folder -> items, and
 * `mmsafe import safebench|safebench-mini DIR -o MANIFEST.jsonl`.
 *
 * Layouts (as the authors' evaluation code reads them):
 *   release:   DIR/text/{k}.csv      + DIR/high_img_gene/{k}/{i+1}.png
 *   MiniBench: DIR/minitext/{k}.csv  + DIR/mini_bench/{k}/{i+1}.png
 * One query per CSV row in column 0.  The row at raw index i (0-based, blank
 * rows counted, then skipped) is paired with image {i+1}.png, and the item is
 * keyed by scenario and raw row: id "sb-{k}-{i+1}" ("sbm-..." for MiniBench),
 * never by its position after filtering.  A query's line breaks (CRLF or CR
 * inside a quoted field) become "\n": the evaluation code opened the CSVs in
 * Python's universal-newline mode, so the models saw "\n".
 *
 * Header rows: the script that made the CSVs writes one (the column name).
 * The first non-blank row is a header when its text equals the scenario's
 * name, id, code or number, or a generic column name (query, question,
 * prompt, text, ...), or when the file has one row more than there are
 * images and that first row has no image.  It is dropped and reported; the
 * following rows keep the raw-row pairing (row i -> {i+1}.png: the
 * evaluation code's pairing, which also named the generated images), so the
 * header's 1.png, if present, is left unused and reported.
 *
 * Scenario number -> scenario and major category: DIR/category.csv when it
 * is there and understood (see safebench_category_parse), else the built-in
 * taxonomy in its order (safebench_taxonomy.h).  Every item is labelled
 * unsafe (the queries are harmful); subset = the major category's code,
 * scenario = the scenario's unique id.  Items whose image file is missing are
 * kept with "image": null and reported, as for MMSafeAware.
 */
#ifndef MMSAFE_SAFEBENCH_IMPORT_H
#define MMSAFE_SAFEBENCH_IMPORT_H

#include <stddef.h>

struct buf;

enum sb_layout { SB_RELEASE = 0, SB_MINI = 1 };
enum sb_header_why { SB_HDR_NONE = 0, SB_HDR_NAME, SB_HDR_COUNT };

struct sb_item {
    char *id;           /* "sb-{k}-{i+1}" / "sbm-{k}-{i+1}" */
    char *prompt;       /* column 0 of the row; line breaks inside it read as "\n" (see below) */
    char *image;        /* relative to DIR ("high_img_gene/3/5.png"); NULL when missing */
    int scen;           /* index into sb_import.scen */
    long row;           /* raw 0-based row index in its CSV */
    int line;           /* 1-based line the row starts on */
    int bad_utf8;       /* the prompt is not valid UTF-8 (kept; the run makes it an item error) */
};

/* What one scenario's file held, and every quirk met (for the report and tests). */
struct sb_scen {
    int k;                      /* the file's number */
    char *id, *name;            /* scenario: unique id ("HS-CS") and name */
    char *major, *major_name;   /* major category code ("CS") and name; NULL when unknown */
    char *csv;                  /* "text/9.csv" (relative to DIR) */
    long n_rows;                /* raw rows, blank ones included */
    long n_items;               /* items imported from it */
    long header_row;            /* raw index of the dropped header row, -1 if none */
    enum sb_header_why header_why;
    char *header_text;          /* its text (NULL if none) */
    int header_has_image;       /* its image {header_row+1}.png exists (and is left unused) */
    long n_blank, *blank;       /* raw indices of blank rows (skipped) */
    long n_empty, *empty;       /* raw indices of rows whose query is empty or white space (skipped) */
    long n_missing, *missing;   /* image numbers a kept row needed but that are absent */
    long n_unused, *unused;     /* image numbers present that no kept row uses */
    long n_images;              /* image files {n}.* found for this scenario */
    long n_extra_cols;          /* rows with a non-empty field beyond column 0 (ignored) */
};

struct sb_import {
    enum sb_layout layout;
    char *dir;
    int n_scen;
    struct sb_scen *scen;       /* ascending k */
    size_t n_items;
    struct sb_item *items;      /* by k, then raw row */
    int categories_from_file;   /* 1: category.csv gave the mapping, 0: the built-in taxonomy */
    int n_notes;
    char **notes;               /* warnings about category.csv and the mapping, in order */
};

/* Reads DIR in the given layout.  Run-level problems (no text folder, a
 * malformed CSV: the message names FILE:LINE) return an rc; per-item quirks
 * are recorded in the result.  Release with sb_import_release. */
int sb_import_dir(const char *dir, enum sb_layout layout, struct sb_import *out /* out */);
void sb_import_release(struct sb_import *imp);

/* The manifest (JSON Lines, one item per line, with a "meta" object:
 * benchmark, layout, k, row, line, csv, scenario_name, category_name), image
 * paths made relative to man_dir (the manifest's folder).  Appends to out. */
int sb_import_manifest(const struct sb_import *imp, const char *man_dir, struct buf *out);

/* One scenario-map row understood from a category.csv. */
struct sb_category_row {
    int k;
    char *id, *name, *major, *major_name;   /* major fields NULL when unknown */
};
/* Parses category.csv text (format: see README "SafeBench"; tolerant: any
 * column order, optional header, optional number column).  Rows it cannot
 * understand become notes ("FILE:LINE: ..."), never silent.  Returns RC_OK
 * with *n = 0 when nothing usable was found (the caller falls back to the
 * taxonomy).  Free with sb_category_free. */
int sb_category_parse(const char *name, const char *text, size_t len, struct sb_category_row **rows /* out */,
                      int *n /* out */, char ***notes /* appended */, int *n_notes);
void sb_category_free(struct sb_category_row *rows, int n);

/* `mmsafe import safebench|safebench-mini DIR -o OUT`: imports and prints
 * the report.  Returns an exit code (0 ok, 1 error). */
int safebench_import_cmd(const char *kind, const char *dir, const char *out_path);

#endif
