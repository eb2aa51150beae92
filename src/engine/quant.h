/*
 * quant.h - ggml tensor element types: the traits table, exact row decoders,
 * activation quantisers and dot products (spec §2 and §8).
 *
 * Every weight type has a scalar reference dot product (qt_vec_dot_ref, the
 * `*_generic` formulas of ggml written out plainly) and a fast one
 * (qt_vec_dot: the SIMD kernel of the path cpuid picked (cpu.h) where there is
 * one, the reference otherwise).  The fast one is tested against the reference in
 * tests/engine/test_quant.c and tests/engine/test_kernels.c.
 */
#ifndef ENGINE_QUANT_H
#define ENGINE_QUANT_H

#include <stddef.h>
#include <stdint.h>

enum qtype {
    QT_F32 = 0, QT_F16 = 1, QT_Q4_0 = 2, QT_Q4_1 = 3, QT_Q5_0 = 6, QT_Q5_1 = 7,
    QT_Q8_0 = 8, QT_Q8_1 = 9, QT_Q2_K = 10, QT_Q3_K = 11, QT_Q4_K = 12, QT_Q5_K = 13,
    QT_Q6_K = 14, QT_Q8_K = 15, QT_BF16 = 30, QT_COUNT = 40
};

struct qtype_info {
    const char *name;
    int blck;          /* elements per block */
    int tsize;         /* bytes per block */
    int weight_ok;     /* supported as a weight type in files */
    int act_type;      /* activation format its fast dot product takes (spec §8.1) */
};

/* Traits of a type id, or NULL for an id ggml does not define. */
const struct qtype_info *qt_info(int type);
/* Supported as a tensor type in a GGUF file (F32..Q6_K, BF16). */
int qt_weight_ok(int type);
const char *qt_name(int type);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
size_t qt_row_bytes(int type, int64_t n);

/* Exact decode of n elements (bit-exact with ggml's dequantize_row_*). */
void qt_dequant_row(int type, const void *src, float *dst, int64_t n);

/* SIMD decoder for the common weight types, bit-exact with qt_dequant_row;
 * returns 0 (and does nothing) when there is none for this type/build. */
int qt_dequant_row_fast(int type, const void *src, float *dst, int64_t n);
/* Decodes with the SIMD decoder when there is one, else the reference. */
static inline void qt_dequant(int type, const void *src, float *dst, int64_t n)
{
    if (!qt_dequant_row_fast(type, src, dst, n)) qt_dequant_row(type, src, dst, n);
}

/* Activation format for a weight type in fast mode: QT_F32, QT_F16, QT_BF16,
 * QT_Q8_0, QT_Q8_1 or QT_Q8_K. */
int qt_act_type(int wtype);
/* Converts n floats into activation format atype (ggml's x86 quantize_row_*). */
void qt_quant_act(int atype, const float *x, void *dst, int64_t n);

/* Dot product of a weight row (type wtype, n elements) with an activation row
 * already in qt_act_type(wtype) format.  Reference: scalar; fast: SIMD. */
float qt_vec_dot_ref(int wtype, int64_t n, const void *w, const void *a);
float qt_vec_dot(int wtype, int64_t n, const void *w, const void *a);
/* The function qt_vec_dot calls for wtype (hoisted out of per-row loops: one
 * indirect call per row instead of the dispatch's three). */
typedef float (*qt_dot_fn)(int64_t n, const void *w, const void *a);
qt_dot_fn qt_vec_dot_fn(int wtype);
/* 1 if qt_vec_dot has a SIMD kernel for wtype on the kernel path in use. */
int qt_has_simd(int wtype);

/* Q4_K rows repacked 8 at a time (quant_blocks.h struct blk_q4_K_x8) for the
 * 8-row kernels (cpu.h gemv_q4_K_x8, ops.c): K/256 blocks per group of 8 rows. */
#define QT_X8_ROWS 8
size_t qt_x8_group_bytes(int64_t K);
/* Writes the group of rows src[0..7] (row r at src + r * row_bytes). */
void qt_repack_q4_K_x8(const void *src, size_t row_bytes, int64_t K, void *dst);
/* Decodes a group to 8 float rows (row r at y + r * ldy): bit-exact with qt_dequant_row. */
void qt_dequant_q4_K_x8(const void *grp, int64_t K, float *y, int64_t ldy);
/* y[r] = the dot product of the group's row r with a Q8_K activation row: the
 * scalar reference (qt_vec_dot_ref's formula, row by row). */
void qt_gemv_q4_K_x8_ref(int64_t K, const void *grp, const void *act, float *y);

/* Reference quantisers for weights, used by tools/gguf_write and tests to make
 * random-weight files; not bit-exact with llama-quantize's search (they use
 * the plain round-to-nearest ggml *_ref formulas). */
void qt_quantize_row(int type, const float *x, void *dst, int64_t n);

#endif
