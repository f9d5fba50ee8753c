/* SPDX-License-Identifier: MIT */
/*
 * The async queue (lib/sched/queue.h), driven directly: it is plain data
 * structure code with callbacks, so no loop is needed. Covers item order,
 * backpressure, the FIFO service of waiters, cancellation, close/drain,
 * callbacks that call back into the queue, and a randomized comparison
 * against a naive reference model for every order and several sizes.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/queue.h"

TestSuite(queue, .timeout = 20);

/* A waiter list's first and last waiters, and a waiter's neighbours. */
static struct corun_qwaiter *waiter_of(const struct corun_qwaitlist *l,
                                       struct corun_list *n)
{
  return n == &l->list ? NULL : corun_list_entry(n, struct corun_qwaiter, link);
}

#define HEAD(l) waiter_of(&(l), (l).list.next)
#define TAIL(l) waiter_of(&(l), (l).list.prev)
#define NEXT(l, w) waiter_of(&(l), (w)->link.next)
#define PREV(l, w) waiter_of(&(l), (w)->link.prev)

/* Every field but seq carries something derived from v, so a copy that
 * loses or mixes fields is caught, not just a wrong value. */
static struct corun_qitem mk(long v, double key)
{
  struct corun_qitem it;

  memset(&it, 0, sizeof(it));
  it.value = (void *)(intptr_t)v;
  it.origin = (void *)(intptr_t)(v * 3 + 1);
  it.index = (uint64_t)v;
  it.aux = ~(uint64_t)v;
  it.key = key;
  return it;
}

static long val(const struct corun_qitem *it)
{
  return (long)(intptr_t)it->value;
}

static void assert_intact(const struct corun_qitem *it, long v, double key)
{
  cr_assert_eq(val(it), v, "value %ld, expected %ld", val(it), v);
  cr_assert_eq(it->origin, (void *)(intptr_t)(v * 3 + 1), "origin of %ld", v);
  cr_assert_eq(it->index, (uint64_t)v, "index of %ld", v);
  cr_assert_eq(it->aux, ~(uint64_t)v, "aux of %ld", v);
  cr_assert_eq(it->key, key, "key of %ld: %g, expected %g", v, it->key, key);
}

static void put_ok(struct corun_queue *q, long v, double key)
{
  struct corun_qitem it = mk(v, key);

  cr_assert_eq(corun_queue_put(q, &it), CORUN_Q_OK, "put %ld", v);
}

static long get_ok(struct corun_queue *q)
{
  struct corun_qitem it;

  memset(&it, 0, sizeof(it));
  cr_assert_eq(corun_queue_get(q, &it), CORUN_Q_OK);
  return val(&it);
}

/*
 * A waiter that records what happened to it, plus a shared log so tests can
 * check the order in which different waiters were served.
 */
struct rec {
  struct corun_qwaiter w; /* first, so the callback can cast back */
  int id;
  int calls;
  enum corun_qresult result;
  long got;
  double got_key;
  int *log;  /* ids in callback order, may be NULL */
  int *nlog;
};

static void rec_cb(struct corun_qwaiter *w, enum corun_qresult result)
{
  struct rec *r = (struct rec *)w;

  /* A served waiter must already be off the lists when told. */
  cr_assert_not(corun_queue_waiting(w), "waiter %d still waiting in cb", r->id);
  r->calls++;
  r->result = result;
  r->got = val(&w->item);
  r->got_key = w->item.key;
  if (r->log)
    r->log[(*r->nlog)++] = r->id;
}

static void rec_init(struct rec *r, int id, int *log, int *nlog)
{
  memset(r, 0, sizeof(*r));
  r->id = id;
  r->log = log;
  r->nlog = nlog;
  r->result = -100;
}

/* ---------------------------------------------------------------- order */

Test(queue, fifo_order)
{
  struct corun_queue q;
  long i;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_FIFO), 0);
  for (i = 0; i < 5; i++)
    put_ok(&q, i, (double)(5 - i)); /* keys must not matter */
  cr_assert_eq(corun_queue_len(&q), 5);
  for (i = 0; i < 5; i++)
    cr_assert_eq(get_ok(&q), i);
  cr_assert_eq(corun_queue_len(&q), 0);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, lifo_order)
{
  struct corun_queue q;
  long i;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_LIFO), 0);
  for (i = 0; i < 5; i++)
    put_ok(&q, i, (double)i);
  cr_assert_eq(get_ok(&q), 4);
  cr_assert_eq(get_ok(&q), 3);
  /* A newer item goes on top of what is left. */
  put_ok(&q, 9, 0);
  cr_assert_eq(get_ok(&q), 9);
  cr_assert_eq(get_ok(&q), 2);
  cr_assert_eq(get_ok(&q), 1);
  cr_assert_eq(get_ok(&q), 0);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, priority_lowest_key_first_ties_in_arrival_order)
{
  static const struct {
    long v;
    double key;
  } in[] = {
      {0, 3.0},  {1, -1.5}, {2, 0.25}, {3, 3.0},  {4, -1.5}, {5, 0.0},
      {6, -0.0}, {7, 1e-9}, {8, -7.0}, {9, 3.0},  {10, 0.25}, {11, -1e9},
      {12, 2.5}, {13, 0.0}, {14, -1.5},
  };
  /* -0.0 == 0.0, so 5, 6 and 13 tie and keep their arrival order. */
  static const long want[] = {11, 8, 1, 4, 14, 5, 6, 13, 7, 2, 10, 12, 0, 3, 9};
  struct corun_queue q;
  struct corun_qitem it;
  size_t i;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_PRIORITY), 0);
  for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
    put_ok(&q, in[i].v, in[i].key);
  for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_OK);
    cr_assert_eq(val(&it), want[i], "position %zu: got %ld, want %ld", i,
                 val(&it), want[i]);
    assert_intact(&it, want[i], in[want[i]].key);
  }
  cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_EMPTY);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, priority_ties_stay_in_arrival_order_across_interleaving)
{
  struct corun_queue q;
  long i, next_out = 0;

  /* All keys equal: a heap that ignored seq would scramble these. */
  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_PRIORITY), 0);
  for (i = 0; i < 300; i++) {
    put_ok(&q, i, 1.0);
    if (i % 3 == 2)
      cr_assert_eq(get_ok(&q), next_out++);
  }
  while (corun_queue_len(&q))
    cr_assert_eq(get_ok(&q), next_out++);
  cr_assert_eq(next_out, 300);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, seq_is_set_in_arrival_order)
{
  struct corun_queue q;
  struct corun_qitem it = mk(1, 0), a, b, c;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_LIFO), 0);
  it.seq = 999; /* the caller's seq is ignored */
  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_OK);
  it = mk(2, 0);
  it.seq = 5;
  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_OK);
  it = mk(3, 0);
  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_OK);
  cr_assert_eq(corun_queue_get(&q, &c), CORUN_Q_OK);
  cr_assert_eq(corun_queue_get(&q, &b), CORUN_Q_OK);
  cr_assert_eq(corun_queue_get(&q, &a), CORUN_Q_OK);
  cr_assert_eq(val(&a), 1);
  cr_assert_lt(a.seq, b.seq);
  cr_assert_lt(b.seq, c.seq);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, fifo_ring_wraps_and_grows_in_order)
{
  static const size_t sizes[] = {0, 1, 2, 5, 16, 17, 20, 40};
  size_t s;

  /* Put 3, get 2, so the head walks round the ring while it fills and has
   * to grow with the oldest item somewhere in the middle of the array. */
  for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    struct corun_queue q;
    size_t max = sizes[s];
    long in = 0, out = 0, round;

    cr_assert_eq(corun_queue_init(&q, max, CORUN_Q_FIFO), 0);
    for (round = 0; round < 200; round++) {
      int k;

      for (k = 0; k < 3; k++) {
        struct corun_qitem it = mk(in, 0);
        enum corun_qresult r = corun_queue_put(&q, &it);

        if (max && corun_queue_len(&q) == max && r == CORUN_Q_FULL)
          continue;
        cr_assert_eq(r, CORUN_Q_OK, "maxsize %zu, put %ld", max, in);
        in++;
      }
      for (k = 0; k < 2 && corun_queue_len(&q); k++)
        cr_assert_eq(get_ok(&q), out++, "maxsize %zu", max);
      cr_assert(max == 0 || corun_queue_len(&q) <= max);
    }
    while (corun_queue_len(&q))
      cr_assert_eq(get_ok(&q), out++, "maxsize %zu", max);
    cr_assert_eq(in, out);
    if (max == 0)
      cr_assert_eq(q.len_max, 202, "199 left after the last round's gets + 3");
    else
      cr_assert_eq(q.len_max, max);
    corun_queue_free(&q, NULL, NULL);
  }
}

