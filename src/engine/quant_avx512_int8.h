/*
 * quant_avx512_int8.h - the int8 dot products of the AVX-512 set, included
 * twice by quant_avx512.c (no include guard), once per way of summing bytes:
 *   SUF(name)     the functions' names (name_bw, name_vnni)
 *   KATTR         their attribute (the VNNI ones: target("avx512vnni"))
 *   DP(acc, u, s) acc + in each 32-bit lane the sum of its 4 products u[k] s[k],
 *                 u unsigned bytes, s signed ones; exact
 * The weights go in as the unsigned operand: Q8_0 as |w| with w's sign moved onto
 * the activation, the others as their unsigned codes (nibbles, 5- and 6-bit values)
 * with the offset (-8, -32) or the mins taken off afterwards, as quant.c does.
 */

/* Q8_0 x Q8_0: two blocks per register (lanes 0..7 the first, 8..15 the second) */
KATTR static float SUF(dot_q8_0)(int64_t n, const void *vw, const void *va)
{
    const struct blk_q8_0 *w = vw, *a = va;
    const int64_t nb = n / 32;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i += 2) {
        const struct blk_q8_0 *w1 = i + 1 < nb ? &w[i + 1] : &zero_q8_0, *a1 = i + 1 < nb ? &a[i + 1] : &zero_q8_0;
        const __m512i qw = pair256(w[i].qs, w1->qs), qa = pair256(a[i].qs, a1->qs);
        const __m512i u = _mm512_abs_epi8(qw);
        const __m512i s = _mm512_mask_sub_epi8(qa, _mm512_movepi8_mask(qw), _mm512_setzero_si512(), qa);
        const __m512 d = pair_ps(h2f(w[i].d) * h2f(a[i].d), h2f(w1->d) * h2f(a1->d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(DP(_mm512_setzero_si512(), u, s)), acc);
    }
    return hsum512(acc);
}

/* Q4_0 x Q8_0: sum (q - 8) a = sum q a - sum 8 a; 128-bit lanes: low nibbles of
 * block i, its high nibbles, then block i + 1's */
KATTR static float SUF(dot_q4_0)(int64_t n, const void *vw, const void *va)
{
    const struct blk_q4_0 *w = vw;
    const struct blk_q8_0 *a = va;
    const int64_t nb = n / 32;
    const __m512i m4 = _mm512_set1_epi8(15), eight = _mm512_set1_epi8(8);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i += 2) {
        const struct blk_q4_0 *w1 = i + 1 < nb ? &w[i + 1] : &zero_q4_0;
        const struct blk_q8_0 *a1 = i + 1 < nb ? &a[i + 1] : &zero_q8_0;
        const __m512i b = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)w[i].qs))),
                                             _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)w1->qs)), 1);
        const __m512i u = _mm512_mask_blend_epi64(0xcc, _mm512_and_si512(b, m4), _mm512_and_si512(_mm512_srli_epi16(b, 4), m4));
        const __m512i qa = pair256(a[i].qs, a1->qs);
        const __m512i sumi = _mm512_sub_epi32(DP(_mm512_setzero_si512(), u, qa), DP(_mm512_setzero_si512(), eight, qa));
        const __m512 d = pair_ps(h2f(w[i].d) * h2f(a[i].d), h2f(w1->d) * h2f(a1->d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), acc);
    }
    return hsum512(acc);
}

/* Q4_K and Q5_K x Q8_K: per 32-byte chunk c, one register holds sub-block 2c (low
 * nibbles) and 2c + 1 (high nibbles), the 64 activations they meet being contiguous;
 * Q5_K's fifth bits are bits 2c and 2c + 1 of qh, shifted per 256-bit half */
