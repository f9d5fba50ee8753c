/* SPDX-License-Identifier: MIT */
/*
 * Task core semantics through whole runs: concurrency, completion order,
 * fail-fast and cancellation, timeouts, shield, after/skipped, limits,
 * interruption. Time windows are wide (shared, noisy machines) and scale
 * with CORUN_TEST_TIME_SCALE.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit.h"
#include "helpers.h"

TestSuite(task, .timeout = 60);

/* Slack for "about this time" checks. */
#define SLACK (0.25 * time_scale())

static void near(double got, double want, const char *what)
{
  cr_assert(got >= want - 0.02 && got <= want + SLACK,
            "%s: %.3f s, expected about %.3f s", what, got, want);
}

Test(task, hello_world_runs_concurrently)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"hello\", \"kind\": \"sleep\", \"seconds\": 1, \"message\": "
      "\"Hello\"},"
      "{\"id\": \"world\", \"kind\": \"sleep\", \"seconds\": 2, \"message\": "
      "\"World\"}]}",
      NULL);

  cr_assert_str_eq(corun_buf_str(&r->out), "Hello\nWorld\n");
  cr_assert_eq(r->exit_code, 0);
  /* Concurrent: about 2 s in all, not 3. */
  near(r->wall, 2.0, "wall");
  near(end_of(r, "hello"), 1.0, "hello end");
  cr_assert_str_eq(status_of(r, "world"), "ok");
  cr_assert_str_eq(result_json(r, "hello"), "\"Hello\"");
  result_free(r);
}

Test(task, sleep_zero_and_result)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"result\": {\"n\": [1, 2.5, \"x\"]}, \"message\": \"m\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "a"), "ok");
  cr_assert_str_eq(result_json(r, "a"), "{\"n\": [1, 2.5, \"x\"]}");
  cr_assert_str_eq(corun_buf_str(&r->out), "m\n");
  cr_assert(r->wall < 0.2 * time_scale());
  result_free(r);
}

Test(task, sleep_fail_ends_failed)
{
  struct result *r = run_job("{\"tasks\": [{\"id\": \"a\", \"kind\": "
                             "\"sleep\", \"seconds\": 0.05, \"fail\": "
                             "\"boom\"}]}",
                             NULL);
  struct corun_task *t = task_by_id(r, "a");

  cr_assert_str_eq(status_of(r, "a"), "failed");
  cr_assert_eq(t->err_type, CORUN_ERR_FAIL);
  cr_assert_str_eq(t->err_msg, "boom");
  cr_assert_eq(r->exit_code, 1);
  cr_assert_str_eq(result_json(r, "a"), "null");
  result_free(r);
}

Test(task, gather_collects_results_in_order)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "{\"kind\": \"sleep\", \"seconds\": 0.2, \"result\": 1},"
      "{\"kind\": \"sleep\", \"seconds\": 0.1, \"result\": 2},"
      "{\"kind\": \"sleep\", \"seconds\": 0, \"message\": \"three\"}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "g"), "ok");
  cr_assert_str_eq(result_json(r, "g"), "[1, 2, \"three\"]");
  near(end_of(r, "g"), 0.2, "gather end");
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(task, gather_fail_fast_cancels_the_rest)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.2, \"fail\": "
      "\"no\"},"
      "{\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 5},"
      "{\"id\": \"quick\", \"kind\": \"sleep\", \"seconds\": 0.05}]}]}",
      NULL);
  struct corun_task *g = task_by_id(r, "g");

  cr_assert_str_eq(status_of(r, "g"), "failed");
  cr_assert_eq(g->err_type, CORUN_ERR_CHILD);
  cr_assert(strstr(g->err_msg, "bad") && strstr(g->err_msg, "no"), "%s",
            g->err_msg);
  cr_assert_str_eq(status_of(r, "slow"), "cancelled");
  cr_assert_eq(task_by_id(r, "slow")->err_type, CORUN_ERR_CANCELLED);
  cr_assert_str_eq(status_of(r, "quick"), "ok");
  near(end_of(r, "g"), 0.2, "gather end");
  near(r->wall, 0.2, "wall");
  cr_assert_eq(r->exit_code, 1);
  result_free(r);
}

Test(task, gather_return_exceptions_waits_for_all)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", "
      "\"return_exceptions\": true, \"tasks\": ["
      "{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.05, \"fail\": "
      "\"no\"},"
      "{\"id\": \"ok\", \"kind\": \"sleep\", \"seconds\": 0.3, \"result\": "
      "7}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "g"), "ok");
  cr_assert_str_eq(status_of(r, "ok"), "ok");
  cr_assert_str_eq(
      result_json(r, "g"),
      "[{\"status\": \"failed\", \"error\": {\"type\": \"fail\", "
      "\"message\": \"no\"}}, {\"status\": \"ok\", \"result\": 7}]");
  near(end_of(r, "g"), 0.3, "gather end");
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(task, nested_gather_failure_propagates_and_cancels_cousins)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"top\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"left\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"id\": \"l1\", \"kind\": \"sleep\", \"seconds\": 5}]},"
      "{\"id\": \"right\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"id\": \"r1\", \"kind\": \"sleep\", \"seconds\": 0.1, \"fail\": "
      "\"x\"}]}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "right"), "failed");
  cr_assert_str_eq(status_of(r, "top"), "failed");
  cr_assert_str_eq(status_of(r, "left"), "cancelled");
  cr_assert_str_eq(status_of(r, "l1"), "cancelled");
  near(r->wall, 0.1, "wall");
  result_free(r);
}

Test(task, timeout_ends_task_timeout_and_children_cancelled)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"s\", \"kind\": \"sleep\", \"seconds\": 5, \"timeout\": "
      "\"200ms\"},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"timeout\": 0.3, \"tasks\": ["
      "  {\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 5}]},"
      "{\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.05, "
      "\"timeout\": 1}]}",
      NULL);
  struct corun_task *s = task_by_id(r, "s");

  cr_assert_str_eq(status_of(r, "s"), "timeout");
  cr_assert_eq(s->err_type, CORUN_ERR_TIMEOUT);
  near(end_of(r, "s"), 0.2, "sleep timeout");
  cr_assert_str_eq(status_of(r, "g"), "timeout");
  cr_assert_str_eq(status_of(r, "c"), "cancelled");
  near(end_of(r, "g"), 0.3, "gather timeout");
  cr_assert_str_eq(status_of(r, "fast"), "ok");
  cr_assert_eq(r->exit_code, 1);
  near(r->wall, 0.3, "wall");
  result_free(r);
}

Test(task, shield_keeps_running_parent_stops_waiting)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.1, \"fail\": "
      "\"x\"},"
      "{\"id\": \"safe\", \"kind\": \"sleep\", \"seconds\": 0.6, \"shield\": "
      "true, \"message\": \"saved\"}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "g"), "failed");
  near(end_of(r, "g"), 0.1, "gather end");
  cr_assert_str_eq(status_of(r, "safe"), "ok");
  near(end_of(r, "safe"), 0.6, "shielded end");
  /* The run waits for the shielded task. */
  near(r->wall, 0.6, "wall");
  cr_assert_str_eq(corun_buf_str(&r->out), "saved\n");
  result_free(r);
}

Test(task, shield_still_obeys_its_own_timeout)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"s\", \"kind\": \"sleep\", \"seconds\": 5, "
      "\"shield\": true, \"timeout\": 0.1}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "s"), "timeout");
  near(r->wall, 0.1, "wall");
  result_free(r);
}