Test(queue, unbounded_grows_to_100000_in_order)
{
  const long n = 100000;
  struct corun_queue q;
  long i;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_FIFO), 0);
  for (i = 0; i < n; i++)
    put_ok(&q, i, 0);
  cr_assert_eq(corun_queue_len(&q), (size_t)n);
  cr_assert_eq(q.len_max, (size_t)n);
  for (i = 0; i < n; i++)
    cr_assert_eq(get_ok(&q), i);
  corun_queue_free(&q, NULL, NULL);

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_LIFO), 0);
  for (i = 0; i < n; i++)
    put_ok(&q, i, 0);
  cr_assert_eq(corun_queue_len(&q), (size_t)n);
  for (i = n - 1; i >= 0; i--)
    cr_assert_eq(get_ok(&q), i);
  corun_queue_free(&q, NULL, NULL);

  /* Falling keys make every insert climb to the root; every other item
   * shares a key with its neighbour to exercise ties at depth. */
  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_PRIORITY), 0);
  for (i = 0; i < n; i++)
    put_ok(&q, i, (double)((n - i) / 2));
  cr_assert_eq(corun_queue_len(&q), (size_t)n);
  cr_assert_eq(get_ok(&q), n - 1);
  for (i = n - 3; i >= 0; i -= 2) {
    cr_assert_eq(get_ok(&q), i);
    cr_assert_eq(get_ok(&q), i + 1);
  }
  cr_assert_eq(get_ok(&q), 0, "item 0 has the highest key of all");
  cr_assert_eq(corun_queue_len(&q), 0);
  corun_queue_free(&q, NULL, NULL);
}

/* --------------------------------------------------------- backpressure */

Test(queue, put_on_full_queue_waits_and_get_moves_it_in)
{
  struct corun_queue q;
  struct corun_qitem it = mk(3, 0);
  struct rec p;

  cr_assert_eq(corun_queue_init(&q, 2, CORUN_Q_FIFO), 0);
  put_ok(&q, 1, 0);
  put_ok(&q, 2, 0);
  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_FULL);
  cr_assert_eq(corun_queue_len(&q), 2);

  rec_init(&p, 0, NULL, NULL);
  p.w.item = mk(3, 0);
  corun_queue_put_wait(&q, &p.w, rec_cb);
  cr_assert_eq(p.calls, 0);
  cr_assert(corun_queue_waiting(&p.w));
  cr_assert_eq(q.putters.len, 1);
  cr_assert_eq(corun_queue_len(&q), 2);

  /* The get frees a slot that goes straight to the putter, inside the call. */
  cr_assert_eq(get_ok(&q), 1);
  cr_assert_eq(p.calls, 1);
  cr_assert_eq(p.result, CORUN_Q_OK);
  cr_assert_not(corun_queue_waiting(&p.w));
  cr_assert_eq(q.putters.len, 0);
  cr_assert_eq(corun_queue_len(&q), 2);
  cr_assert_eq(q.len_max, 2);

  cr_assert_eq(get_ok(&q), 2);
  cr_assert_eq(get_ok(&q), 3);
  cr_assert_eq(p.calls, 1);
  cr_assert_eq(q.len_max, 2);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, slot_freed_by_get_belongs_to_the_waiting_putter)
{
  struct corun_queue q;
  struct corun_qitem it = mk(9, 0);
  struct rec p;

  /* Right after a get there is no slot for a newcomer: the waiting putter
   * has taken it, so a plain put cannot jump the line. */
  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_FIFO), 0);
  put_ok(&q, 1, 0);
  rec_init(&p, 0, NULL, NULL);
  p.w.item = mk(2, 0);
  corun_queue_put_wait(&q, &p.w, rec_cb);
  cr_assert_eq(get_ok(&q), 1);
  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_FULL);
  cr_assert_eq(get_ok(&q), 2);
  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_OK);
  cr_assert_eq(get_ok(&q), 9);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, put_wait_with_room_completes_at_once)
{
  struct corun_queue q;
  struct rec p;

  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_FIFO), 0);
  rec_init(&p, 0, NULL, NULL);
  p.w.item = mk(4, 2.0);
  corun_queue_put_wait(&q, &p.w, rec_cb);
  cr_assert_eq(p.calls, 1);
  cr_assert_eq(p.result, CORUN_Q_OK);
  cr_assert_not(corun_queue_waiting(&p.w));
  cr_assert_eq(corun_queue_len(&q), 1);
  cr_assert_eq(get_ok(&q), 4);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, len_max_is_the_high_water_mark)
{
  static const int pattern[] = {+1, +1, +1, -1, -1, +1, +1, +1,
                                +1, -1, -1, -1, -1, +1, +1};
  struct corun_queue q;
  size_t i, len = 0, high = 0;
  long v = 0;

  cr_assert_eq(corun_queue_init(&q, 4, CORUN_Q_PRIORITY), 0);
  cr_assert_eq(q.len_max, 0);
  for (i = 0; i < sizeof(pattern) / sizeof(pattern[0]); i++) {
    struct corun_qitem it = mk(v, (double)(v % 3));

    if (pattern[i] > 0) {
      enum corun_qresult r = corun_queue_put(&q, &it);

      v++;
      if (len == 4) {
        cr_assert_eq(r, CORUN_Q_FULL);
      } else {
        cr_assert_eq(r, CORUN_Q_OK);
        len++;
      }
    } else {
      cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_OK);
      len--;
    }
    if (len > high)
      high = len;
    cr_assert_eq(corun_queue_len(&q), len);
    cr_assert_eq(q.len_max, high, "step %zu", i);
    cr_assert_leq(q.len_max, q.maxsize);
  }
  cr_assert_eq(high, 4);
  corun_queue_free(&q, NULL, NULL);
}

/* ------------------------------------------------------- empty / getters */

