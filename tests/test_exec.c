/* SPDX-License-Identifier: MIT */
/*
 * The exec kind: argv and shell, output capture, stdin, env, cwd, exit
 * status and signals, cancellation of the whole process group with
 * SIGTERM then SIGKILL after kill_grace, streaming with [ID] prefixes,
 * retries, and load-time checks.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(exec, .timeout = 30);

#define SLACK (0.4 * time_scale())

static cJSON *res(struct result *r, const char *id)
{
  struct corun_buf b = CORUN_BUF_INIT;
  cJSON *j;

  /* Not result_json(): outputs of 64 KiB outgrow its buffer. */
  corun__task_write_result(task_by_id(r, id), &r->job->secrets, &b);
  j = cJSON_Parse(corun_buf_str(&b));
  corun_buf_free(&b);
  cr_assert_not_null(j);
  return j;
}

static const char *str(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  cr_assert(cJSON_IsString(v), "no string %s", k);
  return v->valuestring;
}

Test(exec, argv_shell_output_and_exit_status)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"a\", \"kind\": \"exec\", \"argv\": [\"printf\", \"%s|\", "
      "\"one two\", \"$HOME\"]},"
      "{\"id\": \"s\", \"kind\": \"exec\", \"shell\": \"echo out; echo oops "
      ">&2; exit 3\"}]}",
      NULL);
  cJSON *a = res(r, "a");
  struct corun_task *s = task_by_id(r, "s");

  /* argv is not a shell: no splitting, no expansion. */
  cr_assert_str_eq(str(a, "stdout"), "one two|$HOME|");
  cr_assert_str_eq(str(a, "stderr"), "");
  cr_assert_eq(cJSON_GetObjectItem(a, "exit_code")->valueint, 0);
  cr_assert(cJSON_IsNull(cJSON_GetObjectItem(a, "signal")));
  cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(a, "truncated")));
  cr_assert_str_eq(status_of(r, "s"), "failed");
  cr_assert_eq(s->err_type, CORUN_ERR_EXIT_STATUS);
  cr_assert_str_eq(s->err_msg, "exit status 3: oops");
  cJSON_Delete(a);
  result_free(r);
}

Test(exec, stdin_env_cwd)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"in\", \"kind\": \"exec\", \"argv\": [\"cat\"], \"stdin\": "
      "\"fed\\nlines\"},"
      "{\"id\": \"env\", \"kind\": \"exec\", \"shell\": \"echo $CORUN_X-$PATH "
      "| cut -c1-8; pwd\", \"env\": {\"CORUN_X\": \"yes\"}, \"cwd\": "
      "\"/tmp\"}]}",
      NULL);
  cJSON *in = res(r, "in"), *env = res(r, "env");

  cr_assert_str_eq(str(in, "stdout"), "fed\nlines");
  /* env adds to the environment; PATH is still there. */
  cr_assert(strncmp(str(env, "stdout"), "yes-/", 5) == 0, "%s",
            str(env, "stdout"));
  cr_assert(strstr(str(env, "stdout"), "\n/tmp\n"), "%s", str(env, "stdout"));
  cJSON_Delete(in);
  cJSON_Delete(env);
  result_free(r);
}

Test(exec, signal_ends_failed_with_type_signal)
{
  struct result *r = run_job("{\"tasks\": [{\"id\": \"k\", \"kind\": "
                             "\"exec\", \"shell\": \"kill -9 $$\"}]}",
                             NULL);

  cr_assert_str_eq(status_of(r, "k"), "failed");
  cr_assert_eq(task_by_id(r, "k")->err_type, CORUN_ERR_SIGNAL);
  cr_assert(strstr(task_by_id(r, "k")->err_msg, "signal 9"));
  result_free(r);
}

Test(exec, timeout_kills_the_whole_process_group)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", \"shell\": \"sleep 5 "
      "& sleep 5; wait\", \"timeout\": 0.3}]}",
      NULL);

  /* The backgrounded grandchild holds the pipes: it had to die too. */
  cr_assert_str_eq(status_of(r, "t"), "timeout");
  cr_assert(r->wall < 0.3 + SLACK, "%f", r->wall);
  result_free(r);
}

Test(exec, sigkill_after_kill_grace_when_sigterm_is_ignored)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", \"shell\": \"trap '' "
      "TERM; sleep 5\", \"timeout\": 0.2, \"kill_grace\": \"400ms\"}]}",
      NULL);

  cr_assert_str_eq(status_of(r, "t"), "timeout");
  cr_assert(r->wall >= 0.58 && r->wall < 0.6 + SLACK, "%f", r->wall);
  result_free(r);
}

Test(exec, second_interrupt_does_not_wait_for_the_grace)
{
  struct run_opts o = {0};
  struct result *r;

  o.interrupt_after = 0.2;
  o.interrupt2_after = 0.4;
  r = run_job("{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", \"shell\": "
              "\"trap '' TERM; sleep 5\", \"kill_grace\": \"10s\"}]}",
              &o);
  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(status_of(r, "t"), "cancelled");
  cr_assert(r->wall < 0.4 + SLACK, "%f", r->wall);
  result_free(r);
}

