/*
 * cpu.c - run-time CPU dispatch (cpu.h): cpuid, MMSAFE_CPU, the scalar kernel
 * set and engine_cpu_path() / engine_cpu_check() (engine.h).
 */
#include "cpu.h"
#include "engine.h"
#include "quant.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* ---- the scalar kernels (portable C; also the reference the SIMD ones are tested against) ---- */

/* f32 products summed in double: a plain float running sum drifts by ~n/2 ulp
 * (2e-7 of sum|w*a| at n = 1024, over test_quant's 1e-7) */
static float s_dot_f32(int64_t n, const float *w, const float *a)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)(w[i] * a[i]);
    return (float)s;
}
static int s_dequant_row(int type, const void *src, float *dst, int64_t n) { (void)type; (void)src; (void)dst; (void)n; return 0; }
static float s_dot_f32_f16(int64_t n, const float *a, const uint16_t *b) { float r = 0; for (int64_t i = 0; i < n; i++) r += a[i] * h2f(b[i]); return r; }
static void s_axpy_f16(int64_t n, float w, const uint16_t *v, float *o) { for (int64_t i = 0; i < n; i++) o[i] += w * h2f(v[i]); }
static void s_axpy_f32(int64_t n, float w, const float *v, float *o) { for (int64_t i = 0; i < n; i++) o[i] += w * v[i]; }
static void s_f16_mad(int64_t n, uint16_t *acc, const uint16_t *v, float w) { for (int64_t i = 0; i < n; i++) acc[i] = f2h(fmaf(h2f(v[i]), w, h2f(acc[i]))); }
static void s_f16_scale(int64_t n, uint16_t *acc, float w) { for (int64_t i = 0; i < n; i++) acc[i] = f2h(h2f(acc[i]) * w); }
static void s_f32_to_f16(const float *x, uint16_t *y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = f2h(x[i]); }
static double s_exp_sub_sum(float *s, int T, float mx)
{
    double sum = 0.0;
    for (int j = 0; j < T; j++) { s[j] = expf(s[j] - mx); sum += (double)s[j]; }
    return sum;
}

const struct kern kern_scalar = {
    .name = "scalar",
    .dequant_row = s_dequant_row, .dot_f32 = s_dot_f32, .dot_f32_f16 = s_dot_f32_f16,
    .axpy_f32 = s_axpy_f32, .axpy_f16 = s_axpy_f16, .f16_mad = s_f16_mad, .f16_scale = s_f16_scale,
    .f32_to_f16 = s_f32_to_f16, .exp_sub_sum = s_exp_sub_sum, .gemm_f16 = NULL,
    .gemv_q4_K_x8 = qt_gemv_q4_K_x8_ref, .dequant_q4_K_x8 = qt_dequant_q4_K_x8,
};

#if defined(__x86_64__) && !defined(ENGINE_NO_AVX2)
extern const struct kern kern_avx2;   /* quant_simd.c */
#define HAVE_AVX2_SET 1
#else
#define HAVE_AVX2_SET 0
#endif
#if HAVE_AVX2_SET && !defined(ENGINE_NO_AVX512)
extern const struct kern *const kern_avx512_layers[3];   /* quant_avx512.c */
#define HAVE_AVX512_SET 1
#else
#define HAVE_AVX512_SET 0
#endif

struct kern g_kern = {
    .name = "scalar",
    .dequant_row = s_dequant_row, .dot_f32 = s_dot_f32, .dot_f32_f16 = s_dot_f32_f16,
    .axpy_f32 = s_axpy_f32, .axpy_f16 = s_axpy_f16, .f16_mad = s_f16_mad, .f16_scale = s_f16_scale,
    .f32_to_f16 = s_f32_to_f16, .exp_sub_sum = s_exp_sub_sum, .gemm_f16 = NULL,
    .gemv_q4_K_x8 = qt_gemv_q4_K_x8_ref, .dequant_q4_K_x8 = qt_dequant_q4_K_x8,
};