Test(queue, get_on_empty_queue_returns_empty)
{
  struct corun_queue q;
  struct corun_qitem it = mk(77, 1.0);

  cr_assert_eq(corun_queue_init(&q, 3, CORUN_Q_FIFO), 0);
  cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_EMPTY);
  put_ok(&q, 1, 0);
  cr_assert_eq(get_ok(&q), 1);
  cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_EMPTY);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, put_hands_item_directly_to_waiting_getter)
{
  static const enum corun_qorder orders[] = {CORUN_Q_FIFO, CORUN_Q_LIFO,
                                             CORUN_Q_PRIORITY};
  size_t o;

  for (o = 0; o < 3; o++) {
    struct corun_queue q;
    struct corun_qitem it = mk(42, -3.5);
    struct rec g;

    cr_assert_eq(corun_queue_init(&q, 1, orders[o]), 0);
    rec_init(&g, 0, NULL, NULL);
    corun_queue_get_wait(&q, &g.w, rec_cb);
    cr_assert_eq(g.calls, 0);
    cr_assert(corun_queue_waiting(&g.w));
    cr_assert_eq(q.getters.len, 1);

    cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_OK);
    cr_assert_eq(g.calls, 1, "served inside put");
    cr_assert_eq(g.result, CORUN_Q_OK);
    assert_intact(&g.w.item, 42, -3.5);
    cr_assert_not(corun_queue_waiting(&g.w));
    cr_assert_eq(q.getters.len, 0);
    /* The item never sat in the queue. */
    cr_assert_eq(corun_queue_len(&q), 0);
    cr_assert_eq(q.len_max, 0);
    cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_EMPTY);
    corun_queue_free(&q, NULL, NULL);
  }
}

Test(queue, get_wait_with_items_completes_at_once)
{
  struct corun_queue q;
  struct rec g;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_PRIORITY), 0);
  put_ok(&q, 1, 5.0);
  put_ok(&q, 2, -5.0);
  rec_init(&g, 0, NULL, NULL);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.result, CORUN_Q_OK);
  assert_intact(&g.w.item, 2, -5.0);
  cr_assert_not(corun_queue_waiting(&g.w));
  cr_assert_eq(q.getters.len, 0);
  cr_assert_eq(corun_queue_len(&q), 1);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, put_wait_hands_to_waiting_getter)
{
  struct corun_queue q;
  struct rec g, p;
  int log[4], nlog = 0;

  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_FIFO), 0);
  rec_init(&g, 1, log, &nlog);
  rec_init(&p, 2, log, &nlog);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  p.w.item = mk(8, 0);
  corun_queue_put_wait(&q, &p.w, rec_cb);
  cr_assert_eq(nlog, 2);
  /* The getter is told inside the put, before the putter hears back. */
  cr_assert_eq(log[0], 1);
  cr_assert_eq(log[1], 2);
  cr_assert_eq(g.result, CORUN_Q_OK);
  cr_assert_eq(g.got, 8);
  cr_assert_eq(p.result, CORUN_Q_OK);
  cr_assert_eq(corun_queue_len(&q), 0);
  corun_queue_free(&q, NULL, NULL);
}

/* ------------------------------------------------------ FIFO wake-ups */

Test(queue, getters_served_in_the_order_they_began_waiting)
{
  struct corun_queue q;
  struct rec g[3];
  int log[8], nlog = 0, i;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_LIFO), 0);
  for (i = 0; i < 3; i++) {
    rec_init(&g[i], i, log, &nlog);
    corun_queue_get_wait(&q, &g[i].w, rec_cb);
  }
  cr_assert_eq(q.getters.len, 3);
  for (i = 0; i < 3; i++)
    put_ok(&q, 100 + i, 0);
  cr_assert_eq(nlog, 3);
  for (i = 0; i < 3; i++) {
    cr_assert_eq(log[i], i);
    cr_assert_eq(g[i].calls, 1);
    cr_assert_eq(g[i].got, 100 + i, "getter %d got %ld", i, g[i].got);
  }
  cr_assert_eq(q.getters.len, 0);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, putters_served_in_the_order_they_began_waiting)
{
  static const enum corun_qorder orders[] = {CORUN_Q_FIFO, CORUN_Q_LIFO,
                                             CORUN_Q_PRIORITY};
  size_t o;

  /* maxsize 1: each get lets exactly one putter in, so the item that comes
   * out next shows which putter was served, whatever the order. Falling
   * keys make sure priority order is not what sorts them. */
  for (o = 0; o < 3; o++) {
    struct corun_queue q;
    struct rec p[3];
    int log[8], nlog = 0, i;

    cr_assert_eq(corun_queue_init(&q, 1, orders[o]), 0);
    put_ok(&q, 99, 0);
    for (i = 0; i < 3; i++) {
      rec_init(&p[i], i, log, &nlog);
      p[i].w.item = mk(100 + i, (double)(10 - i));
      corun_queue_put_wait(&q, &p[i].w, rec_cb);
      cr_assert_eq(p[i].calls, 0);
    }
    cr_assert_eq(q.putters.len, 3);
    cr_assert_eq(get_ok(&q), 99);
    for (i = 0; i < 3; i++) {
      cr_assert_eq(nlog, i + 1);
      cr_assert_eq(log[i], i);
      cr_assert_eq(p[i].result, CORUN_Q_OK);
      cr_assert_eq(get_ok(&q), 100 + i, "order %zu", o);
      cr_assert_leq(corun_queue_len(&q), 1);
    }
    cr_assert_eq(q.len_max, 1);
    corun_queue_free(&q, NULL, NULL);
  }
}

Test(queue, putters_items_enter_in_wait_order_with_room_for_all)
{
  struct corun_queue q;
  struct rec p[3];
  int i;

  /* maxsize 3: after three gets all three putters are in, in wait order. */
  cr_assert_eq(corun_queue_init(&q, 3, CORUN_Q_FIFO), 0);
  for (i = 0; i < 3; i++)
    put_ok(&q, i, 0);
  for (i = 0; i < 3; i++) {
    rec_init(&p[i], i, NULL, NULL);
    p[i].w.item = mk(10 + i, 0);
    corun_queue_put_wait(&q, &p[i].w, rec_cb);
  }
  for (i = 0; i < 3; i++) {
    cr_assert_eq(get_ok(&q), i);
    cr_assert_eq(p[i].calls, 1);
    cr_assert(i == 2 || p[i + 1].calls == 0, "one putter per get");
  }
  for (i = 0; i < 3; i++)
    cr_assert_eq(get_ok(&q), 10 + i);
  corun_queue_free(&q, NULL, NULL);
}

/* ------------------------------------------------------- cancellation */

