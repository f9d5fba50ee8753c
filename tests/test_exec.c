/* SPDX-License-Identifier: MIT */
/*
 * The exec kind: argv and shell, output capture, stdin, env, cwd, exit
 * status and signals, commands that cannot be run, cancellation of the
 * whole process group with SIGTERM then SIGKILL after kill_grace,
 * streaming with [ID] prefixes, retries, attempt_timeout, the task dump's
 * line, and load-time checks.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
  /* A failed command still shows what it came to: status and output. */
  a = res(r, "s");
  cr_assert_eq(cJSON_GetObjectItem(a, "exit_code")->valueint, 3);
  cr_assert_str_eq(str(a, "stdout"), "out\n");
  cr_assert_str_eq(str(a, "stderr"), "oops\n");
  cJSON_Delete(a);
  result_free(r);
}

/* An env name is taken as written: a template there is an error, not "${h}". */
Test(exec, a_template_in_an_env_name_is_a_load_error)
{
  char *d = load_err(
      "{\"vars\": {\"h\": \"X\"}, \"tasks\": [\n"
      "  {\"id\": \"a\", \"kind\": \"exec\", \"argv\": [\"true\"],\n"
      "   \"env\": {\"${h}\": \"1\", \"OK\": \"${h}\"}}\n"
      "]}\n");

  cr_expect_not_null(strstr(d, ":3:20: error: task \"a\": \"env\" \"${h}\": "
                               "a name is taken as written"),
                     "%s", d);
  cr_expect_null(strstr(d, "\"OK\""), "%s", d);
  free(d);
}

Test(exec, stdin_env_cwd)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"in\", \"kind\": \"exec\", \"argv\": [\"cat\"], \"stdin\": "
      "\"fed\\nlines\"},"
      "{\"id\": \"envx\", \"kind\": \"exec\", \"shell\": \"echo $CORUN_X-$PATH "
      "| cut -c1-8; pwd\", \"env\": {\"CORUN_X\": \"yes\"}, \"cwd\": "
      "\"/tmp\"}]}",
      NULL);
  cJSON *in = res(r, "in"), *env = res(r, "envx");

  cr_assert_str_eq(str(in, "stdout"), "fed\nlines");
  /* env adds to the environment; PATH is still there. */
  cr_assert(strncmp(str(env, "stdout"), "yes-/", 5) == 0, "%s",
            str(env, "stdout"));
  cr_assert(strstr(str(env, "stdout"), "\n/tmp\n"), "%s", str(env, "stdout"));
  cJSON_Delete(in);
  cJSON_Delete(env);
  result_free(r);
}

Test(exec, unread_stdin_is_the_command_s_business)
{
  enum { BIG = 256 * 1024 };
  static char text[BIG + 256];
  struct result *r;
  size_t n;

  /*
   * More than a pipe holds, to a command that never reads it: the write
   * fails when it exits. With SIGPIPE ignored, as corun.h asks of the
   * application (helpers.c does), the task still ends ok.
   */
  n = (size_t)snprintf(text, sizeof(text),
                       "{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", "
                       "\"argv\": [\"true\"], \"stdin\": \"");
  memset(text + n, 'a', BIG);
  snprintf(text + n + BIG, sizeof(text) - n - BIG, "\"}]}");
  r = run_job(text, NULL);
  cr_assert_str_eq(status_of(r, "t"), "ok");
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
  cr_assert(strstr(result_json(r, "k"), "\"signal\": 9"), "%s",
            result_json(r, "k"));
  cr_assert(strstr(result_json(r, "k"), "\"exit_code\": null"), "%s",
            result_json(r, "k"));
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

/*
 * A NUL byte in a command's output cuts nothing: the result's stdout and
 * stderr show it as U+FFFD (a report is UTF-8 JSON without NULs), the
 * message keeps what follows it, and a streamed line shows it escaped.
 */
Test(exec, a_nul_byte_in_the_output_cuts_nothing)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"n\", \"kind\": \"exec\", \"shell\": \"printf "
      "'before\\\\000after\\\\n'; printf 'E1\\\\000E2\\\\n' >&2; exit 1\", "
      "\"stream\": true}]}",
      NULL);
  cJSON *n = res(r, "n");

  cr_assert_str_eq(str(n, "stdout"), "before\xef\xbf\xbd" "after\n");
  cr_assert_str_eq(str(n, "stderr"), "E1\xef\xbf\xbd" "E2\n");
  cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(n, "truncated")));
  cr_assert_str_eq(task_by_id(r, "n")->err_msg,
                   "exit status 1: E1\xef\xbf\xbd" "E2");
  cr_assert_str_eq(corun_buf_str(&r->out), "[n] before\\x00after\n");
  cJSON_Delete(n);
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