Test(task, after_orders_tasks)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.1, \"after\": "
      "[\"a\"]},"
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.2},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"a\", \"b\"]}]}",
      NULL);

  near(end_of(r, "a"), 0.2, "a end");
  cr_assert(start_of(r, "b") >= end_of(r, "a"));
  near(end_of(r, "b"), 0.3, "b end");
  cr_assert(start_of(r, "c") >= end_of(r, "b"));
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(task, after_a_failed_task_skips_and_never_runs)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.05, \"fail\": "
      "\"x\"},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"a\"], \"message\": \"never\"},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"after\": [\"b\"], \"tasks\": "
      "[{\"id\": \"g1\", \"kind\": \"sleep\", \"seconds\": 0}]}]}",
      NULL);
  struct corun_task *b = task_by_id(r, "b");

  cr_assert_str_eq(status_of(r, "b"), "skipped");
  cr_assert_eq(b->err_type, CORUN_ERR_SKIPPED);
  cr_assert(strstr(b->err_msg, "\"a\""), "%s", b->err_msg);
  cr_assert_eq(b->t_start, CORUN_NO_TIME);
  cr_assert_eq(b->attempts, 0);
  cr_assert_str_eq(status_of(r, "g"), "skipped");
  cr_assert_str_eq(status_of(r, "g1"), "skipped");
  cr_assert_str_eq(corun_buf_str(&r->out), "");
  cr_assert_eq(r->exit_code, 1);
  result_free(r);
}

Test(task, long_after_chain_skips_without_deep_recursion)
{
  enum { N = 100000 };
  size_t cap = (size_t)N * 96 + 64, len = 0, i;
  char *text = malloc(cap);
  struct result *r;

  cr_assert_not_null(text);
  len += (size_t)sprintf(text + len, "{\"tasks\": [{\"id\": \"t0\", \"kind\": "
                                     "\"sleep\", \"seconds\": 0, \"fail\": "
                                     "\"x\"}");
  for (i = 1; i < N; i++)
    len += (size_t)sprintf(text + len,
                           ",{\"id\": \"t%zu\", \"kind\": \"sleep\", "
                           "\"seconds\": 0, \"after\": [\"t%zu\"]}",
                           i, i - 1);
  strcpy(text + len, "]}");
  r = run_job(text, NULL);
  cr_assert_str_eq(status_of(r, "t99999"), "skipped");
  free(text);
  result_free(r);
}

Test(task, sibling_after_inside_gather)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": 0.1},"
      "{\"id\": \"y\", \"kind\": \"sleep\", \"seconds\": 0.1, \"after\": "
      "[\"x\"]}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "g"), "ok");
  near(end_of(r, "y"), 0.2, "y end");
  result_free(r);
}

Test(task, limit_is_a_fifo_semaphore_and_queued_time_is_separate)
{
  struct result *r = run_job(
      "{\"limits\": {\"two\": 2}, \"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.3, \"limit\": "
      "\"two\"},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.3, \"limit\": "
      "\"two\"},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0.3, \"limit\": "
      "\"two\", \"timeout\": 0.4},"
      "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0.3, \"limit\": "
      "\"two\"}]}",
      NULL);
  struct corun_task *c = task_by_id(r, "c");

  near(start_of(r, "a"), 0.0, "a start");
  near(start_of(r, "b"), 0.0, "b start");
  near(start_of(r, "c"), 0.3, "c start");
  near(start_of(r, "d"), 0.3, "d start");
  near(r->wall, 0.6, "wall");
  /* Waiting for the slot is "queued", and the timeout counts after it. */
  cr_assert_str_eq(status_of(r, "c"), "ok");
  near(corun__secs(c->t_start - c->t_ready), 0.3, "c queued");
  result_free(r);
}

Test(task, limit_with_rate_spaces_starts)
{
  struct result *r = run_job(
      "{\"limits\": {\"slow\": {\"rate\": \"10/s\"}}, \"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
      "\"slow\"},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
      "\"slow\"},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
      "\"slow\"},"
      "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
      "\"slow\"}]}",
      NULL);

  /* One token at a time, no burst: starts about 100 ms apart. */
  near(start_of(r, "a"), 0.0, "a start");
  near(start_of(r, "b"), 0.1, "b start");
  near(start_of(r, "c"), 0.2, "c start");
  near(start_of(r, "d"), 0.3, "d start");
  result_free(r);
}

Test(task, limit_with_concurrency_and_rate)
{
  struct result *r = run_job(
      "{\"limits\": {\"l\": {\"concurrency\": 1, \"rate\": \"100/s\"}}, "
      "\"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.2, \"limit\": "
      "\"l\"},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.2, \"limit\": "
      "\"l\"}]}",
      NULL);

  near(start_of(r, "b"), 0.2, "b start");
  near(r->wall, 0.4, "wall");
  result_free(r);
}

Test(task, cancelled_while_queued_frees_its_place)
{
  struct result *r = run_job(
      "{\"limits\": {\"one\": 1}, \"tasks\": ["
      "{\"id\": \"hold\", \"kind\": \"sleep\", \"seconds\": 0.3, \"limit\": "
      "\"one\"},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"timeout\": 0.1, \"tasks\": "
      "[{\"id\": \"waiting\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"limit\": \"one\"}]},"
      "{\"id\": \"next\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
      "\"one\"}]}",
      NULL);
  struct corun_task *w = task_by_id(r, "waiting");

  cr_assert_str_eq(status_of(r, "waiting"), "cancelled");
  cr_assert_eq(w->t_start, CORUN_NO_TIME);
  cr_assert_str_eq(status_of(r, "next"), "ok");
  near(start_of(r, "next"), 0.3, "next start");
  result_free(r);
}

Test(task, wait_first_completed_cancels_pending)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
      "\"first_completed\", \"tasks\": ["
      "{\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 5},"
      "{\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.1}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "w"), "ok");
  cr_assert_str_eq(status_of(r, "slow"), "cancelled");
  cr_assert_str_eq(result_json(r, "w"),
                   "{\"done\": [\"fast\"], \"pending\": [\"slow\"]}");
  near(r->wall, 0.1, "wall");
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(task, wait_cancel_pending_false_lets_them_run_on)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
      "\"first_completed\", \"cancel_pending\": false, \"tasks\": ["
      "{\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 0.4},"
      "{\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.1}]}]}",
      NULL);

  near(end_of(r, "w"), 0.1, "wait end");
  cr_assert_str_eq(status_of(r, "slow"), "ok");
  near(r->wall, 0.4, "wall");
  result_free(r);
}

Test(task, wait_first_exception_and_all_completed)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"w1\", \"kind\": \"wait\", \"return_when\": "
      "\"first_exception\", \"tasks\": ["
      "  {\"id\": \"ok1\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      "  {\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.15, \"fail\": "
      "\"x\"},"
      "  {\"id\": \"long\", \"kind\": \"sleep\", \"seconds\": 5}]},"
      "{\"id\": \"w2\", \"kind\": \"wait\", \"tasks\": ["
      "  {\"id\": \"f2\", \"kind\": \"sleep\", \"seconds\": 0.05, \"fail\": "
      "\"y\"},"
      "  {\"id\": \"ok2\", \"kind\": \"sleep\", \"seconds\": 0.25}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "w1"), "ok");
  near(end_of(r, "w1"), 0.15, "w1 end");
  cr_assert_str_eq(status_of(r, "long"), "cancelled");
  cr_assert_str_eq(
      result_json(r, "w1"),
      "{\"done\": [\"ok1\", \"bad\"], \"pending\": [\"long\"]}");
  /* all_completed ends ok whatever the children's statuses. */
  cr_assert_str_eq(status_of(r, "w2"), "ok");
  near(end_of(r, "w2"), 0.25, "w2 end");
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(task, wait_first_exception_without_failure_waits_for_all)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
      "\"first_exception\", \"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.2}]}]}",
      NULL);

  near(end_of(r, "w"), 0.2, "wait end");
  cr_assert_str_eq(result_json(r, "w"),
                   "{\"done\": [\"a\", \"b\"], \"pending\": []}");
  result_free(r);
}