Test(queue, unwait_getter_then_next_one_is_served)
{
  struct corun_queue q;
  struct rec g[2];
  int log[4], nlog = 0;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_FIFO), 0);
  rec_init(&g[0], 0, log, &nlog);
  rec_init(&g[1], 1, log, &nlog);
  corun_queue_get_wait(&q, &g[0].w, rec_cb);
  corun_queue_get_wait(&q, &g[1].w, rec_cb);
  corun_queue_unwait(&g[0].w);
  cr_assert_not(corun_queue_waiting(&g[0].w));
  cr_assert_eq(q.getters.len, 1);
  cr_assert_eq(HEAD(q.getters), &g[1].w);
  cr_assert_eq(TAIL(q.getters), &g[1].w);

  put_ok(&q, 5, 0);
  cr_assert_eq(g[0].calls, 0, "no callback after unwait");
  cr_assert_eq(g[1].calls, 1);
  cr_assert_eq(g[1].got, 5);
  put_ok(&q, 6, 0);
  cr_assert_eq(g[0].calls, 0);
  cr_assert_eq(corun_queue_len(&q), 1, "nobody left to hand it to");
  corun_queue_close(&q);
  cr_assert_eq(g[0].calls, 0, "nor on close");
  cr_assert_eq(nlog, 1);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, unwait_putter_then_next_one_is_served)
{
  struct corun_queue q;
  struct rec p[2];

  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_FIFO), 0);
  put_ok(&q, 1, 0);
  rec_init(&p[0], 0, NULL, NULL);
  rec_init(&p[1], 1, NULL, NULL);
  p[0].w.item = mk(10, 0);
  p[1].w.item = mk(11, 0);
  corun_queue_put_wait(&q, &p[0].w, rec_cb);
  corun_queue_put_wait(&q, &p[1].w, rec_cb);
  corun_queue_unwait(&p[0].w);
  cr_assert_not(corun_queue_waiting(&p[0].w));
  cr_assert_eq(q.putters.len, 1);

  cr_assert_eq(get_ok(&q), 1);
  cr_assert_eq(p[1].calls, 1);
  cr_assert_eq(get_ok(&q), 11, "the cancelled putter's item never entered");
  cr_assert_eq(corun_queue_len(&q), 0);
  corun_queue_close(&q);
  cr_assert_eq(p[0].calls, 0, "no callback after unwait, even on close");
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, unwait_the_middle_of_three)
{
  struct corun_queue q;
  struct rec g[3], p[3];
  int log[8], nlog = 0, i;

  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_FIFO), 0);
  for (i = 0; i < 3; i++) {
    rec_init(&g[i], i, log, &nlog);
    corun_queue_get_wait(&q, &g[i].w, rec_cb);
  }
  corun_queue_unwait(&g[1].w);
  cr_assert_eq(q.getters.len, 2);
  cr_assert_eq(HEAD(q.getters), &g[0].w);
  cr_assert_eq(NEXT(q.getters, HEAD(q.getters)), &g[2].w);
  cr_assert_eq(TAIL(q.getters), &g[2].w);
  cr_assert_eq(PREV(q.getters, TAIL(q.getters)), &g[0].w);
  put_ok(&q, 1, 0);
  put_ok(&q, 2, 0);
  cr_assert_eq(nlog, 2);
  cr_assert_eq(log[0], 0);
  cr_assert_eq(log[1], 2);
  cr_assert_eq(g[0].got, 1);
  cr_assert_eq(g[2].got, 2);
  cr_assert_eq(g[1].calls, 0);
  cr_assert_eq(HEAD(q.getters), NULL);
  cr_assert_eq(TAIL(q.getters), NULL);

  /* Same for putters. */
  nlog = 0;
  put_ok(&q, 50, 0);
  for (i = 0; i < 3; i++) {
    rec_init(&p[i], 10 + i, log, &nlog);
    p[i].w.item = mk(60 + i, 0);
    corun_queue_put_wait(&q, &p[i].w, rec_cb);
  }
  corun_queue_unwait(&p[1].w);
  cr_assert_eq(q.putters.len, 2);
  cr_assert_eq(get_ok(&q), 50);
  cr_assert_eq(get_ok(&q), 60);
  cr_assert_eq(get_ok(&q), 62);
  cr_assert_eq(corun_queue_get(&q, &p[1].w.item), CORUN_Q_EMPTY);
  cr_assert_eq(nlog, 2);
  cr_assert_eq(log[0], 10);
  cr_assert_eq(log[1], 12);
  cr_assert_eq(p[1].calls, 0);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, unwait_is_a_no_op_when_not_waiting)
{
  struct corun_queue q;
  struct rec fresh, served, twice;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_FIFO), 0);
  rec_init(&fresh, 0, NULL, NULL);
  corun_queue_unwait(&fresh.w); /* never waited */
  cr_assert_eq(fresh.calls, 0);

  rec_init(&served, 1, NULL, NULL);
  rec_init(&twice, 2, NULL, NULL);
  corun_queue_get_wait(&q, &served.w, rec_cb);
  corun_queue_get_wait(&q, &twice.w, rec_cb);
  put_ok(&q, 3, 0);
  cr_assert_eq(served.calls, 1);
  corun_queue_unwait(&served.w); /* already served: must not touch the list */
  cr_assert_eq(q.getters.len, 1);
  cr_assert_eq(HEAD(q.getters), &twice.w);
  corun_queue_unwait(&twice.w);
  corun_queue_unwait(&twice.w); /* second time: no double removal */
  cr_assert_eq(q.getters.len, 0);
  cr_assert_eq(HEAD(q.getters), NULL);
  cr_assert_eq(TAIL(q.getters), NULL);
  cr_assert_eq(served.calls, 1);
  cr_assert_eq(twice.calls, 0);

  /* The queue still works, and the cancelled waiter can wait again. */
  corun_queue_get_wait(&q, &twice.w, rec_cb);
  put_ok(&q, 4, 0);
  cr_assert_eq(twice.calls, 1);
  cr_assert_eq(twice.got, 4);
  corun_queue_free(&q, NULL, NULL);
}

/* --------------------------------------------------------------- close */

