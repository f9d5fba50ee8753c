/* SPDX-License-Identifier: MIT */
/*
 * The timer heap on a bare loop and clock, no job or run: order by due
 * time, start order among equal due times (the buckets), stop and re-arm,
 * callbacks that stop or start other timers while the heap fires, the
 * data handed back, and the watch hook.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "sched/timer.h"

/* Arm a timer where the test expects arming to succeed. */
#define START(...) cr_assert_eq(corun__timer_start(__VA_ARGS__), 0)

TestSuite(timer, .timeout = 20);

#include "fail_allocs.h"

static struct corun_clock clock_;
static struct corun_timers heap;
static uv_loop_t loop;
static char fired[64];
static size_t nfired;
static struct corun_timer timers[16];

static void setup(void)
{
  cr_assert_eq(uv_loop_init(&loop), 0);
  memset(&heap, 0, sizeof(heap));
  clock_.t0_ns = uv_hrtime();
  clock_.batch_ns = 0;
  cr_assert_eq(corun__timers_init(&heap, &loop, &clock_), 0);
  memset(timers, 0, sizeof(timers));
  memset(fired, 0, sizeof(fired));
  nfired = 0;
}

static void teardown(void)
{
  uv_close((uv_handle_t *)&heap.uv, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  corun__timers_free(&heap);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

static void note(struct corun_timer *t)
{
  fired[nfired++] = (char)('a' + (t - timers));
}

static void drain_loop(void)
{
  while (heap.n > 0)
    uv_run(&loop, UV_RUN_ONCE);
}

Test(timer, fires_by_due_then_start_order, .init = setup, .fini = teardown)
{
  uint64_t now = corun__timers_now(&heap);

  START(&heap, &timers[0], now + 30, note, NULL);
  START(&heap, &timers[1], now + 10, note, NULL);
  START(&heap, &timers[2], now + 30, note, NULL);
  START(&heap, &timers[3], now + 10, note, NULL);
  START(&heap, &timers[4], now + 20, note, NULL);
  /* Back to an earlier due time: a new bucket, still after b and d. */
  START(&heap, &timers[5], now + 10, note, NULL);
  drain_loop();
  cr_assert_str_eq(fired, "bdfeac");
}

Test(timer, stop_and_move, .init = setup, .fini = teardown)
{
  uint64_t now = corun__timers_now(&heap);

  START(&heap, &timers[0], now + 10, note, NULL);
  START(&heap, &timers[1], now + 10, note, NULL);
  START(&heap, &timers[2], now + 20, note, NULL);
  corun__timer_stop(&heap, &timers[0]);
  cr_assert_not(corun__timer_armed(&timers[0]));
  corun__timer_stop(&heap, &timers[0]); /* stopping twice is harmless */
  START(&heap, &timers[1], now + 30, note, NULL); /* move */
  cr_assert(corun__timer_armed(&timers[1]));
  drain_loop();
  cr_assert_str_eq(fired, "cb");
}

static void stop_next(struct corun_timer *t)
{
  note(t);
  corun__timer_stop(&heap, &timers[1]);
  START(&heap, &timers[3], corun__timers_now(&heap), note, NULL);
}

Test(timer, callbacks_may_stop_and_start_timers, .init = setup,
     .fini = teardown)
{
  uint64_t now = corun__timers_now(&heap);

  START(&heap, &timers[0], now + 5, stop_next, NULL);
  START(&heap, &timers[1], now + 5, note, NULL);
  START(&heap, &timers[2], now + 5, note, NULL);
  drain_loop();
  cr_assert_str_eq(fired, "acd");
}

Test(timer, waits_about_the_right_time, .init = setup, .fini = teardown)
{
  uint64_t t0 = uv_hrtime();

  START(&heap, &timers[0], corun__timers_now(&heap) + 100, note, NULL);
  drain_loop();
  cr_assert(uv_hrtime() - t0 >= 99000000ULL);
  cr_assert(uv_hrtime() - t0 < (uint64_t)(400000000ULL * time_scale()));
}

static int got_data;
static unsigned watched;

static void check_data(struct corun_timer *t)
{
  got_data = t->data == &got_data;
}

static void watch(struct corun_timers *h, const struct corun_timer *t,
                  uint64_t began_ns)
{
  cr_assert_eq(h, &heap);
  cr_assert_eq(t, &timers[0]);
  cr_assert_leq(began_ns, uv_hrtime());
  watched++;
}

Test(timer, hands_back_data_and_tells_the_watch, .init = setup,
     .fini = teardown)
{
  heap.watch = watch;
  watched = 0;
  cr_assert_eq(corun__timer_start(&heap, &timers[0], corun__timers_now(&heap),
                                  check_data, &got_data),
               0);
  drain_loop();
  cr_assert(got_data);
  cr_assert_eq(watched, 1);
  /* The batch clock is left off once the heap has fired. */
  cr_assert_eq(clock_.batch_ns, 0);
}

#ifdef CAN_FAIL_ALLOCS
Test(timer, a_start_out_of_memory_says_so_and_arms_nothing, .init = setup,
     .fini = teardown)
{
  int r;

  fail_allocs = 1;
  r = corun__timer_start(&heap, &timers[0], corun__timers_now(&heap) + 5, note,
                         NULL);
  fail_allocs = 0;
  cr_assert_eq(r, -1);
  cr_assert_not(corun__timer_armed(&timers[0]));
  cr_assert_eq(heap.n, 0);
  /* The heap still works once memory is back. */
  cr_assert_eq(corun__timer_start(&heap, &timers[1],
                                  corun__timers_now(&heap) + 5, note, NULL),
               0);
  drain_loop();
  cr_assert_str_eq(fired, "b");
}
#endif

/* ---- link timers: a bare list link armed, as a sleeping task's ---- */

static struct corun_list links[8];
static size_t nwatched_links;

static void note_link(struct corun_list *l)
{
  fired[nfired++] = (char)('A' + (l - links));
}

static void watch_link(struct corun_timers *h, const struct corun_list *l,
                       uint64_t began_ns)
{
  cr_assert_eq(h, &heap);
  cr_assert(l >= links && l < links + 8);
  cr_assert_leq(began_ns, uv_hrtime());
  nwatched_links++;
}

#define START_LINK(...) cr_assert_eq(corun__timer_start_link(__VA_ARGS__), 0)

Test(timer, link_timers_keep_start_order_beside_timers, .init = setup,
     .fini = teardown)
{
  uint64_t due = corun__timers_now(&heap) + 20;

  memset(links, 0, sizeof(links));
  nwatched_links = 0;
  heap.watch_link = watch_link;
  /* Equal dues fire in start order, whichever form each timer has. */
  START_LINK(&heap, &links[0], due, note_link);
  START_LINK(&heap, &links[1], due, note_link);
  START(&heap, &timers[0], due, note, NULL);
  START_LINK(&heap, &links[2], due, note_link);
  START_LINK(&heap, &links[3], due - 10, note_link);
  START_LINK(&heap, &links[4], due, note_link);
  corun__timer_stop_link(&heap, &links[4]);
  cr_assert(!corun_list_linked(&links[4]));
  /* Stopping one not armed is harmless. */
  corun__timer_stop_link(&heap, &links[4]);
  drain_loop();
  cr_assert_str_eq(fired, "DABaC");
  cr_assert_eq(nwatched_links, 4);
  cr_assert(!corun_list_linked(&links[0]));
}

#ifdef CAN_FAIL_ALLOCS
Test(timer, a_link_start_out_of_memory_says_so_and_arms_nothing,
     .init = setup, .fini = teardown)
{
  int r;

  memset(links, 0, sizeof(links));
  fail_allocs = 1;
  r = corun__timer_start_link(&heap, &links[0], corun__timers_now(&heap) + 5,
                              note_link);
  fail_allocs = 0;
  cr_assert_eq(r, -1);
  cr_assert_not(corun_list_linked(&links[0]));
  cr_assert_eq(heap.n, 0);
}
#endif