Test(task, interrupt_cancels_all_but_shielded)
{
  struct run_opts o = {0};
  struct result *r;

  o.interrupt_after = 0.1;
  r = run_job("{\"tasks\": ["
              "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 5},"
              "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
              "  {\"id\": \"g1\", \"kind\": \"sleep\", \"seconds\": 5},"
              "  {\"id\": \"keep\", \"kind\": \"sleep\", \"seconds\": 0.4, "
              "\"shield\": true}]}]}",
              &o);
  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(status_of(r, "a"), "cancelled");
  cr_assert_str_eq(status_of(r, "g"), "cancelled");
  cr_assert_str_eq(status_of(r, "g1"), "cancelled");
  cr_assert_str_eq(status_of(r, "keep"), "ok");
  near(r->wall, 0.4, "wall");
  result_free(r);
}

Test(task, second_interrupt_stops_shielded_too)
{
  struct run_opts o = {0};
  struct result *r;

  o.interrupt_after = 0.1;
  o.interrupt2_after = 0.2;
  o.signum = SIGTERM;
  r = run_job("{\"tasks\": [{\"id\": \"keep\", \"kind\": \"sleep\", "
              "\"seconds\": 5, \"shield\": true}]}",
              &o);
  cr_assert_eq(r->exit_code, 143);
  cr_assert_str_eq(status_of(r, "keep"), "cancelled");
  near(r->wall, 0.2, "wall");
  result_free(r);
}

Test(task, whole_run_timeout_is_a_hard_bound)
{
  struct run_opts o = {0};
  struct result *r;

  o.expire_after = 0.15;
  r = run_job("{\"tasks\": ["
              "{\"id\": \"keep\", \"kind\": \"sleep\", \"seconds\": 5, "
              "\"shield\": true},"
              "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 5, "
              "\"after\": [\"keep\"]}]}",
              &o);
  cr_assert_eq(r->exit_code, 124);
  cr_assert_str_eq(status_of(r, "keep"), "cancelled");
  /*
   * b waited for keep, and the one cancel took both: cancelled, as it
   * would be had it come first in the file (it used to say skipped).
   */
  cr_assert_str_eq(status_of(r, "b"), "cancelled");
  near(r->wall, 0.15, "wall");
  result_free(r);
}

Test(task, empty_job_finishes_at_once)
{
  struct result *r = run_job("{\"tasks\": []}", NULL);

  cr_assert_eq(r->exit_code, 0);
  cr_assert(r->wall < 0.1 * time_scale());
  result_free(r);
}

Test(task, every_task_ends_exactly_once_and_is_traced)
{
  struct run_opts o = {0};
  struct result *r;
  const char *ids[] = {"g", "a", "b", "c", "w", "w1", "w2"};
  size_t i;

  o.debug = 1;
  r = run_job("{\"tasks\": ["
              "{\"id\": \"g\", \"kind\": \"gather\", \"timeout\": 0.1, "
              "\"tasks\": ["
              "  {\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 5},"
              "  {\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.05, "
              "\"fail\": \"x\"},"
              "  {\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 5}]},"
              "{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
              "\"first_completed\", \"tasks\": ["
              "  {\"id\": \"w1\", \"kind\": \"sleep\", \"seconds\": 0},"
              "  {\"id\": \"w2\", \"kind\": \"sleep\", \"seconds\": 5}]}]}",
              &o);
  for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    char needle[64];
    const char *p = corun_buf_str(&r->log);
    int n = 0;

    snprintf(needle, sizeof(needle), "] %s: ", ids[i]);
    while ((p = strstr(p, needle)) != NULL) {
      const char *eol = strchr(p, '\n');

      if (strstr(p, "-> done") && (!eol || strstr(p, "-> done") < eol))
        n++;
      p++;
    }
    cr_assert_eq(n, 1, "%s ended %d times:\n%s", ids[i], n,
                 corun_buf_str(&r->log));
  }
  cr_assert(strstr(corun_buf_str(&r->log), "] a: pending -> queued"),
            "%s", corun_buf_str(&r->log));
  result_free(r);
}

Test(task, slow_callback_warning_names_the_task)
{
  enum { N = 200000 };
  size_t cap = (size_t)N * 40 + 128, len = 0, i;
  char *text = malloc(cap);
  struct run_opts o = {0};
  struct result *r;

  cr_assert_not_null(text);
  len += (size_t)sprintf(text + len, "{\"tasks\": [{\"id\": \"big\", "
                                     "\"kind\": \"gather\", \"tasks\": [");
  for (i = 0; i < N; i++)
    len += (size_t)sprintf(text + len,
                           "%s{\"kind\": \"sleep\", \"seconds\": 0}",
                           i ? "," : "");
  strcpy(text + len, "]}]}");
  o.debug = 1;
  o.slow_ms = 1; /* starting 200k children takes longer than 1 ms */
  r = run_job(text, &o);
  cr_assert(strstr(corun_buf_str(&r->log), "task \"big\" blocked the event "
                                           "loop"),
            "no slow-callback warning");
  free(text);
  result_free(r);
}

Test(task, large_gather_runs_in_one_sleep)
{
  enum { N = 50000 };
  size_t cap = (size_t)N * 40 + 128, len = 0, i;
  char *text = malloc(cap);
  struct result *r;

  cr_assert_not_null(text);
  len += (size_t)sprintf(text + len, "{\"tasks\": [{\"id\": \"big\", "
                                     "\"kind\": \"gather\", \"tasks\": [");
  for (i = 0; i < N; i++)
    len += (size_t)sprintf(text + len,
                           "%s{\"kind\": \"sleep\", \"seconds\": 0.3}",
                           i ? "," : "");
  strcpy(text + len, "]}]}");
  r = run_job(text, NULL);
  cr_assert_str_eq(status_of(r, "big"), "ok");
  cr_assert_str_eq(status_of(r, "big.50000"), "ok");
  cr_assert(r->wall < 0.3 + 1.5 * time_scale(), "%f", r->wall);
  free(text);
  result_free(r);
}

/* ---- regressions from review ---- */

Test(task, cancelled_wait_cancels_every_child_even_without_cancel_pending)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
      "\"first_completed\", \"cancel_pending\": false, \"timeout\": 0.1, "
      "\"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 1},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 1, \"message\": "
      "\"b ran\"}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "w"), "timeout");
  cr_assert_str_eq(status_of(r, "a"), "cancelled");
  cr_assert_str_eq(status_of(r, "b"), "cancelled");
  cr_assert_str_eq(corun_buf_str(&r->out), "");
  near(r->wall, 0.1, "wall");
  result_free(r);
}

