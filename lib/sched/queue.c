/* SPDX-License-Identifier: MIT */
/* The async queue; see queue.h for its rules. */
#include "sched/queue.h"

#include <stdlib.h>
#include <string.h>

/* Room for this many items at first; a bounded queue never exceeds maxsize. */
#define QUEUE_FIRST_ALLOC 16

static void list_push(struct corun_qwaitlist *l, struct corun_qwaiter *w)
{
  corun_list_push(&l->list, &w->link);
  l->len++;
}

static void list_remove(struct corun_qwaitlist *l, struct corun_qwaiter *w)
{
  corun_list_unlink(&w->link);
  l->len--;
}

static int list_any(const struct corun_qwaitlist *l)
{
  return !corun_list_empty(&l->list);
}

/* Take the first waiter off l; it is no longer waiting. */
static struct corun_qwaiter *list_shift(struct corun_qwaitlist *l)
{
  struct corun_list *n = corun_list_first(&l->list);
  struct corun_qwaiter *w;

  if (n == NULL)
    return NULL;
  w = corun_list_entry(n, struct corun_qwaiter, link);
  list_remove(l, w);
  w->q = NULL;
  return w;
}

int corun_queue_init(struct corun_queue *q, size_t maxsize,
                     enum corun_qorder order)
{
  memset(q, 0, sizeof(*q));
  corun_list_init(&q->getters.list);
  corun_list_init(&q->putters.list);
  q->maxsize = maxsize;
  q->order = order;
  q->alloc = maxsize && maxsize < QUEUE_FIRST_ALLOC ? maxsize
                                                     : QUEUE_FIRST_ALLOC;
  q->v = malloc(q->alloc * sizeof(*q->v));
  return q->v ? 0 : -1;
}

static struct corun_qitem *slot(struct corun_queue *q, size_t i)
{
  if (q->order != CORUN_Q_FIFO)
    return &q->v[i];
  return &q->v[(q->head + i) % q->alloc];
}

void corun_queue_free(struct corun_queue *q,
                      void (*drop)(struct corun_qitem *it, void *arg),
                      void *arg)
{
  size_t i;

  for (i = 0; drop && i < q->len; i++)
    drop(slot(q, i), arg);
  free(q->v);
  q->v = NULL;
  q->len = q->alloc = 0;
}

static int grow(struct corun_queue *q)
{
  size_t n = q->alloc * 2, i;
  struct corun_qitem *nv;

  if (q->maxsize && n > q->maxsize)
    n = q->maxsize;
  nv = malloc(n * sizeof(*nv));
  if (nv == NULL)
    return -1;
  /* Unwrap the ring while copying; the other orders are plain arrays. */
  for (i = 0; i < q->len; i++)
    nv[i] = *slot(q, i);
  free(q->v);
  q->v = nv;
  q->alloc = n;
  q->head = 0;
  return 0;
}