/* ---- quant.h's dispatching entry points ---- */

float qt_vec_dot(int wtype, int64_t n, const void *w, const void *a)
{
    float (*f)(int64_t, const void *, const void *) = g_kern.vec_dot[wtype];
    if (f) return f(n, w, a);
    if (wtype == QT_F32) return g_kern.dot_f32(n, w, a);
    return qt_vec_dot_ref(wtype, n, w, a);
}
static float ref_f16(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_F16, n, w, a); }
static float ref_bf16(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_BF16, n, w, a); }
static float ref_q4_0(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q4_0, n, w, a); }
static float ref_q4_1(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q4_1, n, w, a); }
static float ref_q5_0(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q5_0, n, w, a); }
static float ref_q5_1(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q5_1, n, w, a); }
static float ref_q8_0(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q8_0, n, w, a); }
static float ref_q4_K(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q4_K, n, w, a); }
static float ref_q5_K(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q5_K, n, w, a); }
static float ref_q6_K(int64_t n, const void *w, const void *a) { return qt_vec_dot_ref(QT_Q6_K, n, w, a); }
static float dot_f32_any(int64_t n, const void *w, const void *a) { return g_kern.dot_f32(n, w, a); }
qt_dot_fn qt_vec_dot_fn(int wtype)
{
    if (g_kern.vec_dot[wtype]) return g_kern.vec_dot[wtype];
    switch (wtype) {
    case QT_F32: return dot_f32_any;
    case QT_F16: return ref_f16;
    case QT_BF16: return ref_bf16;
    case QT_Q4_0: return ref_q4_0;
    case QT_Q4_1: return ref_q4_1;
    case QT_Q5_0: return ref_q5_0;
    case QT_Q5_1: return ref_q5_1;
    case QT_Q8_0: return ref_q8_0;
    case QT_Q4_K: return ref_q4_K;
    case QT_Q5_K: return ref_q5_K;
    case QT_Q6_K: return ref_q6_K;
    default: abort();
    }
}
int qt_has_simd(int wtype) { return wtype >= 0 && wtype < QT_COUNT && g_kern.vec_dot[wtype] != NULL; }
int qt_dequant_row_fast(int type, const void *src, float *dst, int64_t n) { return g_kern.dequant_row(type, src, dst, n); }

/* ---- cpuid ---- */

static struct {
    int avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16, avxvnni;
} feat;
static int g_path = CPU_SCALAR;
static int g_refused;                 /* engine_cpu_check() fails */
static char g_msg[512], g_desc[320];

static void detect(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    feat.fma = (c >> 12) & 1;
    feat.f16c = (c >> 29) & 1;
    unsigned long long xcr0 = 0;
    if (osxsave) { unsigned lo, hi; __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0)); xcr0 = ((unsigned long long)hi << 32) | lo; }
    const int ymm_os = avx && (xcr0 & 6) == 6, zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0;
    if (!ymm_os) { feat.fma = feat.f16c = 0; return; }
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        feat.avx2 = (b >> 5) & 1;
        feat.avx512f = zmm_os && ((b >> 16) & 1);
        feat.avx512bw = zmm_os && ((b >> 30) & 1);
        feat.avx512vl = zmm_os && ((b >> 31) & 1);
        feat.avx512vnni = zmm_os && ((c >> 11) & 1);
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        feat.avxvnni = (a1 >> 4) & 1;
        feat.avx512bf16 = zmm_os && ((a1 >> 5) & 1);
    }
#endif
}

/* ---- the AVX-512 set: layers over the AVX2 set ---- */

/* every member of struct kern, so that a new one cannot be forgotten below */
_Static_assert(sizeof(struct kern) == sizeof(const char *) + (QT_COUNT + 17) * sizeof(void (*)(void)),
               "struct kern changed: update cpu_kern_stack");