Test(task, interrupt_cancels_children_a_wait_left_running)
{
  struct run_opts o = {0};
  struct result *r;

  o.interrupt_after = 0.3;
  r = run_job("{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", "
              "\"return_when\": \"first_completed\", \"cancel_pending\": "
              "false, \"tasks\": ["
              "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.1},"
              "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 3}]}]}",
              &o);
  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(status_of(r, "w"), "ok");
  cr_assert_str_eq(status_of(r, "b"), "cancelled");
  cr_assert(strstr(task_by_id(r, "b")->err_msg, "SIGINT"), "%s",
            task_by_id(r, "b")->err_msg);
  near(r->wall, 0.3, "wall");
  result_free(r);
}

Test(task, sibling_after_a_failed_child_is_skipped_not_cancelled)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.05, \"fail\": "
      "\"boom\"},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.1, \"after\": "
      "[\"a\"]}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "g"), "failed");
  cr_assert_str_eq(status_of(r, "b"), "skipped");
  result_free(r);
}

Test(task, gather_with_a_skipped_child_fails_once_all_have_ended)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.05, \"fail\": "
      "\"x\"},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"id\": \"c1\", \"kind\": \"sleep\", \"seconds\": 0.1, \"after\": "
      "[\"bad\"]},"
      "  {\"id\": \"c2\", \"kind\": \"sleep\", \"seconds\": 0.3}]}]}",
      NULL);
  struct corun_task *g = task_by_id(r, "g");

  cr_assert_str_eq(status_of(r, "c1"), "skipped");
  /* Not cut short: c2 still runs to its end. */
  cr_assert_str_eq(status_of(r, "c2"), "ok");
  cr_assert_str_eq(status_of(r, "g"), "failed");
  cr_assert_eq(g->err_type, CORUN_ERR_CHILD);
  cr_assert(strstr(g->err_msg, "c1") && strstr(g->err_msg, "skipped"), "%s",
            g->err_msg);
  near(end_of(r, "g"), 0.3, "gather end");
  result_free(r);
}

Test(task, rate_after_an_idle_spell_allows_no_burst)
{
  struct result *r = run_job(
      "{\"limits\": {\"R\": {\"rate\": \"5/s\"}}, \"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
      "\"R\"},"
      "{\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": 0.35},"
      "{\"id\": \"y\", \"kind\": \"sleep\", \"seconds\": 0.39},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": \"R\", "
      "\"after\": [\"x\"]},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": \"R\", "
      "\"after\": [\"y\"]}]}",
      NULL);

  near(start_of(r, "b"), 0.35, "b start");
  /* One token in the bucket: c waits a whole interval after b. */
  cr_assert(start_of(r, "c") - start_of(r, "b") >= 0.19, "b %.3f c %.3f",
            start_of(r, "b"), start_of(r, "c"));
  result_free(r);
}

Test(task, rate_tokens_are_taken_last_so_a_wait_elsewhere_is_no_burst)
{
  /*
   * Two commands take both concurrency slots for 0.5 s; the rated tasks
   * wait for them. Had they taken tokens while waiting, five would start
   * together at 0.5 s.
   */
  struct result *r = run_job(
      "{\"concurrency\": 2, \"limits\": {\"R\": {\"rate\": \"10/s\"}}, "
      "\"tasks\": ["
      "{\"id\": \"hold1\", \"kind\": \"exec\", \"argv\": [\"sleep\", "
      "\"0.5\"]},"
      "{\"id\": \"hold2\", \"kind\": \"exec\", \"argv\": [\"sleep\", "
      "\"0.5\"]},"
      "{\"id\": \"r0\", \"kind\": \"exec\", \"argv\": [\"true\"], "
      "\"limit\": \"R\"},"
      "{\"id\": \"r1\", \"kind\": \"exec\", \"argv\": [\"true\"], "
      "\"limit\": \"R\"},"
      "{\"id\": \"r2\", \"kind\": \"exec\", \"argv\": [\"true\"], "
      "\"limit\": \"R\"},"
      "{\"id\": \"r3\", \"kind\": \"exec\", \"argv\": [\"true\"], "
      "\"limit\": \"R\"},"
      "{\"id\": \"r4\", \"kind\": \"exec\", \"argv\": [\"true\"], "
      "\"limit\": \"R\"}]}",
      NULL);
  const char *ids[] = {"r0", "r1", "r2", "r3", "r4"};
  int i;

  cr_assert_geq(start_of(r, "r0"), 0.45);
  for (i = 1; i < 5; i++)
    cr_assert_geq(start_of(r, ids[i]) - start_of(r, ids[i - 1]), 0.09,
                  "%s started %.3f s after %s", ids[i],
                  start_of(r, ids[i]) - start_of(r, ids[i - 1]), ids[i - 1]);
  result_free(r);
}

Test(task, rates_finer_than_a_millisecond)
{
  enum { N = 1000 };
  size_t cap = (size_t)N * 64 + 256, len = 0, i;
  char *text = malloc(cap);
  struct result *r;

  cr_assert_not_null(text);
  len += (size_t)sprintf(text + len,
                         "{\"limits\": {\"R\": {\"rate\": \"10000/s\"}}, "
                         "\"tasks\": [");
  for (i = 0; i < N; i++)
    len += (size_t)sprintf(text + len,
                           "%s{\"kind\": \"sleep\", \"seconds\": 0, "
                           "\"limit\": \"R\"}",
                           i ? "," : "");
  strcpy(text + len, "]}");
  r = run_job(text, NULL);
  /* 1000 starts at 10000/s is 0.1 s, not one a millisecond (1 s). */
  cr_assert(r->wall >= 0.09 && r->wall < 0.1 + 0.4 * time_scale(), "%f",
            r->wall);
  free(text);
  result_free(r);
}

Test(task, default_limit_is_not_held_by_containers)
{
  struct result *r = run_job(
      "{\"limits\": {\"api\": 1}, \"defaults\": {\"limit\": \"api\"}, "
      "\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.1},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0.1}]}]}",
      NULL);

  cr_assert_null(task_by_id(r, "g")->limit);
  cr_assert_str_eq(status_of(r, "g"), "ok");
  near(start_of(r, "b"), 0.1, "b waits for a's slot");
  result_free(r);
}

Test(task, limit_deadlock_through_after_ends_as_a_stall)
{
  struct corun_job *job = load_ok(
      "{\"limits\": {\"L\": 1}, \"tasks\": ["
      "{\"id\": \"g\", \"kind\": \"gather\", \"limit\": \"L\", \"tasks\": "
      "[{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, \"after\": "
      "[\"x\"]}]},"
      "{\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": 0, \"limit\": "
      "\"L\"}]}");
  struct corun_run *run;
  uv_loop_t loop;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_not(corun_run_done(run), "g holds L, x waits for L, c for x");
  corun_run_stalled(run);
  cr_assert(corun_run_done(run));
  {
    struct corun_outcome o;

    corun_run_outcome(run, &o);
    cr_assert_eq(o.end, CORUN_END_STALLED);
    cr_assert_eq(exit_status(&o), 1);
  }
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
}

Test(task, backoff_doubles_per_attempt_capped_at_30s)
{
  cr_assert_eq(corun__backoff_ms(500, 1), 500);
  cr_assert_eq(corun__backoff_ms(500, 2), 1000);
  cr_assert_eq(corun__backoff_ms(500, 4), 4000);
  cr_assert_eq(corun__backoff_ms(500, 12), 30000);
  cr_assert_eq(corun__backoff_ms(40000, 1), 30000);
  cr_assert_eq(corun__backoff_ms(0, 5), 0);
}

