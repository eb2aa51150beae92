/*
 * store_hdf5.c - the results file (layout in store.h); the only HDF5 user.
 * Parallel notes (../shared/docs/infra-notes.md): every dataset is created up
 * front (collective) with early allocation and fill values; rows are written
 * with independent I/O through point or single-hyperslab selections of
 * ascending indices (HDF5 1.10.8 misplaces rows for unsorted hyperslab
 * unions); no filters, no variable-length types; file locking off; objects
 * are closed in reverse order on every path.
 */
#include "store.h"
#include "comm.h"
#include "err.h"
#include "util.h"

#include <hdf5.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

enum { D_TEXTV, D_VERDICT, D_P_UNSAFE, D_ERROR, D_ERRMSG, D_LATENCY, D_RANK, D_RESPONSE, D_RESPLEN, D_TRUNC, D_COUNT };
static const char *const dnames[D_COUNT] = {
    "text_verdict", "verdict", "p_unsafe", "error", "error_msg", "latency_ms", "rank", "response", "response_len", "response_truncated"
};

struct smodel { hid_t g, d[D_COUNT], stats, str_resp; int width; };

struct scol;
struct store {
    hid_t f;
    struct scol *cols;      /* judged benchmarks' columns (store_cols_open) */
    int n_cols;
    struct comm *c;
    int writer0;            /* this process writes shared (non-row) data */
    int n_models;
    struct smodel *m;
    hid_t str_err;
    size_t n_items;
    char *path;
};

static int h5fail(const char *what, const char *path)
{
    return err_set(RC_EHDF5, "HDF5: %s failed for '%s' (is it an mmsafe results file? is the disk full?)", what, path);
}
#define H5TRY(expr, what) do { if ((expr) < 0) { rc = h5fail(what, s->path); goto out; } } while (0)

static hid_t make_fapl(struct comm *c)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 0, 1);   /* serial readers may overlap; MPI-IO takes no lock anyway */
    if (c) {
        H5Pset_fapl_mpio(fapl, *(MPI_Comm *)comm_mpi_comm(c), *(MPI_Info *)comm_mpi_info_null());
    }
    return fapl;
}

static hid_t str_type(size_t w)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, w ? w : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    return t;
}

static hid_t mk_dset(hid_t loc, const char *name, hid_t type, size_t n, const void *fill)
{
    hsize_t dims[1] = { n };
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    if (fill) {
        H5Pset_fill_value(dcpl, type, fill);
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    }
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* Fixed-width copy of strings into n*w bytes. */
static char *pack_strings(char *const *v, size_t n, size_t w)
{
    char *b = calloc(n ? n : 1, w);
    for (size_t i = 0; b && i < n; i++)
        if (v[i]) strncpy(b + i * w, v[i], w);
    return b;
}

static size_t max_len(char *const *v, size_t n)
{
    size_t m = 1;
    for (size_t i = 0; i < n; i++) if (v[i] && strlen(v[i]) > m) m = strlen(v[i]);
    return m;
}

/* Scalar string attribute (fixed length), replacing an existing one.  Collective in parallel. */
static int set_attr_str(hid_t loc, const char *name, const char *val)
{
    if (!val) val = "";
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t t = str_type(strlen(val) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, val);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? -1 : 0;
}

static int set_attr_num(hid_t loc, const char *name, hid_t type, const void *v)
{
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

/* --- the stats compound type ---------------------------------------------- */
struct stat_row {
    char group[96];
    int64_t n, tp, fn, fp, tn, unparsed, errors, pending;
    double v[METRIC_COUNT], lo[METRIC_COUNT], hi[METRIC_COUNT];
    double auroc;
};

static hid_t stats_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(struct stat_row));
    hid_t s = str_type(sizeof(((struct stat_row *)0)->group));
    H5Tinsert(t, "group", offsetof(struct stat_row, group), s);
    H5Tclose(s);
    const char *cn[8] = { "n", "tp", "fn", "fp", "tn", "unparsed", "errors", "pending" };
    for (int i = 0; i < 8; i++)
        H5Tinsert(t, cn[i], offsetof(struct stat_row, n) + (size_t)i * sizeof(int64_t), H5T_NATIVE_INT64);
    for (int k = 0; k < METRIC_COUNT; k++) {
        char nm[64];
        H5Tinsert(t, metric_names[k], offsetof(struct stat_row, v) + (size_t)k * sizeof(double), H5T_NATIVE_DOUBLE);
        if (metric_is_proportion(k)) {
            snprintf(nm, sizeof nm, "%s_lo", metric_names[k]);
            H5Tinsert(t, nm, offsetof(struct stat_row, lo) + (size_t)k * sizeof(double), H5T_NATIVE_DOUBLE);
            snprintf(nm, sizeof nm, "%s_hi", metric_names[k]);
            H5Tinsert(t, nm, offsetof(struct stat_row, hi) + (size_t)k * sizeof(double), H5T_NATIVE_DOUBLE);
        }
    }
    H5Tinsert(t, "auroc", offsetof(struct stat_row, auroc), H5T_NATIVE_DOUBLE);
    return t;
}

/* --- create / open -------------------------------------------------------- */

static void smodel_close(struct smodel *m)
{
    for (int k = 0; k < D_COUNT; k++) if (m->d[k] > 0) H5Dclose(m->d[k]);
    if (m->stats > 0) H5Dclose(m->stats);
    if (m->str_resp > 0) H5Tclose(m->str_resp);
    if (m->g > 0) H5Gclose(m->g);
}

static struct store *store_alloc(const char *path, struct comm *c, int n_models, size_t n_items)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->m = calloc((size_t)n_models, sizeof *s->m);
    s->path = util_strdup(path);
    s->c = c;
    s->writer0 = !c || comm_rank(c) == 0;
    s->n_models = n_models;
    s->n_items = n_items;
    s->f = -1;
    s->str_err = str_type(STORE_ERRMSG_WIDTH);
    if (!s->m || !s->path) { free(s->m); free(s->path); free(s); return NULL; }
    return s;
}

static void cols_free(struct store *s);
static void store_free(struct store *s)
{
    if (!s) return;
    cols_free(s);
    for (int i = 0; i < s->n_models; i++) smodel_close(&s->m[i]);
    if (s->str_err > 0) H5Tclose(s->str_err);
    if (s->f > 0) H5Fclose(s->f);
    free(s->m);
    free(s->path);
    free(s);
}

static int write_whole(struct store *s, hid_t d, hid_t memtype, const void *buf)
{
    if (!s->writer0) return 0;
    return H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0 ? -1 : 0;
}