static int before(const struct corun_qitem *a, const struct corun_qitem *b)
{
  return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static void heap_up(struct corun_qitem *v, size_t i)
{
  struct corun_qitem x = v[i];

  while (i > 0) {
    size_t p = (i - 1) / 2;

    if (!before(&x, &v[p]))
      break;
    v[i] = v[p];
    i = p;
  }
  v[i] = x;
}

static void heap_down(struct corun_qitem *v, size_t n, size_t i)
{
  struct corun_qitem x = v[i];

  for (;;) {
    size_t c = 2 * i + 1;

    if (c >= n)
      break;
    if (c + 1 < n && before(&v[c + 1], &v[c]))
      c++;
    if (!before(&v[c], &x))
      break;
    v[i] = v[c];
    i = c;
  }
  v[i] = x;
}

/* Store it; there is room (maxsize allows it). */
static int insert(struct corun_queue *q, const struct corun_qitem *it)
{
  if (q->len == q->alloc && grow(q) < 0)
    return -1;
  switch (q->order) {
  case CORUN_Q_FIFO:
    q->v[(q->head + q->len) % q->alloc] = *it;
    break;
  case CORUN_Q_LIFO:
    q->v[q->len] = *it;
    break;
  case CORUN_Q_PRIORITY:
    q->v[q->len] = *it;
    heap_up(q->v, q->len);
    break;
  }
  q->len++;
  if (q->len > q->len_max)
    q->len_max = q->len;
  return 0;
}

static void take(struct corun_queue *q, struct corun_qitem *out)
{
  switch (q->order) {
  case CORUN_Q_FIFO:
    *out = q->v[q->head];
    q->head = (q->head + 1) % q->alloc;
    q->len--;
    break;
  case CORUN_Q_LIFO:
    *out = q->v[--q->len];
    break;
  case CORUN_Q_PRIORITY:
    *out = q->v[0];
    q->v[0] = q->v[--q->len];
    if (q->len)
      heap_down(q->v, q->len, 0);
    break;
  }
}

static int has_room(const struct corun_queue *q)
{
  return q->maxsize == 0 || q->len < q->maxsize;
}

enum corun_qresult corun_queue_put(struct corun_queue *q,
                                   const struct corun_qitem *it)
{
  struct corun_qwaiter *w;
  struct corun_qitem x = *it;

  if (q->closed)
    return CORUN_Q_CLOSED;
  x.seq = q->seq++;
  w = list_shift(&q->getters);
  if (w) {
    /* A getter waits only on an empty queue: the item is the next out. */
    w->item = x;
    w->cb(w, CORUN_Q_OK);
    return CORUN_Q_OK;
  }
  /* Putters already waiting go first, even if a slot just opened. */
  if (list_any(&q->putters) || !has_room(q))
    return CORUN_Q_FULL;
  return insert(q, &x) < 0 ? CORUN_Q_NOMEM : CORUN_Q_OK;
}

enum corun_qresult corun_queue_get(struct corun_queue *q,
                                   struct corun_qitem *out)
{
  struct corun_qwaiter *w;

  if (q->len == 0)
    return q->closed ? CORUN_Q_CLOSED : CORUN_Q_EMPTY;
  take(q, out);
  if (list_any(&q->putters) && has_room(q)) {
    w = list_shift(&q->putters);
    w->item.seq = q->seq++;
    /* Room was just made, so this cannot need to grow past it. */
    if (insert(q, &w->item) < 0)
      w->cb(w, CORUN_Q_NOMEM);
    else
      w->cb(w, CORUN_Q_OK);
  }
  return CORUN_Q_OK;
}

void corun_queue_put_wait(struct corun_queue *q, struct corun_qwaiter *w,
                          corun_qwait_cb cb)
{
  enum corun_qresult r;

  w->cb = cb;
  w->q = NULL;
  r = corun_queue_put(q, &w->item);
  if (r != CORUN_Q_FULL) {
    cb(w, r);
    return;
  }
  w->q = q;
  w->putting = 1;
  list_push(&q->putters, w);
}

void corun_queue_get_wait(struct corun_queue *q, struct corun_qwaiter *w,
                          corun_qwait_cb cb)
{
  enum corun_qresult r;

  w->cb = cb;
  w->q = NULL;
  r = corun_queue_get(q, &w->item);
  if (r != CORUN_Q_EMPTY) {
    cb(w, r);
    return;
  }
  w->q = q;
  w->putting = 0;
  list_push(&q->getters, w);
}

void corun_queue_unwait(struct corun_qwaiter *w)
{
  struct corun_queue *q = w->q;

  if (q == NULL)
    return;
  list_remove(w->putting ? &q->putters : &q->getters, w);
  w->q = NULL;
}

void corun_queue_close(struct corun_queue *q)
{
  struct corun_qwaiter *w;

  if (q->closed)
    return;
  q->closed = 1;
  while ((w = list_shift(&q->putters)) != NULL)
    w->cb(w, CORUN_Q_CLOSED);
  while (q->len == 0 && (w = list_shift(&q->getters)) != NULL)
    w->cb(w, CORUN_Q_CLOSED);
}