/* An observer attached to the run: sees every end, can resume a task. */
struct watcher {
  struct corun_observer obs;
  char ended[64];
  size_t nended;
  int run_ended;
};

static int w_earlier(struct corun_observer *o, const struct corun_task *t,
                     cJSON **result)
{
  (void)o;
  if (strcmp(t->id, "b") != 0)
    return 0;
  *result = cJSON_CreateString("from before");
  return 1;
}

static void w_task_ended(struct corun_observer *o, const struct corun_task *t)
{
  struct watcher *w = (struct watcher *)o;

  cr_assert_neq(t->status, CORUN_STATUS_NONE, "its status is final");
  w->ended[w->nended++] = t->id[0];
}

static void w_run_ended(struct corun_observer *o, const struct corun_run *run)
{
  struct watcher *w = (struct watcher *)o;

  cr_assert_eq(run->active, 0);
  w->run_ended++;
}

Test(task, observers_see_every_end_and_may_resume)
{
  struct corun_job *job = load_ok(
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
      " {\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 5, "
      "\"after\": [\"a\"]},"
      " {\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"b\"]}]}");
  struct watcher w;
  struct corun_run *run;
  uv_loop_t loop;

  memset(&w, 0, sizeof(w));
  w.obs.earlier = w_earlier;
  w.obs.task_ended = w_task_ended;
  w.obs.run_ended = w_run_ended;
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  corun__run_observe(run, &w.obs);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_str_eq(w.ended, "abc");
  cr_assert_eq(w.run_ended, 1);
  cr_assert(job->tasks[1]->flags & CORUN_TF_RESUMED);
  cr_assert_str_eq(job->tasks[1]->result->valuestring, "from before");
  {
    struct corun_outcome out;

    corun_run_outcome(run, &out);
    cr_assert_eq(exit_status(&out), 0);
  }
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
}

/* run_if: how a task takes the ends of its "after" tasks. */

Test(task, run_if_all_done_runs_after_a_failure_and_after_a_success)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.05, "
      "\"fail\": \"x\"},"
      "{\"id\": \"good\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      "{\"id\": \"c1\", \"kind\": \"sleep\", \"seconds\": 0, \"message\": "
      "\"c1\", \"after\": [\"bad\"], \"run_if\": \"all_done\"},"
      "{\"id\": \"c2\", \"kind\": \"sleep\", \"seconds\": 0, \"message\": "
      "\"c2\", \"after\": [\"good\"], \"run_if\": \"all_done\"},"
      "{\"id\": \"plain\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"bad\"], \"run_if\": \"all_ok\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "c1"), "ok");
  cr_assert_str_eq(status_of(r, "c2"), "ok");
  cr_assert_geq(start_of(r, "c1"), end_of(r, "bad"));
  cr_assert_geq(start_of(r, "c2"), end_of(r, "good"));
  /* "all_ok", said or not, still skips. */
  cr_assert_str_eq(status_of(r, "plain"), "skipped");
  cr_assert_str_eq(corun_buf_str(&r->out), "c1\nc2\n");
  /* The cleanup ran ok; the failed root still fails the run. */
  cr_assert_eq(r->exit_code, 1);
  result_free(r);
}

Test(task, run_if_all_done_waits_for_every_after_task)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.02, "
      "\"fail\": \"x\"},"
      "{\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 0.2},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"return_exceptions\": true, "
      "\"tasks\": [{\"id\": \"t\", \"kind\": \"sleep\", \"seconds\": 0.3, "
      "\"timeout\": 0.05}]},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"fast\", \"slow\", \"t\"], \"run_if\": \"all_done\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "t"), "timeout");
  cr_assert_str_eq(status_of(r, "c"), "ok");
  near(start_of(r, "c"), 0.2, "cleanup start");
  result_free(r);
}

Test(task, run_if_any_failed_runs_only_when_something_failed)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"build\", \"kind\": \"sleep\", \"seconds\": 0.05, "
      "\"fail\": \"x\"},"
      "{\"id\": \"other\", \"kind\": \"sleep\", \"seconds\": 0.1},"
      "{\"id\": \"notify\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"message\": \"notified\", \"after\": [\"build\", \"other\"], "
      "\"run_if\": \"any_failed\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "notify"), "ok");
  /* Once every "after" task ended, not at the first failure. */
  near(start_of(r, "notify"), 0.1, "notify start");
  cr_assert_str_eq(corun_buf_str(&r->out), "notified\n");
  cr_assert_eq(r->exit_code, 1);
  result_free(r);
}

Test(task, run_if_any_failed_with_nothing_failed_is_skipped_and_no_failure)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"build\", \"kind\": \"sleep\", \"seconds\": 0.02},"
      "{\"id\": \"notify\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"message\": \"notified\", \"after\": [\"build\"], "
      "\"run_if\": \"any_failed\"},"
      /* After a skip that was no failure: skipped, no failure either. */
      "{\"id\": \"then\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"notify\"]},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"id\": \"step\", \"kind\": \"sleep\", \"seconds\": 0.02},"
      "  {\"id\": \"on_fail\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"step\"], \"run_if\": \"any_failed\"}]},"
      /* Nothing failed before it either: a skip is no failure to handle. */
      "{\"id\": \"second\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"notify\"], \"run_if\": \"any_failed\"}]}",
      NULL);
  struct corun_task *n = task_by_id(r, "notify");

  cr_assert_str_eq(status_of(r, "notify"), "skipped");
  cr_assert_eq(n->err_type, CORUN_ERR_SKIPPED);
  cr_assert_str_eq(n->err_msg, "nothing failed");
  cr_assert_str_eq(status_of(r, "then"), "skipped");
  cr_assert_str_eq(status_of(r, "on_fail"), "skipped");
  /* The gather's promise, every child ok or with nothing to do, holds. */
  cr_assert_str_eq(status_of(r, "g"), "ok");
  cr_assert_str_eq(status_of(r, "second"), "skipped");
  cr_assert_str_eq(task_by_id(r, "second")->err_msg, "nothing failed");
  cr_assert_str_eq(corun_buf_str(&r->out), "");
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(task, run_if_any_failed_counts_timeouts_cancels_and_skips)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 1, "
      "\"timeout\": 0.05},"
      "{\"id\": \"on_timeout\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"slow\"], \"run_if\": \"any_failed\"},"
      "{\"id\": \"skipped\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"slow\"]},"
      "{\"id\": \"on_skip\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"skipped\"], \"run_if\": \"any_failed\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "on_timeout"), "ok");
  cr_assert_str_eq(status_of(r, "skipped"), "skipped");
  cr_assert_str_eq(status_of(r, "on_skip"), "ok");
  cr_assert_eq(r->exit_code, 1);
  result_free(r);
}