int store_create(struct store **out, const char *path, struct comm *c, const struct store_layout *lay)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct store *s = store_alloc(path, c, lay->n_models, lay->n_items);
    if (!s) return err_set(RC_ENOMEM, "out of memory");
    int rc = RC_OK;
    hid_t fapl = make_fapl(c), fcpl = H5Pcreate(H5P_FILE_CREATE), gcpl = H5Pcreate(H5P_GROUP_CREATE);
    hid_t items = -1, models = -1, t = -1;
    char *buf = NULL;
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    s->f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    if (s->f < 0) { rc = err_set(RC_EHDF5, "cannot create results file '%s' (does its folder exist and is it writable?)", path); goto out; }
    size_t n = lay->n_items;
    H5TRY(items = H5Gcreate2(s->f, "items", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create /items");
    /* ids, subsets, scenarios as fixed-width strings */
    {
        size_t w = max_len(lay->ids, n);
        t = str_type(w);
        buf = pack_strings(lay->ids, n, w);
        hid_t d = mk_dset(items, "id", t, n, NULL);
        H5TRY(d, "create /items/id");
        H5TRY(write_whole(s, d, t, buf), "write /items/id");
        H5Dclose(d); H5Tclose(t); t = -1; free(buf); buf = NULL;
        d = mk_dset(items, "label", H5T_NATIVE_INT8, n, NULL);
        H5TRY(d, "create /items/label");
        H5TRY(write_whole(s, d, H5T_NATIVE_INT8, lay->labels), "write /items/label");
        H5Dclose(d);
        for (int which = 0; which < 2; which++) {
            const int *idx = which ? lay->scenario : lay->subset;
            char *const *names = which ? lay->scenarios : lay->subsets;
            int nn = which ? lay->n_scenarios : lay->n_subsets;
            char **v = calloc(n ? n : 1, sizeof *v);
            if (!v) { rc = err_set(RC_ENOMEM, "out of memory"); goto out; }
            for (size_t i = 0; i < n; i++) v[i] = idx[i] >= 0 && idx[i] < nn ? names[idx[i]] : NULL;
            w = max_len(v, n);
            t = str_type(w);
            buf = pack_strings(v, n, w);
            free(v);
            d = mk_dset(items, which ? "scenario" : "subset", t, n, NULL);
            H5TRY(d, "create /items/subset");
            H5TRY(write_whole(s, d, t, buf), "write /items/subset");
            H5Dclose(d); H5Tclose(t); t = -1; free(buf); buf = NULL;
        }
    }
    H5TRY(models = H5Gcreate2(s->f, "models", H5P_DEFAULT, gcpl, H5P_DEFAULT), "create /models");
    for (int i = 0; i < lay->n_models; i++) {
        struct smodel *m = &s->m[i];
        m->width = lay->response_width;
        m->str_resp = str_type((size_t)m->width);
        H5TRY(m->g = H5Gcreate2(models, lay->model_names[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create model group");
        const int8_t pend = -1;
        const float nanv = NAN, zf = 0;
        const int16_t z16 = 0, mr = -1;
        const int32_t z32 = 0;
        const int8_t z8 = 0;
        hid_t types[D_COUNT] = { H5T_NATIVE_INT8, H5T_NATIVE_INT8, H5T_NATIVE_FLOAT, H5T_NATIVE_INT16, s->str_err, H5T_NATIVE_FLOAT,
                                 H5T_NATIVE_INT16, m->str_resp, H5T_NATIVE_INT32, H5T_NATIVE_INT8 };
        const void *fills[D_COUNT] = { &pend, &pend, &nanv, &z16, NULL, &zf, &mr, NULL, &z32, &z8 };
        for (int k = 0; k < D_COUNT; k++)
            H5TRY(m->d[k] = mk_dset(m->g, dnames[k], types[k], n, fills[k]), "create model dataset");
        t = stats_type();
        H5TRY(m->stats = mk_dset(m->g, "stats", t, (size_t)stats_n_groups(lay->n_subsets, lay->n_scenarios), NULL), "create stats");
        H5Tclose(t); t = -1;
        H5TRY(set_attr_str(m->g, "backend", lay->backends[i]), "write attribute");
        H5TRY(set_attr_str(m->g, "parser", lay->parser), "write attribute");
        H5TRY(set_attr_str(m->g, "model_json", lay->model_json ? lay->model_json[i] : ""), "write attribute");
        H5TRY(set_attr_str(m->g, "settings", lay->settings && lay->settings[i] ? lay->settings[i] : ""), "write attribute");
    }
    H5TRY(set_attr_str(s->f, "job", lay->job_text), "write attribute");
    H5TRY(set_attr_str(s->f, "job_path", lay->job_path), "write attribute");
    H5TRY(set_attr_str(s->f, "manifest", lay->manifest_path), "write attribute");
    H5TRY(set_attr_str(s->f, "manifest_sha256", lay->manifest_sha256), "write attribute");
    if (lay->inputs_sha256) H5TRY(set_attr_str(s->f, "inputs_sha256", lay->inputs_sha256), "write attribute");
    H5TRY(set_attr_str(s->f, "mmsafe_version", MMSAFE_VERSION), "write attribute");
    H5TRY(set_attr_str(s->f, "parser", lay->parser), "write attribute");
    H5TRY(set_attr_str(s->f, "benchmark", lay->benchmark ? lay->benchmark : "mmsafeaware"), "write attribute");
    {
        int zero = 0;
        H5TRY(set_attr_num(s->f, "runs", H5T_NATIVE_INT, &zero), "write attribute");
        H5TRY(set_attr_num(s->f, "complete", H5T_NATIVE_INT, &zero), "write attribute");
    }
    /* Metadata on disk now: a rank killed mid-run leaves a readable file. */
    H5TRY(H5Fflush(s->f, H5F_SCOPE_GLOBAL), "flush");
out:
    free(buf);
    if (t > 0) H5Tclose(t);
    if (models > 0) H5Gclose(models);
    if (items > 0) H5Gclose(items);
    H5Pclose(gcpl); H5Pclose(fcpl); H5Pclose(fapl);
    if (rc) { store_free(s); return rc; }
    *out = s;
    return RC_OK;
}

int store_open(struct store **out, const char *path, struct comm *c, int n_models, char *const *names)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = RC_OK;
    hid_t fapl = make_fapl(c), d = -1, sp = -1;
    struct store *s = NULL;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0) return err_set(RC_EHDF5, "cannot open results file '%s' for writing", path);
    d = H5Dopen2(f, "/items/label", H5P_DEFAULT);
    sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[1] = { 0 };
    if (sp < 0 || H5Sget_simple_extent_dims(sp, dims, NULL) != 1) {
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
        H5Fclose(f);
        return err_set(RC_EHDF5, "'%s' has no /items/label: not an mmsafe results file", path);
    }
    H5Sclose(sp); H5Dclose(d);
    s = store_alloc(path, c, n_models, (size_t)dims[0]);
    if (!s) { H5Fclose(f); return err_set(RC_ENOMEM, "out of memory"); }
    s->f = f;
    for (int i = 0; i < n_models; i++) {
        struct smodel *m = &s->m[i];
        char gp[512];
        snprintf(gp, sizeof gp, "/models/%s", names[i]);
        m->g = H5Gopen2(f, gp, H5P_DEFAULT);
        if (m->g < 0) { rc = err_set(RC_EHDF5, "'%s' has no group %s", path, gp); goto out; }
        for (int k = 0; k < D_COUNT; k++) {
            if (k == D_TEXTV && H5Lexists(m->g, dnames[k], H5P_DEFAULT) <= 0) { m->d[k] = -1; continue; }   /* files older than it */
            if ((m->d[k] = H5Dopen2(m->g, dnames[k], H5P_DEFAULT)) < 0) { rc = err_set(RC_EHDF5, "'%s' has no %s/%s", path, gp, dnames[k]); goto out; }
        }
        if ((m->stats = H5Dopen2(m->g, "stats", H5P_DEFAULT)) < 0) { rc = err_set(RC_EHDF5, "'%s' has no %s/stats", path, gp); goto out; }
        m->str_resp = H5Dget_type(m->d[D_RESPONSE]);
        m->width = (int)H5Tget_size(m->str_resp);
    }
out:
    if (rc) { store_free(s); return rc; }
    *out = s;
    return RC_OK;
}

int store_write_rows(struct store *s, int mi, size_t n, const uint32_t *idx, const struct row *rows)
{
    if (n == 0) return RC_OK;
    struct smodel *m = &s->m[mi];
    int rc = RC_OK;
    hsize_t mdims[1] = { n };
    hid_t msp = H5Screate_simple(1, mdims, NULL), fsp = H5Dget_space(m->d[D_VERDICT]);
    int8_t *v8 = malloc(n), *tr = malloc(n), *tv = malloc(n);
    int16_t *er = malloc(n * 2), *rk = malloc(n * 2);
    float *pu = malloc(n * 4), *lat = malloc(n * 4);
    int32_t *rl = malloc(n * 4);
    char *resp = calloc(n, (size_t)m->width), *em = calloc(n, STORE_ERRMSG_WIDTH);
    hsize_t *coord = NULL;
    if (!v8 || !tr || !tv || !er || !rk || !pu || !lat || !rl || !resp || !em) { rc = err_set(RC_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < n; i++) {
        CHECK(idx[i] < s->n_items && (i == 0 || idx[i] > idx[i - 1]));
        v8[i] = rows[i].verdict; tr[i] = rows[i].truncated; er[i] = rows[i].error; rk[i] = rows[i].rank;
        tv[i] = rows[i].ext ? rows[i].text_verdict : -1;
        pu[i] = rows[i].p_unsafe; lat[i] = rows[i].latency_ms; rl[i] = (int32_t)rows[i].response_len;
        if (rows[i].response) strncpy(resp + i * (size_t)m->width, rows[i].response, (size_t)m->width);
        if (rows[i].reason) strncpy(em + i * STORE_ERRMSG_WIDTH, rows[i].reason, STORE_ERRMSG_WIDTH);
    }
    if (idx[n - 1] - idx[0] == n - 1) {
        hsize_t start[1] = { idx[0] }, count[1] = { n };
        H5TRY(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL), "select rows");
    } else {
        coord = malloc(n * sizeof *coord);
        if (!coord) { rc = err_set(RC_ENOMEM, "out of memory"); goto out; }
        for (size_t i = 0; i < n; i++) coord[i] = idx[i];
        H5TRY(H5Sselect_elements(fsp, H5S_SELECT_SET, n, coord), "select rows");
    }
    const void *bufs[D_COUNT] = { tv, v8, pu, er, em, lat, rk, resp, rl, tr };
    hid_t types[D_COUNT] = { H5T_NATIVE_INT8, H5T_NATIVE_INT8, H5T_NATIVE_FLOAT, H5T_NATIVE_INT16, s->str_err, H5T_NATIVE_FLOAT,
                             H5T_NATIVE_INT16, m->str_resp, H5T_NATIVE_INT32, H5T_NATIVE_INT8 };
    /* verdict last: a row counts as final only once everything else is there */
    for (int k = D_COUNT - 1; k > D_VERDICT; k--)
        H5TRY(H5Dwrite(m->d[k], types[k], msp, fsp, H5P_DEFAULT, bufs[k]), "write rows");
    if (m->d[D_TEXTV] >= 0) H5TRY(H5Dwrite(m->d[D_TEXTV], types[D_TEXTV], msp, fsp, H5P_DEFAULT, bufs[D_TEXTV]), "write rows");
    H5TRY(H5Dwrite(m->d[D_VERDICT], types[D_VERDICT], msp, fsp, H5P_DEFAULT, bufs[D_VERDICT]), "write rows");
out:
    H5Sclose(msp); H5Sclose(fsp);
    free(coord); free(v8); free(tr); free(tv); free(er); free(rk); free(pu); free(lat); free(rl); free(resp); free(em);
    return rc;
}

int store_write_stats(struct store *s, int mi, const struct model_report *mr, const struct report *r)
{
    struct smodel *m = &s->m[mi];
    int ng = stats_n_groups(r->n_subsets, r->n_scenarios), rc = RC_OK;
    struct stat_row *rows = calloc((size_t)ng, sizeof *rows);
    hid_t t = stats_type();
    if (!rows) { H5Tclose(t); return err_set(RC_ENOMEM, "out of memory"); }
    for (int g = 0; g < ng; g++) {
        const struct metrics *mt = &mr->groups[g];
        if (g == 0) snprintf(rows[g].group, sizeof rows[g].group, "all");
        else if (g <= r->n_subsets) snprintf(rows[g].group, sizeof rows[g].group, "subset:%s", r->subsets[g - 1]);
        else snprintf(rows[g].group, sizeof rows[g].group, "scenario:%s", r->scenarios[g - 1 - r->n_subsets]);
        rows[g].n = mt->c.n; rows[g].tp = mt->c.tp; rows[g].fn = mt->c.fn; rows[g].fp = mt->c.fp;
        rows[g].tn = mt->c.tn; rows[g].unparsed = mt->c.unparsed; rows[g].errors = mt->c.errors; rows[g].pending = mt->c.pending;
        memcpy(rows[g].v, mt->v, sizeof mt->v);
        memcpy(rows[g].lo, mt->lo, sizeof mt->lo);
        memcpy(rows[g].hi, mt->hi, sizeof mt->hi);
        rows[g].auroc = mt->has_auroc ? mt->auroc : NAN;
    }
    H5TRY(write_whole(s, m->stats, t, rows), "write stats");
    H5TRY(set_attr_num(m->stats, "total", H5T_NATIVE_DOUBLE, &mr->total), "write attribute");
    H5TRY(set_attr_str(m->stats, "parser", mr->parser), "write attribute");
    /* MMSafeAware with generation: how often the text's own verdict agrees with the logits' */
    H5TRY(set_attr_num(m->stats, "text_n", H5T_NATIVE_INT64, &mr->text_n), "write attribute");
    H5TRY(set_attr_num(m->stats, "text_agree", H5T_NATIVE_INT64, &mr->text_agree), "write attribute");
out:
    H5Tclose(t);
    free(rows);
    return rc;
}

int store_set_run_attrs(struct store *s, const struct run_attrs *a)
{
    int rc = RC_OK, runs = 0;
    hid_t at = H5Aopen(s->f, "runs", H5P_DEFAULT);
    if (at >= 0) { H5Aread(at, H5T_NATIVE_INT, &runs); H5Aclose(at); }
    runs++;
    H5TRY(set_attr_num(s->f, "runs", H5T_NATIVE_INT, &runs), "write attribute");
    H5TRY(set_attr_num(s->f, "n_ranks", H5T_NATIVE_INT, &a->n_ranks), "write attribute");
    H5TRY(set_attr_num(s->f, "complete", H5T_NATIVE_INT, &a->complete), "write attribute");
    H5TRY(set_attr_str(s->f, "hosts", a->hosts), "write attribute");
    if (a->kernels) H5TRY(set_attr_str(s->f, "engine_kernels", a->kernels), "write attribute");
    H5TRY(set_attr_str(s->f, "started", a->started), "write attribute");
    H5TRY(set_attr_str(s->f, "finished", a->finished), "write attribute");
    H5TRY(set_attr_str(s->f, "mmsafe_version", MMSAFE_VERSION), "write attribute");
out:
    return rc;
}

int store_close(struct store *s)
{
    if (!s) return RC_OK;
    int rc = RC_OK;
    for (int i = 0; i < s->n_models; i++) smodel_close(&s->m[i]);
    s->n_models = 0;
    cols_free(s);
    if (H5Tclose(s->str_err) < 0) rc = h5fail("close", s->path);
    s->str_err = -1;
    if (H5Fclose(s->f) < 0) rc = h5fail("close", s->path);
    s->f = -1;
    if (!rc && s->writer0) {        /* make the closed file durable */
        int fd = open(s->path, O_RDONLY);
        if (fd >= 0) { fsync(fd); close(fd); }
    }
    store_free(s);
    return rc;
}

/* --- serial reading ------------------------------------------------------- */

static int read_strings(hid_t f, const char *name, size_t n, char ***out)
{
    *out = NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t ft = H5Dget_type(d);
    size_t w = H5Tget_size(ft);
    hid_t mt = str_type(w);
    char *b = calloc(n ? n : 1, w);
    char **v = calloc(n ? n : 1, sizeof *v);
    int ok = b && v && H5Tget_class(ft) == H5T_STRING && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0;
    for (size_t i = 0; ok && i < n; i++) v[i] = util_strndup(b + i * w, strnlen(b + i * w, w));
    free(b);
    H5Tclose(mt); H5Tclose(ft); H5Dclose(d);
    if (!ok) { free(v); return -1; }
    *out = v;
    return 0;
}

static int read_num(hid_t g, const char *name, hid_t type, size_t n, size_t esz, void **out)
{
    *out = NULL;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1] = { 0 };
    int ok = H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, dims, NULL) == 1 && dims[0] == n;
    void *b = ok ? malloc(n ? n * esz : 1) : NULL;
    ok = ok && b && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0;
    H5Sclose(sp); H5Dclose(d);
    if (!ok) { free(b); return -1; }
    *out = b;
    return 0;
}

