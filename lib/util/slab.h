/* SPDX-License-Identifier: MIT */
/*
 * Slabs: memory handed out in pieces from big zeroed blocks and given back
 * all at once, for things that live exactly as long as their owner (a
 * job's tasks, its generated ids). A million small objects cost their
 * bytes, not a malloc header and a trip through a fragmented heap each.
 */
#ifndef CORUN_SLAB_H
#define CORUN_SLAB_H

#include <stddef.h>

struct corun_slab;

/*
 * n zeroed bytes aligned to align (a power of two, at most 16) from the
 * slabs at *head, which starts out NULL; a new slab is added when the
 * newest is full. NULL when out of memory.
 */
void *corun_slab_alloc(struct corun_slab **head, size_t n, size_t align);
/*
 * A hint that about n bytes are coming: when the newest slab has less
 * left, one slab big enough for them all is added now, rather than a
 * climb through ever bigger ones. From 2 MiB on it is given huge pages,
 * so a caller that knows a big job is coming (the loader, from the
 * length of its tasks' text) spares most of the page faults of filling
 * it. Does nothing when out of memory: corun_slab_alloc still grows as
 * needed.
 */
void corun_slab_reserve(struct corun_slab **head, size_t n);
/* Give back every slab at *head; *head is NULL again. */
void corun_slab_free(struct corun_slab **head);

#endif