Test(task, run_if_all_done_runs_after_an_interrupt_then_a_second_cancels_it)
{
  struct run_opts o = {0};
  struct result *r;
  const char *job =
      "{\"tasks\": ["
      "{\"id\": \"work\", \"kind\": \"sleep\", \"seconds\": 5},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      "  {\"id\": \"inner\", \"kind\": \"sleep\", \"seconds\": 5},"
      "  {\"id\": \"inner_clean\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"message\": \"inner cleaned\", \"after\": [\"inner\"], "
      "\"run_if\": \"all_done\"}]},"
      "{\"id\": \"clean\", \"kind\": \"sleep\", \"seconds\": 0.3, "
      "\"message\": \"cleaned\", \"after\": [\"work\"], "
      "\"run_if\": \"all_done\"},"
      "{\"id\": \"bounded\", \"kind\": \"sleep\", \"seconds\": 5, "
      "\"timeout\": 0.2, \"after\": [\"work\"], \"run_if\": \"all_done\"},"
      "{\"id\": \"plain\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"work\"]}]}";

  o.interrupt_after = 0.1;
  r = run_job(job, &o);
  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(status_of(r, "work"), "cancelled");
  cr_assert_str_eq(status_of(r, "g"), "cancelled");
  /* Waiting for work when the interrupt took both: cancelled with it. */
  cr_assert_str_eq(status_of(r, "plain"), "cancelled");
  cr_assert_str_eq(status_of(r, "clean"), "ok");
  cr_assert_str_eq(status_of(r, "inner_clean"), "ok");
  near(start_of(r, "clean"), 0.1, "cleanup start");
  /* Its own timeout still applies. */
  cr_assert_str_eq(status_of(r, "bounded"), "timeout");
  cr_assert_str_eq(corun_buf_str(&r->out), "inner cleaned\ncleaned\n");
  near(r->wall, 0.4, "wall");
  result_free(r);

  /* The second signal stops the cleanups too. */
  o.interrupt2_after = 0.2;
  r = run_job(job, &o);
  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(status_of(r, "clean"), "cancelled");
  cr_assert_str_eq(status_of(r, "inner_clean"), "ok");
  cr_assert_str_eq(corun_buf_str(&r->out), "inner cleaned\n");
  near(r->wall, 0.2, "wall");
  result_free(r);
}

Test(task, run_if_all_done_runs_after_the_whole_run_timeout)
{
  struct run_opts o = {0};
  struct result *r;
  const char *job =
      "{\"tasks\": ["
      "{\"id\": \"work\", \"kind\": \"sleep\", \"seconds\": 5},"
      "{\"id\": \"clean\", \"kind\": \"gather\", \"after\": [\"work\"], "
      "\"run_if\": \"all_done\", \"tasks\": ["
      "  {\"id\": \"c1\", \"kind\": \"sleep\", \"seconds\": 0.2, "
      "\"message\": \"cleaned\"}]},"
      "{\"id\": \"notify\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"work\"], \"run_if\": \"any_failed\"}]}";

  o.expire_after = 0.1;
  r = run_job(job, &o);
  cr_assert_eq(r->exit_code, 124);
  cr_assert_str_eq(status_of(r, "work"), "cancelled");
  cr_assert_str_eq(status_of(r, "clean"), "ok");
  cr_assert_str_eq(status_of(r, "c1"), "ok");
  cr_assert_str_eq(status_of(r, "notify"), "cancelled");
  cr_assert_str_eq(corun_buf_str(&r->out), "cleaned\n");
  near(r->wall, 0.3, "wall");
  result_free(r);

  /* A signal after --timeout is the second stop. */
  o.interrupt_after = 0.2;
  r = run_job(job, &o);
  cr_assert_eq(r->exit_code, 124);
  cr_assert_str_eq(status_of(r, "clean"), "cancelled");
  cr_assert_str_eq(status_of(r, "c1"), "cancelled");
  near(r->wall, 0.2, "wall");
  result_free(r);
}

Test(task, run_if_load_errors)
{
  static const struct {
    const char *job, *want;
  } cases[] = {
      {"{\"tasks\": [{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0},"
       "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, "
       "\"after\": [\"a\"], \"run_if\": \"all_dnoe\"}]}",
       "task \"b\": \"run_if\" must be \"all_ok\", \"all_done\" or "
       "\"any_failed\", not \"all_dnoe\" (did you mean \"all_done\"?)"},
      {"{\"tasks\": [{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0, "
       "\"after\": [\"b2\"], \"run_if\": 1},"
       "{\"id\": \"b2\", \"kind\": \"sleep\", \"seconds\": 0}]}",
       "task \"b\": \"run_if\" must be a string, not a number"},
      {"{\"tasks\": [{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, "
       "\"run_if\": \"all_done\"}]}",
       "task \"c\": \"run_if\" needs \"after\""},
      {"{\"tasks\": [{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, "
       "\"after\": [], \"run_if\": \"any_failed\"}]}",
       "task \"c\": \"run_if\" needs \"after\""},
      {"{\"defaults\": {\"run_if\": \"all_done\"}, \"tasks\": []}",
       "\"defaults\": \"run_if\" cannot have a default (it is per task)"},
      {"{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": "
       "{\"items\": [1]}, \"stages\": [{\"task\": {\"kind\": \"sleep\", "
       "\"seconds\": 0, \"run_if\": \"all_done\"}}]}]}",
       "\"run_if\" cannot be set on a stage's task"},
      {"{\"tasks\": [{\"id\": \"f\", \"kind\": \"fetch\", \"url\": "
       "\"http://127.0.0.1:1/\", \"capture\": {\"w\": \"body\"}},"
       "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, "
       "\"after\": [\"f\"], \"run_if\": \"${f.w}\"}]}",
       "task \"c\": \"run_if\" cannot use a capture (\"${f.w}\")"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *err = load_err(cases[i].job);

    cr_expect_not_null(strstr(err, cases[i].want), "case %zu: %s", i, err);
    free(err);
  }
}

/* first_ok: a race the first child to end ok wins. */

Test(task, wait_first_ok_wins_with_the_first_ok_child)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
      "\"first_ok\", \"tasks\": ["
      "  {\"id\": \"down\", \"kind\": \"sleep\", \"seconds\": 0.05, "
      "\"fail\": \"mirror down\"},"
      "  {\"id\": \"up\", \"kind\": \"sleep\", \"seconds\": 0.2, "
      "\"result\": \"data\"},"
      "  {\"id\": \"far\", \"kind\": \"sleep\", \"seconds\": 5}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "w"), "ok");
  near(end_of(r, "w"), 0.2, "wait end");
  cr_assert_str_eq(status_of(r, "down"), "failed");
  cr_assert_str_eq(status_of(r, "up"), "ok");
  cr_assert_str_eq(status_of(r, "far"), "cancelled");
  cr_assert_str_eq(result_json(r, "w"),
                   "{\"done\": [\"down\", \"up\"], \"pending\": [\"far\"]}");
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

Test(task, wait_first_ok_fails_when_none_ends_ok)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
      "\"first_ok\", \"tasks\": ["
      "  {\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.05, "
      "\"fail\": \"a down\"},"
      "  {\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 1, "
      "\"timeout\": 0.15}]}]}",
      NULL);
  struct corun_task *w = task_by_id(r, "w");

  cr_assert_str_eq(status_of(r, "w"), "failed");
  cr_assert_eq(w->err_type, CORUN_ERR_CHILD);
  cr_assert_not_null(strstr(w->err_msg, "no child ended ok"), "%s",
                     w->err_msg);
  cr_assert_not_null(strstr(w->err_msg, "a down"), "%s", w->err_msg);
  near(end_of(r, "w"), 0.15, "wait end");
  cr_assert_str_eq(result_json(r, "w"),
                   "{\"done\": [\"a\", \"b\"], \"pending\": []}");
  cr_assert_eq(r->exit_code, 1);
  result_free(r);
}