static char *get_attr_str(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0) return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    char *v = NULL;
    if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
        size_t w = H5Tget_size(t);
        hid_t mt = str_type(w);
        char *b = calloc(1, w + 1);
        if (b && H5Aread(a, mt, b) >= 0) v = util_strndup(b, strnlen(b, w));
        free(b);
        H5Tclose(mt);
    }
    H5Tclose(t); H5Aclose(a);
    return v;
}

static int get_attr_int(hid_t loc, const char *name, int dflt)
{
    int v = dflt;
    if (H5Aexists(loc, name) <= 0) return dflt;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (H5Aread(a, H5T_NATIVE_INT, &v) < 0) v = dflt;
    H5Aclose(a);
    return v;
}

struct name_list { char **v; int n; };
static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    (void)g; (void)info;
    struct name_list *l = arg;
    char **nv = realloc(l->v, (size_t)(l->n + 1) * sizeof *nv);
    if (!nv) return -1;
    l->v = nv;
    l->v[l->n++] = util_strdup(name);
    return 0;
}

static void index_strings(char **v, size_t n, int *idx, char ***names, int *nn)
{
    *names = NULL; *nn = 0;
    for (size_t i = 0; i < n; i++) {
        idx[i] = -1;
        if (!v[i] || !v[i][0]) continue;
        int k;
        for (k = 0; k < *nn; k++) if (!strcmp((*names)[k], v[i])) break;
        if (k == *nn) {
            *names = realloc(*names, (size_t)(*nn + 1) * sizeof **names);
            (*names)[(*nn)++] = util_strdup(v[i]);
        }
        idx[i] = k;
    }
}