void cpu_kern_stack(struct kern *dst, const struct kern *const layers[3], int variants)
{
    static const char *const names[4] = { "avx512", "avx512+vnni", "avx512+bf16", "avx512+vnni+bf16" };
#if HAVE_AVX2_SET
    *dst = kern_avx2;
#else
    *dst = kern_scalar;
#endif
    for (int l = 0; l < 3; l++) {
        const struct kern *top = layers[l];
        if (l == 1 && !(variants & CPU_VNNI)) continue;
        if (l == 2 && !(variants & CPU_BF16)) continue;
#define OVER(m) if (top->m) dst->m = top->m
        for (int t = 0; t < QT_COUNT; t++) OVER(vec_dot[t]);
        OVER(dequant_row); OVER(dot_f32); OVER(dot_f32_f16); OVER(axpy_f32); OVER(axpy_f16);
        OVER(f16_mad); OVER(f16_scale); OVER(f32_to_f16); OVER(exp_sub_sum); OVER(gemm_f16); OVER(gemv_q4_K_x8); OVER(dequant_q4_K_x8);
        OVER(dots_f32_f16); OVER(axpys_f32); OVER(axpys_f16); OVER(scale_max); OVER(silu_mul);
#undef OVER
        /* a many-key attention kernel sums as its own set's one-key kernel does: one
         * from a lower layer under a replaced one-key kernel would not */
        if (top->dot_f32_f16 && !top->dots_f32_f16) dst->dots_f32_f16 = NULL;
        if (top->axpy_f32 && !top->axpys_f32) dst->axpys_f32 = NULL;
        if (top->axpy_f16 && !top->axpys_f16) dst->axpys_f16 = NULL;
    }
    dst->name = names[variants & 3];
}

static struct kern avx512_sets[4];   /* by variants; made by cpu_init for those the CPU runs */
static int avx512_have = -1;         /* variants the CPU has; -1: no AVX-512 set */

int cpu_avx512_variants(void) { return avx512_have < 0 ? 0 : avx512_have; }
const struct kern *cpu_kern_avx512(int variants)
{
    if (avx512_have < 0 || variants < 0 || variants > 3 || (variants & ~avx512_have)) return NULL;
    return &avx512_sets[variants];
}

const struct kern *cpu_kern_for(int path)
{
    switch (path) {
    case CPU_SCALAR: return &kern_scalar;
#if HAVE_AVX2_SET
    case CPU_AVX2: return feat.avx2 && feat.fma && feat.f16c ? &kern_avx2 : NULL;
#endif
    case CPU_AVX512: return cpu_kern_avx512(cpu_avx512_variants());
    default: return NULL;
    }
}

int cpu_use(int path)
{
    const struct kern *k = cpu_kern_for(path);
    if (!k) return eng_err(RC_ECONFIG, "the %s kernels cannot run on this CPU", path == CPU_AVX2 ? "avx2" : path == CPU_AVX512 ? "avx512" : "?");
    g_kern = *k;
    /* members a SIMD set leaves NULL fall back to the scalar ones */
    if (!g_kern.dequant_row) g_kern.dequant_row = kern_scalar.dequant_row;
    if (!g_kern.gemv_q4_K_x8) g_kern.gemv_q4_K_x8 = kern_scalar.gemv_q4_K_x8;
    if (!g_kern.dequant_q4_K_x8) g_kern.dequant_q4_K_x8 = kern_scalar.dequant_q4_K_x8;
    g_path = path;
    return RC_OK;
}
int cpu_path(void) { return g_path; }

static void flags_text(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s%s%s%s%s%s",
             feat.avx2 ? " avx2" : "", feat.fma ? " fma" : "", feat.f16c ? " f16c" : "",
             feat.avx512f ? " avx512f" : "", feat.avx512bw ? " avx512bw" : "", feat.avx512vl ? " avx512vl" : "",
             feat.avx512vnni ? " avx512_vnni" : "", feat.avx512bf16 ? " avx512_bf16" : "", feat.avxvnni ? " avx_vnni" : "");
}

