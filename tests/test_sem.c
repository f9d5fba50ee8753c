/* SPDX-License-Identifier: MIT */
/*
 * The semaphores behind "limits" and "concurrency", driven directly on a
 * bare loop, clock and timer heap (no job, no run): capacity, strict
 * first-come-first-served order, cancelling a waiter, and the token
 * bucket's spacing. Waiters are plain links; a wake callback records who
 * was served what, in order.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "sched/sem.h"

TestSuite(sem, .timeout = 20);

#include "fail_allocs.h"

struct fixture {
  uv_loop_t loop;
  struct corun_clock clock;
  struct corun_timers heap;
  struct corun_list w[8];
  int got[8]; /* 0 nothing yet, 1 a slot, 2 a token */
  int order[16];
  int nwoken;
};

static struct fixture *cur;

static void wake(struct corun_sem *s, struct corun_list *w,
                 enum corun_sem_grant what)
{
  int i = (int)(w - cur->w);

  (void)s;
  cr_assert(i >= 0 && i < 8);
  cr_assert_not(corun_list_linked(w), "off the queue before it is woken");
  cur->got[i] = what == CORUN_SEM_TOKEN ? 2 : 1;
  cur->order[cur->nwoken++] = i;
}

static void setup_fx(struct fixture *fx)
{
  memset(fx, 0, sizeof(*fx));
  cur = fx;
  cr_assert_eq(uv_loop_init(&fx->loop), 0);
  fx->clock.t0_ns = uv_hrtime();
  cr_assert_eq(corun__timers_init(&fx->heap, &fx->loop, &fx->clock), 0);
}