int store_is_readable(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = make_fapl(NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return 0;
    H5Fclose(f);
    return 1;
}

static int results_read_ex(const char *path, int with_text, int with_models, struct results *r);
int results_read(const char *path, int with_text, struct results *r) { return results_read_ex(path, with_text, 1, r); }
int results_items_read(const char *path, struct results *r) { return results_read_ex(path, 0, 0, r); }

static int results_read_ex(const char *path, int with_text, int with_models, struct results *r)
{
    memset(r, 0, sizeof *r);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0) return err_set(RC_EIO, "cannot read results file '%s': no such file or not readable", path);
    hid_t fapl = make_fapl(NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return err_set(RC_EHDF5, "'%s' is not a readable HDF5 file (damaged, or not a results file)", path);
    int rc = RC_OK;
    size_t n = 0;
    char **sub = NULL, **scen = NULL;
    hid_t d = H5Dopen2(f, "/items/label", H5P_DEFAULT), models = -1;
    hsize_t dims[1] = { 0 };
    if (d < 0) { rc = err_set(RC_EFORMAT, "'%s' has no /items/label: not an mmsafe results file", path); goto out; }
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp); H5Dclose(d);
    n = r->n = (size_t)dims[0];
    if (read_strings(f, "/items/id", n, &r->ids) || read_num(f, "/items/label", H5T_NATIVE_INT8, n, 1, (void **)&r->labels) ||
        read_strings(f, "/items/subset", n, &sub) || read_strings(f, "/items/scenario", n, &scen)) {
        rc = err_set(RC_EFORMAT, "'%s': cannot read /items (damaged or not a results file)", path);
        goto out;
    }
    r->subset = malloc(n * sizeof(int) + 1);
    r->scenario = malloc(n * sizeof(int) + 1);
    index_strings(sub, n, r->subset, &r->subsets, &r->n_subsets);
    index_strings(scen, n, r->scenario, &r->scenarios, &r->n_scenarios);
    r->job = get_attr_str(f, "job");
    r->job_path = get_attr_str(f, "job_path");
    r->manifest = get_attr_str(f, "manifest");
    r->manifest_sha256 = get_attr_str(f, "manifest_sha256");
    r->inputs_sha256 = get_attr_str(f, "inputs_sha256");
    r->benchmark = get_attr_str(f, "benchmark");   /* NULL in files older than it: mmsafeaware */
    r->version = get_attr_str(f, "mmsafe_version");
    r->hosts = get_attr_str(f, "hosts");
    r->kernels = get_attr_str(f, "engine_kernels");
    r->started = get_attr_str(f, "started");
    r->finished = get_attr_str(f, "finished");
    r->n_ranks = get_attr_int(f, "n_ranks", 0);
    r->runs = get_attr_int(f, "runs", 0);
    r->complete = get_attr_int(f, "complete", 0);
    if (!with_models) goto out;
    models = H5Gopen2(f, "/models", H5P_DEFAULT);
    if (models < 0) { rc = err_set(RC_EFORMAT, "'%s' has no /models group", path); goto out; }
    struct name_list nl = { 0 };
    if (H5Literate(models, H5_INDEX_CRT_ORDER, H5_ITER_INC, NULL, collect_name, &nl) < 0) {
        nl.n = 0;
        if (H5Literate(models, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_name, &nl) < 0) {
            rc = err_set(RC_EFORMAT, "'%s': cannot list /models", path);
            goto out;
        }
    }
    r->models = calloc((size_t)nl.n + 1, sizeof *r->models);
    r->n_models = nl.n;
    for (int i = 0; i < nl.n && !rc; i++) {
        struct model_results *m = &r->models[i];
        m->name = nl.v[i];
        hid_t g = H5Gopen2(models, m->name, H5P_DEFAULT);
        if (g < 0) { rc = err_set(RC_EFORMAT, "'%s': cannot open /models/%s", path, m->name); break; }
        m->backend = get_attr_str(g, "backend");
        m->parser = get_attr_str(g, "parser");
        m->model_json = get_attr_str(g, "model_json");
        m->settings = get_attr_str(g, "settings");
        int bad = read_num(g, "verdict", H5T_NATIVE_INT8, n, 1, (void **)&m->verdict) ||
                  read_num(g, "p_unsafe", H5T_NATIVE_FLOAT, n, 4, (void **)&m->p_unsafe) ||
                  read_num(g, "error", H5T_NATIVE_INT16, n, 2, (void **)&m->error) ||
                  read_num(g, "latency_ms", H5T_NATIVE_FLOAT, n, 4, (void **)&m->latency_ms) ||
                  read_num(g, "rank", H5T_NATIVE_INT16, n, 2, (void **)&m->rank) ||
                  read_num(g, "response_len", H5T_NATIVE_INT32, n, 4, (void **)&m->response_len) ||
                  read_num(g, "response_truncated", H5T_NATIVE_INT8, n, 1, (void **)&m->truncated);
        if (!bad && (H5Lexists(g, "text_verdict", H5P_DEFAULT) <= 0 || read_num(g, "text_verdict", H5T_NATIVE_INT8, n, 1, (void **)&m->text_verdict))) {
            m->text_verdict = malloc(n + 1);   /* files older than it: none */
            if (m->text_verdict) memset(m->text_verdict, -1, n + 1); else bad = 1;
        }
        if (!bad && with_text) {
            hid_t rd = H5Dopen2(g, "response", H5P_DEFAULT), ed = H5Dopen2(g, "error_msg", H5P_DEFAULT);
            hid_t rt = rd >= 0 ? H5Dget_type(rd) : -1;
            m->width = rt >= 0 ? (int)H5Tget_size(rt) : 0;
            m->response = calloc(n ? n : 1, (size_t)(m->width ? m->width : 1));
            m->error_msg = calloc(n ? n : 1, STORE_ERRMSG_WIDTH);
            hid_t et = str_type(STORE_ERRMSG_WIDTH), mt = str_type((size_t)m->width);
            bad = rd < 0 || ed < 0 || !m->response || !m->error_msg ||
                  H5Dread(rd, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->response) < 0 ||
                  H5Dread(ed, et, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->error_msg) < 0;
            H5Tclose(et); H5Tclose(mt);
            if (rt >= 0) H5Tclose(rt);
            if (rd >= 0) H5Dclose(rd);
            if (ed >= 0) H5Dclose(ed);
        }
        H5Gclose(g);
        if (bad) rc = err_set(RC_EFORMAT, "'%s': cannot read /models/%s (damaged file?)", path, m->name);
    }
    free(nl.v);
out:
    for (size_t i = 0; sub && i < n; i++) free(sub[i]);
    for (size_t i = 0; scen && i < n; i++) free(scen[i]);
    free(sub); free(scen);
    if (models >= 0) H5Gclose(models);
    H5Fclose(f);
    if (rc) results_release(r);
    return rc;
}

