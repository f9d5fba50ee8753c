/* SPDX-License-Identifier: MIT */
/*
 * A small open-addressing hash map from strings to pointers (task ids,
 * duplicate-key checks). Keys are borrowed: the caller keeps them alive
 * while they are in the map.
 */
#ifndef CORUN_HASH_H
#define CORUN_HASH_H

#include "util/error.h"
#include <stddef.h>
#include <stdint.h>

struct corun_strmap {
  struct corun_strmap_slot {
    const char *key;
    void *val;
    size_t hash; /* compared first: most probes then skip strcmp */
  } *slots;
  size_t cap; /* power of two, or 0 */
  size_t len;
};

/*
 * Insert key -> val unless key is present. Returns 1 if inserted, 0 if the
 * key was there (then *old, when not NULL, gets its value), -1 on oom.
 */
CORUN_MUST_CHECK int corun_strmap_put(struct corun_strmap *m, const char *key,
                                      void *val, void **old);
void *corun_strmap_get(const struct corun_strmap *m, const char *key);
void corun_strmap_free(struct corun_strmap *m);

#endif
