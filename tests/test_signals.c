/* SPDX-License-Identifier: MIT */
/*
 * Signals sent to the corun binary: the first SIGINT/SIGTERM cancels the
 * run (shielded tasks finish, the report is still written, exit 130/143),
 * a second one stops at once, SIGUSR1 dumps the tasks and the run goes on.
 * run_cli() waits for its child, so this suite has its own spawn helper.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "helpers.h"

#define FX(name) CORUN_FIXTURES "/cli/" name

struct child {
  pid_t pid;
  char out[40];
  char err[40];
  char report[40];
  double t0;   /* when it was spawned */
  double tend; /* when it was reaped */
  int status;  /* exit code; -1 while running; 1000 + signal if killed */
};

/* The one child of the running test, for teardown to clean up. */
static struct child kid;

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void teardown(void)
{
  /* Never leave a corun running, whatever the test did. */
  if (kid.pid > 0 && kid.status == -1) {
    kill(kid.pid, SIGKILL);
    while (waitpid(kid.pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  if (kid.out[0])
    unlink(kid.out);
  if (kid.err[0])
    unlink(kid.err);
  if (kid.report[0])
    unlink(kid.report);
}

TestSuite(signals, .fini = teardown, .timeout = 60);

static int temp_file(char *path, size_t size, const char *what)
{
  int fd;

  snprintf(path, size, "/tmp/corun-sig-%s.XXXXXX", what);
  fd = mkstemp(path);
  cr_assert(fd >= 0);
  return fd;
}

/* Starts corun FILE --report TMP -q? ARGS..., stdout and stderr to files. */
static void spawn(const char *file, const char *const *extra)
{
  const char *args[16];
  struct spawn_opts o = {.free_fds = -1};
  size_t n = 0;

  memset(&kid, 0, sizeof(kid));
  kid.status = -1;
  close(temp_file(kid.out, sizeof(kid.out), "out"));
  close(temp_file(kid.err, sizeof(kid.err), "err"));
  close(temp_file(kid.report, sizeof(kid.report), "report"));
  args[n++] = "--report";
  args[n++] = kid.report;
  while (extra && *extra && n < 14)
    args[n++] = *extra++;
  args[n++] = file;
  args[n] = NULL;
  o.out = kid.out;
  o.err = kid.err;
  kid.t0 = now_s();
  kid.pid = spawn_cli(args, &o);
}

static char *slurp(const char *path)
{
  char *s = read_file(path, NULL);

  cr_assert_not_null(s, "cannot open %s", path);
  return s;
}

/* Polls waitpid for up to secs; returns 1 once the child has exited. */
static int wait_exit(double secs)
{
  double until = now_s() + secs;
  int st;

  if (kid.status != -1)
    return 1;
  for (;;) {
    pid_t r = waitpid(kid.pid, &st, WNOHANG);

    if (r == kid.pid) {
      kid.tend = now_s();
      kid.status = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
      return 1;
    }
    if (now_s() >= until)
      return 0;
    usleep(10 * 1000);
  }
}

/*
 * Waits until the "ready" task has printed: then corun's loop runs and its
 * signal handlers are installed (a signal before that would kill it with
 * the default action, which would look like the right exit code).
 */
static void wait_ready(void)
{
  double until = now_s() + 10.0 * time_scale();

  for (;;) {
    char *out = slurp(kid.out);
    int ready = strstr(out, "ready\n") != NULL;

    free(out);
    if (ready)
      return;
    cr_assert(!wait_exit(0), "corun exited early (%d): %s", kid.status,
              slurp(kid.err));
    cr_assert_lt(now_s(), until, "corun never got ready");
    usleep(10 * 1000);
  }
}

/* Waits for the exit, failing the test if it takes longer than secs. */
static void reap(double secs)
{
  double from = now_s();
  char *err;

  cr_assert(wait_exit(secs), "corun still running %.1fs later", now_s() - from);
  cr_assert_lt(kid.status, 1000, "corun died of signal %d", kid.status - 1000);
  err = slurp(kid.err);
  cr_assert_null(strstr(err, "Sanitizer"), "%s", err);
  cr_assert_null(strstr(err, "runtime error:"), "%s", err);
  free(err);
}

static cJSON *report(void)
{
  char *text = slurp(kid.report);
  cJSON *j = cJSON_ParseWithOpts(text, NULL, 1);

  cr_assert_not_null(j, "the report is not JSON: '%s'", text);
  free(text);
  return j;
}

static const char *str_of(const cJSON *obj, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

  cr_assert(cJSON_IsString(v), "\"%s\" is not a string", key);
  return v->valuestring;
}

static void assert_task(const cJSON *rep, const char *id, const char *status)
{
  const cJSON *t = report_task(rep, id);

  cr_assert_str_eq(str_of(t, "status"), status, "task %s", id);
  if (strcmp(status, "cancelled") == 0)
    cr_assert_str_eq(
        str_of(cJSON_GetObjectItemCaseSensitive(t, "error"), "type"),
        "cancelled", "task %s", id);
}

static double num_of(const cJSON *obj, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

  cr_assert(cJSON_IsNumber(v), "\"%s\" is not a number", key);
  return v->valuedouble;
}

/* The first SIGINT or SIGTERM cancels everything and exits promptly. */
static void interrupt_once(int sig, int code)
{
  double sent;
  cJSON *rep;
  char *out;

  spawn(FX("sig-cancel.json"), (const char *const[]){"-q", NULL});
  wait_ready();
  sent = now_s();
  kill(kid.pid, sig);
  reap(3.0 * time_scale());
  cr_assert_eq(kid.status, code);
  cr_assert_lt(kid.tend - sent, 2.0 * time_scale(), "slow to stop");
  out = slurp(kid.out);
  cr_assert_str_eq(out, "ready\n", "a cancelled task printed");
  free(out);

  rep = report();
  cr_assert_str_eq(str_of(rep, "status"), "cancelled");
  cr_assert_eq(num_of(rep, "exit_code"), code);
  assert_task(rep, "ready", "ok");
  assert_task(rep, "slow", "cancelled");
  assert_task(rep, "outer", "cancelled");
  assert_task(rep, "inner", "cancelled");
  cJSON_Delete(rep);
}

Test(signals, sigint_cancels_writes_the_report_and_exits_130)
{
  interrupt_once(SIGINT, 130);
}

Test(signals, sigterm_cancels_writes_the_report_and_exits_143)
{
  interrupt_once(SIGTERM, 143);
}

Test(signals, summary_table_still_printed_after_sigint)
{
  char *err;

  spawn(FX("sig-cancel.json"), NULL);
  wait_ready();
  kill(kid.pid, SIGINT);
  reap(3.0 * time_scale());
  cr_assert_eq(kid.status, 130);
  err = slurp(kid.err);
  cr_assert_not_null(strstr(err, "cancelled"), "%s", err);
  cr_assert_not_null(strstr(err, "inner"), "%s", err);
  free(err);
}

Test(signals, shielded_tasks_finish_after_the_first_sigint)
{
  double sent;
  cJSON *rep;
  char *out;

  spawn(FX("sig-shield.json"), (const char *const[]){"-q", NULL});
  wait_ready();
  sent = now_s();
  kill(kid.pid, SIGINT);
  /* The 1.5 s shielded sleeps hold the run open... */
  cr_assert(!wait_exit(0.6), "exited (%d) before the shielded tasks ended",
            kid.status);
  /* ...and it ends when they do, not after the 30 s siblings. */
  reap(1.5 + 3.0 * time_scale());
  cr_assert_eq(kid.status, 130);
  cr_assert_geq(kid.tend - kid.t0, 1.4, "shielded sleep cut short");
  cr_assert_lt(kid.tend - sent, 1.5 + 2.0 * time_scale());
  out = slurp(kid.out);
  cr_assert_not_null(strstr(out, "guard done\n"), "%s", out);
  cr_assert_not_null(strstr(out, "kid done\n"), "%s", out);
  cr_assert_null(strstr(out, "never"), "%s", out);
  free(out);
  /*
   * Standard error is a file: no line for a person at a terminal (the
   * summary of -q, which names the cancelled tasks, is there).
   */
  out = slurp(kid.err);
  cr_assert_null(strstr(out, "Ctrl-C again"), "%s", out);
  free(out);

  rep = report();
  cr_assert_str_eq(str_of(rep, "status"), "cancelled");
  assert_task(rep, "guard", "ok");
  assert_task(rep, "kid", "ok");
  assert_task(rep, "plain", "cancelled");
  assert_task(rep, "other", "cancelled");
  /* The gather stops waiting for its shielded child. */
  assert_task(rep, "group", "cancelled");
  cr_assert_lt(num_of(report_task(rep, "plain"), "end"), 1.0 * time_scale());
  cr_assert_geq(num_of(report_task(rep, "guard"), "end"), 1.45);
  cJSON_Delete(rep);
}

/*
 * Runs job_text with corun under a pseudo-terminal (script(1), util-linux)
 * and flags, waits until its output holds each word of ready, then after
 * delay seconds sends one SIGINT. Returns what the terminal showed, with
 * "exit=N" at the end, and how long it all took in *took.
 */
static char *sigint_on_a_tty(const char *job_text, const char *flags,
                             const char *const *ready, double delay,
                             double *took)
{
  char *job = write_temp("job.json", job_text);
  char *out = write_temp("out.txt", "");
  struct corun_buf sh = CORUN_BUF_INIT, cmd = CORUN_BUF_INIT;
  char *script, *got;
  double t0;
  int st;

  corun_buf_printf(&sh, "'%s' -q --progress never %s '%s' > '%s' & p=$!\n"
                        "n=0; until true",
                   CORUN_BIN, flags, job, out);
  for (; *ready; ready++)
    corun_buf_printf(&sh, " && grep -q '%s' '%s'", *ready, out);
  corun_buf_printf(&sh,
                   "; do\n"
                   "  n=$((n+1)); [ $n -gt 500 ] && break; sleep 0.02\n"
                   "done\n"
                   "sleep %.2f; kill -INT $p; wait $p; echo \"exit=$?\"\n",
                   delay);
  script = write_temp("tty.sh", corun_buf_str(&sh));
  corun_buf_printf(&cmd, "/usr/bin/script -qfec 'sh %s' /dev/null", script);
  t0 = now_s();
  got = run_shell(corun_buf_str(&cmd), &st);
  if (took)
    *took = now_s() - t0;
  unlink(job);
  unlink(out);
  unlink(script);
  free(job);
  free(out);
  free(script);
  corun_buf_free(&sh);
  corun_buf_free(&cmd);
  return got;
}

/* On a terminal the first Ctrl-C says what corun still waits for. */
Test(signals, first_sigint_on_a_terminal_says_what_corun_waits_for)
{
  static const char *const ready[] = {"go", "ready", NULL};
  const char *job_text =
      "{\"tasks\": [\n"
      "  {\"id\": \"ready\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"message\": \"ready\"},\n"
      "  {\"id\": \"guard\", \"kind\": \"sleep\", \"seconds\": 1, "
      "\"shield\": true},\n"
      "  {\"id\": \"kid\", \"kind\": \"sleep\", \"seconds\": 1, "
      "\"shield\": true},\n"
      "  {\"id\": \"build\", \"kind\": \"exec\", \"shell\": \"trap '' TERM; "
      "echo go; sleep 5\", \"stream\": true, \"kill_grace\": \"1s\"},\n"
      "  {\"id\": \"plain\", \"kind\": \"sleep\", \"seconds\": 30}\n"
      "]}\n";
  char *got;
  const char *hit;

  if (access("/usr/bin/script", X_OK) != 0)
    cr_skip_test("no /usr/bin/script");
  /* Signal once both "ready" and the command's trap are in place. */
  got = sigint_on_a_tty(job_text, "", ready, 0, NULL);
  cr_assert_not_null(strstr(got, "exit=130"), "%s", got);
  hit = strstr(got, "corun: interrupted; waiting for 2 shielded tasks "
                    "(guard, kid) and 1 command in its kill grace (build, "
                    "pid ");
  cr_assert_not_null(hit, "%s", got);
  cr_assert_not_null(strstr(hit, "); press Ctrl-C again to stop at once"), "%s",
                     got);
  /* Once only. */
  cr_assert_null(strstr(hit + 1, "corun: interrupted"), "%s", got);
  free(got);
}

/* The same line names the cleanups the run still waits for. */
Test(signals, first_sigint_on_a_terminal_names_the_cleanups)
{
  static const char *const ready[] = {"ready", NULL};
  const char *job_text =
      "{\"tasks\": [\n"
      "  {\"id\": \"ready\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"message\": \"ready\"},\n"
      "  {\"id\": \"guard\", \"kind\": \"sleep\", \"seconds\": 1, "
      "\"shield\": true},\n"
      "  {\"id\": \"work\", \"kind\": \"sleep\", \"seconds\": 30},\n"
      "  {\"id\": \"clean\", \"kind\": \"sleep\", \"seconds\": 1, "
      "\"after\": [\"work\"], \"run_if\": \"all_done\"}\n"
      "]}\n";
  char *got;

  if (access("/usr/bin/script", X_OK) != 0)
    cr_skip_test("no /usr/bin/script");
  got = sigint_on_a_tty(job_text, "", ready, 0, NULL);
  cr_assert_not_null(strstr(got, "exit=130"), "%s", got);
  cr_assert_not_null(strstr(got, "corun: interrupted; waiting for 1 shielded "
                                 "task (guard) and 1 cleanup (clean); press "
                                 "Ctrl-C again to stop at once"),
                     "%s", got);
  free(got);
}

/*
 * After --timeout, a Ctrl-C is already the stop at once: nothing on the
 * terminal asks for another.
 */
Test(signals, sigint_after_the_whole_run_timeout_asks_for_nothing_more)
{
  static const char *const ready[] = {"go", NULL};
  const char *job_text =
      "{\"tasks\": [\n"
      "  {\"id\": \"build\", \"kind\": \"exec\", \"shell\": \"trap '' TERM; "
      "echo go; sleep 30\", \"stream\": true, \"kill_grace\": \"20s\"}\n"
      "]}\n";
  char *got;
  double took;

  if (access("/usr/bin/script", X_OK) != 0)
    cr_skip_test("no /usr/bin/script");
  /* Ctrl-C well after the 0.3 s timeout, while the command sits in its grace. */
  got = sigint_on_a_tty(job_text, "--timeout 0.3", ready, 1.0 * time_scale(),
                        &took);
  cr_assert_lt(took, 10.0 * time_scale(), "the grace held: %s", got);
  cr_assert_not_null(strstr(got, "exit=124"), "%s", got);
  cr_assert_null(strstr(got, "Ctrl-C again"), "%s", got);
  cr_assert_null(strstr(got, "corun: interrupted"), "%s", got);
  free(got);
}

Test(signals, second_sigint_stops_at_once)
{
  double sent;
  cJSON *rep;
  char *out;

  spawn(FX("sig-shield-long.json"), (const char *const[]){"-q", NULL});
  wait_ready();
  kill(kid.pid, SIGINT);
  cr_assert(!wait_exit(0.3), "the shielded 30 s sleep did not hold the run");
  sent = now_s();
  kill(kid.pid, SIGINT);
  reap(3.0 * time_scale());
  cr_assert_eq(kid.status, 130);
  cr_assert_lt(kid.tend - sent, 2.0 * time_scale(), "slow to stop");
  out = slurp(kid.out);
  cr_assert_str_eq(out, "ready\n");
  free(out);
  rep = report();
  cr_assert_str_eq(str_of(rep, "status"), "cancelled");
  assert_task(rep, "guard", "cancelled");
  assert_task(rep, "plain", "cancelled");
  cJSON_Delete(rep);
}

Test(signals, sigterm_then_sigint_keeps_143)
{
  spawn(FX("sig-shield-long.json"), (const char *const[]){"-q", NULL});
  wait_ready();
  kill(kid.pid, SIGTERM);
  cr_assert(!wait_exit(0.3), "the shielded sleep did not hold the run");
  kill(kid.pid, SIGINT);
  reap(3.0 * time_scale());
  /* The first signal is the reason the run stopped. */
  cr_assert_eq(kid.status, 143);
}

Test(signals, sigusr1_dumps_tasks_and_the_run_goes_on)
{
  char *out, *err, *dump;
  cJSON *rep;

  spawn(FX("sig-usr1.json"), (const char *const[]){"-q", NULL});
  wait_ready();
  kill(kid.pid, SIGUSR1);
  /* The dump arrives while the 1 s sleeps still run. */
  {
    double until = now_s() + 0.8;
    int seen = 0;

    while (!seen && now_s() < until) {
      err = slurp(kid.err);
      seen = strstr(err, "leaf") != NULL;
      free(err);
      if (!seen)
        usleep(10 * 1000);
    }
    cr_assert(seen, "no dump on SIGUSR1");
  }
  cr_assert(!wait_exit(0), "SIGUSR1 ended the run");
  reap(1.0 + 3.0 * time_scale());
  cr_assert_eq(kid.status, 0);
  cr_assert_geq(kid.tend - kid.t0, 0.95, "sleeps cut short");
  out = slurp(kid.out);
  cr_assert_str_eq(out, "ready\nwork done\n");
  free(out);

  err = slurp(kid.err);
  dump = strstr(err, "task dump");
  cr_assert_not_null(dump, "%s", err);
  /* The tree, with what is still running. */
  cr_assert_not_null(strstr(dump, "work"), "%s", err);
  cr_assert_not_null(strstr(dump, "outer"), "%s", err);
  cr_assert_not_null(strstr(dump, "running"), "%s", err);
  free(err);
  rep = report();
  cr_assert_str_eq(str_of(rep, "status"), "ok");
  cJSON_Delete(rep);
}

Test(signals, debug_dumps_on_interruption)
{
  char *err, *first, *second;

  spawn(FX("sig-shield.json"), (const char *const[]){"-q", "--debug", NULL});
  wait_ready();
  kill(kid.pid, SIGINT);
  reap(1.5 + 3.0 * time_scale());
  cr_assert_eq(kid.status, 130);
  err = slurp(kid.err);
  /* One dump at the interruption, showing the shielded task running... */
  first = strstr(err, "task dump");
  cr_assert_not_null(first, "%s", err);
  second = strstr(first + 1, "task dump");
  cr_assert_not_null(second, "no dump at interruption and at exit:\n%s", err);
  {
    const char *guard = strstr(first, " guard ");
    const char *eol = guard ? strchr(guard, '\n') : NULL;
    char line[256];

    cr_assert(guard && eol && guard < second, "%s", err);
    snprintf(line, sizeof(line), "%.*s", (int)(eol - guard), guard);
    cr_assert_not_null(strstr(line, "running"), "%s", err);
  }
  /* ...and one at exit. */
  cr_assert_not_null(strstr(second, "guard"), "%s", err);
  free(err);
}

/*
 * A cleanup ("run_if": "all_done") after a long task: it writes "started"
 * to a file at once, sleeps hold seconds, then writes "cleaned".
 */
static char *cleanup_job(const char *dir, double hold)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char *path = path_join(dir, "job.json"), *mark = path_join(dir, "mark");
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f);
  corun_buf_printf(
      &b,
      "{\"tasks\": [\n"
      "  {\"id\": \"ready\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"message\": \"ready\"},\n"
      "  {\"id\": \"work\", \"kind\": \"exec\", \"argv\": [\"sleep\", "
      "\"30\"]},\n"
      "  {\"id\": \"clean\", \"kind\": \"exec\", \"after\": [\"work\"], "
      "\"run_if\": \"all_done\", \"shell\": \"echo started > '%s'; "
      "sleep %g; echo cleaned >> '%s'\"},\n"
      "  {\"id\": \"next\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"work\"]}\n"
      "]}\n",
      mark, hold, mark);
  fputs(corun_buf_str(&b), f);
  cr_assert_eq(fclose(f), 0);
  corun_buf_free(&b);
  free(mark);
  return path;
}

static char *mark_of(const char *dir)
{
  char *mark = path_join(dir, "mark");
  char *text = read_file(mark, NULL);

  free(mark);
  return text ? text : strdup("");
}

static void drop_cleanup_job(char *dir, char *job)
{
  char *mark = path_join(dir, "mark");

  unlink(mark);
  unlink(job);
  rmdir(dir);
  free(mark);
  free(job);
  free(dir);
}

Test(signals, cleanup_runs_after_the_first_sigint)
{
  char *dir = tmp_dir("cleanup"), *job = cleanup_job(dir, 0.3), *mark;
  cJSON *rep;

  spawn(job, (const char *const[]){"-q", NULL});
  wait_ready();
  kill(kid.pid, SIGINT);
  /* The cleanup holds the run open for its 0.3 s... */
  cr_assert(!wait_exit(0.15), "exited (%d) before the cleanup ended",
            kid.status);
  reap(3.0 * time_scale());
  cr_assert_eq(kid.status, 130);
  mark = mark_of(dir);
  cr_assert_str_eq(mark, "started\ncleaned\n");
  free(mark);
  rep = report();
  cr_assert_str_eq(str_of(rep, "status"), "cancelled");
  assert_task(rep, "work", "cancelled");
  assert_task(rep, "clean", "ok");
  assert_task(rep, "next", "cancelled");
  cJSON_Delete(rep);
  drop_cleanup_job(dir, job);
}

Test(signals, second_sigint_cancels_the_cleanup)
{
  char *dir = tmp_dir("cleanup2"), *job = cleanup_job(dir, 30), *mark;
  double until, sent;
  cJSON *rep;

  spawn(job, (const char *const[]){"-q", NULL});
  wait_ready();
  kill(kid.pid, SIGINT);
  until = now_s() + 5.0 * time_scale();
  for (;;) {
    mark = mark_of(dir);
    if (strstr(mark, "started"))
      break;
    free(mark);
    cr_assert(!wait_exit(0), "exited (%d) without running the cleanup",
              kid.status);
    cr_assert_lt(now_s(), until, "the cleanup never started");
    usleep(10 * 1000);
  }
  free(mark);
  sent = now_s();
  kill(kid.pid, SIGINT);
  reap(3.0 * time_scale());
  cr_assert_eq(kid.status, 130);
  cr_assert_lt(kid.tend - sent, 2.0 * time_scale(), "slow to stop");
  mark = mark_of(dir);
  cr_assert_str_eq(mark, "started\n");
  free(mark);
  rep = report();
  assert_task(rep, "clean", "cancelled");
  cJSON_Delete(rep);
  drop_cleanup_job(dir, job);
}

Test(signals, cleanup_runs_after_the_whole_run_timeout)
{
  char *dir = tmp_dir("cleanup3"), *job = cleanup_job(dir, 0.2), *mark;
  cJSON *rep;

  spawn(job, (const char *const[]){"-q", "--timeout", "0.3", NULL});
  reap(5.0 * time_scale());
  cr_assert_eq(kid.status, 124);
  mark = mark_of(dir);
  cr_assert_str_eq(mark, "started\ncleaned\n");
  free(mark);
  rep = report();
  cr_assert_str_eq(str_of(rep, "status"), "cancelled");
  assert_task(rep, "work", "cancelled");
  assert_task(rep, "clean", "ok");
  cJSON_Delete(rep);
  drop_cleanup_job(dir, job);
}

/*
 * A job whose commands catch SIGTERM and take `hold` seconds to finish
 * (writing "flushed" to dir/mark), kill_grace 5 s; one of them shielded.
 */
static char *grace_job(const char *dir, double hold)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char *path = path_join(dir, "job.json"), *mark = path_join(dir, "mark");
  FILE *f = fopen(path, "w");
  int i;

  cr_assert_not_null(f);
  corun_buf_puts(&b, "{\"tasks\": [\n");
  for (i = 0; i < 2; i++)
    corun_buf_printf(
        &b,
        "  {\"id\": \"c%d\", \"kind\": \"exec\", \"kill_grace\": \"5s\", "
        "\"shield\": %s, \"shell\": \"trap 'sleep %g; echo flushed%d >> "
        "\\\"%s\\\"; exit 0' TERM; sleep 30 & wait\"},\n",
        i, i ? "true" : "false", hold, i, mark);
  corun_buf_puts(&b, "  {\"id\": \"ready\", \"kind\": \"sleep\", "
                     "\"seconds\": 0.2, \"message\": \"ready\"}\n]}\n");
  fputs(corun_buf_str(&b), f);
  cr_assert_eq(fclose(f), 0);
  corun_buf_free(&b);
  free(mark);
  return path;
}

