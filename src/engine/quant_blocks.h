/*
 * quant_blocks.h - ggml's block layouts (ggml-common.h), sizes asserted.
 * Scales are IEEE half stored as uint16_t; convert with h2f().
 */
#ifndef ENGINE_QUANT_BLOCKS_H
#define ENGINE_QUANT_BLOCKS_H
#include <stdint.h>

struct blk_q4_0 { uint16_t d; uint8_t qs[16]; };
struct blk_q4_1 { uint16_t d, m; uint8_t qs[16]; };
struct blk_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct blk_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct blk_q8_0 { uint16_t d; int8_t qs[32]; };
struct blk_q8_1 { uint16_t d, s; int8_t qs[32]; };
struct blk_q4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct blk_q5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct blk_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
struct blk_q8_K { float d; int8_t qs[256]; int16_t bsums[16]; };

/* Our own layout, not ggml's: Q4_K weights of 8 consecutive rows interleaved for
 * the 8-row kernels (quant.h qt_repack_q4_K_x8), one per super-block index of
 * the rows.  Scales and mins unpacked from their 6-bit packing; qs[c][g][r] is
 * bytes 32c + 4g .. 32c + 4g + 3 of row r's qs: low nibbles are elements
 * 64c + 4g .. +3 (sub-block 2c), high nibbles 64c + 32 + 4g .. +3 (sub-block 2c+1). */
struct blk_q4_K_x8 { uint16_t d[8], dmin[8]; uint8_t sc[8][8], mn[8][8]; uint8_t qs[4][8][8][4]; };

_Static_assert(sizeof(struct blk_q4_0) == 18, "q4_0");
_Static_assert(sizeof(struct blk_q4_1) == 20, "q4_1");
_Static_assert(sizeof(struct blk_q5_0) == 22, "q5_0");
_Static_assert(sizeof(struct blk_q5_1) == 24, "q5_1");
_Static_assert(sizeof(struct blk_q8_0) == 34, "q8_0");
_Static_assert(sizeof(struct blk_q8_1) == 36, "q8_1");
_Static_assert(sizeof(struct blk_q4_K) == 144, "q4_K");
_Static_assert(sizeof(struct blk_q5_K) == 176, "q5_K");
_Static_assert(sizeof(struct blk_q6_K) == 210, "q6_K");
_Static_assert(sizeof(struct blk_q8_K) == 292, "q8_K");
_Static_assert(sizeof(struct blk_q4_K_x8) == 1184, "q4_K_x8");
#endif
