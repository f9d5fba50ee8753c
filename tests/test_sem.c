/* SPDX-License-Identifier: MIT */
/*
 * The semaphores behind "limits" and "concurrency", driven directly:
 * capacity, strict first-come-first-served order, cancelling a waiter,
 * and the token bucket's spacing. Uses a run of an empty job for its clock,
 * ready queue and timer heap, and stand-in tasks.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "sched/sem.h"

TestSuite(sem, .timeout = 20);

struct fixture {
  struct corun_job *job;
  struct corun_run *run;
  uv_loop_t loop;
  struct corun_task tasks[8];
};

static void setup_fx(struct fixture *fx)
{
  size_t i;

  memset(fx, 0, sizeof(*fx));
  fx->job = load_ok("{\"tasks\": []}");
  cr_assert_eq(uv_loop_init(&fx->loop), 0);
  cr_assert_eq(corun_run_new(&fx->run, fx->job, &fx->loop, NULL, NULL),
               CORUN_OK);
  fx->run->clock.t0_ns = uv_hrtime();
  for (i = 0; i < 8; i++) {
    fx->tasks[i].run = fx->run;
    fx->tasks[i].state = CORUN_STATE_QUEUED;
  }
}

static void teardown_fx(struct fixture *fx)
{
  /* Stand-in tasks may still sit in the ready queue: empty it. */
  while (corun__tq_pop(&fx->run->ready))
    ;
  uv_idle_stop(&fx->run->idle);
  corun_run_free(fx->run);
  cr_assert_eq(uv_loop_close(&fx->loop), 0);
  corun_job_free(fx->job);
}

static struct corun_sem make_sem(struct fixture *fx, uint32_t cap,
                                 double interval_ms)
{
  struct corun_sem s;

  memset(&s, 0, sizeof(s));
  s.cap = cap;
  s.interval_ms = interval_ms;
  s.run = fx->run;
  s.hold_flag = CORUN_TF_HOLD_LIMIT;
  return s;
}

Test(sem, capacity_and_fifo_handoff)
{
  struct fixture fx;
  struct corun_sem s;
  struct corun_task *t;

  setup_fx(&fx);
  s = make_sem(&fx, 2, 0);
  t = fx.tasks;
  cr_assert(corun__sem_try(&s, &t[0]));
  cr_assert(corun__sem_try(&s, &t[1]));
  cr_assert_not(corun__sem_try(&s, &t[2]), "full");
  corun__sem_wait(&s, &t[2]);
  corun__sem_wait(&s, &t[3]);
  cr_assert_eq(s.waiters.len, 2);
  /* A free slot goes to the oldest waiter, straight into the ready queue. */
  corun__sem_release(&s, &t[0]);
  cr_assert_eq(s.in_use, 2);
  cr_assert(t[2].flags & CORUN_TF_HOLD_LIMIT);
  cr_assert_eq(fx.run->ready.head, &t[2]);
  cr_assert_not(t[0].flags & CORUN_TF_HOLD_LIMIT);
  /* Newcomers queue behind waiters even when a slot is free. */
  corun__sem_release(&s, &t[1]);
  cr_assert(t[3].flags & CORUN_TF_HOLD_LIMIT);
  corun__sem_release(&s, &t[2]);
  cr_assert_eq(s.in_use, 1);
  cr_assert(corun__sem_try(&s, &t[4]), "no waiters and room: taken");
  cr_assert_eq(s.in_use, 2);
  teardown_fx(&fx);
}

Test(sem, cancelled_waiter_leaves_the_queue)
{
  struct fixture fx;
  struct corun_sem s;
  struct corun_task *t;

  setup_fx(&fx);
  s = make_sem(&fx, 1, 0);
  t = fx.tasks;
  cr_assert(corun__sem_try(&s, &t[0]));
  corun__sem_wait(&s, &t[1]);
  corun__sem_wait(&s, &t[2]);
  corun__sem_unwait(&s, &t[1]);
  cr_assert_eq(s.waiters.len, 1);
  cr_assert_null(t[1].inq);
  corun__sem_release(&s, &t[0]);
  cr_assert(t[2].flags & CORUN_TF_HOLD_LIMIT, "next in line is served");
  cr_assert_not(t[1].flags & CORUN_TF_HOLD_LIMIT);
  teardown_fx(&fx);
}

Test(sem, token_bucket_allows_no_burst)
{
  struct fixture fx;
  struct corun_sem s;
  struct corun_task *t;
  uint64_t now;

  setup_fx(&fx);
  s = make_sem(&fx, 0, 200.0); /* 5/s, no cap on how many at once */
  t = fx.tasks;
  /* The rate rations starts, not slots: a token is the last step. */
  cr_assert(corun__sem_try(&s, &t[0]));
  cr_assert(corun__sem_try(&s, &t[1]));
  cr_assert(corun__sem_token(&s, &t[0]), "the bucket starts with one token");
  cr_assert_not(corun__sem_token(&s, &t[1]), "but not two");
  now = corun__now_ms(fx.run);
  cr_assert(s.next_token >= now + 190 && s.next_token <= now + 200,
            "next token in 200 ms, not %llu",
            (unsigned long long)(s.next_token - now));
  cr_assert_eq(s.token_waiters.len, 1);
  cr_assert(corun__timer_armed(&s.timer), "a timer waits for the token");
  /* Let the token arrive. */
  while (!(t[1].flags & CORUN_TF_TOKEN))
    uv_run(&fx.loop, UV_RUN_ONCE);
  cr_assert(corun__now_ms(fx.run) >= now + 190);
  teardown_fx(&fx);
}

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
  corun_run_free(run);
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