Test(queue, close_fails_puts_and_tells_waiting_putters)
{
  struct corun_queue q;
  struct corun_qitem it = mk(9, 0);
  struct rec p[2], late;
  int log[4], nlog = 0;

  cr_assert_eq(corun_queue_init(&q, 2, CORUN_Q_FIFO), 0);
  put_ok(&q, 1, 0);
  put_ok(&q, 2, 0);
  rec_init(&p[0], 0, log, &nlog);
  rec_init(&p[1], 1, log, &nlog);
  p[0].w.item = mk(10, 0.5);
  p[1].w.item = mk(11, 0.5);
  corun_queue_put_wait(&q, &p[0].w, rec_cb);
  corun_queue_put_wait(&q, &p[1].w, rec_cb);

  corun_queue_close(&q);
  cr_assert_eq(nlog, 2);
  cr_assert_eq(log[0], 0, "putters told in wait order");
  cr_assert_eq(log[1], 1);
  cr_assert_eq(p[0].result, CORUN_Q_CLOSED);
  cr_assert_eq(p[1].result, CORUN_Q_CLOSED);
  cr_assert_eq(q.putters.len, 0);
  cr_assert_not(corun_queue_waiting(&p[0].w));
  /* Their items stay theirs, untouched. */
  assert_intact(&p[0].w.item, 10, 0.5);
  assert_intact(&p[1].w.item, 11, 0.5);
  cr_assert_eq(corun_queue_len(&q), 2);

  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_CLOSED);
  rec_init(&late, 2, log, &nlog);
  late.w.item = mk(12, 0);
  corun_queue_put_wait(&q, &late.w, rec_cb);
  cr_assert_eq(late.calls, 1);
  cr_assert_eq(late.result, CORUN_Q_CLOSED);
  cr_assert_not(corun_queue_waiting(&late.w));

  /* What was in drains; then the queue says closed, not empty. */
  cr_assert_eq(get_ok(&q), 1);
  cr_assert_eq(get_ok(&q), 2);
  cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_CLOSED);
  cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_CLOSED);
  cr_assert_eq(p[0].calls, 1);
  cr_assert_eq(p[1].calls, 1);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, close_on_unbounded_queue_with_space_fails_puts)
{
  struct corun_queue q;
  struct corun_qitem it = mk(1, 0);

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_PRIORITY), 0);
  corun_queue_close(&q);
  cr_assert_eq(corun_queue_put(&q, &it), CORUN_Q_CLOSED);
  cr_assert_eq(corun_queue_len(&q), 0);
  cr_assert_eq(corun_queue_get(&q, &it), CORUN_Q_CLOSED);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, close_tells_getters_waiting_on_empty_queue)
{
  struct corun_queue q;
  struct rec g[3];
  int log[8], nlog = 0, i;

  cr_assert_eq(corun_queue_init(&q, 4, CORUN_Q_FIFO), 0);
  for (i = 0; i < 3; i++) {
    rec_init(&g[i], i, log, &nlog);
    corun_queue_get_wait(&q, &g[i].w, rec_cb);
  }
  corun_queue_close(&q);
  cr_assert_eq(nlog, 3);
  for (i = 0; i < 3; i++) {
    cr_assert_eq(log[i], i);
    cr_assert_eq(g[i].result, CORUN_Q_CLOSED);
    cr_assert_not(corun_queue_waiting(&g[i].w));
  }
  cr_assert_eq(q.getters.len, 0);
  cr_assert_eq(HEAD(q.getters), NULL);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, get_wait_on_closed_queue_drains_then_says_closed_at_once)
{
  struct corun_queue q;
  struct rec g;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_LIFO), 0);
  put_ok(&q, 1, 0);
  put_ok(&q, 2, 0);
  corun_queue_close(&q);
  rec_init(&g, 0, NULL, NULL);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.result, CORUN_Q_OK);
  cr_assert_eq(g.got, 2);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  cr_assert_eq(g.calls, 2);
  cr_assert_eq(g.got, 1);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  cr_assert_eq(g.calls, 3, "no waiting on a closed, drained queue");
  cr_assert_eq(g.result, CORUN_Q_CLOSED);
  cr_assert_not(corun_queue_waiting(&g.w));
  cr_assert_eq(q.getters.len, 0);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, close_twice_is_harmless)
{
  struct corun_queue q;
  struct rec g, p;
  struct corun_queue q2;

  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_FIFO), 0);
  rec_init(&g, 0, NULL, NULL);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  corun_queue_close(&q);
  corun_queue_close(&q);
  cr_assert_eq(g.calls, 1, "told once");
  cr_assert_eq(corun_queue_get(&q, &g.w.item), CORUN_Q_CLOSED);
  corun_queue_free(&q, NULL, NULL);

  cr_assert_eq(corun_queue_init(&q2, 1, CORUN_Q_FIFO), 0);
  put_ok(&q2, 1, 0);
  rec_init(&p, 1, NULL, NULL);
  p.w.item = mk(2, 0);
  corun_queue_put_wait(&q2, &p.w, rec_cb);
  corun_queue_close(&q2);
  corun_queue_close(&q2);
  cr_assert_eq(p.calls, 1, "told once");
  cr_assert_eq(corun_queue_len(&q2), 1);
  cr_assert_eq(get_ok(&q2), 1);
  cr_assert_eq(corun_queue_get(&q2, &p.w.item), CORUN_Q_CLOSED);
  corun_queue_free(&q2, NULL, NULL);
}

/* ---------------------------------------------------------- re-entrancy */

/* A consumer that, like a pipeline stage's worker, asks for the next item
 * from inside the callback that delivered the last one. */
struct worker {
  struct corun_qwaiter w;
  struct corun_queue *q;
  long got[64];
  int n;
  int closed;
  int limit; /* stop asking after this many */
  int depth, max_depth;
};

static void worker_cb(struct corun_qwaiter *w, enum corun_qresult result)
{
  struct worker *k = (struct worker *)w;

  cr_assert_not(corun_queue_waiting(w));
  if (result == CORUN_Q_CLOSED) {
    k->closed++;
    return;
  }
  cr_assert_eq(result, CORUN_Q_OK);
  cr_assert_lt(k->n, 64);
  k->got[k->n++] = val(&w->item);
  if (k->n < k->limit) {
    k->depth++;
    if (k->depth > k->max_depth)
      k->max_depth = k->depth;
    corun_queue_get_wait(k->q, w, worker_cb);
    k->depth--;
  }
}

Test(queue, worker_loop_getter_rewaits_from_its_callback)
{
  struct corun_queue q;
  struct worker k;
  int i;

  cr_assert_eq(corun_queue_init(&q, 4, CORUN_Q_FIFO), 0);
  memset(&k, 0, sizeof(k));
  k.q = &q;
  k.limit = 64;
  put_ok(&q, 1, 0);
  put_ok(&q, 2, 0);
  /* Starting drains what is there, then settles into waiting. */
  corun_queue_get_wait(&q, &k.w, worker_cb);
  cr_assert_eq(k.n, 2);
  cr_assert(corun_queue_waiting(&k.w));
  cr_assert_eq(q.getters.len, 1);
  cr_assert_eq(corun_queue_len(&q), 0);
  for (i = 3; i <= 6; i++) {
    put_ok(&q, i, 0);
    cr_assert_eq(k.n, i, "handed over inside put %d", i);
    cr_assert_eq(q.getters.len, 1, "re-waited exactly once");
    cr_assert_eq(corun_queue_len(&q), 0);
  }
  for (i = 0; i < 6; i++)
    cr_assert_eq(k.got[i], i + 1);
  corun_queue_close(&q);
  cr_assert_eq(k.closed, 1);
  cr_assert_not(corun_queue_waiting(&k.w));
  cr_assert_eq(q.getters.len, 0);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, worker_loop_pulls_in_waiting_putters)
{
  struct corun_queue q;
  struct worker k;
  struct rec p[3];
  int i;

  /* Each get made by the worker lets in one putter, whose item the worker
   * then gets on its next turn, all within the single get_wait call. */
  cr_assert_eq(corun_queue_init(&q, 2, CORUN_Q_FIFO), 0);
  put_ok(&q, 1, 0);
  put_ok(&q, 2, 0);
  for (i = 0; i < 3; i++) {
    rec_init(&p[i], i, NULL, NULL);
    p[i].w.item = mk(3 + i, 0);
    corun_queue_put_wait(&q, &p[i].w, rec_cb);
  }
  memset(&k, 0, sizeof(k));
  k.q = &q;
  k.limit = 64;
  corun_queue_get_wait(&q, &k.w, worker_cb);
  cr_assert_eq(k.n, 5);
  for (i = 0; i < 5; i++)
    cr_assert_eq(k.got[i], i + 1);
  for (i = 0; i < 3; i++) {
    cr_assert_eq(p[i].calls, 1);
    cr_assert_eq(p[i].result, CORUN_Q_OK);
  }
  cr_assert_eq(q.putters.len, 0);
  cr_assert(corun_queue_waiting(&k.w));
  cr_assert_leq(q.len_max, 2);
  corun_queue_unwait(&k.w);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, rewaiting_getter_goes_to_the_back)
{
  struct corun_queue q;
  struct worker k;
  struct rec g;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_FIFO), 0);
  memset(&k, 0, sizeof(k));
  k.q = &q;
  k.limit = 64;
  rec_init(&g, 1, NULL, NULL);
  corun_queue_get_wait(&q, &k.w, worker_cb);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  put_ok(&q, 10, 0); /* to the worker, which waits again behind g */
  put_ok(&q, 11, 0); /* so this one is g's */
  cr_assert_eq(k.n, 1);
  cr_assert_eq(k.got[0], 10);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.got, 11);
  put_ok(&q, 12, 0);
  cr_assert_eq(k.n, 2);
  cr_assert_eq(k.got[1], 12);
  corun_queue_unwait(&k.w);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, closed_getter_may_ask_again)
{
  struct corun_queue q;
  struct worker k;

  /* A worker that ignores CLOSED and asks again must be told at once, not
   * left waiting forever on a queue nothing can fill. */
  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_FIFO), 0);
  memset(&k, 0, sizeof(k));
  k.q = &q;
  k.limit = 64;
  corun_queue_get_wait(&q, &k.w, worker_cb);
  corun_queue_close(&q);
  cr_assert_eq(k.closed, 1);
  corun_queue_get_wait(&q, &k.w, worker_cb);
  cr_assert_eq(k.closed, 2);
  cr_assert_not(corun_queue_waiting(&k.w));
  cr_assert_eq(q.getters.len, 0);
  corun_queue_free(&q, NULL, NULL);
}

