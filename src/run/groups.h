/*
 * groups.h - items grouped by image content, for the scheduler (sched_group):
 * with reuse on, a rank that gets the items asking about one image
 * consecutively encodes it once and prefills only the questions.
 */
#ifndef MMSAFE_GROUPS_H
#define MMSAFE_GROUPS_H

#include "job.h"

#include <stddef.h>
#include <stdint.h>

/* gid[i] (man->n entries) = the index of the first item whose image file has
 * the same bytes (sha256) as item i's; an item without an image, or whose
 * file cannot be read, is a group of its own (gid[i] = i: it becomes an item
 * error wherever it goes).  *n_groups and *n_hashed_bytes (may be NULL) get the
 * number of distinct groups and the bytes read.  RC_OK or RC_ENOMEM. */
int image_groups(const struct manifest *man, uint32_t *gid, size_t *n_groups, size_t *n_hashed_bytes);

#endif
