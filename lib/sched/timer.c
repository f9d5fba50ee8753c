/* SPDX-License-Identifier: MIT */
#include "sched/timer.h"

#include <stddef.h>
#include <stdlib.h>

struct corun_tbucket {
  struct corun_list list; /* its timers, in start order */
  uint64_t due;
  uint32_t seq;
  uint32_t slot; /* heap index */
  struct corun_tbucket *next_spare;
  corun_timer_link_cb lcb; /* holds bare links of this callback; NULL: timers */
};

static int before(const struct corun_tbucket *a, const struct corun_tbucket *b)
{
  if (a->due != b->due)
    return a->due < b->due;
  /* Creation numbers wrap after 4e9 buckets; compare as a window. */
  return (int32_t)(a->seq - b->seq) < 0;
}

static void place(struct corun_timers *h, uint32_t i, struct corun_tbucket *b)
{
  h->heap[i] = b;
  b->slot = i;
}

static void sift_up(struct corun_timers *h, uint32_t i)
{
  struct corun_tbucket *b = h->heap[i];

  while (i > 0) {
    uint32_t up = (i - 1) / 2;

    if (!before(b, h->heap[up]))
      break;
    place(h, i, h->heap[up]);
    i = up;
  }
  place(h, i, b);
}

static void sift_down(struct corun_timers *h, uint32_t i)
{
  struct corun_tbucket *b = h->heap[i];

  for (;;) {
    uint32_t c = 2 * i + 1;

    if (c >= h->n)
      break;
    if (c + 1 < h->n && before(h->heap[c + 1], h->heap[c]))
      c++;
    if (!before(h->heap[c], b))
      break;
    place(h, i, h->heap[c]);
    i = c;
  }
  place(h, i, b);
}

static void bucket_drop(struct corun_timers *h, struct corun_tbucket *b)
{
  uint32_t i = b->slot;
  struct corun_tbucket *last = h->heap[--h->n];

  if (i != h->n) {
    place(h, i, last);
    if (i > 0 && before(last, h->heap[(i - 1) / 2]))
      sift_up(h, i);
    else
      sift_down(h, i);
  }
  if (h->last == b)
    h->last = NULL;
  b->next_spare = h->spare;
  h->spare = b;
}

static struct corun_tbucket *bucket_for(struct corun_timers *h, uint64_t due,
                                        corun_timer_link_cb lcb)
{
  struct corun_tbucket *b = h->last;

  /* Appending to the newest bucket keeps start order among equal dues. */
  if (b && b->due == due && b->lcb == lcb)
    return b;
  if (h->n == h->cap) {
    uint32_t ncap = h->cap ? h->cap * 2 : 64;
    struct corun_tbucket **nh = realloc(h->heap, ncap * sizeof(*nh));

    if (nh == NULL)
      return NULL;
    h->heap = nh;
    h->cap = ncap;
  }
  if (h->spare) {
    b = h->spare;
    h->spare = b->next_spare;
  } else if ((b = malloc(sizeof(*b))) == NULL) {
    return NULL;
  }
  corun_list_init(&b->list);
  b->due = due;
  b->lcb = lcb;
  b->seq = h->seq++;
  h->heap[h->n] = b;
  b->slot = h->n++;
  sift_up(h, b->slot);
  h->last = b;
  return b;
}

/* Unlinks l; returns its bucket if that emptied (caller drops it). */
static struct corun_tbucket *unlink_timer(struct corun_list *l)
{
  struct corun_list *p = l->prev, *n = l->next;

  corun_list_unlink(l);
  /* Only the bucket's head is left when both neighbours are the same. */
  return p == n ? corun_list_entry(p, struct corun_tbucket, list) : NULL;
}

static void fire(uv_timer_t *uvt);

