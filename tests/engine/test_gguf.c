/*
 * test_gguf.c - the GGUF reader and model validation on good and bad files.
 * Makes its models with build/tools/gguf_write (found next to this program's
 * build directory), then corrupts them: wrong magic, unsupported versions,
 * big-endian, truncation at every header byte and inside the data, a tensor
 * running past the end, an unknown tensor type, a missing key or tensor, a
 * wrong architecture, inconsistent head counts, a prompt longer than the
 * context.  Each must give an error code and a message, never a crash.
 */
#include "engine/engine.h"
#include "engine/gguf.h"
#include "err.h"
#include "t.h"

#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tool[1024], dir[] = "/tmp/mmsafe-gguf-XXXXXX";

/* kB of the mapping that starts at p resident in this process (/proc/self/smaps), -1 if not found */
static long rss_kb(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    long rss = -1;
    int in = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) { in = a == (unsigned long)(uintptr_t)p; continue; }
        if (in && sscanf(line, "Rss: %ld kB", &rss) == 1) break;
    }
    fclose(f);
    return rss;
}

static int make(const char *name, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/%s %s", tool, dir, name, args);
    return system(cmd);
}

static unsigned char *slurp(const char *name, size_t *n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) { free(b); fclose(f); return NULL; }
    fclose(f);
    return b;
}