Test(exec, stream_prefixes_whole_lines)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"p\", \"kind\": \"exec\", \"shell\": \"printf "
      "'a\\\\nb'; sleep 0.1; printf 'c\\\\n'; echo e >&2\", \"stream\": "
      "true}]}",
      NULL);

  /* "b" and "c" arrive apart but are one line. */
  cr_assert_str_eq(corun_buf_str(&r->out), "[p] a\n[p] bc\n");
  result_free(r);
}

Test(exec, output_keeps_the_last_64k)
{
  struct result *r = run_job("{\"tasks\": [{\"id\": \"big\", \"kind\": "
                             "\"exec\", \"shell\": \"head -c 200000 "
                             "/dev/zero | tr '\\\\0' x; echo END\"}]}",
                             NULL);
  cJSON *b = res(r, "big");
  const char *out = str(b, "stdout");

  cr_assert_eq(strlen(out), 64 * 1024);
  cr_assert(strcmp(out + strlen(out) - 4, "END\n") == 0);
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "truncated")));
  cJSON_Delete(b);
  result_free(r);
}

Test(exec, retries_a_failing_command)
{
  char dir[] = "/tmp/corun-exec.XXXXXX", job[1024];
  struct result *r;

  cr_assert_not_null(mkdtemp(dir));
  /* Fails until the third run: each run appends a line to a file. */
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"f\", \"kind\": \"exec\", \"shell\": "
           "\"echo x >> %s/n; test $(wc -l < %s/n) -ge 3\", \"retries\": 3, "
           "\"backoff\": \"10ms\"}]}",
           dir, dir);
  r = run_job(job, NULL);
  cr_assert_str_eq(status_of(r, "f"), "ok");
  cr_assert_eq(task_by_id(r, "f")->attempts, 3);
  result_free(r);
  snprintf(job, sizeof(job), "rm -rf %s", dir);
  cr_assert_eq(system(job), 0);
}

Test(exec, load_time_checks)
{
  char *d;

  d = load_err("{\"tasks\": [{\"kind\": \"exec\"}]}");
  cr_assert(strstr(d, "missing required field \"argv\" or \"shell\""), "%s",
            d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"exec\", \"argv\": [\"a\"], "
               "\"shell\": \"b\"}]}");
  cr_assert(strstr(d, "cannot both be set"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"exec\", \"argv\": []}]}");
  cr_assert(strstr(d, "non-empty array"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"exec\", \"argv\": [\"a\"], "
               "\"env\": {\"A=B\": \"c\"}}]}");
  cr_assert(strstr(d, "\"env\""), "%s", d);
  free(d);
}

Test(exec, cwd_defaults_to_the_job_directory_and_obeys_root)
{
  char dir[] = "/tmp/corun-exec-cwd.XXXXXX", rm[128], *real;
  const char *text = "{\"tasks\": [{\"id\": \"p\", \"kind\": \"exec\", "
                     "\"argv\": [\"pwd\"]}]}";
  const char *out_of_root = "{\"tasks\": [{\"kind\": \"exec\", \"argv\": "
                            "[\"pwd\"], \"cwd\": \"..\"}]}";
  struct corun_load_opts o = {0};
  struct corun_buf d = CORUN_BUF_INIT;
  struct corun_job *job = NULL;
  struct corun_run *run;
  uv_loop_t loop;
  cJSON *res;
  struct corun_buf b = CORUN_BUF_INIT;

  cr_assert_not_null(mkdtemp(dir));
  real = realpath(dir, NULL);
  /* Loaded as if the file were in dir: pwd runs there, not in ours. */
  cr_assert_eq(corun_job_load_text(&job, text, strlen(text), "j.json", dir,
                                   NULL, &d, NULL),
               CORUN_OK, "%s", corun_buf_str(&d));
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  corun__task_write_result(job->tasks[0], &job->secrets, &b);
  res = cJSON_Parse(corun_buf_str(&b));
  cr_assert_not_null(res);
  cr_assert_eq(strncmp(cJSON_GetObjectItem(res, "stdout")->valuestring, real,
                       strlen(real)),
               0, "%s", cJSON_GetObjectItem(res, "stdout")->valuestring);
  cJSON_Delete(res);
  corun_buf_free(&b);
  corun_run_free(run);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
  /* With --root the job's directory, ".." is outside it. */
  o.root = dir;
  cr_assert_eq(corun_job_load_text(&job, out_of_root, strlen(out_of_root),
                                   "j.json", dir, &o, &d, NULL),
               CORUN_EINVAL);
  cr_assert(strstr(corun_buf_str(&d), "\"cwd\""), "%s", corun_buf_str(&d));
  cr_assert(strstr(corun_buf_str(&d), "is outside --root"), "%s",
            corun_buf_str(&d));
  corun_buf_free(&d);
  free(real);
  snprintf(rm, sizeof(rm), "rm -rf %s", dir);
  cr_assert_eq(system(rm), 0);
}