/* Point the one uv timer at the earliest deadline, if it moved. */
static void rearm(struct corun_timers *h)
{
  uint64_t due, now;

  if (h->n == 0) {
    if (h->armed != UINT64_MAX)
      uv_timer_stop(&h->uv);
    h->armed = UINT64_MAX;
    return;
  }
  due = h->heap[0]->due;
  if (due == h->armed)
    return;
  h->armed = due;
  /* uv measures from its cached loop time; bring it up to date first. */
  uv_update_time(h->loop);
  now = corun__clock_ms(h->clock);
  /* Fails only with no callback or on a closing handle, which the heap's
   * owner closes after its last use. */
  (void)uv_timer_start(&h->uv, fire, due > now ? due - now : 0, 0);
}

static void fire(uv_timer_t *uvt)
{
  struct corun_timers *h =
      (struct corun_timers *)((char *)uvt - offsetof(struct corun_timers, uv));
  uint64_t now = corun__clock_ms(h->clock);
  unsigned n = 0;

  h->armed = UINT64_MAX;
  /* One timer at a time: a callback may stop or start any other timer. */
  while (h->n > 0 && h->heap[0]->due <= now) {
    struct corun_tbucket *b = h->heap[0];
    struct corun_list *l = b->list.next;
    corun_timer_link_cb lcb = b->lcb;
    uint64_t began = h->watch || h->watch_link ? uv_hrtime() : 0;

    corun__clock_tick(h->clock, &n);
    if (unlink_timer(l))
      bucket_drop(h, b);
    if (lcb) {
      lcb(l);
      if (h->watch_link)
        h->watch_link(h, l, began);
    } else {
      struct corun_timer *t = corun_list_entry(l, struct corun_timer, link);

      t->cb(t);
      if (h->watch)
        h->watch(h, t, began);
    }
  }
  corun__clock_batch_end(h->clock);
  rearm(h);
}

int corun__timers_init(struct corun_timers *h, uv_loop_t *loop,
                       struct corun_clock *clock)
{
  h->armed = UINT64_MAX;
  h->loop = loop;
  h->clock = clock;
  if (uv_timer_init(loop, &h->uv) != 0)
    return -1;
  return 0;
}

void corun__timers_free(struct corun_timers *h)
{
  struct corun_tbucket *b;
  uint32_t i;

  for (i = 0; i < h->n; i++)
    free(h->heap[i]);
  while ((b = h->spare) != NULL) {
    h->spare = b->next_spare;
    free(b);
  }
  free(h->heap);
  h->heap = NULL;
  h->n = h->cap = 0;
}

int corun__timer_start(struct corun_timers *h, struct corun_timer *t,
                       uint64_t due, corun_timer_cb cb, void *data)
{
  struct corun_tbucket *b;

  if (corun_list_linked(&t->link)) {
    b = unlink_timer(&t->link);
    if (b)
      bucket_drop(h, b);
  }
  b = bucket_for(h, due, NULL);
  if (b == NULL) {
    rearm(h);
    return -1;
  }
  t->due = due;
  t->cb = cb;
  t->data = data;
  corun_list_push(&b->list, &t->link);
  rearm(h);
  return 0;
}

void corun__timer_stop(struct corun_timers *h, struct corun_timer *t)
{
  struct corun_tbucket *b;

  if (!corun_list_linked(&t->link))
    return;
  b = unlink_timer(&t->link);
  if (b)
    bucket_drop(h, b);
  rearm(h);
}

int corun__timer_start_link(struct corun_timers *h, struct corun_list *link,
                            uint64_t due, corun_timer_link_cb cb)
{
  struct corun_tbucket *b = bucket_for(h, due, cb);

  if (b == NULL) {
    rearm(h);
    return -1;
  }
  corun_list_push(&b->list, link);
  rearm(h);
  return 0;
}

void corun__timer_stop_link(struct corun_timers *h, struct corun_list *link)
{
  struct corun_tbucket *b;

  if (!corun_list_linked(link))
    return;
  b = unlink_timer(link);
  if (b)
    bucket_drop(h, b);
  rearm(h);
}

int corun__timer_armed(const struct corun_timer *t)
{
  return corun_list_linked(&t->link);
}