Test(task, wait_first_ok_cancel_pending_false_lets_the_rest_run_on)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"w\", \"kind\": \"wait\", \"return_when\": "
      "\"first_ok\", \"cancel_pending\": false, \"tasks\": ["
      "  {\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.05},"
      "  {\"id\": \"slow\", \"kind\": \"sleep\", \"seconds\": 0.3}]},"
      "{\"id\": \"next\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"w\"]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "w"), "ok");
  near(end_of(r, "w"), 0.05, "wait end");
  near(start_of(r, "next"), 0.05, "next start");
  cr_assert_str_eq(status_of(r, "slow"), "ok");
  near(r->wall, 0.3, "wall");
  cr_assert_str_eq(result_json(r, "w"),
                   "{\"done\": [\"fast\"], \"pending\": [\"slow\"]}");
  result_free(r);
}

Test(task, run_if_what_ends_inside_a_spared_cleanup_is_its_own_doing)
{
  struct run_opts o = {0};
  struct result *r;

  o.interrupt_after = 0.1;
  r = run_job("{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
              "{\"id\": \"work\", \"kind\": \"sleep\", \"seconds\": 5},"
              "{\"id\": \"clean\", \"kind\": \"gather\", \"after\": "
              "[\"work\"], \"run_if\": \"all_done\", \"tasks\": ["
              "  {\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": 0.05, "
              "\"fail\": \"x\"},"
              "  {\"id\": \"long\", \"kind\": \"sleep\", \"seconds\": 5}]}]}]}",
              &o);
  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(task_by_id(r, "work")->err_msg, "interrupted (SIGINT)");
  cr_assert_str_eq(status_of(r, "clean"), "failed");
  /* The cleanup's own fail-fast cancelled it, not the interruption. */
  cr_assert_str_eq(status_of(r, "long"), "cancelled");
  cr_assert_str_eq(task_by_id(r, "long")->err_msg,
                   "cancelled by parent \"clean\"");
  near(r->wall, 0.15, "wall");
  result_free(r);
}

struct dump_then_stop {
  uv_timer_t timer;
  struct corun_run *run;
  struct corun_buf text;
};

static void dump_then_stop(uv_timer_t *tm)
{
  struct dump_then_stop *d = tm->data;

  corun_run_dump(d->run, &d->text);
  /* The waiting tasks leave their queues as they are cancelled. */
  corun_run_interrupt(d->run, SIGINT);
}

/*
 * The dump says which queue a waiting task is in: its limit's slots, or
 * its limit's rate. Cancelled there, it leaves the queue.
 */
Test(task, dump_names_the_queue_a_task_waits_in)
{
  struct corun_job *jb = load_ok(
      "{\"limits\": {\"one\": 1, \"slow\": {\"rate\": \"1/m\"}}, "
      "\"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 5, "
      "\"limit\": \"one\"},"
      "{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 5, "
      "\"limit\": \"one\"},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 5, "
      "\"limit\": \"slow\"},"
      "{\"id\": \"d\", \"kind\": \"sleep\", \"seconds\": 5, "
      "\"limit\": \"slow\"}]}");
  struct dump_then_stop d = {.text = CORUN_BUF_INIT};
  struct corun_run *run = NULL;
  uv_loop_t loop;
  const char *s;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, jb, &loop, NULL, NULL), CORUN_OK);
  d.run = run;
  uv_timer_init(&loop, &d.timer);
  d.timer.data = &d;
  uv_timer_start(&d.timer, dump_then_stop, 200, 0);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  s = corun_buf_str(&d.text);
  cr_assert(strstr(s, "limit \"one\" (1 waiting)"), "%s", s);
  cr_assert(strstr(s, "limit \"slow\" rate (1 waiting)"), "%s", s);
  cr_assert(corun_run_done(run));
  uv_close((uv_handle_t *)&d.timer, NULL);
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(jb);
  corun_buf_free(&d.text);
}

/*
 * One cancel that takes a task and the one it waits for ("after") ends both
 * cancelled, whichever the file lists first: the children of a timed-out or
 * failed gather all end cancelled, as asyncio's would.
 */
Test(task, a_cancel_takes_a_task_and_its_after_task_alike_in_any_order)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"g1\", \"kind\": \"gather\", \"timeout\": 0.1, \"tasks\": ["
      " {\"id\": \"a1\", \"kind\": \"sleep\", \"seconds\": 5},"
      " {\"id\": \"b1\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"a1\"]}]},"
      "{\"id\": \"g2\", \"kind\": \"gather\", \"timeout\": 0.1, \"tasks\": ["
      " {\"id\": \"b2\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"a2\"]},"
      " {\"id\": \"a2\", \"kind\": \"sleep\", \"seconds\": 5}]},"
      "{\"id\": \"g3\", \"kind\": \"gather\", \"tasks\": ["
      " {\"id\": \"f3\", \"kind\": \"sleep\", \"seconds\": 0.1, "
      "\"fail\": \"x\"},"
      " {\"id\": \"a3\", \"kind\": \"sleep\", \"seconds\": 5},"
      " {\"id\": \"b3\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"a3\"]},"
      " {\"id\": \"c3\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"f3\"]}]}]}",
      NULL);
  static const char *const cancelled[] = {"a1", "b1", "a2", "b2", "a3", "b3"};
  size_t i;

  for (i = 0; i < sizeof(cancelled) / sizeof(cancelled[0]); i++)
    cr_expect_str_eq(status_of(r, cancelled[i]), "cancelled", "%s",
                     cancelled[i]);
  /* An "after" task that failed on its own, before the cancel: skipped. */
  cr_expect_str_eq(status_of(r, "c3"), "skipped");
  result_free(r);
}

/*
 * A task after one skipped because nothing failed is skipped as no failure
 * only when none of its other "after" tasks failed, whichever ends first:
 * the exit status does not depend on timing.
 */
Test(task, a_nothing_failed_skip_waits_for_the_other_after_tasks)
{
  static const char *const order[] = {"0.2", "0.02"};
  size_t i;

  for (i = 0; i < 2; i++) {
    struct corun_buf job = CORUN_BUF_INIT;
    struct result *r;

    corun_buf_printf(
        &job,
        "{\"tasks\": ["
        "{\"id\": \"ok1\", \"kind\": \"sleep\", \"seconds\": 0.05},"
        "{\"id\": \"benign\", \"kind\": \"sleep\", \"seconds\": 0, "
        "\"after\": [\"ok1\"], \"run_if\": \"any_failed\"},"
        "{\"id\": \"g\", \"kind\": \"gather\", \"return_exceptions\": true, "
        "\"tasks\": [{\"id\": \"bad\", \"kind\": \"sleep\", \"seconds\": %s, "
        "\"fail\": \"x\"}]},"
        "{\"id\": \"deploy\", \"kind\": \"sleep\", \"seconds\": 0, "
        "\"after\": [\"benign\", \"bad\"]},"
        "{\"id\": \"calm\", \"kind\": \"sleep\", \"seconds\": 0, "
        "\"after\": [\"benign\", \"ok1\"]}]}",
        order[i]);
    r = run_job(corun_buf_str(&job), NULL);
    cr_expect_str_eq(status_of(r, "deploy"), "skipped");
    cr_expect_str_eq(status_of(r, "calm"), "skipped");
    /* deploy never ran because bad failed: a root that did not end ok. */
    cr_expect_eq(r->exit_code, 1, "bad after %s s", order[i]);
    result_free(r);
    corun_buf_free(&job);
  }
}