/* A producer that puts its next item from inside the callback saying the
 * last one went in. */
struct producer {
  struct corun_qwaiter w;
  struct corun_queue *q;
  long next, last;
  int ok, closed;
};

static void producer_cb(struct corun_qwaiter *w, enum corun_qresult result)
{
  struct producer *p = (struct producer *)w;

  cr_assert_not(corun_queue_waiting(w));
  if (result == CORUN_Q_CLOSED) {
    p->closed++;
    return;
  }
  cr_assert_eq(result, CORUN_Q_OK);
  p->ok++;
  if (p->next <= p->last) {
    w->item = mk(p->next++, 0);
    corun_queue_put_wait(p->q, w, producer_cb);
  }
}

Test(queue, producer_loop_putter_puts_again_from_its_callback)
{
  struct corun_queue q;
  struct producer p;
  long i;

  cr_assert_eq(corun_queue_init(&q, 2, CORUN_Q_FIFO), 0);
  memset(&p, 0, sizeof(p));
  p.q = &q;
  p.next = 2;
  p.last = 10;
  p.w.item = mk(1, 0);
  corun_queue_put_wait(&q, &p.w, producer_cb);
  /* Two fit; the third waits. */
  cr_assert_eq(p.ok, 2);
  cr_assert_eq(corun_queue_len(&q), 2);
  cr_assert(corun_queue_waiting(&p.w));
  cr_assert_eq(q.putters.len, 1);
  for (i = 1; i <= 10; i++) {
    cr_assert_eq(get_ok(&q), i);
    cr_assert_leq(corun_queue_len(&q), 2);
    cr_assert_leq(q.putters.len, 1, "the producer waits at most once");
  }
  cr_assert_eq(p.ok, 10);
  cr_assert_not(corun_queue_waiting(&p.w));
  cr_assert_eq(corun_queue_len(&q), 0);
  cr_assert_eq(q.len_max, 2);
  corun_queue_free(&q, NULL, NULL);
}

Test(queue, waiting_producer_is_told_closed)
{
  struct corun_queue q;
  struct producer p;

  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_FIFO), 0);
  memset(&p, 0, sizeof(p));
  p.q = &q;
  p.next = 2;
  p.last = 100;
  p.w.item = mk(1, 0);
  corun_queue_put_wait(&q, &p.w, producer_cb);
  cr_assert_eq(p.ok, 1);
  cr_assert(corun_queue_waiting(&p.w));
  corun_queue_close(&q);
  cr_assert_eq(p.closed, 1);
  cr_assert_eq(val(&p.w.item), 2, "the unsent item is still the producer's");
  cr_assert_eq(get_ok(&q), 1);
  cr_assert_eq(corun_queue_get(&q, &p.w.item), CORUN_Q_CLOSED);
  corun_queue_free(&q, NULL, NULL);
}

/* A getter whose callback puts something else into the same queue. */
struct relay {
  struct corun_qwaiter w;
  struct corun_queue *q;
  long got;
  enum corun_qresult put_result;
};

static void relay_cb(struct corun_qwaiter *w, enum corun_qresult result)
{
  struct relay *r = (struct relay *)w;
  struct corun_qitem it;

  cr_assert_eq(result, CORUN_Q_OK);
  r->got = val(&w->item);
  it = mk(r->got + 100, 0);
  r->put_result = corun_queue_put(r->q, &it);
}

Test(queue, getter_callback_may_put)
{
  struct corun_queue q;
  struct relay r;
  struct rec g;

  /* The relay's put happens inside the first put's hand-off: the second
   * getter, next in line, must receive it. */
  cr_assert_eq(corun_queue_init(&q, 1, CORUN_Q_PRIORITY), 0);
  memset(&r, 0, sizeof(r));
  r.q = &q;
  rec_init(&g, 1, NULL, NULL);
  corun_queue_get_wait(&q, &r.w, relay_cb);
  corun_queue_get_wait(&q, &g.w, rec_cb);
  put_ok(&q, 1, 0);
  cr_assert_eq(r.got, 1);
  cr_assert_eq(r.put_result, CORUN_Q_OK);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.got, 101);
  cr_assert_eq(corun_queue_len(&q), 0);
  cr_assert_eq(q.getters.len, 0);

  /* With nobody waiting, the relay's put lands in the queue. */
  corun_queue_get_wait(&q, &r.w, relay_cb);
  put_ok(&q, 2, 0);
  cr_assert_eq(r.got, 2);
  cr_assert_eq(corun_queue_len(&q), 1);
  cr_assert_eq(get_ok(&q), 102);
  corun_queue_free(&q, NULL, NULL);
}

/* ----------------------------------------------------------------- free */

struct dropped {
  long v[256];
  double key[256];
  int n;
};

static void drop_cb(struct corun_qitem *it, void *arg)
{
  struct dropped *d = arg;

  cr_assert_lt(d->n, 256);
  /* Every field must still be as put; key is checked by the caller. */
  cr_assert_eq(it->origin, (void *)(intptr_t)(val(it) * 3 + 1));
  cr_assert_eq(it->index, (uint64_t)val(it));
  cr_assert_eq(it->aux, ~(uint64_t)val(it));
  d->key[d->n] = it->key;
  d->v[d->n++] = val(it);
}

static int cmp_long(const void *a, const void *b)
{
  long x = *(const long *)a, y = *(const long *)b;

  return (x > y) - (x < y);
}

Test(queue, free_drops_each_item_left)
{
  static const enum corun_qorder orders[] = {CORUN_Q_FIFO, CORUN_Q_LIFO,
                                             CORUN_Q_PRIORITY};
  size_t o;

  for (o = 0; o < 3; o++) {
    struct corun_queue q;
    struct dropped d;
    long i;
    int j;

    /* Put 30, take 10: the fifo ring has wrapped by then. */
    cr_assert_eq(corun_queue_init(&q, 20, orders[o]), 0);
    for (i = 0; i < 20; i++)
      put_ok(&q, i, (double)(i % 7) - 3.0);
    for (i = 20; i < 30; i++) {
      get_ok(&q);
      put_ok(&q, i, (double)(i % 7) - 3.0);
    }
    memset(&d, 0, sizeof(d));
    corun_queue_free(&q, drop_cb, &d);
    cr_assert_eq(d.n, 20, "order %zu: %d dropped", o, d.n);
    for (j = 0; j < d.n; j++)
      cr_assert_eq(d.key[j], (double)(d.v[j] % 7) - 3.0);
    qsort(d.v, (size_t)d.n, sizeof(d.v[0]), cmp_long);
    for (j = 1; j < d.n; j++)
      cr_assert_neq(d.v[j], d.v[j - 1], "dropped twice: %ld", d.v[j]);
    if (orders[o] == CORUN_Q_FIFO)
      for (j = 0; j < d.n; j++)
        cr_assert_eq(d.v[j], 10 + j, "the oldest ten left");
  }
}