void results_release(struct results *r)
{
    if (!r) return;
    for (size_t i = 0; r->ids && i < r->n; i++) free(r->ids[i]);
    for (int i = 0; i < r->n_subsets; i++) free(r->subsets[i]);
    for (int i = 0; i < r->n_scenarios; i++) free(r->scenarios[i]);
    for (int i = 0; i < r->n_models; i++) {
        struct model_results *m = &r->models[i];
        free(m->name); free(m->backend); free(m->parser); free(m->model_json); free(m->settings);
        free(m->verdict); free(m->truncated); free(m->text_verdict); free(m->p_unsafe); free(m->latency_ms);
        free(m->error); free(m->rank); free(m->response_len); free(m->response); free(m->error_msg);
    }
    free(r->models); free(r->ids); free(r->labels); free(r->subset); free(r->scenario);
    free(r->subsets); free(r->scenarios);
    free(r->job); free(r->job_path); free(r->manifest); free(r->manifest_sha256); free(r->inputs_sha256); free(r->benchmark); free(r->version);
    free(r->hosts); free(r->kernels); free(r->started); free(r->finished);
    memset(r, 0, sizeof *r);
}

void results_layout(const struct results *r, struct store_layout *lay, char **names, char **backends, char **json,
                    char **settings)
{
    memset(lay, 0, sizeof *lay);
    lay->n_items = r->n;
    lay->ids = r->ids;
    lay->labels = r->labels;
    lay->subset = r->subset;
    lay->scenario = r->scenario;
    lay->n_subsets = r->n_subsets;
    lay->n_scenarios = r->n_scenarios;
    lay->subsets = r->subsets;
    lay->scenarios = r->scenarios;
    lay->n_models = r->n_models;
    for (int i = 0; i < r->n_models; i++) {
        names[i] = r->models[i].name;
        backends[i] = r->models[i].backend;
        json[i] = r->models[i].model_json;
        settings[i] = r->models[i].settings ? r->models[i].settings : "";
    }
    lay->model_names = names;
    lay->backends = backends;
    lay->model_json = json;
    lay->settings = settings;
    lay->parser = r->n_models ? r->models[0].parser : "strict";
    lay->benchmark = r->benchmark;
    lay->response_width = r->n_models && r->models[0].width ? r->models[0].width : 512;
    lay->job_text = r->job;
    lay->job_path = r->job_path;
    lay->manifest_path = r->manifest;
    lay->manifest_sha256 = r->manifest_sha256;
}

/* === judged benchmarks: columns (store.h) ================================= */

enum { T_I8, T_I16, T_I32, T_F32 };
enum { F_STATUS, F_RATING, F_RPATH, F_VPATH, F_LEN, F_NPROMPT, F_NGEN, F_STOP, F_ERROR, F_LATENCY, F_RANK };
struct cdef { const char *name; int type, field; double fill; };
static const struct cdef answer_defs[] = {
    { "answer_len", T_I32, F_LEN, 0 }, { "n_prompt", T_I32, F_NPROMPT, 0 }, { "n_generated", T_I32, F_NGEN, 0 },
    { "stop", T_I8, F_STOP, 0 }, { "error", T_I16, F_ERROR, 0 }, { "latency_ms", T_F32, F_LATENCY, 0 },
    { "rank", T_I16, F_RANK, -1 }, { "status", T_I8, F_STATUS, -1 }, { NULL, 0, 0, 0 },
};
static const struct cdef vote_defs[] = {
    { "rating", T_I8, F_RATING, -1 }, { "result_path", T_I8, F_RPATH, 0 }, { "rating_path", T_I8, F_VPATH, 0 },
    { "text_len", T_I32, F_LEN, 0 }, { "n_prompt", T_I32, F_NPROMPT, 0 }, { "n_generated", T_I32, F_NGEN, 0 },
    { "stop", T_I8, F_STOP, 0 }, { "error", T_I16, F_ERROR, 0 }, { "latency_ms", T_F32, F_LATENCY, 0 },
    { "rank", T_I16, F_RANK, -1 }, { "vote", T_I8, F_STATUS, -1 }, { NULL, 0, 0, 0 },
};
static const char *const consensus_names[] = { "votes_safe", "votes_unsafe", "votes_unparsed", "votes_error", "tie" };

static hid_t ntype(int t)
{
    return t == T_I8 ? H5T_NATIVE_INT8 : t == T_I16 ? H5T_NATIVE_INT16 : t == T_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
}
static size_t nsize(int t) { return t == T_I8 ? 1 : t == T_I16 ? 2 : 4; }
static const struct cdef *col_defs(int kind) { return kind == COL_ANSWER ? answer_defs : vote_defs; }
static const char *col_text_name(int kind) { return kind == COL_ANSWER ? "answer" : "text"; }

static void put_num(void *buf, size_t i, int t, double v)
{
    switch (t) {
    case T_I8: ((int8_t *)buf)[i] = (int8_t)v; break;
    case T_I16: ((int16_t *)buf)[i] = (int16_t)v; break;
    case T_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
    default: ((float *)buf)[i] = (float)v; break;
    }
}

static double row_field(const struct row *r, int f)
{
    switch (f) {
    case F_STATUS: return r->verdict;
    case F_RATING: return r->rating;
    case F_RPATH: return r->result_path;
    case F_VPATH: return r->rating_path;
    case F_LEN: return r->response_len;
    case F_NPROMPT: return r->n_prompt;
    case F_NGEN: return r->n_generated;
    case F_STOP: return r->stop;
    case F_ERROR: return r->error;
    case F_LATENCY: return r->latency_ms;
    default: return r->rank;
    }
}

struct scol { hid_t g; int kind; char *path; };

static int col_create(struct store *s, const struct store_col *c, hid_t *g_out)
{
    int rc = RC_OK;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t g = H5Gcreate2(s->f, c->path, lcpl, gcpl, H5P_DEFAULT);
    H5Pclose(lcpl); H5Pclose(gcpl);
    if (g < 0) return h5fail("create a column group", s->path);
    size_t n = s->n_items;
    for (const struct cdef *d = col_defs(c->kind); d->name; d++) {
        char fill[8];
        put_num(fill, 0, d->type, d->fill);
        hid_t ds = mk_dset(g, d->name, ntype(d->type), n, fill);
        if (ds < 0) { rc = h5fail("create a column dataset", s->path); goto out; }
        H5Dclose(ds);
    }
    hid_t ds = mk_dset(g, "error_msg", s->str_err, n, NULL);
    if (ds < 0) { rc = h5fail("create a column dataset", s->path); goto out; }
    H5Dclose(ds);
    if (c->kind == COL_ANSWER) {
        const int8_t pend = -1, z = 0;
        const float nanv = NAN;
        if ((ds = mk_dset(g, "verdict", H5T_NATIVE_INT8, n, &pend)) < 0) { rc = h5fail("create consensus", s->path); goto out; }
        H5Dclose(ds);
        if ((ds = mk_dset(g, "rating", H5T_NATIVE_FLOAT, n, &nanv)) < 0) { rc = h5fail("create consensus", s->path); goto out; }
        H5Dclose(ds);
        for (int k = 0; k < 5; k++) {
            if ((ds = mk_dset(g, consensus_names[k], H5T_NATIVE_INT8, n, &z)) < 0) { rc = h5fail("create consensus", s->path); goto out; }
            H5Dclose(ds);
        }
    }
    if (set_attr_str(g, "kind", c->kind == COL_ANSWER ? "answers" : "votes") || set_attr_str(g, "spec", c->spec)) {
        rc = h5fail("write attribute", s->path);
        goto out;
    }
    for (int k = 0; c->attrs && c->attrs[k] && c->attrs[k + 1]; k += 2)
        if (set_attr_str(g, c->attrs[k], c->attrs[k + 1])) { rc = h5fail("write attribute", s->path); goto out; }
out:
    if (rc) H5Gclose(g); else *g_out = g;
    return rc;
}

