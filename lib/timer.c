/* SPDX-License-Identifier: MIT */
#include "timer.h"

#include <stdlib.h>

#include "run.h"
#include "task.h"

static int before(const struct corun_timer *a, const struct corun_timer *b)
{
  if (a->due != b->due)
    return a->due < b->due;
  /* Sequence numbers wrap after 4e9 starts; compare as a window. */
  return (int32_t)(a->seq - b->seq) < 0;
}

static void place(struct corun_timers *h, uint32_t i, struct corun_timer *t)
{
  h->heap[i] = t;
  t->slot = i + 1;
}

static void sift_up(struct corun_timers *h, uint32_t i)
{
  struct corun_timer *t = h->heap[i];

  while (i > 0) {
    uint32_t up = (i - 1) / 2;

    if (!before(t, h->heap[up]))
      break;
    place(h, i, h->heap[up]);
    i = up;
  }
  place(h, i, t);
}

static void sift_down(struct corun_timers *h, uint32_t i)
{
  struct corun_timer *t = h->heap[i];

  for (;;) {
    uint32_t c = 2 * i + 1;

    if (c >= h->n)
      break;
    if (c + 1 < h->n && before(h->heap[c + 1], h->heap[c]))
      c++;
    if (!before(h->heap[c], t))
      break;
    place(h, i, h->heap[c]);
    i = c;
  }
  place(h, i, t);
}

static void heap_remove(struct corun_timers *h, struct corun_timer *t)
{
  uint32_t i = t->slot - 1;
  struct corun_timer *last = h->heap[--h->n];

  t->slot = 0;
  if (i == h->n)
    return;
  place(h, i, last);
  if (i > 0 && before(last, h->heap[(i - 1) / 2]))
    sift_up(h, i);
  else
    sift_down(h, i);
}

static void fire(uv_timer_t *uvt);

/* Point the one uv timer at the earliest deadline, if it moved. */
static void rearm(struct corun_run *run)
{
  struct corun_timers *h = &run->timers;
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
  uv_update_time(run->loop);
  now = corun__now_ms(run);
  uv_timer_start(&h->uv, fire, due > now ? due - now : 0, 0);
}

static void fire(uv_timer_t *uvt)
{
  struct corun_run *run = uvt->data;
  struct corun_timers *h = &run->timers;
  uint64_t now = corun__now_ms(run);

  h->armed = UINT64_MAX;
  while (h->n > 0 && h->heap[0]->due <= now) {
    struct corun_timer *t = h->heap[0];
    uint64_t began = run->opts.debug ? uv_hrtime() : 0;

    heap_remove(h, t);
    t->cb(t);
    if (run->opts.debug)
      corun__run_check_slow(run, began, t->task, "timer");
  }
  rearm(run);
}

int corun__timers_init(struct corun_run *run)
{
  struct corun_timers *h = &run->timers;

  h->armed = UINT64_MAX;
  if (uv_timer_init(run->loop, &h->uv) != 0)
    return -1;
  h->uv.data = run;
  return 0;
}

int corun__timer_start(struct corun_run *run, struct corun_timer *t,
                       uint64_t due, corun_timer_cb cb,
                       struct corun_task *task)
{
  struct corun_timers *h = &run->timers;

  if (t->slot)
    heap_remove(h, t);
  if (h->n == h->cap) {
    uint32_t ncap = h->cap ? h->cap * 2 : 64;
    struct corun_timer **nh = realloc(h->heap, ncap * sizeof(*nh));

    if (nh == NULL)
      return -1;
    h->heap = nh;
    h->cap = ncap;
  }
  t->due = due;
  t->cb = cb;
  t->task = task;
  t->seq = h->seq++;
  h->heap[h->n] = t;
  t->slot = ++h->n;
  sift_up(h, h->n - 1);
  rearm(run);
  return 0;
}

void corun__timer_stop(struct corun_run *run, struct corun_timer *t)
{
  if (t->slot == 0)
    return;
  heap_remove(&run->timers, t);
  rearm(run);
}

int corun__timer_armed(const struct corun_timer *t)
{
  return t->slot != 0;
}