static void teardown_fx(struct fixture *fx)
{
  uv_close((uv_handle_t *)&fx->heap.uv, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  corun__timers_free(&fx->heap);
  cr_assert_eq(uv_loop_close(&fx->loop), 0);
}

static void make_sem(struct fixture *fx, struct corun_sem *s, uint32_t cap,
                     double interval_ms)
{
  memset(s, 0, sizeof(*s));
  s->cap = cap;
  s->rate.interval_ms = interval_ms;
  corun__sem_bind(s, &fx->heap, wake);
}

Test(sem, capacity_and_fifo_handoff)
{
  struct fixture fx;
  struct corun_sem s;
  struct corun_list *w;

  setup_fx(&fx);
  make_sem(&fx, &s, 2, 0);
  w = fx.w;
  cr_assert(corun__sem_try(&s)); /* 0 */
  cr_assert(corun__sem_try(&s)); /* 1 */
  cr_assert_not(corun__sem_try(&s), "full");
  corun__sem_wait(&s, &w[2]);
  corun__sem_wait(&s, &w[3]);
  cr_assert_eq(s.waiters.len, 2);
  /* A free slot goes to the oldest waiter, woken at once. */
  corun__sem_release(&s); /* 0 */
  cr_assert_eq(s.in_use, 2);
  cr_assert_eq(fx.got[2], 1);
  cr_assert_eq(fx.nwoken, 1);
  cr_assert_eq(fx.order[0], 2);
  /* Newcomers queue behind waiters even when a slot is free. */
  corun__sem_release(&s); /* 1 */
  cr_assert_eq(fx.got[3], 1);
  corun__sem_release(&s); /* 2 */
  cr_assert_eq(s.in_use, 1);
  cr_assert(corun__sem_try(&s), "no waiters and room: taken");
  cr_assert_eq(s.in_use, 2);
  teardown_fx(&fx);
}

Test(sem, cancelled_waiter_leaves_the_queue)
{
  struct fixture fx;
  struct corun_sem s;
  struct corun_list *w;

  setup_fx(&fx);
  make_sem(&fx, &s, 1, 0);
  w = fx.w;
  cr_assert(corun__sem_try(&s));
  corun__sem_wait(&s, &w[1]);
  corun__sem_wait(&s, &w[2]);
  corun__sem_unwait(&s, &w[1]);
  cr_assert_eq(s.waiters.len, 1);
  cr_assert_not(corun_list_linked(&w[1]));
  corun__sem_release(&s);
  cr_assert_eq(fx.got[2], 1, "next in line is served");
  cr_assert_eq(fx.got[1], 0);
  teardown_fx(&fx);
}

Test(sem, token_bucket_allows_no_burst)
{
  struct fixture fx;
  struct corun_sem s;
  struct corun_list *w;
  uint64_t now;

  setup_fx(&fx);
  make_sem(&fx, &s, 0, 200.0); /* 5/s, no cap on how many at once */
  w = fx.w;
  /* The rate rations starts, not slots: a token is the last step. */
  cr_assert(corun__sem_try(&s));
  cr_assert(corun__sem_try(&s));
  cr_assert(corun__sem_token(&s, &w[0]), "the bucket starts with one token");
  cr_assert_not(corun__sem_token(&s, &w[1]), "but not two");
  now = corun__timers_now(&fx.heap);
  cr_assert(s.rate.next_ms >= now + 190 && s.rate.next_ms <= now + 200,
            "next token in 200 ms, not %llu",
            (unsigned long long)(s.rate.next_ms - now));
  cr_assert_eq(s.token_waiters.len, 1);
  cr_assert(corun__timer_armed(&s.timer), "a timer waits for the token");
  /* Let the token arrive. */
  while (fx.got[1] != 2)
    uv_run(&fx.loop, UV_RUN_ONCE);
  cr_assert(corun__timers_now(&fx.heap) >= now + 190);
  cr_assert_eq(s.token_waiters.len, 0);
  teardown_fx(&fx);
}

#ifdef CAN_FAIL_ALLOCS
Test(sem, token_wait_without_a_timer_is_refused)
{
  struct fixture fx;
  struct corun_sem s;
  int r;

  setup_fx(&fx);
  make_sem(&fx, &s, 0, 200.0);
  cr_assert(corun__sem_token(&s, &fx.w[0]));
  /* No memory for the token timer: waiting would never end. */
  fail_allocs = 1;
  r = corun__sem_token(&s, &fx.w[1]);
  fail_allocs = 0;
  cr_assert_eq(r, -1);
  cr_assert_not(corun_list_linked(&fx.w[1]));
  cr_assert_eq(s.token_waiters.len, 0);
  cr_assert_not(corun__timer_armed(&s.timer));
  teardown_fx(&fx);
}
#endif

Test(sem, concurrency_pool_follows_jobs_option)
{
  struct corun_load_opts lo = {0};
  struct corun_job *job = NULL;
  struct corun_run *run = NULL;
  uv_loop_t loop;
  const char *text = "{\"concurrency\": 8, \"tasks\": []}";

  cr_assert_eq(corun_job_load_text(&job, text, strlen(text), "t.json", ".",
                                   &lo, NULL, NULL),
               CORUN_OK);
  cr_assert_eq(job->concurrency, 8);
  corun_job_free(job);
  lo.jobs = 3;
  cr_assert_eq(corun_job_load_text(&job, text, strlen(text), "t.json", ".",
                                   &lo, NULL, NULL),
               CORUN_OK);
  cr_assert_eq(job->concurrency, 3, "-j overrides the file");
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  cr_assert_eq(run->global.cap, 3);
  cr_assert_eq(run->global.hold_flag, CORUN_TF_HOLD_GLOBAL);
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
  text = "{\"tasks\": []}";
  lo.jobs = 0;
  cr_assert_eq(corun_job_load_text(&job, text, strlen(text), "t.json", ".",
                                   &lo, NULL, NULL),
               CORUN_OK);
  cr_assert_eq(job->concurrency, 64, "default 64");
  corun_job_free(job);
}

/* The rate's bucket on its own, on a clock the test holds. */
Test(sem, rate_bucket_catch_up_rule)
{
  struct corun_rate r = {10.0, 0};
  int n;

  cr_assert(corun__rate_take(&r, 100, 0), "an idle bucket holds one token");
  cr_assert_float_eq(r.next_ms, 110, 1e-9);
  cr_assert_not(corun__rate_take(&r, 105, 1), "not before it is due");
  /* A timer 2 ms late: the next counts on from the due time. */
  cr_assert(corun__rate_take(&r, 112, 1));
  cr_assert_float_eq(r.next_ms, 120, 1e-9);
  /* Without the timer, a late take is an idle bucket: from now. */
  cr_assert(corun__rate_take(&r, 122, 0));
  cr_assert_float_eq(r.next_ms, 132, 1e-9);
  /* Later than an interval: the tokens missed are not made up. */
  cr_assert(corun__rate_take(&r, 150, 1));
  cr_assert_float_eq(r.next_ms, 160, 1e-9);
  cr_assert_eq(corun__rate_due_ms(&r), 160);

  /* Finer than a millisecond: the tokens due within the tick, together. */
  r = (struct corun_rate){0.5, 100.0};
  for (n = 0; corun__rate_take(&r, 103, 1); n++)
    ;
  cr_assert_eq(n, 7, "tokens due at 100, 100.5 ... 103: %d", n);
  cr_assert_eq(corun__rate_due_ms(&r), 104);
  /* Within CORUN_RATE_CATCH_UP_MS the timer still catches up... */
  cr_assert(corun__rate_take(&r, 107.5, 1));
  cr_assert_float_eq(r.next_ms, 104.0, 1e-9);
  /* ...past it, the bucket starts over from now. */
  r = (struct corun_rate){0.5, 100.0};
  cr_assert(corun__rate_take(&r, 106, 1));
  cr_assert_float_eq(r.next_ms, 106.5, 1e-9);

  r = (struct corun_rate){0, 0};
  for (n = 0; n < 1000; n++)
    cr_assert(corun__rate_take(&r, 0, 0), "no rate: always a token");
}
