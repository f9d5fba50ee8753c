/* SPDX-License-Identifier: MIT */
#include "util/hash.h"

#include <stdlib.h>
#include <string.h>

static size_t hash_str(const char *s)
{
  /* FNV-1a: short ids, no adversary worth a keyed hash here. */
  size_t h = (size_t)14695981039346656037ULL;

  while (*s) {
    h ^= (unsigned char)*s++;
    h *= (size_t)1099511628211ULL;
  }
  return h;
}

static int strmap_grow(struct corun_strmap *m)
{
  size_t ncap = m->cap ? m->cap * 2 : 16, i;
  struct corun_strmap_slot *ns = calloc(ncap, sizeof(*ns));

  if (ns == NULL)
    return -1;
  for (i = 0; i < m->cap; i++) {
    size_t j;

    if (m->slots[i].key == NULL)
      continue;
    j = m->slots[i].hash & (ncap - 1);
    while (ns[j].key)
      j = (j + 1) & (ncap - 1);
    ns[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = ns;
  m->cap = ncap;
  return 0;
}

int corun_strmap_put(struct corun_strmap *m, const char *key, void *val,
                     void **old)
{
  size_t j, h = hash_str(key);

  if ((m->len + 1) * 4 > m->cap * 3 && strmap_grow(m) < 0)
    return -1;
  j = h & (m->cap - 1);
  while (m->slots[j].key) {
    if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
      if (old)
        *old = m->slots[j].val;
      return 0;
    }
    j = (j + 1) & (m->cap - 1);
  }
  m->slots[j].key = key;
  m->slots[j].val = val;
  m->slots[j].hash = h;
  m->len++;
  return 1;
}

void *corun_strmap_get(const struct corun_strmap *m, const char *key)
{
  size_t j, h;

  if (m->cap == 0)
    return NULL;
  h = hash_str(key);
  j = h & (m->cap - 1);
  while (m->slots[j].key) {
    if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0)
      return m->slots[j].val;
    j = (j + 1) & (m->cap - 1);
  }
  return NULL;
}

void corun_strmap_free(struct corun_strmap *m)
{
  free(m->slots);
  memset(m, 0, sizeof(*m));
}
