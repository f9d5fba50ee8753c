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
/* Give back every slab at *head; *head is NULL again. */
void corun_slab_free(struct corun_slab **head);

#endif
