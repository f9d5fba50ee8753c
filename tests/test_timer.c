/* SPDX-License-Identifier: MIT */
/*
 * The run's timer heap: order by due time, start order among equal due
 * times (the buckets), stop and re-arm, and callbacks that stop or start
 * other timers while the heap fires.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"

TestSuite(timer, .timeout = 20);

static struct corun_job *job;
static struct corun_run *run;
static uv_loop_t loop;
static char fired[64];
static size_t nfired;
static struct corun_timer timers[16];

static void setup(void)
{
  job = load_ok("{\"tasks\": []}");
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  run->t0_ns = uv_hrtime();
  memset(timers, 0, sizeof(timers));
  memset(fired, 0, sizeof(fired));
  nfired = 0;
}

static void teardown(void)
{
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
}

static void note(struct corun_timer *t)
{
  fired[nfired++] = (char)('a' + (t - timers));
}

static void drain_loop(void)
{
  while (run->timers.n > 0)
    uv_run(&loop, UV_RUN_ONCE);
}

Test(timer, fires_by_due_then_start_order, .init = setup, .fini = teardown)
{
  uint64_t now = corun__now_ms(run);

  corun__timer_start(run, &timers[0], now + 30, note, NULL);
  corun__timer_start(run, &timers[1], now + 10, note, NULL);
  corun__timer_start(run, &timers[2], now + 30, note, NULL);
  corun__timer_start(run, &timers[3], now + 10, note, NULL);
  corun__timer_start(run, &timers[4], now + 20, note, NULL);
  /* Back to an earlier due time: a new bucket, still after b and d. */
  corun__timer_start(run, &timers[5], now + 10, note, NULL);
  drain_loop();
  cr_assert_str_eq(fired, "bdfeac");
}

Test(timer, stop_and_move, .init = setup, .fini = teardown)
{
  uint64_t now = corun__now_ms(run);

  corun__timer_start(run, &timers[0], now + 10, note, NULL);
  corun__timer_start(run, &timers[1], now + 10, note, NULL);
  corun__timer_start(run, &timers[2], now + 20, note, NULL);
  corun__timer_stop(run, &timers[0]);
  cr_assert_not(corun__timer_armed(&timers[0]));
  corun__timer_stop(run, &timers[0]); /* stopping twice is harmless */
  corun__timer_start(run, &timers[1], now + 30, note, NULL); /* move */
  cr_assert(corun__timer_armed(&timers[1]));
  drain_loop();
  cr_assert_str_eq(fired, "cb");
}

static void stop_next(struct corun_timer *t)
{
  note(t);
  corun__timer_stop(run, &timers[1]);
  corun__timer_start(run, &timers[3], corun__now_ms(run), note, NULL);
}

Test(timer, callbacks_may_stop_and_start_timers, .init = setup,
     .fini = teardown)
{
  uint64_t now = corun__now_ms(run);

  corun__timer_start(run, &timers[0], now + 5, stop_next, NULL);
  corun__timer_start(run, &timers[1], now + 5, note, NULL);
  corun__timer_start(run, &timers[2], now + 5, note, NULL);
  drain_loop();
  cr_assert_str_eq(fired, "acd");
}

Test(timer, waits_about_the_right_time, .init = setup, .fini = teardown)
{
  uint64_t t0 = uv_hrtime();

  corun__timer_start(run, &timers[0], corun__now_ms(run) + 100, note, NULL);
  drain_loop();
  cr_assert(uv_hrtime() - t0 >= 99000000ULL);
  cr_assert(uv_hrtime() - t0 < (uint64_t)(400000000ULL * time_scale()));
}
