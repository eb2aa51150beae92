/*
 * gguf.h - a bounded GGUF v2/v3 reader (spec ../shared/docs/gguf-llava-spec.md §1).
 *
 * Layout: magic "GGUF", u32 version, i64 n_tensors, i64 n_kv, n_kv KV records
 * (string key, i32 type, value), n_tensors tensor infos (string name, u32 n_dims,
 * i64 ne[n_dims], i32 type, u64 offset), padding to `general.alignment` (default
 * 32), then the data section; tensor i lives at data_offset + offset_i and the
 * data is packed in record order.  Little-endian only.
 *
 * The file is mmap'ed read-only and never copied: tensor data and KV payloads
 * are borrowed pointers into the mapping, valid until gguf_close().  Every
 * length, count, offset and alignment is checked against the file size before
 * use; a malformed file gives RC_EFORMAT with a message (eng_errmsg()).
 */
#ifndef ENGINE_GGUF_H
#define ENGINE_GGUF_H

#include <stddef.h>
#include <stdint.h>

enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL,
    GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_NTYPES
};

struct gguf_kv {
    char *key;              /* NUL-terminated copy */
    int type;               /* enum gguf_vtype */
    int arr_type;           /* element type when type == GGUF_ARRAY */
    uint64_t n;             /* element count for arrays; string length for strings */
    const uint8_t *data;    /* scalar bytes / string bytes / first array element (in the map) */
};

#define GGUF_MAX_NAME 64

struct gguf_tensor {
    char name[GGUF_MAX_NAME];
    int type;               /* ggml type id (quant.h) */
    int n_dims;
    int64_t ne[4];          /* missing dims are 1 */
    uint64_t offset;        /* relative to the data section */
    size_t row_bytes, nbytes;
    const void *data;       /* borrowed pointer into the map */
};

struct gguf {
    char *path;
    const uint8_t *map;     /* whole file (mmap'ed or caller's buffer) */
    size_t size;
    int mapped;
    uint32_t version, alignment;
    size_t data_offset;
    int64_t n_kv, n_tensors;
    struct gguf_kv *kv;
    struct gguf_tensor *t;
};

/* Opens and validates PATH (mmap, read-only).  Returns RC_OK and *out, or an
 * error code with eng_errmsg() set to "<what is wrong>" (the caller adds the path). */
int gguf_open(const char *path, struct gguf **out);
/* Parses a caller-owned buffer (used by the fuzzer and tests); buf must outlive *out. */
int gguf_parse(const void *buf, size_t size, struct gguf **out);
void gguf_close(struct gguf *g);    /* accepts NULL */
/* Tells the kernel the whole pages inside [p, p + n) of the mapping are not
 * needed now (a tensor the engine copied elsewhere): they leave the process's
 * resident set and are read back from the file if touched again.  Nothing for a
 * file opened from memory. */
void gguf_drop_pages(const struct gguf *g, const void *p, size_t n);
/* Maps every page of the file in now (reading from disk what the page cache lacks),
 * so that the first use of the tensors does not stop on page faults one 4 KiB page
 * at a time.  Nothing for a file opened from memory. */
void gguf_prefault(const struct gguf *g);

const struct gguf_kv *gguf_find_kv(const struct gguf *g, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf *g, const char *name);

/* Typed getters: RC_OK when found with a compatible type; 1 when absent
 * (out untouched); RC_EFORMAT (message set) when present with a wrong type or
 * an out-of-range value.  Integer getters accept any integer type after a range check. */
int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out);
int gguf_get_f32(const struct gguf *g, const char *key, float *out);
int gguf_get_bool(const struct gguf *g, const char *key, int *out);
int gguf_get_str(const struct gguf *g, const char *key, const char **s, size_t *len);
/* Element i of an array of strings: walks the array (O(i)); see gguf_str_array(). */
int gguf_str_array(const struct gguf_kv *kv, const char **ptrs, uint32_t *lens, uint64_t n);

const char *gguf_vtype_name(int t);
/* Formats a scalar / short array value for `inspect` into buf. */
void gguf_kv_format(const struct gguf_kv *kv, char *buf, size_t cap);

#endif
