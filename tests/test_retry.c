/* SPDX-License-Identifier: MIT */
/*
 * The retry helper exec and fetch share (core/retry.h), driven directly:
 * who may try again, how long it waits, and the timer that starts the
 * next attempt. Uses a run of an empty job for its clock and timers, and
 * a stand-in task.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "core/retry.h"
#include "util/buf.h"

TestSuite(retry, .timeout = 20);

Test(retry, attempts_left_and_cancel)
{
  struct corun_retry_policy p = CORUN_RETRY_POLICY_INIT;
  struct corun_task t;

  memset(&t, 0, sizeof(t));
  cr_assert_eq(p.retries, 0);
  cr_assert_eq(p.backoff_ms, 500, "the man page's default backoff");
  t.attempts = 1;
  cr_assert_not(corun__retry_left(&p, &t), "no retries: one attempt");
  p.retries = 2;
  cr_assert(corun__retry_left(&p, &t));
  t.attempts = 2;
  cr_assert(corun__retry_left(&p, &t));
  t.attempts = 3;
  cr_assert_not(corun__retry_left(&p, &t), "1 + 2 retries made");
  t.attempts = 1;
  t.cancel_status = CORUN_STATUS_CANCELLED;
  cr_assert_not(corun__retry_left(&p, &t), "never after a cancel");
}

Test(retry, wait_doubles_is_capped_and_retry_after_wins)
{
  struct corun_retry_policy p = {5, 500};
  struct corun_task t;

  memset(&t, 0, sizeof(t));
  t.attempts = 1;
  cr_assert_eq(corun__retry_wait_ms(&p, &t, 0), 500);
  t.attempts = 3;
  cr_assert_eq(corun__retry_wait_ms(&p, &t, 0), 2000);
  t.attempts = 20;
  cr_assert_eq(corun__retry_wait_ms(&p, &t, 0), CORUN_BACKOFF_CAP_MS);
  t.attempts = 1;
  cr_assert_eq(corun__retry_wait_ms(&p, &t, 7000), 7000, "Retry-After");
  cr_assert_eq(corun__retry_wait_ms(&p, &t, 3600 * 1000),
               CORUN_BACKOFF_CAP_MS, "a long Retry-After is capped too");
}

static int again_calls;

static void again(struct corun_task *t)
{
  (void)t;
  again_calls++;
}

Test(retry, the_timer_starts_the_next_attempt)
{
  struct corun_job *job = load_ok("{\"tasks\": []}");
  struct corun_buf out = CORUN_BUF_INIT;
  struct corun_retry r;
  struct corun_task t;
  struct corun_run *run;
  uv_loop_t loop;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  run->clock.t0_ns = uv_hrtime();
  memset(&r, 0, sizeof(r));
  memset(&t, 0, sizeof(t));
  t.run = run;
  t.id = "x";
  t.attempts = 1;
  cr_assert_not(corun__retry_pending(&r));
  cr_assert_not(corun__retry_describe(&r, &t, 0, &out));
  cr_assert_eq(corun__retry_after(&r, &t, 20, "exit status 1", again), 0);
  cr_assert(corun__retry_pending(&r));
  cr_assert(corun__retry_describe(&r, &t, corun__now_ms(run), &out));
  cr_assert(strncmp(corun_buf_str(&out), "retrying in 0.0", 15) == 0 &&
                strstr(corun_buf_str(&out), "(attempt 1 failed)"),
            "%s", corun_buf_str(&out));
  while (again_calls == 0)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(t.attempts, 2, "the attempt is counted before it starts");
  cr_assert_not(corun__retry_pending(&r));
  /* One stopped before it is due never calls back. */
  cr_assert_eq(corun__retry_after(&r, &t, 10, "again", again), 0);
  cr_assert(corun__retry_stop(&r, &t));
  cr_assert_not(corun__retry_stop(&r, &t), "nothing left to stop");
  cr_assert_eq(again_calls, 1);
  corun_buf_free(&out);
  uv_idle_stop(&run->idle);
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
}