Test(queue, free_without_drop_and_of_empty_queue)
{
  struct corun_queue q;
  struct dropped d;

  cr_assert_eq(corun_queue_init(&q, 0, CORUN_Q_FIFO), 0);
  put_ok(&q, 1, 0);
  corun_queue_free(&q, NULL, NULL); /* no drop: must not crash or leak */

  cr_assert_eq(corun_queue_init(&q, 3, CORUN_Q_LIFO), 0);
  memset(&d, 0, sizeof(d));
  corun_queue_free(&q, drop_cb, &d);
  cr_assert_eq(d.n, 0);

  /* An item that was got is no longer the queue's to drop. */
  cr_assert_eq(corun_queue_init(&q, 3, CORUN_Q_FIFO), 0);
  put_ok(&q, 1, 0);
  put_ok(&q, 2, 0);
  cr_assert_eq(get_ok(&q), 1);
  memset(&d, 0, sizeof(d));
  corun_queue_free(&q, drop_cb, &d);
  cr_assert_eq(d.n, 1);
  cr_assert_eq(d.v[0], 2);
}

/* ------------------------------------------------------ reference model */

/*
 * A naive model of the documented behaviour: items in a flat array picked
 * by linear scan, waiters in arrays. Random operations run on both, and
 * every result, callback (who, in which order, with what) and length must
 * agree.
 */
#define M_CAP 8192
#define M_WAITERS 6
#define M_OPS 4000
#define NO_ITEM LONG_MIN /* an event whose item is not checked */

struct mitem {
  long v;
  double key;
  uint64_t arrival;
};

struct model {
  enum corun_qorder order;
  size_t maxsize;
  struct mitem items[M_CAP];
  size_t len, len_max;
  uint64_t arrival;
  int closed;
  int getters[M_WAITERS], ngetters;
  int putters[M_WAITERS], nputters;
  struct mitem put_item[M_WAITERS]; /* what each waiting putter holds */
};

struct event {
  int id;
  enum corun_qresult result;
  long v;
  double key;
};

struct mwaiter {
  struct corun_qwaiter w;
  int id;
  int state; /* model's view: 0 idle, 1 getting, 2 putting */
};

/* What the real callbacks did, and what the model says they should do. */
static struct event got_ev[4 * M_WAITERS], want_ev[4 * M_WAITERS];
static int n_got_ev, n_want_ev;

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
  /* xorshift64*: fixed seed, same sequence on every platform. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

static void model_cb(struct corun_qwaiter *w, enum corun_qresult result)
{
  struct mwaiter *mw = (struct mwaiter *)w;
  struct event *e;

  cr_assert_lt(n_got_ev, 4 * M_WAITERS);
  cr_assert_not(corun_queue_waiting(w));
  e = &got_ev[n_got_ev++];
  e->id = mw->id;
  e->result = result;
  e->v = val(&w->item);
  e->key = w->item.key;
}

static void want(int id, enum corun_qresult result, long v, double key)
{
  struct event *e = &want_ev[n_want_ev++];

  e->id = id;
  e->result = result;
  e->v = v;
  e->key = key;
}

static void m_remove_list(int *list, int *n, int id)
{
  int i;

  for (i = 0; i < *n; i++)
    if (list[i] == id) {
      memmove(&list[i], &list[i + 1], (size_t)(*n - i - 1) * sizeof(*list));
      (*n)--;
      return;
    }
}

static void m_insert(struct model *m, long v, double key)
{
  cr_assert_lt(m->len, M_CAP);
  m->items[m->len].v = v;
  m->items[m->len].key = key;
  m->items[m->len].arrival = m->arrival++;
  m->len++;
  if (m->len > m->len_max)
    m->len_max = m->len;
}

/* put: getter hand-off, or FULL, or in. */
static enum corun_qresult m_put(struct model *m, struct mwaiter *ws, long v,
                                double key)
{
  if (m->closed)
    return CORUN_Q_CLOSED;
  if (m->ngetters) {
    int id = m->getters[0];

    m_remove_list(m->getters, &m->ngetters, id);
    ws[id].state = 0;
    want(id, CORUN_Q_OK, v, key);
    return CORUN_Q_OK;
  }
  if (m->nputters || (m->maxsize && m->len >= m->maxsize))
    return CORUN_Q_FULL;
  m_insert(m, v, key);
  return CORUN_Q_OK;
}

static enum corun_qresult m_get(struct model *m, struct mwaiter *ws,
                                struct mitem *out)
{
  size_t i, best = 0;

  if (m->len == 0)
    return m->closed ? CORUN_Q_CLOSED : CORUN_Q_EMPTY;
  for (i = 1; i < m->len; i++) {
    const struct mitem *a = &m->items[i], *b = &m->items[best];
    int better;

    switch (m->order) {
    case CORUN_Q_FIFO:
      better = a->arrival < b->arrival;
      break;
    case CORUN_Q_LIFO:
      better = a->arrival > b->arrival;
      break;
    default:
      better = a->key < b->key ||
               (a->key == b->key && a->arrival < b->arrival);
      break;
    }
    if (better)
      best = i;
  }
  *out = m->items[best];
  memmove(&m->items[best], &m->items[best + 1],
          (m->len - best - 1) * sizeof(m->items[0]));
  m->len--;
  if (m->nputters) {
    int id = m->putters[0];

    m_remove_list(m->putters, &m->nputters, id);
    ws[id].state = 0;
    m_insert(m, m->put_item[id].v, m->put_item[id].key);
    want(id, CORUN_Q_OK, m->put_item[id].v, m->put_item[id].key);
  }
  return CORUN_Q_OK;
}

static void m_close(struct model *m, struct mwaiter *ws)
{
  int id;

  if (m->closed)
    return;
  m->closed = 1;
  while (m->nputters) {
    id = m->putters[0];
    m_remove_list(m->putters, &m->nputters, id);
    ws[id].state = 0;
    want(id, CORUN_Q_CLOSED, m->put_item[id].v, m->put_item[id].key);
  }
  while (m->len == 0 && m->ngetters) {
    id = m->getters[0];
    m_remove_list(m->getters, &m->ngetters, id);
    ws[id].state = 0;
    /* What a getter's item holds after CLOSED is not specified. */
    want(id, CORUN_Q_CLOSED, NO_ITEM, 0);
  }
}