/*
 * --timeout cancels every task, shielded ones too, and a command gets
 * SIGTERM and its kill_grace as on any cancel: it may finish its work
 * (exit 124 once it has); a signal in that grace stops it at once.
 */
Test(signals, whole_run_timeout_gives_commands_their_kill_grace)
{
  char *dir = tmp_dir("grace"), *job = grace_job(dir, 0.3), *mark;
  cJSON *rep;
  double sent;

  spawn(job, (const char *const[]){"-q", "--timeout", "0.5", NULL});
  reap(8.0 * time_scale());
  cr_assert_eq(kid.status, 124);
  cr_assert_lt(kid.tend - kid.t0, 4.0 * time_scale(),
               "waited out the grace");
  mark = mark_of(dir);
  cr_assert(strstr(mark, "flushed0\n") && strstr(mark, "flushed1\n"),
            "the commands were killed in their grace: '%s'", mark);
  free(mark);
  rep = report();
  assert_task(rep, "c0", "cancelled");
  assert_task(rep, "c1", "cancelled");
  cJSON_Delete(rep);
  drop_cleanup_job(dir, job);

  /* Held longer than the wait: a SIGINT in the grace kills them now. */
  dir = tmp_dir("grace");
  job = grace_job(dir, 20);
  spawn(job, (const char *const[]){"-q", "--timeout", "0.5", NULL});
  wait_ready();
  usleep(700 * 1000);
  cr_assert(!wait_exit(0), "corun did not wait in the grace");
  sent = now_s();
  kill(kid.pid, SIGINT);
  reap(4.0 * time_scale());
  cr_assert_eq(kid.status, 124);
  cr_assert_lt(kid.tend - sent, 2.0 * time_scale(), "slow to stop");
  mark = mark_of(dir);
  cr_assert_str_eq(mark, "");
  free(mark);
  drop_cleanup_job(dir, job);
}