KATTR static inline __attribute__((always_inline)) float SUF(dot_k4)(int64_t n, const void *vw, int five, const struct blk_q8_K *a)
{
    const struct blk_q4_K *w4 = vw;
    const struct blk_q5_K *w5 = vw;
    const __m512i m4 = _mm512_set1_epi8(15), one = _mm512_set1_epi8(1);
    __m512 acc = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *qs = five ? w5[i].qs : w4[i].qs;
        uint32_t utmp[4];
        unpack_k4(five ? w5[i].scales : w4[i].scales, utmp);
        const uint8_t *sc = (const uint8_t *)utmp;
        const float d = h2f(five ? w5[i].d : w4[i].d) * a[i].d, dm = h2f(five ? w5[i].dmin : w4[i].dmin) * a[i].d;
        accm = _mm_fmadd_ps(_mm_set1_ps(dm), _mm_cvtepi32_ps(k4_mins(utmp, a[i].bsums)), accm);
        const __m512i qh = five ? bcast256(w5[i].qh) : _mm512_setzero_si512();
        __m512i sumi = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i b = bcast256(qs + 32 * c);
            __m512i u = _mm512_mask_blend_epi64(0xf0, _mm512_and_si512(b, m4), _mm512_and_si512(_mm512_srli_epi16(b, 4), m4));
            if (five) {
                const __m512i h = _mm512_srlv_epi64(qh, _mm512_mask_blend_epi64(0xf0, _mm512_set1_epi64(2 * c), _mm512_set1_epi64(2 * c + 1)));
                u = _mm512_or_si512(u, _mm512_slli_epi16(_mm512_and_si512(h, one), 4));
            }
            const __m512i p = DP(_mm512_setzero_si512(), u, _mm512_loadu_si512(a[i].qs + 64 * c));
            sumi = _mm512_add_epi32(sumi, _mm512_mullo_epi32(p, pair_epi32(sc[2 * c], sc[2 * c + 1])));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return hsum512(acc) - hsum_ps128(accm);
}
KATTR static float SUF(dot_q4_K)(int64_t n, const void *w, const void *a) { return SUF(dot_k4)(n, w, 0, a); }
KATTR static float SUF(dot_q5_K)(int64_t n, const void *w, const void *a) { return SUF(dot_k4)(n, w, 1, a); }

/* Q6_K x Q8_K: per half h, one register holds the values of groups 0 and 1 (low
 * nibbles of ql[0..63], qh bits 0-1 / 2-3), another groups 2 and 3 (high nibbles,
 * bits 4-5 / 6-7), each meeting 64 contiguous activations; lane j of a product
 * covers 4 values of the 16-value scale group j / 4; the -32 offset is
 * sum_k sc[k] bsums[k], taken off at the end (as the AVX2 set) */
KATTR static float SUF(dot_q6_K)(int64_t n, const void *vw, const void *va)
{
    const struct blk_q6_K *w = vw;
    const struct blk_q8_K *a = va;
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    const __m512i quarter = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    const __m512i sh01 = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0), sh23 = _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / 256; i++) {
        const int8_t *q8 = a[i].qs;
        const __m512i sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)w[i].scales));
        const __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[i].scales)),
                                               _mm256_loadu_si256((const __m256i *)a[i].bsums));
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const __m512i l = _mm512_loadu_si512(w[i].ql + 64 * h), qh = bcast256(w[i].qh + 32 * h);
            const __m512i u01 = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, sh01), m2), 4));
            const __m512i u23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, sh23), m2), 4));
            const __m512i p01 = DP(_mm512_setzero_si512(), u01, _mm512_loadu_si512(q8 + 128 * h));
            const __m512i p23 = DP(_mm512_setzero_si512(), u23, _mm512_loadu_si512(q8 + 128 * h + 64));
            const __m512i s01 = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h)), sc32);
            const __m512i s23 = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 4)), sc32);
            sumi = _mm512_add_epi32(sumi, _mm512_add_epi32(_mm512_mullo_epi32(p01, s01), _mm512_mullo_epi32(p23, s23)));
        }
        sumi = _mm512_sub_epi32(sumi, _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_slli_epi32(corr, 5), 0));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(h2f(w[i].d) * a[i].d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return hsum512(acc);
}
