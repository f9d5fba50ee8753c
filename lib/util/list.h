/* SPDX-License-Identifier: MIT */
/*
 * An intrusive doubly linked list: the link lives inside the element, so
 * joining or leaving a list never allocates and a million waiting tasks
 * cost two pointers each.
 *
 * A list is a head link; an empty one points at itself, so pushing and
 * unlinking need no special case for either end. A head must be set up
 * with corun_list_init() before use, and must not be moved (copied)
 * afterwards: its neighbours point at it.
 *
 * An element's link is NULL while it is on no list (a zeroed element is on
 * none); corun_list_unlink() puts it back to that, so "is it queued" is one
 * test, corun_list_linked().
 */
#ifndef CORUN_LIST_H
#define CORUN_LIST_H

#include <stddef.h>

struct corun_list {
  struct corun_list *next;
  struct corun_list *prev;
};

/* The element of type that holds link as its member. */
#define corun_list_entry(link, type, member)                                   \
  ((type *)((char *)(link)-offsetof(type, member)))

static inline void corun_list_init(struct corun_list *h)
{
  h->next = h;
  h->prev = h;
}

static inline int corun_list_empty(const struct corun_list *h)
{
  return h->next == h;
}

static inline int corun_list_linked(const struct corun_list *n)
{
  return n->next != NULL;
}

/* Put n just before at (at the end of the list when at is its head). */
static inline void corun_list_insert_before(struct corun_list *at,
                                            struct corun_list *n)
{
  n->prev = at->prev;
  n->next = at;
  at->prev->next = n;
  at->prev = n;
}

/* Append n at the end of h. */
static inline void corun_list_push(struct corun_list *h, struct corun_list *n)
{
  corun_list_insert_before(h, n);
}

static inline void corun_list_unlink(struct corun_list *n)
{
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = NULL;
  n->prev = NULL;
}

/* The first link of h, or NULL when it is empty. */
static inline struct corun_list *corun_list_first(const struct corun_list *h)
{
  return h->next == h ? NULL : h->next;
}

/* Take the first link off h; NULL when it is empty. */
static inline struct corun_list *corun_list_shift(struct corun_list *h)
{
  struct corun_list *n = corun_list_first(h);

  if (n)
    corun_list_unlink(n);
  return n;
}

#endif