/*
 * A command already in its grace when --timeout comes (its own timeout,
 * or its attempt_timeout, sent SIGTERM first) keeps that grace: the
 * whole-run timeout is not a second stop.
 */
Test(signals, whole_run_timeout_keeps_a_grace_under_way)
{
  char *dir = tmp_dir("grace2");
  char *path = path_join(dir, "job.json"), *mark = path_join(dir, "mark");
  struct corun_buf b = CORUN_BUF_INIT;
  FILE *f = fopen(path, "w");
  char *text;

  cr_assert_not_null(f);
  corun_buf_printf(
      &b,
      "{\"tasks\": [\n"
      "  {\"id\": \"own\", \"kind\": \"exec\", \"timeout\": \"0.3s\", "
      "\"kill_grace\": \"5s\", \"shell\": \"trap 'sleep 0.6; echo own >> "
      "\\\"%s\\\"; exit 0' TERM; sleep 30 & wait\"},\n"
      "  {\"id\": \"att\", \"kind\": \"exec\", \"attempt_timeout\": \"0.3s\", "
      "\"kill_grace\": \"5s\", \"shell\": \"trap 'sleep 0.6; echo att >> "
      "\\\"%s\\\"; exit 0' TERM; sleep 30 & wait\"}\n"
      "]}\n",
      mark, mark);
  fputs(corun_buf_str(&b), f);
  cr_assert_eq(fclose(f), 0);
  corun_buf_free(&b);
  spawn(path, (const char *const[]){"-q", "--timeout", "0.5", NULL});
  reap(8.0 * time_scale());
  cr_assert_eq(kid.status, 124);
  text = mark_of(dir);
  cr_assert(strstr(text, "own\n") && strstr(text, "att\n"),
            "killed in their grace: '%s'", text);
  free(text);
  free(mark);
  drop_cleanup_job(dir, path);
}
