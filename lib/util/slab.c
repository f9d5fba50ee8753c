/* SPDX-License-Identifier: MIT */
#include "util/slab.h"

#include <stdint.h>
#include <sys/mman.h>

#define SLAB_FIRST ((size_t)64 << 10)
#define SLAB_MAX ((size_t)32 << 20)
#define SLAB_HUGE ((size_t)4 << 20)

struct corun_slab {
  struct corun_slab *next;
  size_t size;
  size_t used;
};

/* The header, rounded so the first piece is aligned to 16. */
#define HDR ((sizeof(struct corun_slab) + 15) & ~(size_t)15)

/*
 * Each slab doubles the last up to SLAB_MAX, so a small job maps little
 * and a big one few times. Slabs come straight from mmap, already zeroed;
 * large ones ask for transparent huge pages, which cuts the page faults
 * of touching them by as much as 512 times.
 */
static struct corun_slab *grow(struct corun_slab **head, size_t need)
{
  size_t size = *head ? (*head)->size * 2 : SLAB_FIRST;
  struct corun_slab *s;
  void *mem;

  if (size > SLAB_MAX)
    size = SLAB_MAX;
  if (size < HDR + need)
    size = HDR + need;
  mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
  if (mem == MAP_FAILED)
    return NULL;
#ifdef MADV_HUGEPAGE
  if (size >= SLAB_HUGE)
    madvise(mem, size, MADV_HUGEPAGE);
#endif
  s = mem;
  s->size = size;
  s->used = HDR;
  s->next = *head;
  *head = s;
  return s;
}

void *corun_slab_alloc(struct corun_slab **head, size_t n, size_t align)
{
  struct corun_slab *s = *head;
  size_t at = 0;

  if (s) {
    at = (s->used + align - 1) & ~(align - 1);
    if (at > s->size || s->size - at < n)
      s = NULL;
  }
  if (s == NULL) {
    if (n > SIZE_MAX - HDR - 16 || (s = grow(head, n)) == NULL)
      return NULL;
    at = s->used;
  }
  s->used = at + n;
  return (char *)s + at;
}

void corun_slab_free(struct corun_slab **head)
{
  while (*head) {
    struct corun_slab *s = *head;

    *head = s->next;
    munmap(s, s->size);
  }
}
