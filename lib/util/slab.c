/* SPDX-License-Identifier: MIT */
#include "util/slab.h"

#include <stdint.h>
#include <sys/mman.h>

#define SLAB_FIRST ((size_t)64 << 10)
#define SLAB_MAX ((size_t)32 << 20)
/* A transparent huge page's size, and so the alignment it needs. */
#define SLAB_HUGE ((size_t)2 << 20)

struct corun_slab {
  struct corun_slab *next;
  size_t size;
  size_t used;
};

/* The header, rounded so the first piece is aligned to 16. */
#define HDR ((sizeof(struct corun_slab) + 15) & ~(size_t)15)

/*
 * size bytes of zeroed memory, or NULL. From SLAB_HUGE up, size must be a
 * whole number of huge pages (grow() rounds it): such a slab is mapped
 * aligned to one and marked for transparent huge pages, so touching it
 * faults once per 2 MiB rather than once per 4 KiB, and a fault costs
 * about 10 us on the virtual machines corun is measured on. A kernel that
 * aligns big mappings by itself (Linux 6.7 on) is not counted on: Debian
 * 12's 6.1 does not. With THP's default "defrag=madvise", such a fault may
 * first compact memory; rare on a machine with memory to spare, and still
 * one stall per 2 MiB.
 */
static void *map_zeroed(size_t size)
{
  char *mem, *at;

  if (size < SLAB_HUGE)
    goto plain;
  mem = mmap(NULL, size + SLAB_HUGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    goto plain;
  /* Keep [at, at + size), the huge page aligned part; unmap both ends. */
  at = (char *)(((uintptr_t)mem + SLAB_HUGE - 1) & ~(uintptr_t)(SLAB_HUGE - 1));
  if (at > mem)
    munmap(mem, (size_t)(at - mem));
  munmap(at + size, (size_t)(mem + SLAB_HUGE - at));
#ifdef MADV_HUGEPAGE
  madvise(at, size, MADV_HUGEPAGE);
#endif
  return at;
plain:
  mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
  return mem == MAP_FAILED ? NULL : mem;
}

/*
 * A new newest slab with room for need bytes: twice the last, up to
 * SLAB_MAX, so a small job maps little and a big one few times.
 */
static struct corun_slab *grow(struct corun_slab **head, size_t need)
{
  size_t size = *head ? (*head)->size * 2 : SLAB_FIRST;
  struct corun_slab *s;

  if (need > SIZE_MAX / 4)
    return NULL;
  if (size > SLAB_MAX)
    size = SLAB_MAX;
  if (size < HDR + need)
    size = HDR + need;
  if (size >= SLAB_HUGE)
    size = (size + SLAB_HUGE - 1) & ~(SLAB_HUGE - 1);
  s = map_zeroed(size);
  if (s == NULL)
    return NULL;
  s->size = size;
  s->used = HDR;
  s->next = *head;
  *head = s;
  return s;
}

void corun_slab_reserve(struct corun_slab **head, size_t n)
{
  struct corun_slab *s = *head;

  if (s && s->size - s->used >= n)
    return;
  /* Only a hint: without the room, corun_slab_alloc grows as before. */
  (void)grow(head, n);
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