/* Run after another task, so no check before the run can catch it. */
Test(exec, missing_cwd_is_named_not_the_program)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"first\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"gone\", \"kind\": \"exec\", \"argv\": [\"true\"], "
      "\"cwd\": \"/nonexistent-corun-dir/sub\", \"after\": [\"first\"]},"
      "{\"id\": \"file\", \"kind\": \"exec\", \"argv\": [\"true\"], "
      "\"cwd\": \"/etc/passwd\", \"after\": [\"first\"]}]}",
      NULL);
  struct corun_task *t = task_by_id(r, "gone");

  cr_assert_str_eq(status_of(r, "gone"), "failed");
  cr_assert_eq(t->err_type, CORUN_ERR_IO);
  cr_assert_str_eq(t->err_msg,
                   "cwd \"/nonexistent-corun-dir/sub\": no such directory");
  t = task_by_id(r, "file");
  cr_assert_eq(t->err_type, CORUN_ERR_IO);
  cr_assert_str_eq(t->err_msg, "cwd \"/etc/passwd\": not a directory");
  result_free(r);
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
  run_free(run, &loop);
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
  /*
   * Without "cwd" the command runs in the job's directory, which --root
   * does not confine: a command reads and writes where it likes, and
   * --root holds the paths corun itself opens.
   */
  {
    char sub[160];

    snprintf(sub, sizeof(sub), "%s/sub", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    o.root = sub;
    cr_assert_eq(corun_job_load_text(&job, text, strlen(text), "j.json", dir,
                                     &o, &d, NULL),
                 CORUN_OK, "%s", corun_buf_str(&d));
    corun_job_free(job);
  }
  free(real);
  snprintf(rm, sizeof(rm), "rm -rf %s", dir);
  cr_assert_eq(system(rm), 0);
}

static void rm_rf(const char *dir)
{
  char cmd[256];

  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

Test(exec, output_tail_is_exactly_the_last_64k)
{
  char dir[] = "/tmp/corun-exec-tail.XXXXXX", job[512];
  struct corun_buf want = CORUN_BUF_INIT;
  struct result *r;
  cJSON *seq, *exact;
  int i;

  cr_assert_not_null(mkdtemp(dir));
  /*
   * Numbered lines, so a tail that lost or repeated bytes where reads
   * joined cannot pass for the right one; and exactly 64 KiB, which cat
   * hands over in one read (a pipe's capacity): nothing was cut.
   */
  snprintf(job, sizeof(job),
           "{\"tasks\": ["
           "{\"id\": \"seq\", \"kind\": \"exec\", \"shell\": \"seq 1 30000; "
           "seq 1 20000 >&2\"},"
           "{\"id\": \"exact\", \"kind\": \"exec\", \"shell\": \"head -c "
           "65536 /dev/zero | tr '\\\\0' y > %s/f; cat %s/f\"}]}",
           dir, dir);
  r = run_job(job, NULL);
  seq = res(r, "seq");
  exact = res(r, "exact");
  for (i = 1; i <= 30000; i++)
    corun_buf_printf(&want, "%d\n", i);
  cr_assert_gt(want.len, 64 * 1024);
  cr_assert_str_eq(str(seq, "stdout"), want.p + want.len - 64 * 1024);
  corun_buf_reset(&want);
  for (i = 1; i <= 20000; i++)
    corun_buf_printf(&want, "%d\n", i);
  cr_assert_gt(want.len, 64 * 1024);
  cr_assert_str_eq(str(seq, "stderr"), want.p + want.len - 64 * 1024);
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(seq, "truncated")));
  cr_assert_eq(strlen(str(exact, "stdout")), 64 * 1024);
  cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(exact, "truncated")),
            "64 KiB exactly was kept whole");
  corun_buf_free(&want);
  cJSON_Delete(seq);
  cJSON_Delete(exact);
  result_free(r);
  rm_rf(dir);
}