/* why the AVX-512 set cannot run here, for the refusal of MMSAFE_CPU=avx512 */
static void avx512_missing(char *buf, size_t cap)
{
    if (!HAVE_AVX512_SET) { snprintf(buf, cap, "this build has no AVX-512 kernels (avx2 and scalar only)"); return; }
    snprintf(buf, cap, "this CPU lacks%s%s%s%s (AVX-512 kernels need avx512f avx512bw avx512vl, with avx2 fma f16c); "
             "MMSAFE_CPU=avx2 or auto runs", feat.avx512f ? "" : " avx512f", feat.avx512bw ? "" : " avx512bw",
             feat.avx512vl ? "" : " avx512vl", feat.avx2 && feat.fma && feat.f16c ? "" : " avx2+fma+f16c");
}

__attribute__((constructor)) static void cpu_init(void)
{
    detect();
#if HAVE_AVX512_SET
    if (feat.avx512f && feat.avx512bw && feat.avx512vl && feat.avx2 && feat.fma && feat.f16c) {
        avx512_have = (feat.avx512vnni ? CPU_VNNI : 0) | (feat.avx512bf16 ? CPU_BF16 : 0);
        for (int v = 0; v < 4; v++)
            if (!(v & ~avx512_have)) cpu_kern_stack(&avx512_sets[v], kern_avx512_layers, v);
    }
#endif
    char flags[160];
    flags_text(flags, sizeof flags);
    const char *env = getenv("MMSAFE_CPU");
    const int forced = env && *env && strcmp(env, "auto") != 0;
    int want = -1;
#if HAVE_AVX2_SET
    if (!forced) want = cpu_kern_for(CPU_AVX512) ? CPU_AVX512 : cpu_kern_for(CPU_AVX2) ? CPU_AVX2 : -1;
#else
    if (!forced) want = CPU_SCALAR;   /* not x86-64: the scalar set is all there is (no refusal) */
#endif
    else if (!strcmp(env, "scalar")) want = CPU_SCALAR;
    else if (!strcmp(env, "avx2")) want = CPU_AVX2;
    else if (!strcmp(env, "avx512")) want = CPU_AVX512;
    else {
        g_refused = 1;
        snprintf(g_msg, sizeof g_msg, "MMSAFE_CPU=%.40s: expected avx512, avx2, scalar or auto", env);
    }
    if (!g_refused && want < 0) {
        g_refused = 1;
        snprintf(g_msg, sizeof g_msg, "this CPU lacks AVX2+FMA+F16C (x86-64-v3; it has:%.160s), which the engine's "
                 "kernels need for useful speed; MMSAFE_CPU=scalar runs the portable kernels (several times slower)",
                 *flags ? flags : " none of them");
    } else if (!g_refused && !cpu_kern_for(want)) {
        char why[200];
        if (want == CPU_AVX512) avx512_missing(why, sizeof why);
        else snprintf(why, sizeof why, "this CPU lacks AVX2+FMA+F16C; MMSAFE_CPU=scalar runs (slowly)");
        g_refused = 1;
        snprintf(g_msg, sizeof g_msg, "MMSAFE_CPU=%s: %s", env, why);
    }
    if (g_refused) want = CPU_SCALAR;
    cpu_use(want);
    snprintf(g_desc, sizeof g_desc, "%s%s (cpu:%s%s)", g_refused ? "refused, " : "", g_kern.name,
             *flags ? flags : " no avx2", forced ? "; forced by MMSAFE_CPU" : "");
}

const char *engine_cpu_path(void) { return g_kern.name; }
const char *engine_cpu_desc(void) { return g_desc; }
int engine_cpu_check(void)
{
    if (g_refused) return eng_err(RC_ECONFIG, "%s", g_msg);
    return RC_OK;
}