static void spit(const char *name, const void *b, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* Opening NAME as a model must fail with a message containing WANT. */
static void expect_fail(const char *name, const char *want)
{
    char p[1024], d[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct eng_model *m = NULL;
    int rc = eng_model_open(p, &m);
    snprintf(d, sizeof d, "%s: fails with '%s' (rc %d: %s)", name, want, rc, rc ? eng_errmsg() : "loaded");
    CHECK_T(rc != RC_OK && strstr(eng_errmsg(), want), d);
    eng_model_free(m);
}

int main(int argc, char **argv)
{
    t_name = "engine/gguf";
    (void)argc;
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(tool, sizeof tool, "%s/../../tools/gguf_write", dirname(self));
    if (access(tool, X_OK) != 0) { CHECK_T(0, "build/tools/gguf_write exists (make builds it)"); return t_done(); }
    if (!mkdtemp(dir)) { CHECK_T(0, "mkdtemp"); return t_done(); }
    const char *shape = "--embd 64 --layers 2 --heads 4 --kv-heads 2 --ff 160 --vocab 300 --ctx 16";
    char a[512];
    snprintf(a, sizeof a, "%s --type Q8_0", shape);
    CHECK_EQ_I(make("good.gguf", a), 0, "writer makes a model");
    char p[1024];
    snprintf(p, sizeof p, "%s/good.gguf", dir);
    struct eng_model *m = NULL;
    CHECK_EQ_I(eng_model_open(p, &m), RC_OK, "the good model loads");
    if (m) {
        /* a prompt longer than the context */
        struct eng_params pr = ENG_PARAMS_DEFAULT;
        struct eng_ctx *c = NULL;
        CHECK_EQ_I(eng_ctx_new(m, &pr, &c), RC_OK, "context");
        int32_t ids[20];
        for (int i = 0; i < 20; i++) ids[i] = 260 + i;
        CHECK_EQ_I(eng_prefill(c, ids, 20, NULL), RC_ECTX, "20 tokens in a 16-position context: RC_ECTX");
        CHECK_T(strstr(eng_errmsg(), "exceeds the context") != NULL, eng_errmsg());
        CHECK_EQ_I(eng_prefill(c, ids, 16, NULL), RC_OK, "16 tokens fit");
        CHECK_EQ_I(eng_decode(c, 5), RC_ECTX, "one more does not");
        ids[3] = 300;
        eng_ctx_reset(c);
        CHECK_EQ_I(eng_prefill(c, ids, 5, NULL), RC_EINPUT, "token id out of range: RC_EINPUT");
        ids[3] = ENG_TOKEN_EMBD;
        CHECK_EQ_I(eng_prefill(c, ids, 5, NULL), RC_EINPUT, "embedding position without rows: RC_EINPUT");
        eng_ctx_free(c);
        eng_model_free(m);
    }
    /* gguf_prefault maps the whole file in (the vision tower does it at load) */
    if (make("big.gguf", "--embd 256 --layers 2 --heads 4 --kv-heads 2 --ff 1024 --vocab 4000 --type F16") == 0) {
        snprintf(p, sizeof p, "%s/big.gguf", dir);
        struct gguf *g = NULL;
        CHECK_EQ_I(gguf_open(p, &g), RC_OK, "big.gguf opens");
        if (g) {
            const long size_kb = (long)(g->size / 1024), before = rss_kb(g->map);
            gguf_prefault(g);
            const long after = rss_kb(g->map);
            char d[200];
            snprintf(d, sizeof d, "gguf_prefault: resident %ld kB of the %ld kB mapping before, %ld kB after", before, size_kb, after);
            CHECK_T(before >= 0 && before < size_kb / 2 && after >= size_kb, d);
            gguf_close(g);
        }
    } else CHECK_T(0, "writer makes big.gguf");
    if (make("v2.gguf", "--embd 256 --layers 1 --heads 4 --kv-heads 1 --ff 256 --vocab 300 --type Q4_K_M --version 2 --tied") == 0) {
        snprintf(p, sizeof p, "%s/v2.gguf", dir);
        CHECK_EQ_I(eng_model_open(p, &m), RC_OK, "a GGUF v2 file (Q4_K/Q6_K, tied output) loads");
        eng_model_free(m);
        m = NULL;
    } else CHECK_T(0, "writer makes a v2 file");
    size_t n;
    unsigned char *g = slurp("good.gguf", &n);
    if (!g) { CHECK_T(0, "read good.gguf"); return t_done(); }
    unsigned char *b = malloc(n);
    memcpy(b, g, n); b[0] = 'X'; spit("magic.gguf", b, n); expect_fail("magic.gguf", "bad magic");
    memcpy(b, g, n); b[4] = 1; spit("v1.gguf", b, n); expect_fail("v1.gguf", "version 1");
    memcpy(b, g, n); b[4] = 4; spit("v4.gguf", b, n); expect_fail("v4.gguf", "unsupported GGUF version 4");
    memcpy(b, g, n); b[4] = 0; b[7] = 3; spit("be.gguf", b, n); expect_fail("be.gguf", "big-endian");
    /* truncation at every byte of the header and at points in the data */
    struct gguf *gg = NULL;
    CHECK_EQ_I(gguf_parse(g, n, &gg), RC_OK, "parse from memory");
    size_t data_off = gg ? gg->data_offset : 0;
    int crashes = 0, accepted = 0;
    for (size_t cut = 0; cut < n; cut += cut < data_off ? 1 : 997) {
        struct gguf *t = NULL;
        unsigned char *cpy = malloc(cut + 1);       /* exact-size copy: ASan sees any over-read */
        memcpy(cpy, g, cut);
        int rc = gguf_parse(cpy, cut, &t);
        if (rc == RC_OK) accepted++;
        if (rc != RC_OK && !eng_errmsg()[0]) crashes++;
        gguf_close(t);
        free(cpy);
    }
    CHECK_EQ_I(accepted, 0, "every truncated copy is refused");
    CHECK_EQ_I(crashes, 0, "every refusal has a message");
    spit("trunc.gguf", g, n - 100);
    expect_fail("trunc.gguf", "runs past the end");
    spit("trunch.gguf", g, data_off / 2);
    expect_fail("trunch.gguf", "truncated");
    /* unknown tensor type: the type field follows name, n_dims, ne[] of the first tensor */
    if (gg) {
        const char *nm = "token_embd.weight";
        unsigned char *at = memmem(g, data_off, nm, strlen(nm));
        CHECK_T(at != NULL, "found the first tensor record");
        if (at) {
            size_t pos = (size_t)(at - g) + strlen(nm) + 4 + 8 * 2;
            memcpy(b, g, n); b[pos] = 77; spit("type.gguf", b, n); expect_fail("type.gguf", "unknown type id 77");
            memcpy(b, g, n); b[pos] = 20; spit("iq.gguf", b, n); expect_fail("iq.gguf", "IQ4_NL");
            memcpy(b, g, n); b[pos - 16] = 0xff; b[pos - 9] = 0x7f; spit("huge.gguf", b, n); expect_fail("huge.gguf", "token_embd.weight");
            memcpy(b, g, n); b[pos + 4] = 32; spit("off.gguf", b, n); expect_fail("off.gguf", "offset");
        }
        /* n_kv impossible for the file size */
        memcpy(b, g, n); b[16 + 7] = 0x10; spit("nkv.gguf", b, n); expect_fail("nkv.gguf", "metadata count");
        gguf_close(gg);
    }
    snprintf(a, sizeof a, "%s --drop-key llama.embedding_length", shape);
    make("nokey.gguf", a); expect_fail("nokey.gguf", "missing required key llama.embedding_length");
    snprintf(a, sizeof a, "%s --drop-key tokenizer.ggml.tokens", shape);
    make("notok.gguf", a); expect_fail("notok.gguf", "tokenizer.ggml.tokens");
    snprintf(a, sizeof a, "%s --drop-tensor blk.1.ffn_up.weight", shape);
    make("notensor.gguf", a); expect_fail("notensor.gguf", "missing tensor blk.1.ffn_up.weight");
    snprintf(a, sizeof a, "%s --arch qwen2vl --drop-key qwen2vl.rope.dimension_sections", shape);
    make("qwen2vl.gguf", a); expect_fail("qwen2vl.gguf", "missing required key qwen2vl.rope.dimension_sections");
    snprintf(a, sizeof a, "%s --arch qwen2vl --rope-sections 8,8,8,0", shape);
    make("qwen2vlsec.gguf", a); expect_fail("qwen2vlsec.gguf", "qwen2vl.rope.dimension_sections sums to 24: must be between 1 and the head dimension 16");
    snprintf(a, sizeof a, "%s --arch qwen3vl", shape);
    make("qwen3vl.gguf", a); expect_fail("qwen3vl.gguf", "architecture 'qwen3vl' is not supported: M-RoPE and deepstack");
    snprintf(a, sizeof a, "%s --arch falcon", shape);
    make("falcon.gguf", a); expect_fail("falcon.gguf", "architecture 'falcon' is not supported (supported: llama, qwen2, qwen2vl, qwen3)");
    snprintf(a, sizeof a, "%s --output-bias", shape);   /* llama has no output bias: refused, as the reference */
    make("outbias.gguf", a); expect_fail("outbias.gguf", "tensor output.bias is not part of a 'llama' model");
    snprintf(a, sizeof a, "%s --arch qwen2 --head-dim 32", shape);
    make("q2hd.gguf", a); expect_fail("q2hd.gguf", "qwen2 needs attention.key_length = embedding_length / head_count (32 != 64 / 4)");
    snprintf(a, sizeof a, "%s --arch qwen3 --head-dim 32 --drop-tensor blk.0.attn_k_norm.weight", shape);
    make("nonorm.gguf", a); expect_fail("nonorm.gguf", "missing tensor blk.0.attn_k_norm.weight");
    make("heads.gguf", "--embd 64 --layers 1 --heads 5 --kv-heads 5 --ff 160 --vocab 300");
    expect_fail("heads.gguf", "head_count 5 does not divide embedding_length 64");
    make("kvheads.gguf", "--embd 96 --layers 1 --heads 4 --kv-heads 3 --ff 160 --vocab 300");
    expect_fail("kvheads.gguf", "head_count 4 is not a multiple of head_count_kv 3");
    snprintf(p, sizeof p, "%s/missing.gguf", dir);
    CHECK_T(eng_model_open(p, &m) == RC_EIO && strstr(eng_errmsg(), "cannot open"), "missing file: RC_EIO");
    free(g); free(b);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
