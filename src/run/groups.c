/*
 * groups.c - items grouped by the sha256 of their image file (groups.h).
 * The same path is read once; the digests are sorted to find equal ones.
 */
#include "groups.h"
#include "err.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct hrec { uint8_t sha[32]; uint32_t item; };

static int hrec_cmp(const void *a, const void *b)
{
    const struct hrec *x = a, *y = b;
    int c = memcmp(x->sha, y->sha, 32);
    return c ? c : (x->item < y->item ? -1 : x->item > y->item);
}

int image_groups(const struct manifest *man, uint32_t *gid, size_t *n_groups, size_t *n_bytes)
{
    const size_t n = man->n;
    struct hrec *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return err_set(RC_ENOMEM, "out of memory");
    size_t nh = 0, bytes = 0, groups = 0;
    for (size_t i = 0; i < n; i++) {
        gid[i] = (uint32_t)i;
        const char *img = man->items[i].image;
        if (!img) continue;
        /* a path seen before: its digest (manifests list a file once per question) */
        size_t same = nh;
        for (size_t k = nh; k-- > 0 && nh - k <= 64;)
            if (!strcmp(man->items[h[k].item].image, img)) { same = k; break; }
        if (same < nh) { h[nh] = h[same]; h[nh++].item = (uint32_t)i; continue; }
        char *b = NULL;
        size_t len = 0;
        if (util_read_file(img, &b, &len) != RC_OK) { err_clear(); continue; }   /* an item error later */
        util_sha256(b, len, h[nh].sha);
        free(b);
        bytes += len;
        h[nh++].item = (uint32_t)i;
    }
    qsort(h, nh, sizeof *h, hrec_cmp);
    for (size_t k = 0; k < nh; k++)
        if (k && !memcmp(h[k].sha, h[k - 1].sha, 32)) gid[h[k].item] = gid[h[k - 1].item];   /* ascending items: the first's index */
    for (size_t i = 0; i < n; i++) groups += gid[i] == (uint32_t)i;
    free(h);
    if (n_groups) *n_groups = groups;
    if (n_bytes) *n_bytes = bytes;
    return RC_OK;
}