Test(exec, env_replaces_an_inherited_variable)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"e\", \"kind\": \"exec\", \"shell\": \"echo "
      "$HOME; env | grep -c '^HOME='\", \"env\": {\"HOME\": "
      "\"/corun-home\"}}]}",
      NULL);
  cJSON *e = res(r, "e");

  /* One HOME, ours: a duplicate would leave which one wins to libc. */
  cr_assert_str_eq(str(e, "stdout"), "/corun-home\n1\n");
  cJSON_Delete(e);
  result_free(r);
}

Test(exec, a_command_that_cannot_run_fails_naming_it)
{
  char *script = write_temp("script.sh", "#!/bin/sh\necho hi\n");
  char job[1024];
  struct result *r;
  struct corun_task *t;

  /*
   * write_temp leaves the file without execute permission. After another
   * task, so the checks before the run leave them to the run.
   */
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"first\", \"kind\": \"sleep\", "
           "\"seconds\": 0},"
           "{\"id\": \"abs\", \"kind\": \"exec\", \"argv\": "
           "[\"/nonexistent-corun/no-such-cmd\"], \"retries\": 2, "
           "\"backoff\": \"10ms\", \"after\": [\"first\"]},"
           "{\"id\": \"path\", \"kind\": \"exec\", \"argv\": "
           "[\"corun-no-such-cmd\", \"x\"], \"after\": [\"first\"]},"
           "{\"id\": \"noexec\", \"kind\": \"exec\", \"argv\": [\"%s\"], "
           "\"after\": [\"first\"]}]}",
           script);
  r = run_job(job, NULL);
  t = task_by_id(r, "abs");
  cr_assert_str_eq(status_of(r, "abs"), "failed");
  cr_assert_eq(t->err_type, CORUN_ERR_IO);
  cr_assert_str_eq(t->err_msg, "cannot run /nonexistent-corun/no-such-cmd: "
                               "no such file or directory");
  /* It will not appear by waiting: not retried. */
  cr_assert_eq(t->attempts, 1);
  t = task_by_id(r, "path");
  cr_assert_str_eq(status_of(r, "path"), "failed");
  cr_assert_str_eq(t->err_msg,
                   "cannot run corun-no-such-cmd: no such file or directory");
  t = task_by_id(r, "noexec");
  cr_assert_str_eq(status_of(r, "noexec"), "failed");
  cr_assert_eq(t->err_type, CORUN_ERR_IO);
  cr_assert(strstr(t->err_msg, script) && strstr(t->err_msg, "permission"),
            "%s", t->err_msg);
  result_free(r);
  remove_copy(script);
  free(script);
}

Test(exec, attempt_timeout_fails_with_type_timeout_when_retries_run_out)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"a\", \"kind\": \"exec\", \"shell\": \"echo "
      "started >&2; sleep 10\", \"attempt_timeout\": 0.3, \"retries\": 1, "
      "\"backoff\": 0.1}]}",
      NULL);
  struct corun_task *a = task_by_id(r, "a");

  /* An attempt's timeout is a failure, not the task's own "timeout". */
  cr_assert_str_eq(status_of(r, "a"), "failed");
  cr_assert_eq(a->err_type, CORUN_ERR_TIMEOUT);
  cr_assert_eq(a->attempts, 2);
  cr_assert_str_eq(a->err_msg, "attempt 2 timed out after 0.3s: started");
  /* Two attempts of 0.3 s and a 0.1 s back-off, not ten seconds. */
  cr_assert(r->wall >= 0.65 && r->wall < 0.7 + 2 * SLACK, "%f", r->wall);
  result_free(r);
}