int store_cols_open(struct store *s, int n, const struct store_col *cols)
{
    int rc = RC_OK;
    struct scol *v = calloc((size_t)n + 1, sizeof *v);
    if (!v) return err_set(RC_ENOMEM, "out of memory");
    s->cols = v;
    s->n_cols = n;
    for (int i = 0; i < n; i++) v[i].g = -1;
    for (int i = 0; i < n && !rc; i++) {
        const struct store_col *c = &cols[i];
        v[i].kind = c->kind;
        v[i].path = util_strdup(c->path);
        htri_t ex = H5Lexists(s->f, c->path, H5P_DEFAULT);
        if (ex > 0 && c->kind == COL_VOTE) {
            hid_t g = H5Gopen2(s->f, c->path, H5P_DEFAULT);
            char *spec = g >= 0 ? get_attr_str(g, "spec") : NULL;
            if (g >= 0) H5Gclose(g);
            if (!spec || strcmp(spec, c->spec)) {
                if (!c->replaceable)
                    rc = err_set(RC_ECONFIG, "'%s': %s was made with other settings than the job's (%s, now %s); "
                                 "use --fresh, another \"output\", or give the judge a new name", s->path, c->path,
                                 spec ? spec : "?", c->spec);
                else {
                    if (s->writer0) log_warn("'%s': %s was made by another jury; its votes are deliberated again", s->path, c->path);
                    if (H5Ldelete(s->f, c->path, H5P_DEFAULT) < 0) rc = h5fail("replace a column", s->path);
                    ex = 0;
                }
            }
            free(spec);
        } else if (ex > 0) {
            hid_t g = H5Gopen2(s->f, c->path, H5P_DEFAULT);
            char *spec = g >= 0 ? get_attr_str(g, "spec") : NULL;
            if (g >= 0) H5Gclose(g);
            if (!spec || strcmp(spec, c->spec))
                rc = err_set(RC_ECONFIG, "'%s': the answers in %s were generated with other settings than the job's "
                             "(%s, now %s); use --fresh or another \"output\"", s->path, c->path, spec ? spec : "?", c->spec);
            free(spec);
        }
        if (rc) break;
        if (ex > 0) {
            if ((v[i].g = H5Gopen2(s->f, c->path, H5P_DEFAULT)) < 0) rc = h5fail("open a column", s->path);
            else {   /* settings may differ in ways the spec leaves out (a resolved template): refresh */
                for (int k = 0; c->attrs && c->attrs[k] && c->attrs[k + 1]; k += 2)
                    if (set_attr_str(v[i].g, c->attrs[k], c->attrs[k + 1])) { rc = h5fail("write attribute", s->path); break; }
            }
        } else rc = col_create(s, c, &v[i].g);
    }
    if (!rc && H5Fflush(s->f, H5F_SCOPE_GLOBAL) < 0) rc = h5fail("flush", s->path);
    return rc;
}

/* The width of column ci's text dataset (0 when it has none yet). */
static int col_text_width(struct store *s, int ci)
{
    const char *tn = col_text_name(s->cols[ci].kind);
    if (H5Lexists(s->cols[ci].g, tn, H5P_DEFAULT) <= 0) return 0;
    hid_t d = H5Dopen2(s->cols[ci].g, tn, H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    int w = (int)H5Tget_size(t);
    H5Tclose(t); H5Dclose(d);
    return w;
}

/* Selects rows idx[0..n) (ascending) of a 1-D dataset's space. */
static int select_rows(hid_t fsp, size_t n, const uint32_t *idx)
{
    if (idx[n - 1] - idx[0] == n - 1) {
        hsize_t start[1] = { idx[0] }, count[1] = { n };
        return H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ? -1 : 0;
    }
    hsize_t *coord = malloc(n * sizeof *coord);
    if (!coord) return -1;
    for (size_t i = 0; i < n; i++) coord[i] = idx[i];
    herr_t e = H5Sselect_elements(fsp, H5S_SELECT_SET, n, coord);
    free(coord);
    return e < 0 ? -1 : 0;
}

static void cols_free(struct store *s)
{
    for (int i = 0; i < s->n_cols; i++) {
        if (s->cols[i].g >= 0) H5Gclose(s->cols[i].g);
        free(s->cols[i].path);
    }
    free(s->cols);
    s->cols = NULL;
    s->n_cols = 0;
}

/* Collective: the text dataset of column ci at least `want` bytes wide.  When
 * an existing one is narrower, rank 0 keeps its texts and writes them into the
 * new one (the other ranks only write rows that were empty there). */
static int col_text_ensure(struct store *s, int ci, int want)
{
    struct scol *c = &s->cols[ci];
    const char *tn = col_text_name(c->kind);
    int have = col_text_width(s, ci), rc = RC_OK;
    if (have && have >= want) return RC_OK;
    size_t n = s->n_items;
    char *old = NULL;
    if (have && s->writer0) {
        old = calloc(n ? n : 1, (size_t)have);
        hid_t d = H5Dopen2(c->g, tn, H5P_DEFAULT), t = str_type((size_t)have);
        if (!old || d < 0 || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, old) < 0) rc = h5fail("read texts", s->path);
        H5Tclose(t);
        if (d >= 0) H5Dclose(d);
    }
    if (have && H5Ldelete(c->g, tn, H5P_DEFAULT) < 0 && !rc) rc = h5fail("widen texts", s->path);
    hid_t t = str_type((size_t)want);
    hid_t d = mk_dset(c->g, tn, t, n, NULL);
    if (d < 0 && !rc) rc = h5fail("create texts", s->path);
    if (!rc && old) {
        /* the rows that have text, rewritten at the new width */
        size_t k = 0;
        uint32_t *idx = malloc(n * sizeof *idx + 4);
        char *buf = calloc(n ? n : 1, (size_t)want);
        if (!idx || !buf) rc = err_set(RC_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < n; i++)
            if (old[i * (size_t)have]) { memcpy(buf + k * (size_t)want, old + i * (size_t)have, (size_t)have); idx[k++] = (uint32_t)i; }
        if (!rc && k) {
            hsize_t md[1] = { k };
            hid_t msp = H5Screate_simple(1, md, NULL), fsp = H5Dget_space(d);
            if (select_rows(fsp, k, idx) || H5Dwrite(d, t, msp, fsp, H5P_DEFAULT, buf) < 0) rc = h5fail("widen texts", s->path);
            H5Sclose(msp); H5Sclose(fsp);
        }
        free(idx); free(buf);
    }
    free(old);
    if (d >= 0) H5Dclose(d);
    H5Tclose(t);
    return rc;
}