static void check_events(const char *what, int step, enum corun_qorder order,
                         size_t maxsize)
{
  int i;

  cr_assert_eq(n_got_ev, n_want_ev,
               "order %d maxsize %zu step %d (%s): %d callbacks, want %d",
               (int)order, maxsize, step, what, n_got_ev, n_want_ev);
  for (i = 0; i < n_got_ev; i++) {
    const struct event *g = &got_ev[i], *w = &want_ev[i];

    cr_assert(g->id == w->id && g->result == w->result,
              "order %d maxsize %zu step %d (%s) callback %d: waiter %d "
              "result %d, want waiter %d result %d",
              (int)order, maxsize, step, what, i, g->id, (int)g->result, w->id,
              (int)w->result);
    if (w->v != NO_ITEM)
      cr_assert(g->v == w->v && g->key == w->key,
                "order %d maxsize %zu step %d (%s) callback %d: item %ld "
                "key %g, want %ld key %g",
                (int)order, maxsize, step, what, i, g->v, g->key, w->v,
                w->key);
  }
  n_got_ev = n_want_ev = 0;
}

static void model_run(enum corun_qorder order, size_t maxsize, uint64_t seed)
{
  static const double keys[] = {-2.5, -1.0, -0.0, 0.0, 0.5, 0.75, 1.0, 3.25};
  static struct model m; /* large: keep it off the stack */
  struct mwaiter ws[M_WAITERS];
  struct corun_queue q;
  struct dropped d;
  long next_v = 1;
  int step, i, close_at;
  uint32_t put_bias = 50;

  memset(&m, 0, sizeof(m));
  memset(ws, 0, sizeof(ws));
  for (i = 0; i < M_WAITERS; i++)
    ws[i].id = i;
  m.order = order;
  m.maxsize = maxsize;
  rng_state = seed;
  n_got_ev = n_want_ev = 0;
  /* Close late in some runs so draining a closed queue is exercised too. */
  close_at = seed % 2 ? M_OPS - 400 : -1;
  cr_assert_eq(corun_queue_init(&q, maxsize, order), 0);

  for (step = 0; step < M_OPS; step++) {
    uint32_t op = rnd(100);
    const char *what = "?";
    struct mitem mi;
    struct corun_qitem it;
    enum corun_qresult r, mr;

    memset(&mi, 0, sizeof(mi));
    /* Swing between filling and draining, so an unbounded queue grows
     * well past its first allocation and a fifo ring wraps while full. */
    if (step % 500 == 0)
      put_bias = step % 1000 == 0 ? 70 : 30;

    if (step == close_at) {
      what = "close";
      m_close(&m, ws);
      corun_queue_close(&q);
    } else if (op < put_bias * 7 / 10) {
      long v = next_v++;
      double key = keys[rnd(8)];

      what = "put";
      it = mk(v, key);
      mr = m_put(&m, ws, v, key);
      r = corun_queue_put(&q, &it);
      cr_assert_eq(r, mr, "order %d maxsize %zu step %d put: %d, want %d",
                   (int)order, maxsize, step, (int)r, (int)mr);
    } else if (op < put_bias) {
      int id = (int)rnd(M_WAITERS);
      long v;
      double key;

      what = "put_wait";
      if (ws[id].state != 0)
        continue;
      v = next_v++;
      key = keys[rnd(8)];
      ws[id].w.item = mk(v, key);
      mr = m_put(&m, ws, v, key);
      if (mr == CORUN_Q_FULL) {
        ws[id].state = 2;
        m.put_item[id].v = v;
        m.put_item[id].key = key;
        m.putters[m.nputters++] = id;
      } else {
        want(id, mr, v, key);
      }
      corun_queue_put_wait(&q, &ws[id].w, model_cb);
    } else if (op < put_bias + (100 - put_bias) * 6 / 10) {
      what = "get";
      memset(&it, 0, sizeof(it));
      mr = m_get(&m, ws, &mi);
      r = corun_queue_get(&q, &it);
      cr_assert_eq(r, mr, "order %d maxsize %zu step %d get: %d, want %d",
                   (int)order, maxsize, step, (int)r, (int)mr);
      if (r == CORUN_Q_OK) {
        cr_assert(val(&it) == mi.v && it.key == mi.key,
                  "order %d maxsize %zu step %d get: item %ld key %g, "
                  "want %ld key %g",
                  (int)order, maxsize, step, val(&it), it.key, mi.v, mi.key);
        assert_intact(&it, mi.v, mi.key);
      }
    } else if (op < 96) {
      int id = (int)rnd(M_WAITERS);

      what = "get_wait";
      if (ws[id].state != 0)
        continue;
      mr = m_get(&m, ws, &mi);
      if (mr == CORUN_Q_EMPTY) {
        ws[id].state = 1;
        m.getters[m.ngetters++] = id;
      } else if (mr == CORUN_Q_OK) {
        want(id, mr, mi.v, mi.key);
      } else {
        want(id, mr, NO_ITEM, 0);
      }
      corun_queue_get_wait(&q, &ws[id].w, model_cb);
    } else {
      int id = (int)rnd(M_WAITERS);

      what = "unwait";
      m_remove_list(m.getters, &m.ngetters, id);
      m_remove_list(m.putters, &m.nputters, id);
      ws[id].state = 0;
      corun_queue_unwait(&ws[id].w);
    }

    check_events(what, step, order, maxsize);
    cr_assert_eq(corun_queue_len(&q), m.len,
                 "order %d maxsize %zu step %d (%s): len %zu, want %zu",
                 (int)order, maxsize, step, what, corun_queue_len(&q), m.len);
    cr_assert_eq(q.len_max, m.len_max, "order %d maxsize %zu step %d",
                 (int)order, maxsize, step);
    cr_assert(maxsize == 0 || q.len_max <= maxsize);
    cr_assert_eq(q.getters.len, (size_t)m.ngetters);
    cr_assert_eq(q.putters.len, (size_t)m.nputters);
    for (i = 0; i < M_WAITERS; i++)
      cr_assert_eq(corun_queue_waiting(&ws[i].w), ws[i].state != 0,
                   "order %d maxsize %zu step %d (%s): waiter %d", (int)order,
                   maxsize, step, what, i);
  }

  for (i = 0; i < M_WAITERS; i++)
    corun_queue_unwait(&ws[i].w);
  cr_assert_eq(n_got_ev, 0);
  memset(&d, 0, sizeof(d));
  cr_assert_leq(m.len, 256, "keep the leftovers small enough to count");
  corun_queue_free(&q, drop_cb, &d);
  cr_assert_eq((size_t)d.n, m.len);
  qsort(d.v, (size_t)d.n, sizeof(d.v[0]), cmp_long);
  for (i = 0; i < d.n; i++) {
    size_t j;
    int found = 0;

    for (j = 0; j < m.len && !found; j++)
      found = m.items[j].v == d.v[i];
    cr_assert(found, "dropped %ld, which the model does not hold", d.v[i]);
  }
}

/* Sizes: unbounded, the degenerate 1, small ones, and either side of the
 * first allocation (16) so bounded growth is covered. */
static const size_t model_sizes[] = {0, 1, 2, 3, 7, 16, 17, 33};

static void model_all_sizes(enum corun_qorder order)
{
  size_t s;

  for (s = 0; s < sizeof(model_sizes) / sizeof(model_sizes[0]); s++) {
    model_run(order, model_sizes[s], 0x9E3779B97F4A7C15ULL + s * 2);
    model_run(order, model_sizes[s], 0x9E3779B97F4A7C15ULL + s * 2 + 1);
  }
}

Test(queue, model_fifo)
{
  model_all_sizes(CORUN_Q_FIFO);
}

Test(queue, model_lifo)
{
  model_all_sizes(CORUN_Q_LIFO);
}

Test(queue, model_priority)
{
  model_all_sizes(CORUN_Q_PRIORITY);
}
