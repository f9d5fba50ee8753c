/* SPDX-License-Identifier: MIT */
/* Task core semantics: concurrency, completion, cancellation, timeouts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "helpers.h"

TestSuite(task, .timeout = 30);

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
  cr_assert(r->wall >= 1.95 && r->wall < 2.0 + 0.8 * time_scale(), "%f",
            r->wall);
  cr_assert(end_of(r, "hello") >= 0.99 && end_of(r, "hello") < 1.5);
  cr_assert_str_eq(status_of(r, "world"), "ok");
  result_free(r);
}