Test(exec, attempt_timeout_then_success)
{
  char dir[] = "/tmp/corun-exec-att.XXXXXX", job[1024];
  struct result *r;
  cJSON *o;

  cr_assert_not_null(mkdtemp(dir));
  /* The first attempt hangs; the second finds its marker and succeeds. */
  snprintf(job, sizeof(job),
           "{\"tasks\": [{\"id\": \"o\", \"kind\": \"exec\", \"shell\": "
           "\"test -f %s/m && echo second && exit 0; touch %s/m; sleep 10\", "
           "\"attempt_timeout\": \"300ms\", \"retries\": 2, \"backoff\": "
           "\"50ms\"}]}",
           dir, dir);
  r = run_job(job, NULL);
  cr_assert_str_eq(status_of(r, "o"), "ok");
  cr_assert_eq(task_by_id(r, "o")->attempts, 2);
  o = res(r, "o");
  cr_assert_str_eq(str(o, "stdout"), "second\n");
  cr_assert(r->wall >= 0.3 && r->wall < 0.35 + 2 * SLACK, "%f", r->wall);
  cJSON_Delete(o);
  result_free(r);
  rm_rf(dir);
}

Test(exec, attempt_timeout_escalates_and_ignores_the_exit_status)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"deaf\", \"kind\": \"exec\", \"shell\": \"trap '' TERM; "
      "sleep 10\", \"attempt_timeout\": 0.2, \"kill_grace\": \"400ms\"},"
      "{\"id\": \"polite\", \"kind\": \"exec\", \"shell\": \"trap 'exit 0' "
      "TERM; sleep 10 & wait\", \"attempt_timeout\": 0.2}]}",
      NULL);
  struct corun_task *deaf = task_by_id(r, "deaf");
  struct corun_task *polite = task_by_id(r, "polite");

  /* SIGTERM ignored: SIGKILL after kill_grace. */
  cr_assert_str_eq(status_of(r, "deaf"), "failed");
  cr_assert_eq(deaf->err_type, CORUN_ERR_TIMEOUT);
  cr_assert_str_eq(deaf->err_msg, "attempt 1 timed out after 0.2s");
  cr_assert(end_of(r, "deaf") >= 0.58 && end_of(r, "deaf") < 0.6 + SLACK,
            "%f", end_of(r, "deaf"));
  /* Exiting 0 on SIGTERM does not make a timed-out attempt a success. */
  cr_assert_str_eq(status_of(r, "polite"), "failed");
  cr_assert_eq(polite->err_type, CORUN_ERR_TIMEOUT);
  cr_assert(end_of(r, "polite") < 0.2 + SLACK, "%f", end_of(r, "polite"));
  result_free(r);
}

Test(exec, own_timeout_wins_over_an_attempt_timeout_in_its_grace)
{
  struct result *r = run_job(
      "{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", \"shell\": \"trap '' "
      "TERM; sleep 10\", \"attempt_timeout\": 0.2, \"kill_grace\": 0.6, "
      "\"retries\": 3, \"backoff\": \"10ms\", \"timeout\": 0.4}]}",
      NULL);
  struct corun_task *t = task_by_id(r, "t");

  /*
   * The task's timeout came while the timed-out attempt was in its grace:
   * that grace runs out (no second one), and nothing is retried.
   */
  cr_assert_str_eq(status_of(r, "t"), "timeout");
  cr_assert_eq(t->err_type, CORUN_ERR_TIMEOUT);
  cr_assert_str_eq(t->err_msg, "timed out after 0.4s");
  cr_assert_eq(t->attempts, 1);
  cr_assert(end_of(r, "t") >= 0.78 && end_of(r, "t") < 0.8 + SLACK, "%f",
            end_of(r, "t"));
  result_free(r);
}

Test(exec, interruption_wins_over_an_attempt_timeout_in_its_grace)
{
  struct run_opts o = {0};
  struct result *r;

  o.interrupt_after = 0.4;
  r = run_job("{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", \"shell\": "
              "\"trap '' TERM; sleep 10\", \"attempt_timeout\": 0.2, "
              "\"kill_grace\": 0.6, \"retries\": 3, \"backoff\": \"10ms\"}]}",
              &o);
  cr_assert_eq(r->exit_code, 130);
  cr_assert_str_eq(status_of(r, "t"), "cancelled");
  cr_assert_eq(task_by_id(r, "t")->attempts, 1);
  cr_assert(r->wall >= 0.78 && r->wall < 0.8 + SLACK, "%f", r->wall);
  result_free(r);
}

