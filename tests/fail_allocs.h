/* SPDX-License-Identifier: MIT */
/*
 * Included once by a test program that needs allocations to fail on
 * demand (test_sem, test_timer): it replaces malloc and realloc for the
 * whole program, so it defines them here rather than in helpers.c.
 */
#ifndef CORUN_TEST_FAIL_ALLOCS_H
#define CORUN_TEST_FAIL_ALLOCS_H

#include <stddef.h>

/*
 * Out of memory on demand: while fail_allocs is set, malloc and realloc
 * fail (the library's own calls included). Not under ASan, whose
 * allocator must see every allocation.
 */
#if !defined(__SANITIZE_ADDRESS__)
#define CAN_FAIL_ALLOCS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_realloc(void *p, size_t n);
static int fail_allocs;

void *malloc(size_t n)
{
  return fail_allocs ? NULL : __libc_malloc(n);
}

void *realloc(void *p, size_t n)
{
  return fail_allocs ? NULL : __libc_realloc(p, n);
}
#endif

#endif
