/* SPDX-License-Identifier: MIT */
/*
 * The async queue behind every pipeline stage: asyncio.Queue semantics on
 * callbacks instead of coroutines.
 *
 * Bounded (maxsize 0 means unbounded): a put that finds the queue full
 * must wait, a get that finds it empty must wait. Waiters are served in
 * the order they began waiting, getters and putters each in their own
 * FIFO. Items leave in fifo, lifo or priority order (lowest key first,
 * ties in arrival order).
 *
 * Hand-offs are direct: a put while getters wait gives the item to the
 * first getter at once; a get from a full queue with putters waiting moves
 * the first putter's item in at once. Either way the served waiter's
 * callback runs inside the call that served it, after the queue is
 * consistent again, so a callback may call into the queue itself.
 *
 * Closing says no more items will come: puts fail, waiting putters are
 * told so (their item stays theirs), and getters drain what is left and
 * then are told the queue is closed, so consumers end when producers are
 * done (asyncio's Queue.shutdown()).
 */
#ifndef CORUN_QUEUE_H
#define CORUN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/list.h"

enum corun_qorder { CORUN_Q_FIFO, CORUN_Q_LIFO, CORUN_Q_PRIORITY };

/* Results of the calls below and of waits. */
enum corun_qresult {
  CORUN_Q_OK = 0,
  CORUN_Q_FULL = 1,   /* put: wait with corun_queue_put_wait() */
  CORUN_Q_EMPTY = 2,  /* get: wait with corun_queue_get_wait() */
  CORUN_Q_CLOSED = 3, /* put after close; get when closed and drained */
  CORUN_Q_NOMEM = -1  /* an unbounded queue could not grow */
};

/* What the queue carries; it reads only key (for priority order). */
struct corun_qitem {
  void *value;
  void *origin;
  uint64_t index;
  uint64_t aux;
  double key;
  uint64_t seq; /* set by the queue: arrival order, for ties */
};

struct corun_qwaiter;
typedef void (*corun_qwait_cb)(struct corun_qwaiter *w,
                               enum corun_qresult result);

/*
 * A put or get that waits. For a put, item holds what to put; for a get,
 * item receives what was got. The caller owns the memory; while waiting it
 * must stay put, and leaving early is corun_queue_unwait().
 */
struct corun_qwaiter {
  struct corun_list link; /* on the getters' or putters' list */
  struct corun_queue *q;  /* the queue waited on, or NULL */
  corun_qwait_cb cb;
  struct corun_qitem item;
  void *data;
  int putting; /* on the putters' list, not the getters' */
};

struct corun_qwaitlist {
  struct corun_list list; /* struct corun_qwaiter, through link */
  size_t len;
};

struct corun_queue {
  struct corun_qitem *v; /* ring (fifo), stack (lifo) or heap (priority) */
  size_t alloc;
  size_t head; /* fifo: index of the oldest item */
  size_t len;
  size_t maxsize; /* 0: unbounded */
  size_t len_max; /* highest len seen */
  uint64_t seq;
  enum corun_qorder order;
  int closed;
  struct corun_qwaitlist getters;
  struct corun_qwaitlist putters;
};

/* Returns 0, or -1 when out of memory. q must not be moved afterwards. */
CORUN_MUST_CHECK int corun_queue_init(struct corun_queue *q, size_t maxsize,
                                      enum corun_qorder order);
/*
 * Free the queue's memory. Items still inside are handed to drop first
 * (may be NULL). Waiters must have left or been served.
 */
void corun_queue_free(struct corun_queue *q,
                      void (*drop)(struct corun_qitem *it, void *arg),
                      void *arg);

/* Put without waiting: OK, FULL, CLOSED or NOMEM. */
enum corun_qresult corun_queue_put(struct corun_queue *q,
                                   const struct corun_qitem *it);
/* Get without waiting: OK, EMPTY or CLOSED (closed and drained). */
enum corun_qresult corun_queue_get(struct corun_queue *q,
                                   struct corun_qitem *out);
/*
 * Wait to put w->item (after a put said FULL). cb gets OK once the item is
 * in (or handed to a getter), or CLOSED if the queue closes first.
 */
void corun_queue_put_wait(struct corun_queue *q, struct corun_qwaiter *w,
                          corun_qwait_cb cb);
/*
 * Wait to get (after a get said EMPTY). cb gets OK with w->item filled, or
 * CLOSED once the queue is closed and drained.
 */
void corun_queue_get_wait(struct corun_queue *q, struct corun_qwaiter *w,
                          corun_qwait_cb cb);
/* Stop waiting (cancellation). No callback follows. Safe if not waiting. */
void corun_queue_unwait(struct corun_qwaiter *w);
/* No more puts. Wakes waiting putters and, if empty, waiting getters. */
void corun_queue_close(struct corun_queue *q);

static inline size_t corun_queue_len(const struct corun_queue *q)
{
  return q->len;
}

static inline int corun_queue_waiting(const struct corun_qwaiter *w)
{
  return w->q != NULL;
}

#endif