int store_cols_flush(struct store *s, int ci, size_t n, const uint32_t *idx, const struct row *rows)
{
    struct scol *c = &s->cols[ci];
    int32_t want = 1;
    for (size_t i = 0; i < n; i++) {
        CHECK(idx[i] < s->n_items && (i == 0 || idx[i] > idx[i - 1]));
        size_t l = rows[i].response ? strlen(rows[i].response) : 0;
        if ((int32_t)l + 1 > want) want = (int32_t)l + 1;
    }
    int rc = s->c ? comm_allreduce_max_i32(s->c, &want, 1) : RC_OK;
    want = (want + 63) / 64 * 64;      /* fewer widenings */
    if (!rc) rc = col_text_ensure(s, ci, want);
    if (!rc && s->c) rc = comm_agree(s->c, rc);   /* every rank past the collective steps */
    if (rc || n == 0) return rc;
    const char *tn = col_text_name(c->kind);
    hid_t td = H5Dopen2(c->g, tn, H5P_DEFAULT);
    int width = col_text_width(s, ci);
    hid_t tt = str_type((size_t)width);
    hsize_t md[1] = { n };
    hid_t msp = H5Screate_simple(1, md, NULL), fsp = td >= 0 ? H5Dget_space(td) : -1;
    char *text = calloc(n, (size_t)width), *em = calloc(n, STORE_ERRMSG_WIDTH);
    void *buf = malloc(n * 4);
    if (td < 0 || fsp < 0) { rc = h5fail("open texts", s->path); goto out; }
    if (!text || !em || !buf) { rc = err_set(RC_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].response) {   /* width >= the longest text + 1 (agreed above): never cut, bounded anyway */
            size_t l = strlen(rows[i].response);
            memcpy(text + i * (size_t)width, rows[i].response, l < (size_t)width ? l : (size_t)width);
        }
        if (rows[i].reason) strncpy(em + i * STORE_ERRMSG_WIDTH, rows[i].reason, STORE_ERRMSG_WIDTH);
    }
    H5TRY(select_rows(fsp, n, idx), "select rows");
    H5TRY(H5Dwrite(td, tt, msp, fsp, H5P_DEFAULT, text), "write texts");
    {
        hid_t d = H5Dopen2(c->g, "error_msg", H5P_DEFAULT);
        H5TRY(d, "open error_msg");
        herr_t e = H5Dwrite(d, s->str_err, msp, fsp, H5P_DEFAULT, em);
        H5Dclose(d);
        H5TRY(e, "write rows");
    }
    /* the status / vote dataset is last in the table: a row is final once the rest is there */
    for (const struct cdef *dd = col_defs(c->kind); dd->name; dd++) {
        for (size_t i = 0; i < n; i++) put_num(buf, i, dd->type, row_field(&rows[i], dd->field));
        hid_t d = H5Dopen2(c->g, dd->name, H5P_DEFAULT);
        H5TRY(d, "open a column dataset");
        herr_t e = H5Dwrite(d, ntype(dd->type), msp, fsp, H5P_DEFAULT, buf);
        H5Dclose(d);
        H5TRY(e, "write rows");
    }
out:
    free(text); free(em); free(buf);
    if (fsp >= 0) H5Sclose(fsp);
    H5Sclose(msp);
    H5Tclose(tt);
    if (td >= 0) H5Dclose(td);
    return rc;
}

int store_cols_consensus(struct store *s, int ci, const int8_t *verdict, const float *rating, const int8_t *counts)
{
    if (!s->writer0) return RC_OK;
    struct scol *c = &s->cols[ci];
    size_t n = s->n_items;
    int rc = RC_OK;
    const char *names[7] = { "verdict", "rating", consensus_names[0], consensus_names[1], consensus_names[2],
                             consensus_names[3], consensus_names[4] };
    for (int k = 0; k < 7 && !rc; k++) {
        hid_t d = H5Dopen2(c->g, names[k], H5P_DEFAULT);
        const void *b = k == 0 ? (const void *)verdict : k == 1 ? (const void *)rating : (const void *)(counts + (size_t)(k - 2) * n);
        if (d < 0 || H5Dwrite(d, k == 1 ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0)
            rc = h5fail("write the consensus", s->path);
        if (d >= 0) H5Dclose(d);
    }
    return rc;
}

int store_set_root_attr(struct store *s, const char *name, const char *value)
{
    return set_attr_str(s->f, name, value) ? h5fail("write attribute", s->path) : RC_OK;
}

/* --- reading columns ---------------------------------------------------- */

static void *read_col_num(hid_t g, const char *name, int t, size_t n)
{
    void *b = NULL;
    return read_num(g, name, ntype(t), n, nsize(t), &b) ? NULL : b;
}

int store_cols_read(const char *path, size_t n, int n_cols, const char *const *paths, int with_text, struct col_data *out)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    memset(out, 0, (size_t)n_cols * sizeof *out);
    hid_t fapl = make_fapl(NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return err_set(RC_EHDF5, "'%s' is not a readable HDF5 file (damaged, or not a results file)", path);
    int rc = RC_OK;
    for (int ci = 0; ci < n_cols && !rc; ci++) {
        struct col_data *c = &out[ci];
        if (H5Lexists(f, paths[ci], H5P_DEFAULT) <= 0) continue;
        hid_t g = H5Gopen2(f, paths[ci], H5P_DEFAULT);
        if (g < 0) continue;
        char *kind = get_attr_str(g, "kind");
        c->kind = kind && !strcmp(kind, "answers") ? COL_ANSWER : kind && !strcmp(kind, "votes") ? COL_VOTE : 0;
        free(kind);
        if (!c->kind) { H5Gclose(g); continue; }
        c->exists = 1;
        c->n = n;
        c->spec = get_attr_str(g, "spec");
        c->backend = get_attr_str(g, "backend");
        c->model_json = get_attr_str(g, "model_json");
        c->settings = get_attr_str(g, "settings");
        c->judge = get_attr_str(g, "judge");
        c->model = get_attr_str(g, "model");
        char *r = get_attr_str(g, "round");
        c->round = r ? atoi(r) : -1;
        free(r);
        int vote = c->kind == COL_VOTE;
        c->status = read_col_num(g, vote ? "vote" : "status", T_I8, n);
        c->rating = vote ? read_col_num(g, "rating", T_I8, n) : NULL;
        c->result_path = vote ? read_col_num(g, "result_path", T_I8, n) : NULL;
        c->rating_path = vote ? read_col_num(g, "rating_path", T_I8, n) : NULL;
        c->stop = read_col_num(g, "stop", T_I8, n);
        c->error = read_col_num(g, "error", T_I16, n);
        c->rank = read_col_num(g, "rank", T_I16, n);
        c->len = read_col_num(g, vote ? "text_len" : "answer_len", T_I32, n);
        c->n_prompt = read_col_num(g, "n_prompt", T_I32, n);
        c->n_generated = read_col_num(g, "n_generated", T_I32, n);
        c->latency_ms = read_col_num(g, "latency_ms", T_F32, n);
        int bad = !c->status || !c->stop || !c->error || !c->rank || !c->len || !c->n_prompt || !c->n_generated ||
                  !c->latency_ms || (vote && (!c->rating || !c->result_path || !c->rating_path));
        if (!vote && !bad) {
            c->verdict = read_col_num(g, "verdict", T_I8, n);
            c->mean_rating = read_col_num(g, "rating", T_F32, n);
            for (int k = 0; k < 5; k++) c->votes[k] = read_col_num(g, consensus_names[k], T_I8, n);
            bad = !c->verdict || !c->mean_rating || !c->votes[0] || !c->votes[1] || !c->votes[2] || !c->votes[3] || !c->votes[4];
        }
        if (!bad && with_text) {
            c->text = calloc(n ? n : 1, sizeof *c->text);
            c->error_msg = calloc(n ? n : 1, sizeof *c->error_msg);
            char **em = NULL;
            bad = !c->text || !c->error_msg || read_strings(g, "error_msg", n, &em);
            if (!bad) { free(c->error_msg); c->error_msg = em; }
            const char *tn = col_text_name(c->kind);
            if (!bad && H5Lexists(g, tn, H5P_DEFAULT) > 0) {
                char **tx = NULL;
                bad = read_strings(g, tn, n, &tx);
                for (size_t i = 0; !bad && i < n; i++) {
                    if (c->status[i] >= 0) c->text[i] = tx[i];
                    else free(tx[i]);
                }
                free(tx);
            }
        }
        H5Gclose(g);
        if (bad) rc = err_set(RC_EFORMAT, "'%s': cannot read %s (damaged file?)", path, paths[ci]);
    }
    H5Fclose(f);
    if (rc) for (int ci = 0; ci < n_cols; ci++) col_data_release(&out[ci]);
    return rc;
}

void col_data_release(struct col_data *c)
{
    if (!c) return;
    free(c->spec); free(c->backend); free(c->model_json); free(c->settings); free(c->judge); free(c->model);
    free(c->status); free(c->rating); free(c->result_path); free(c->rating_path); free(c->stop);
    free(c->error); free(c->rank); free(c->len); free(c->n_prompt); free(c->n_generated); free(c->latency_ms);
    free(c->verdict); free(c->mean_rating);
    for (int k = 0; k < 5; k++) free(c->votes[k]);
    for (size_t i = 0; i < c->n; i++) {
        if (c->text) free(c->text[i]);
        if (c->error_msg) free(c->error_msg[i]);
    }
    free(c->text); free(c->error_msg);
    memset(c, 0, sizeof *c);
}

/* --- listing columns ----------------------------------------------------- */

static herr_t collect_name_order(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    return collect_name(g, name, info, arg);
}

static int list_group(hid_t loc, const char *path, struct name_list *nl)
{
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g < 0) return -1;
    int e = H5Literate(g, H5_INDEX_CRT_ORDER, H5_ITER_INC, NULL, collect_name_order, nl) < 0;
    if (e) { nl->n = 0; e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_name_order, nl) < 0; }
    H5Gclose(g);
    return e ? -1 : 0;
}