Test(exec, timeouts_reach_what_outlives_the_shell)
{
  struct result *r = run_job(
      "{\"tasks\": ["
      "{\"id\": \"own\", \"kind\": \"exec\", \"shell\": \"sleep 10 & exit "
      "0\", \"timeout\": 0.3},"
      "{\"id\": \"att\", \"kind\": \"exec\", \"shell\": \"sleep 10 & exit "
      "0\", \"attempt_timeout\": 0.3}]}",
      NULL);

  /*
   * The shell exits at once but its background sleep holds the output
   * pipes, so the task is not over: the timeouts must still signal the
   * group rather than wait ten seconds for the sleep.
   */
  cr_assert_str_eq(status_of(r, "own"), "timeout");
  cr_assert_str_eq(status_of(r, "att"), "failed");
  cr_assert_eq(task_by_id(r, "att")->err_type, CORUN_ERR_TIMEOUT);
  cr_assert(r->wall < 0.3 + SLACK, "%f", r->wall);
  result_free(r);
}

struct probe {
  uv_timer_t timer;
  struct corun_run *run;
  struct corun_buf before; /* dump while the attempt runs */
  struct corun_buf after;  /* dump once it was sent SIGTERM */
};

static void dump_and_interrupt(uv_timer_t *h)
{
  struct probe *p = h->data;

  corun_run_dump(p->run, &p->before);
  corun_run_interrupt(p->run, SIGINT);
  corun_run_dump(p->run, &p->after);
}

