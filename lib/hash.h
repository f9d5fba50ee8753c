/* SPDX-License-Identifier: MIT */
/*
 * Two small open-addressing hash maps: string keys to pointers (task ids,
 * duplicate-key checks) and pointers to offsets (where in the job file a
 * parsed JSON value stood). Keys are borrowed: the caller keeps them alive
 * while they are in the map.
 */
#ifndef CORUN_HASH_H
#define CORUN_HASH_H

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
int corun_strmap_put(struct corun_strmap *m, const char *key, void *val,
                     void **old);
void *corun_strmap_get(const struct corun_strmap *m, const char *key);
void corun_strmap_free(struct corun_strmap *m);

struct corun_ptrmap {
  struct corun_ptrmap_slot {
    const void *key;
    size_t val;
  } *slots;
  size_t cap;
  size_t len;
};

/* Set key -> val, replacing; returns 0 or -1 on oom. */
int corun_ptrmap_set(struct corun_ptrmap *m, const void *key, size_t val);
/* Returns 1 and sets *val when present, 0 otherwise. */
int corun_ptrmap_get(const struct corun_ptrmap *m, const void *key,
                     size_t *val);
/* Empties the map, keeping its memory. */
void corun_ptrmap_clear(struct corun_ptrmap *m);
void corun_ptrmap_free(struct corun_ptrmap *m);

#endif