static int push_path(char ***v, int *n, char *p)
{
    char **nv = realloc(*v, (size_t)(*n + 1) * sizeof *nv);
    if (!nv || !p) { free(p); return -1; }
    *v = nv;
    (*v)[(*n)++] = p;
    return 0;
}

int store_cols_list(const char *path, char ***paths, int *n)
{
    *paths = NULL;
    *n = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = make_fapl(NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return err_set(RC_EHDF5, "'%s' is not a readable HDF5 file", path);
    int rc = RC_OK;
    struct name_list models = { 0 };
    if (list_group(f, "/models", &models)) rc = err_set(RC_EFORMAT, "'%s' has no /models group", path);
    /* answers first (file order), then every model's votes */
    for (int i = 0; i < models.n && !rc; i++)
        if (push_path(paths, n, util_fmt("/models/%s", models.v[i]))) rc = err_set(RC_ENOMEM, "out of memory");
    for (int i = 0; i < models.n && !rc; i++) {
        char *jp = util_fmt("/models/%s/judges", models.v[i]);
        struct name_list judges = { 0 };
        if (jp && H5Lexists(f, jp, H5P_DEFAULT) > 0 && !list_group(f, jp, &judges)) {
            for (int j = 0; j < judges.n && !rc; j++) {
                for (int r = 0; r <= 16 && !rc; r++) {
                    char *rp = util_fmt("%s/%s/round%d", jp, judges.v[j], r);
                    if (rp && H5Lexists(f, rp, H5P_DEFAULT) > 0) { if (push_path(paths, n, rp)) rc = err_set(RC_ENOMEM, "out of memory"); }
                    else free(rp);
                }
            }
        }
        for (int j = 0; j < judges.n; j++) free(judges.v[j]);
        free(judges.v);
        free(jp);
    }
    for (int i = 0; i < models.n; i++) free(models.v[i]);
    free(models.v);
    H5Fclose(f);
    if (rc) { for (int i = 0; i < *n; i++) free((*paths)[i]); free(*paths); *paths = NULL; *n = 0; }
    return rc;
}

int results_ident_read(const char *path, struct results_ident *id)
{
    memset(id, 0, sizeof *id);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0) return err_set(RC_EIO, "cannot read results file '%s': no such file or not readable", path);
    hid_t fapl = make_fapl(NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return err_set(RC_EHDF5, "'%s' is not a readable HDF5 file (damaged, or not a results file)", path);
    hid_t d = H5Dopen2(f, "/items/label", H5P_DEFAULT);
    int rc = RC_OK;
    if (d < 0) rc = err_set(RC_EFORMAT, "'%s' has no /items/label: not an mmsafe results file", path);
    else {
        hid_t sp = H5Dget_space(d);
        hsize_t dims[1] = { 0 };
        H5Sget_simple_extent_dims(sp, dims, NULL);
        id->n_items = (int64_t)dims[0];
        H5Sclose(sp); H5Dclose(d);
        id->manifest_sha256 = get_attr_str(f, "manifest_sha256");
        id->benchmark = get_attr_str(f, "benchmark");
        id->jury = get_attr_str(f, "jury");
    }
    H5Fclose(f);
    return rc;
}

void results_ident_release(struct results_ident *id)
{
    free(id->manifest_sha256); free(id->benchmark); free(id->jury);
    memset(id, 0, sizeof *id);
}

/* --- merging judged files ------------------------------------------------ */

static herr_t copy_root_attr(hid_t loc, const char *name, const H5A_info_t *info, void *arg)
{
    (void)info;
    hid_t dst = *(hid_t *)arg;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    size_t sz = H5Tget_size(t);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    void *b = calloc((size_t)(np > 0 ? np : 1), sz + 1);
    herr_t e = -1;
    if (b && H5Aread(a, t, b) >= 0) {
        if (H5Aexists(dst, name) > 0) H5Adelete(dst, name);
        hid_t na = H5Acreate2(dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (na >= 0) { e = H5Awrite(na, t, b); H5Aclose(na); }
    }
    free(b);
    H5Sclose(sp); H5Tclose(t); H5Aclose(a);
    return e < 0 ? -1 : 0;
}

int store_merge_cols(const char *out, int n_in, const char *const *in)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = make_fapl(NULL), gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t fo = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), models = -1;
    int rc = RC_OK;
    if (fo < 0) rc = err_set(RC_EHDF5, "cannot create '%s' (does its folder exist and is it writable?)", out);
    else if ((models = H5Gcreate2(fo, "models", H5P_DEFAULT, gcpl, H5P_DEFAULT)) < 0) rc = h5fail("create /models", out);
    for (int k = 0; k < n_in && !rc; k++) {
        hid_t fi = H5Fopen(in[k], H5F_ACC_RDONLY, fapl);
        if (fi < 0) { rc = err_set(RC_EHDF5, "'%s' is not a readable HDF5 file", in[k]); break; }
        if (k == 0) {
            if (H5Ocopy(fi, "items", fo, "items", H5P_DEFAULT, H5P_DEFAULT) < 0) rc = h5fail("copy /items", in[k]);
            hsize_t idx = 0;
            if (!rc && H5Aiterate2(fi, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_root_attr, &fo) < 0) rc = h5fail("copy attributes", in[k]);
        }
        struct name_list nl = { 0 };
        if (!rc && list_group(fi, "/models", &nl)) rc = err_set(RC_EFORMAT, "'%s' has no /models group", in[k]);
        for (int i = 0; i < nl.n && !rc; i++) {
            if (H5Lexists(models, nl.v[i], H5P_DEFAULT) > 0)
                rc = err_set(RC_ECONFIG, "model '%s' is in '%s' and in an earlier input: merge files of different models "
                             "(a SafeBench model's answers and votes come from one run)", nl.v[i], in[k]);
            else {
                char *src = util_fmt("/models/%s", nl.v[i]);
                if (H5Ocopy(fi, src, models, nl.v[i], H5P_DEFAULT, H5P_DEFAULT) < 0) rc = h5fail("copy a model", in[k]);
                free(src);
            }
        }
        for (int i = 0; i < nl.n; i++) free(nl.v[i]);
        free(nl.v);
        H5Fclose(fi);
    }
    if (models >= 0) H5Gclose(models);
    if (fo >= 0 && H5Fclose(fo) < 0 && !rc) rc = h5fail("close", out);
    H5Pclose(fapl); H5Pclose(gcpl);
    return rc;
}