/*
 * A race ends when it is won, and a fail-fast gather when a child fails,
 * as asyncio.wait() returns: a loser in its kill grace ends on its own
 * later, and the run waits for it.
 */
Test(task, a_race_and_a_failed_gather_end_without_waiting_for_a_grace)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"race\", \"kind\": \"wait\", \"return_when\": \"first_ok\", "
      "\"tasks\": ["
      " {\"id\": \"fast\", \"kind\": \"sleep\", \"seconds\": 0.1},"
      " {\"id\": \"slow\", \"kind\": \"exec\", \"kill_grace\": \"1s\", "
      "\"shell\": \"trap '' TERM; sleep 10\"}]},"
      "{\"id\": \"use\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"race\"]},"
      "{\"id\": \"g\", \"kind\": \"gather\", \"tasks\": ["
      " {\"id\": \"boom\", \"kind\": \"sleep\", \"seconds\": 0.1, "
      "\"fail\": \"x\"},"
      " {\"id\": \"stubborn\", \"kind\": \"exec\", \"kill_grace\": \"1s\", "
      "\"shell\": \"trap '' TERM; sleep 10\"}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "race"), "ok");
  near(end_of(r, "race"), 0.1, "race end");
  near(start_of(r, "use"), 0.1, "use start");
  cr_assert_str_eq(status_of(r, "slow"), "cancelled");
  cr_assert_geq(end_of(r, "slow"), 1.05);
  cr_assert_str_eq(status_of(r, "g"), "failed");
  near(end_of(r, "g"), 0.1, "gather end");
  cr_assert_str_eq(status_of(r, "stubborn"), "cancelled");
  cr_assert_geq(end_of(r, "stubborn"), 1.05);
  /* The run waited for both. */
  cr_assert_geq(r->wall, 1.05);
  result_free(r);
}

/*
 * A task whose "after" chain failed on its own before a cancel came is
 * skipped, whichever the file lists first: the cancel does not claim it.
 */
Test(task, a_chain_that_failed_before_the_cancel_stays_skipped_in_any_order)
{
  static const char *const jobs[] = {
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"gather\", \"tasks\": ["
      " {\"id\": \"f\", \"kind\": \"sleep\", \"seconds\": 0.05, "
      "\"fail\": \"boom\"},"
      " {\"id\": \"m\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"f\"]},"
      " {\"id\": \"y\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"m\"]},"
      " {\"id\": \"z\", \"kind\": \"sleep\", \"seconds\": 5}]}]}",
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"gather\", \"tasks\": ["
      " {\"id\": \"f\", \"kind\": \"sleep\", \"seconds\": 0.05, "
      "\"fail\": \"boom\"},"
      " {\"id\": \"y\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"m\"]},"
      " {\"id\": \"m\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"f\"]},"
      " {\"id\": \"z\", \"kind\": \"sleep\", \"seconds\": 5}]}]}"};
  size_t i;

  for (i = 0; i < 2; i++) {
    struct result *r = run_job(jobs[i], NULL);

    cr_expect_str_eq(status_of(r, "m"), "skipped", "order %zu", i);
    cr_expect_str_eq(status_of(r, "y"), "skipped", "order %zu", i);
    cr_expect_str_eq(status_of(r, "z"), "cancelled", "order %zu", i);
    result_free(r);
  }
}

/*
 * A gather cancelled from outside or by its own timeout waits for its
 * children to wind down, as wait_for does: only a fail-fast failure of
 * its own ends it before them.
 */
Test(task, a_gather_being_cancelled_waits_for_its_children)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"g\", \"kind\": \"gather\", \"timeout\": 0.2, \"tasks\": ["
      " {\"id\": \"srv\", \"kind\": \"exec\", \"kill_grace\": \"1s\", "
      "\"shell\": \"trap '' TERM; sleep 10\"},"
      " {\"id\": \"nap\", \"kind\": \"sleep\", \"seconds\": 10}]},"
      "{\"id\": \"teardown\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"g\"], \"run_if\": \"all_done\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "g"), "timeout");
  cr_assert_geq(end_of(r, "srv"), 1.1);
  cr_assert_geq(end_of(r, "g"), end_of(r, "srv"));
  cr_assert_geq(start_of(r, "teardown"), end_of(r, "srv"));
  result_free(r);
}

/*
 * A task whose after task was skipped because nothing failed is not bound
 * to a skip while its other after tasks run: a cancel takes it at once
 * (were it left waiting, this race would wait for itself).
 */
Test(task, a_nothing_failed_skip_does_not_hold_a_cancel_back)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      " {\"id\": \"W\", \"kind\": \"wait\", \"return_when\": "
      "\"first_completed\", \"tasks\": ["
      "  {\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0.2},"
      "  {\"id\": \"t\", \"kind\": \"sleep\", \"seconds\": 0.1, "
      "\"after\": [\"x\", \"y\"]}]},"
      " {\"id\": \"x\", \"kind\": \"sleep\", \"seconds\": 0.1, "
      "\"run_if\": \"any_failed\", \"after\": [\"a\"]},"
      " {\"id\": \"W2\", \"kind\": \"wait\", \"return_when\": "
      "\"first_completed\", \"tasks\": ["
      "  {\"id\": \"y\", \"kind\": \"sleep\", \"seconds\": 30},"
      "  {\"id\": \"z\", \"kind\": \"sleep\", \"seconds\": 0.1, "
      "\"run_if\": \"all_done\", \"after\": [\"t\"]}]}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "t"), "cancelled");
  cr_assert_str_eq(status_of(r, "z"), "ok");
  cr_assert_str_eq(status_of(r, "y"), "cancelled");
  cr_assert_lt(r->wall, 5.0 * time_scale());
  cr_assert_eq(r->exit_code, 0);
  result_free(r);
}

/*
 * How many after tasks a task has, or where in its list the one bound to
 * be skipped stands, does not change what a cancel makes of it.
 */
Test(task, a_long_after_list_is_looked_at_whole)
{
  size_t order;

  for (order = 0; order < 2; order++) {
    struct corun_buf job = CORUN_BUF_INIT;
    struct result *r;
    int i;

    corun_buf_puts(&job, "{\"tasks\": [{\"id\": \"g\", \"kind\": \"gather\", "
                         "\"tasks\": [{\"id\": \"t\", \"kind\": \"sleep\", "
                         "\"seconds\": 0, \"after\": [");
    if (order == 0)
      corun_buf_puts(&job, "\"x\", ");
    for (i = 0; i < 300; i++)
      corun_buf_printf(&job, "%s\"ok%d\"", i ? ", " : "", i);
    if (order == 1)
      corun_buf_puts(&job, ", \"x\"");
    corun_buf_puts(&job, "]}, {\"id\": \"f\", \"kind\": \"sleep\", "
                         "\"seconds\": 0.1, \"fail\": \"boom\"}, {\"id\": "
                         "\"x\", \"kind\": \"sleep\", \"seconds\": 0, "
                         "\"after\": [\"f\"]}");
    for (i = 0; i < 300; i++)
      corun_buf_printf(&job, ", {\"id\": \"ok%d\", \"kind\": \"sleep\", "
                             "\"seconds\": 0}",
                       i);
    corun_buf_puts(&job, "]}]}");
    r = run_job(corun_buf_str(&job), NULL);
    cr_expect_str_eq(status_of(r, "x"), "skipped", "order %zu", order);
    cr_expect_str_eq(status_of(r, "t"), "skipped", "order %zu", order);
    result_free(r);
    corun_buf_free(&job);
  }
}