Test(exec, task_dump_shows_the_process_and_its_attempt)
{
  char dir[] = "/tmp/corun-exec-dump.XXXXXX", text[1024], path[128];
  char want[128];
  struct corun_job *job;
  struct corun_run *run;
  struct probe p = {0};
  uv_loop_t loop;
  const char *line;
  double task_s, attempt_s;
  FILE *f;
  int pid = 0;

  cr_assert_not_null(mkdtemp(dir));
  /*
   * The first attempt fails at once and the second starts 0.2 s later:
   * the dump must time the attempt, not the task.
   */
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"t\", \"kind\": \"exec\", \"shell\": "
           "\"test -f %s/m || { touch %s/m; exit 1; }; echo $$ > %s/pid; "
           "sleep 10\", \"retries\": 1, \"backoff\": 0.2, "
           "\"attempt_timeout\": \"20s\"}]}",
           dir, dir, dir);
  job = load_ok(text);
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corun_run_new(&run, job, &loop, NULL, NULL), CORUN_OK);
  p.run = run;
  uv_timer_init(&loop, &p.timer);
  p.timer.data = &p;
  uv_timer_start(&p.timer, dump_and_interrupt, 800, 0);
  corun_run_start(run);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert(corun_run_done(run));
  cr_assert_str_eq(corun__task_status_name(
                       (enum corun_status)job->tasks[0]->status),
                   "cancelled");
  snprintf(path, sizeof(path), "%s/pid", dir);
  f = fopen(path, "r");
  cr_assert_not_null(f, "the second attempt never ran");
  cr_assert_eq(fscanf(f, "%d", &pid), 1);
  fclose(f);

  line = strstr(corun_buf_str(&p.before), "  t exec running ");
  cr_assert_not_null(line, "%s", corun_buf_str(&p.before));
  cr_assert_eq(sscanf(line, "  t exec running %lfs", &task_s), 1);
  snprintf(want, sizeof(want), "process %d, attempt 2, running ", pid);
  line = strstr(corun_buf_str(&p.before), want);
  cr_assert_not_null(line, "%s", corun_buf_str(&p.before));
  cr_assert_eq(sscanf(line + strlen(want), "%lfs", &attempt_s), 1);
  cr_assert(attempt_s > 0.05 && attempt_s <= task_s - 0.19,
            "attempt %.3fs of the task's %.3fs", attempt_s, task_s);
  cr_assert(strstr(line, ", attempt timeout in 19.") ||
                strstr(line, ", attempt timeout in 18."),
            "%s", line);
  cr_assert_null(strstr(corun_buf_str(&p.before), "SIGTERM"));
  cr_assert(strstr(corun_buf_str(&p.after), "cancelling; process") &&
                strstr(corun_buf_str(&p.after), ", sent SIGTERM"),
            "%s", corun_buf_str(&p.after));

  uv_close((uv_handle_t *)&p.timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  run_free(run, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  corun_job_free(job);
  corun_buf_free(&p.before);
  corun_buf_free(&p.after);
  rm_rf(dir);
}

Test(exec, attempt_timeout_load_checks)
{
  char *d;
  struct corun_job *job;

  d = load_err("{\"tasks\": [{\"kind\": \"exec\", \"argv\": [\"true\"], "
               "\"attempt_timeout\": -1}]}");
  cr_assert(strstr(d, "\"attempt_timeout\""), "%s", d);
  free(d);
  /* Taken as a default too, as for fetch. */
  job = load_ok("{\"defaults\": {\"attempt_timeout\": \"1s\"}, \"tasks\": "
                "[{\"kind\": \"exec\", \"argv\": [\"true\"]}]}");
  corun_job_free(job);
}

/*
 * corun_run_close() on a run still going, from a callback on the loop:
 * every task is stopped (the command killed, shielded or not), and the
 * close callback comes once all is released, with no handle left.
 */
struct mid_close {
  struct corun_run *run;
  uv_timer_t timer;
  int closed;
};

static void mid_closed(struct corun_run *run, void *arg)
{
  struct mid_close *m = arg;
  struct corun_outcome o;

  corun_run_outcome(run, &o);
  cr_assert(o.done, "closed before every task ended");
  cr_assert_eq(o.cancelled, 2);
  m->closed++;
}

static void close_now(uv_timer_t *h)
{
  struct mid_close *m = h->data;

  corun_run_close(m->run, mid_closed);
  uv_close((uv_handle_t *)h, NULL);
}

Test(exec, close_mid_run_stops_everything_then_calls_back)
{
  const char *text =
      "{\"tasks\": [{\"id\": \"s\", \"kind\": \"exec\", \"shield\": true, "
      "\"argv\": [\"sleep\", \"30\"]},"
      " {\"id\": \"w\", \"kind\": \"sleep\", \"seconds\": 30}]}";
  struct corun_job *job = load_ok(text);
  struct corun_run_opts ro = CORUN_RUN_OPTS_INIT;
  struct mid_close m = {0};
  uv_loop_t loop;
  uint64_t t0;

  cr_assert_eq(uv_loop_init(&loop), 0);
  ro.arg = &m;
  cr_assert_eq(corun_run_new(&m.run, job, &loop, &ro, NULL), CORUN_OK);
  uv_timer_init(&loop, &m.timer);
  m.timer.data = &m;
  uv_timer_start(&m.timer, close_now, 100, 0);
  t0 = uv_hrtime();
  corun_run_start(m.run);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(m.closed, 1);
  cr_assert_lt((double)(uv_hrtime() - t0) / 1e9, 10.0 * time_scale());
  cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
  corun_job_free(job);
}

/* "argv" from defaults and a task's own "shell": the task's own runs. */
Test(exec, a_task_s_own_shell_wins_over_a_default_argv)
{
  struct result *r = run_job(
      "{\"defaults\": {\"argv\": [\"echo\", \"from-defaults\"]}, \"tasks\": ["
      "{\"id\": \"own\", \"kind\": \"exec\", \"shell\": \"echo own\"},"
      "{\"id\": \"dflt\", \"kind\": \"exec\"}]}",
      NULL);
  cJSON *own = res(r, "own"), *dflt = res(r, "dflt");

  cr_assert_str_eq(str(own, "stdout"), "own\n");
  cr_assert_str_eq(str(dflt, "stdout"), "from-defaults\n");
  cJSON_Delete(own);
  cJSON_Delete(dflt);
  result_free(r);
}
