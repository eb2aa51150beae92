/* The image-embedding cache (src/backends/embd_cache.c): the key is the file's
 * content and the vision settings (another setting or another file misses),
 * lookups return the stored rows and grid, the bound holds with least recently
 * used eviction, an entry over the bound is not kept, max 0 keeps nothing. */
#include "embd_cache.h"
#include "err.h"
#include "util.h"
#include "t.h"

static void key_of(const char *bytes, const char *settings, uint8_t key[32])
{
    uint8_t sha[32];
    util_sha256(bytes, strlen(bytes), sha);
    embd_cache_key(sha, settings, key);
}

int main(void)
{
    t_name = "test_embd_cache";
    enum { N = 1000 };   /* floats per entry: 4000 bytes */
    float rows[4][N];
    for (int e = 0; e < 4; e++) for (int i = 0; i < N; i++) rows[e][i] = (float)(e * 10000 + i);
    struct embd_cache *c;
    CHECK_EQ_I(embd_cache_new(3 * N * sizeof(float), &c), RC_OK, "a cache of 3 entries' bytes");
    uint8_t ka[32], kb[32], kc[32], kd[32], ka2[32], ka_mode[32];
    const char *set = "mmproj=m.gguf;vision_mode=0;arith=0;kv=0;min_image_tokens=0;max_image_tokens=0";
    key_of("image A bytes", set, ka);
    key_of("image A bytes", set, ka2);
    key_of("image B bytes", set, kb);
    key_of("image C bytes", set, kc);
    key_of("image D bytes", set, kd);
    key_of("image A bytes", "mmproj=m.gguf;vision_mode=1;arith=0;kv=0;min_image_tokens=0;max_image_tokens=0", ka_mode);
    CHECK_T(!memcmp(ka, ka2, 32), "the same bytes and settings: the same key");
    CHECK_T(memcmp(ka, kb, 32) != 0, "other bytes: another key");
    CHECK_T(memcmp(ka, ka_mode, 32) != 0, "another vision setting: another key");
    size_t n;
    int gw, gh;
    CHECK_T(embd_cache_get(c, ka, &n, &gw, &gh) == NULL, "empty: a miss");
    CHECK_EQ_I(embd_cache_put(c, ka, rows[0], N, 25, 40), RC_OK, "put A");
    const float *r = embd_cache_get(c, ka2, &n, &gw, &gh);
    CHECK_T(r && n == N && gw == 25 && gh == 40 && !memcmp(r, rows[0], sizeof rows[0]), "A comes back, with its grid");
    CHECK_T(r != rows[0], "a copy is kept");
    CHECK_T(embd_cache_get(c, ka_mode, &n, &gw, &gh) == NULL, "A under another vision mode: a miss");
    embd_cache_put(c, kb, rows[1], N, 1, N);
    embd_cache_put(c, kc, rows[2], N, 1, N);
    CHECK_T(embd_cache_get(c, ka, &n, &gw, &gh) != NULL, "A used again: now the most recent");
    embd_cache_put(c, kd, rows[3], N, 1, N);   /* evicts B, the least recently used */
    struct embd_cache_stats st;
    embd_cache_stats(c, &st);
    CHECK_T(st.entries == 3 && st.bytes <= 3 * N * sizeof(float) && st.evictions == 1, "bounded: 3 entries, one eviction");
    CHECK_T(embd_cache_get(c, kb, &n, &gw, &gh) == NULL, "B (least recently used) was evicted");
    r = embd_cache_get(c, kc, &n, &gw, &gh);
    CHECK_T(r && !memcmp(r, rows[2], sizeof rows[2]), "C kept");
    r = embd_cache_get(c, kd, &n, &gw, &gh);
    CHECK_T(r && !memcmp(r, rows[3], sizeof rows[3]), "D kept");
    static float big[4 * N];
    embd_cache_put(c, kb, big, 4 * N, 1, 4 * N);
    CHECK_T(embd_cache_get(c, kb, &n, &gw, &gh) == NULL, "an entry over the bound is not kept");
    embd_cache_stats(c, &st);
    CHECK_EQ_I(st.entries, 3, "and evicts nothing");
    embd_cache_free(c);
    CHECK_EQ_I(embd_cache_new(0, &c), RC_OK, "image_cache_mb 0");
    embd_cache_put(c, ka, rows[0], N, 1, N);
    CHECK_T(embd_cache_get(c, ka, &n, &gw, &gh) == NULL, "max 0 keeps nothing");
    embd_cache_free(c);
    return t_done();
}
