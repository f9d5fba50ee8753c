/* SPDX-License-Identifier: MIT */
/*
 * Faults that come from the process's surroundings rather than from a
 * server or a command: standard descriptors closed by whoever started
 * corun (cron, daemons, CI runners), and resource limits ("ulimit -f").
 * Each case runs the corun binary and
 * asserts the exact exit status and what was written.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "server.h"
#include "util/buf.h"

TestSuite(hazards, .timeout = 60);

static const char job_text[] =
    "{\"tasks\": [\n"
    "  {\"id\": \"say\", \"kind\": \"sleep\", \"seconds\": 0.05, "
    "\"message\": \"hello from say\"},\n"
    "  {\"id\": \"cmd\", \"kind\": \"exec\", \"shell\": \"echo out; echo err "
    ">&2\"}\n"
    "]}\n";

/*
 * Run corun with the standard descriptors in `closed` (a bit per fd)
 * closed, files limited to fsize bytes (if > 0), stderr to err_path (if
 * not NULL), and extra arguments; returns its exit status (1000 + signal),
 * or -1 if it had not ended after 20 s (it is killed then).
 */
static int run_limited(unsigned closed, long fsize, const char *err_path,
                       const char *const *args)
{
  const char *argv[16];
  size_t n = 0;
  pid_t pid;
  int status = 0, i;

  argv[n++] = CORUN_BIN;
  while (*args && n < 15)
    argv[n++] = *args++;
  argv[n] = NULL;
  pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    for (i = 0; i <= 2; i++)
      if (closed & (1u << i))
        close(i);
    if (err_path && !(closed & 4u)) {
      int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

      if (fd >= 0 && fd != 2) {
        dup2(fd, 2);
        close(fd);
      }
    }
    if (fsize > 0) {
      struct rlimit rl = {(rlim_t)fsize, (rlim_t)fsize};

      setrlimit(RLIMIT_FSIZE, &rl);
    }
    execv(CORUN_BIN, (char *const *)argv);
    _exit(127);
  }
  for (i = 0; i < 2000; i++) {
    pid_t w = waitpid(pid, &status, WNOHANG);

    if (w == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status)
                               : 1000 + WTERMSIG(status);
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

/* Every combination of closed standard descriptors, with a report file. */
Test(hazards, closed_standard_descriptors_neither_abort_nor_mix_outputs)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *rep = path_join(dir, "report.json");
  FILE *f = fopen(job, "w");
  unsigned closed;

  cr_assert_not_null(f);
  fputs(job_text, f);
  fclose(f);
  for (closed = 1; closed < 8; closed++) {
    const char *args[] = {"--report", rep, job, NULL};
    char *text;
    cJSON *r;
    int rc;

    unlink(rep);
    rc = run_limited(closed, 0, NULL, args);
    cr_expect_eq(rc, 0, "closed mask %u: exit %d (134 is libuv's abort)",
                 closed, rc);
    /* The report file must hold the report alone, not task output that
       went to a descriptor number the report took. */
    text = read_file(rep, NULL);
    cr_assert_not_null(text, "closed mask %u: no report", closed);
    r = cJSON_Parse(text);
    cr_expect_not_null(r, "closed mask %u: report is not JSON:\n%s", closed,
                       text);
    cr_expect_null(strstr(text, "hello from say\n"));
    cJSON_Delete(r);
    free(text);
  }
  unlink(rep);
  unlink(job);
  rmdir(dir);
  free(rep);
  free(job);
  free(dir);
}

/*
 * --report - (or any report to -) with standard output closed at the
 * start has nowhere to go: a usage error before anything runs, naming
 * why, not a report written to /dev/null and exit 0.
 */
Test(hazards, a_report_to_a_closed_standard_output_is_refused)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *err = path_join(dir, "err.txt");
  FILE *f = fopen(job, "w");
  static const char *const flags[] = {"--report", "--junit", "--trace",
                                      "--html"};
  size_t i;

  cr_assert_not_null(f);
  fputs(job_text, f);
  fclose(f);
  for (i = 0; i < 7; i++) {
    static const char *const other[] = {"/dev/stdout", "//dev/fd/1",
                                        "/dev/../proc/self/fd/1"};
    const char *args[] = {"-q", i < 4 ? flags[i] : "--report",
                          i < 4 ? "-" : other[i - 4], job, NULL};
    char *text;
    int rc = run_limited(2u, 0, err, args);

    cr_expect_eq(rc, 2, "%s: exit %d", args[1], rc);
    text = read_file(err, NULL);
    cr_expect(text && strstr(text, "closed when corun started"), "%s: %s",
              args[1], text ? text : "(nothing)");
    free(text);
  }
  {
    /* -qq silences standard error: /dev/stderr would lose it as well. */
    const char *args[] = {"-qq", "--report", "/dev/stderr", job, NULL};

    cr_expect_eq(run_limited(0u, 0, err, args), 2);
  }
  unlink(err);
  unlink(job);
  rmdir(dir);
  free(err);
  free(job);
  free(dir);
}

/* --debug writes to stderr all along; with it closed that must not block. */
Test(hazards, debug_with_every_standard_descriptor_closed_ends)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  FILE *f = fopen(job, "w");
  const char *args[] = {"--debug", job, NULL};
  int rc;

  cr_assert_not_null(f);
  fputs(job_text, f);
  fclose(f);
  rc = run_limited(7, 0, NULL, args);
  cr_expect_eq(rc, 0, "corun --debug with 0-2 closed: %d (-1: it hung)", rc);
  unlink(job);
  rmdir(dir);
  free(job);
  free(dir);
}

/*
 * "ulimit -f": a save that outgrows the limit fails io ("File too large")
 * instead of corun dying of SIGXFSZ; no temporary file stays, and the
 * report (small enough) is written whole.
 */
Test(hazards, file_size_limit_fails_the_save_io_and_reports)
{
  struct test_server srv;
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *rep = path_join(dir, "report.json");
  char *url;
  FILE *f;
  char *text;
  cJSON *r, *t, *err;
  const char *args[] = {"--report", rep, job, NULL};
  int rc;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  url = test_server_url(&srv, "/bytes?n=2000000");
  f = fopen(job, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": [{\"id\": \"big\", \"kind\": \"fetch\", "
          "\"url\": \"%s\", \"save\": \"big.bin\"}]}\n",
          url);
  fclose(f);
  rc = run_limited(0, 512 * 1024, NULL, args);
  test_server_stop(&srv);
  cr_expect_eq(rc, 1, "exit %d (1025 is death by SIGXFSZ)", rc);
  text = read_file(rep, NULL);
  cr_assert_not_null(text, "no report");
  r = cJSON_Parse(text);
  cr_assert_not_null(r, "report is not JSON:\n%s", text);
  t = report_task(r, "big");
  cr_expect_str_eq(cJSON_GetObjectItem(t, "status")->valuestring, "failed");
  err = cJSON_GetObjectItem(t, "error");
  cr_assert(cJSON_IsObject(err));
  cr_expect_str_eq(cJSON_GetObjectItem(err, "type")->valuestring, "io");
  cr_expect_not_null(
      strstr(cJSON_GetObjectItem(err, "message")->valuestring, "too large"),
      "message: %s", cJSON_GetObjectItem(err, "message")->valuestring);
  /* Only the job and the report: no big.bin, no temporary file. */
  cr_expect_eq(dir_entries(dir), 2, "files left in %s", dir);
  cJSON_Delete(r);
  free(text);
  unlink(rep);
  unlink(job);
  rmdir(dir);
  free(url);
  free(rep);
  free(job);
  free(dir);
}

/* text with each "@1" replaced by u1 and each "@2" by u2 (a copy). */
static char *with_urls(const char *text, const char *u1, const char *u2)
{
  struct corun_buf b = {0};
  const char *p;

  for (p = text; *p; p++) {
    if (p[0] == '@' && (p[1] == '1' || p[1] == '2')) {
      corun_buf_puts(&b, p[1] == '1' ? u1 : u2);
      p++;
    } else {
      corun_buf_putc(&b, *p);
    }
  }
  return corun_buf_detach(&b);
}

/* Run the job (with its URLs put in) under -q --report; the report. */
static cJSON *run_report(const char *dir, const char *job_tmpl,
                         const char *url, const char *url2, int want_exit)
{
  char *job = path_join(dir, "job.json");
  char *rep = path_join(dir, "report.json");
  const char *args[] = {"-q", "--report", rep, job, NULL};
  FILE *f = fopen(job, "w");
  char *text;
  cJSON *r;
  int rc;

  cr_assert_not_null(f);
  text = with_urls(job_tmpl, url, url2 ? url2 : "");
  fputs(text, f);
  free(text);
  fclose(f);
  rc = run_limited(0, 0, NULL, args);
  text = read_file(rep, NULL);
  cr_assert_not_null(text, "no report (exit %d)", rc);
  cr_expect_eq(rc, want_exit, "exit %d:\n%s", rc, text);
  r = cJSON_Parse(text);
  cr_assert_not_null(r, "report is not JSON:\n%s", text);
  free(text);
  unlink(rep);
  unlink(job);
  free(rep);
  free(job);
  return r;
}

/*
 * A server that resets an idle keep-alive connection just as corun reuses
 * it: curl sends the request again on a new connection, as the curl
 * command does, and the fetch is ok on its first attempt. Each fetch runs
 * after the one before, so each reuses the connection the server resets.
 */
Test(hazards, a_reset_reused_connection_is_not_a_failed_attempt)
{
  struct test_server srv;
  char *dir = tmp_dir("hazards");
  char *url, *conns;
  struct corun_buf job = {0};
  cJSON *r, *t;
  int i;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  url = test_server_url(&srv, "/reset-next");
  corun_buf_puts(&job, "{\"tasks\": [");
  for (i = 0; i < 20; i++) {
    corun_buf_printf(&job, "%s{\"id\": \"r%d\", \"kind\": \"fetch\", "
                           "\"url\": \"@1\"",
                     i ? ",\n" : "", i);
    if (i)
      corun_buf_printf(&job, ", \"after\": [\"r%d\"]", i - 1);
    if (i % 2)
      corun_buf_puts(&job, ", \"method\": \"POST\", \"body\": \"x\"");
    corun_buf_puts(&job, "}");
  }
  /* The server's count of accepted connections, once all have run. */
  corun_buf_puts(&job, ",\n{\"id\": \"conns\", \"kind\": \"fetch\", "
                       "\"url\": \"@2\", \"after\": [\"r19\"]}]}\n");
  conns = test_server_url(&srv, "/conns");
  r = run_report(dir, corun_buf_str(&job), url, conns, 0);
  free(conns);
  for (i = 0; i < 20; i++) {
    char id[16];

    snprintf(id, sizeof(id), "r%d", i);
    t = report_task(r, id);
    cr_expect_str_eq(cJSON_GetObjectItem(t, "status")->valuestring, "ok",
                     "%s is not ok", id);
    cr_expect_eq(cJSON_GetObjectItem(t, "attempts")->valueint, 1,
                 "%s took more than one attempt", id);
  }
  /*
   * Each fetch after the first met a reset and went on a new connection,
   * the count's own fetch too: 21 connections. Had curl reused one
   * without the reset, there would be fewer.
   */
  t = cJSON_GetObjectItem(report_task(r, "conns"), "result");
  t = cJSON_GetObjectItem(t, "body");
  cr_assert(cJSON_IsString(t), "the connection count did not come back");
  cr_expect_str_eq(t->valuestring, "21");
  test_server_stop(&srv);
  cJSON_Delete(r);
  corun_buf_free(&job);
  rmdir(dir);
  free(url);
  free(dir);
}

/*
 * One fetch of route on a fresh test server, saving to a file: it fails
 * with type, its message says says, and nothing is saved.
 */
static void one_fetch_fails(const char *route, const char *type,
                            const char *says)
{
  struct test_server srv;
  char *dir = tmp_dir("hazards");
  char *url;
  cJSON *r, *err;
  const char *msg;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  url = test_server_url(&srv, route);
  r = run_report(dir,
                 "{\"tasks\": [{\"id\": \"x\", \"kind\": \"fetch\", "
                 "\"url\": \"@1\", \"save\": \"x.bin\"}]}\n",
                 url, NULL, 1);
  test_server_stop(&srv);
  err = cJSON_GetObjectItem(report_task(r, "x"), "error");
  cr_assert(cJSON_IsObject(err));
  msg = cJSON_GetObjectItem(err, "message")->valuestring;
  cr_expect_str_eq(cJSON_GetObjectItem(err, "type")->valuestring, type,
                   "%s: %s", route, msg);
  cr_expect_not_null(strstr(msg, says), "%s: %s", route, msg);
  cr_expect_eq(dir_entries(dir), 0, "%s left a file", route);
  cJSON_Delete(r);
  rmdir(dir);
  free(url);
  free(dir);
}

/* A reset on a fresh connection fails the fetch connect, and says so. */
Test(hazards, a_reset_reads_connection_reset_by_peer)
{
  one_fetch_fails("/reset", "connect", "onnection reset by peer");
}

/*
 * Response headers too large, one line or all together: the server's
 * fault, type protocol, tried again while retries are left as any failed
 * attempt is.
 */
Test(hazards, oversized_response_headers_are_protocol_and_retried)
{
  static const char *const paths[] = {"/big-header?n=200000",
                                      "/many-headers?n=100000"};
  struct test_server srv;
  char *dir = tmp_dir("hazards");
  size_t i;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  for (i = 0; i < 2; i++) {
    char *url = test_server_url(&srv, paths[i]);
    cJSON *r = run_report(dir,
                          "{\"tasks\": [{\"id\": \"x\", \"kind\": \"fetch\", "
                          "\"url\": \"@1\", \"retries\": 2, "
                          "\"backoff\": \"10ms\"}]}\n",
                          url, NULL, 1);
    cJSON *t = report_task(r, "x");
    cJSON *err = cJSON_GetObjectItem(t, "error");

    cr_assert(cJSON_IsObject(err), "%s: no error", paths[i]);
    cr_expect_str_eq(cJSON_GetObjectItem(err, "type")->valuestring,
                     "protocol", "%s", paths[i]);
    cr_expect_not_null(
        strstr(cJSON_GetObjectItem(err, "message")->valuestring,
               "headers too large"),
        "%s: %s", paths[i], cJSON_GetObjectItem(err, "message")->valuestring);
    cr_expect_eq(cJSON_GetObjectItem(t, "attempts")->valueint, 3, "%s",
                 paths[i]);
    cJSON_Delete(r);
    free(url);
  }
  /* Many headers that fit are fine. */
  {
    char *url = test_server_url(&srv, "/many-headers?n=2000");
    cJSON *r = run_report(dir,
                          "{\"tasks\": [{\"id\": \"x\", \"kind\": \"fetch\", "
                          "\"url\": \"@1\"}]}\n",
                          url, NULL, 0);

    cJSON_Delete(r);
    free(url);
  }
  test_server_stop(&srv);
  rmdir(dir);
  free(dir);
}

/*
 * A journal write that fails (here the file-size limit; a full disk is
 * the same to corun) is said on stderr when it happens, and the run exits
 * 1 although every task ended ok: the journal cannot resume it.
 */
Test(hazards, a_journal_write_that_fails_is_said_at_once_and_exits_1)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *jnl = path_join(dir, "run.journal");
  char *errf = path_join(dir, "stderr.txt");
  const char *args[] = {"-q", "--journal", jnl, job, NULL};
  FILE *f = fopen(job, "w");
  char *err;
  const char *said;
  int i, rc;

  cr_assert_not_null(f);
  /* 300 tasks: their journal lines outgrow 8 KiB. */
  fputs("{\"tasks\": [", f);
  for (i = 0; i < 300; i++)
    fprintf(f, "%s{\"id\": \"t%d\", \"kind\": \"sleep\", \"seconds\": 0}",
            i ? ",\n" : "", i);
  fputs("]}\n", f);
  fclose(f);
  rc = run_limited(0, 8192, errf, args);
  err = read_file(errf, NULL);
  cr_assert_not_null(err);
  cr_expect_eq(rc, 1, "exit %d:\n%s", rc, err);
  said = strstr(err, "--journal: cannot write");
  cr_assert_not_null(said, "stderr:\n%s", err);
  cr_expect_not_null(strstr(err, "File too large"), "stderr:\n%s", err);
  /* Said once, not once per task. */
  cr_expect_null(strstr(said + 1, "--journal: cannot write"), "stderr:\n%s",
                 err);
  free(err);
  unlink(errf);
  unlink(jnl);
  unlink(job);
  rmdir(dir);
  free(errf);
  free(jnl);
  free(job);
  free(dir);
}

/*
 * A chunked body without its last chunk, and a body shorter than its
 * Content-Length: protocol ("body ended early"), nothing saved, no
 * temporary file; a whole chunked body saves as usual.
 */
Test(hazards, a_body_that_ends_early_is_protocol_and_saves_nothing)
{
  struct test_server srv;
  char *dir = tmp_dir("hazards");
  char *cut, *whole, *saved;
  cJSON *r;
  size_t len = 0;
  int i;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  cut = test_server_url(&srv, "/chunked?n=100000&cut=1");
  whole = test_server_url(&srv, "/chunked?n=100000");
  r = run_report(dir,
                 "{\"tasks\": [{\"id\": \"cut\", \"kind\": \"fetch\", "
                 "\"url\": \"@1\", \"save\": \"cut.bin\"},"
                 "{\"id\": \"whole\", \"kind\": \"fetch\", \"url\": \"@2\", "
                 "\"save\": \"whole.bin\"}]}\n",
                 cut, whole, 1);
  test_server_stop(&srv);
  {
    cJSON *err = cJSON_GetObjectItem(report_task(r, "cut"), "error");

    cr_assert(cJSON_IsObject(err));
    cr_expect_str_eq(cJSON_GetObjectItem(err, "type")->valuestring,
                     "protocol");
    cr_expect_not_null(
        strstr(cJSON_GetObjectItem(err, "message")->valuestring,
               "body ended early"),
        "%s", cJSON_GetObjectItem(err, "message")->valuestring);
  }
  cr_expect_str_eq(
      cJSON_GetObjectItem(report_task(r, "whole"), "status")->valuestring,
      "ok");
  saved = path_join(dir, "whole.bin");
  {
    char *data = read_file(saved, &len);

    cr_assert_not_null(data);
    cr_expect_eq(len, 100000);
    for (i = 0; i < 100000 && (size_t)i < len; i++)
      if (data[i] != TEST_SERVER_BYTE(i))
        break;
    cr_expect_eq(i, 100000, "whole.bin differs at byte %d", i);
    free(data);
  }
  /* whole.bin alone: no cut.bin, no temporary file. */
  cr_expect_eq(dir_entries(dir), 1);
  unlink(saved);
  cJSON_Delete(r);
  rmdir(dir);
  free(saved);
  free(cut);
  free(whole);
  free(dir);
}

/*
 * A chunk size line that is no hex number is a bad reply (protocol), not
 * the network's failure, though curl reports it as a receive error as it
 * does a reset; nothing is saved.
 */
Test(hazards, a_malformed_chunk_is_protocol)
{
  one_fetch_fails("/chunked?n=100&bad=1", "protocol", "chunked");
}

/* Seconds on the monotonic clock. */
static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A command that starts a daemon (a child that calls setsid() and keeps
 * stdout open) must not hold its task past a timeout, nor the run past
 * --timeout: once the group is killed, the task ends with what it read.
 * The daemons sleep 30 s; the run must end long before.
 */
Test(hazards, a_daemon_holding_the_pipes_cannot_hold_the_task, .timeout = 60)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *rep = path_join(dir, "report.json");
  const char *args[] = {"-q", "--timeout", "1500ms", "--report", rep, job,
                        NULL};
  FILE *f = fopen(job, "w");
  double t0, took;
  char *text;
  cJSON *r;
  int rc, st;

  cr_assert_not_null(f);
  /* Each daemon is "sleep 29.NNN", a number that names it for pkill. */
  fputs("{\"tasks\": [\n"
        "{\"id\": \"own\", \"kind\": \"exec\", \"shell\": \"setsid sh -c "
        "'exec sleep 29.911' & echo started; sleep 30\", \"timeout\": "
        "\"300ms\", \"kill_grace\": \"200ms\"},\n"
        "{\"id\": \"gone\", \"kind\": \"exec\", \"shell\": \"setsid sh -c "
        "'exec sleep 29.912' & echo started\", \"timeout\": \"300ms\", "
        "\"kill_grace\": \"10s\"},\n"
        "{\"id\": \"run\", \"kind\": \"exec\", \"shell\": \"setsid sh -c "
        "'exec sleep 29.913' & sleep 30\", \"kill_grace\": \"200ms\"}\n"
        "]}\n",
        f);
  fclose(f);
  t0 = now_s();
  rc = run_limited(0, 0, NULL, args);
  took = now_s() - t0;
  free(run_shell("pkill -f 'sleep 29.91[123]'", &st));
  cr_expect_eq(rc, 124, "exit %d", rc);
  /* 1.5 s of --timeout and 0.2 s of grace; far from the daemons' 30 s. */
  cr_expect_lt(took, 10.0, "the run took %.1f s", took);
  text = read_file(rep, NULL);
  cr_assert_not_null(text, "no report");
  r = cJSON_Parse(text);
  cr_assert_not_null(r);
  cr_expect_str_eq(
      cJSON_GetObjectItem(report_task(r, "own"), "status")->valuestring,
      "timeout");
  /*
   * "gone": its shell exited at once, so nobody is left in the group
   * when the timeout comes; it ends then, not after its 10 s grace.
   */
  cr_expect_str_eq(
      cJSON_GetObjectItem(report_task(r, "gone"), "status")->valuestring,
      "timeout");
  cr_expect_lt(
      cJSON_GetObjectItem(report_task(r, "gone"), "duration")->valuedouble,
      5.0);
  cr_expect_str_eq(
      cJSON_GetObjectItem(report_task(r, "run"), "status")->valuestring,
      "cancelled");
  cJSON_Delete(r);
  free(text);
  unlink(rep);
  unlink(job);
  rmdir(dir);
  free(rep);
  free(job);
  free(dir);
}

/*
 * SIGHUP (a terminal closed, a CI runner going away) is handled as
 * SIGTERM: tasks cancelled, the command's group signalled, the report
 * written (status cancelled), no temporary file left; exit 129.
 */
Test(hazards, sighup_is_handled_as_sigterm_and_exits_129)
{
  struct test_server srv;
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *rep = path_join(dir, "report.json");
  char *mark = path_join(dir, "started");
  char *url, *text;
  const char *args[] = {"-q", "--report", rep, job, NULL};
  FILE *f;
  pid_t pid;
  cJSON *r;
  int i, rc;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  url = test_server_url(&srv, "/slow-body?n=100000&ms=20");
  f = fopen(job, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": [\n"
          "{\"id\": \"cmd\", \"kind\": \"exec\", \"shell\": \"touch started; "
          "exec sleep 30\"},\n"
          "{\"id\": \"get\", \"kind\": \"fetch\", \"url\": \"%s\", \"save\": "
          "\"slow.bin\"}]}\n",
          url);
  fclose(f);
  pid = spawn_cli(args, &(struct spawn_opts){.cwd = dir});
  for (i = 0; i < 500 && access(mark, F_OK) != 0; i++)
    usleep(10000);
  cr_assert_eq(access(mark, F_OK), 0, "the command never started");
  usleep(100000); /* the fetch has its temporary file by now */
  kill(pid, SIGHUP);
  rc = reap_cli(pid, 20, NULL);
  test_server_stop(&srv);
  cr_expect_eq(rc, 129, "exit %d", rc);
  text = read_file(rep, NULL);
  cr_assert_not_null(text, "no report");
  r = cJSON_Parse(text);
  cr_assert_not_null(r);
  cr_expect_str_eq(cJSON_GetObjectItem(r, "status")->valuestring,
                   "cancelled");
  cr_expect_eq(cJSON_GetObjectItem(r, "exit_code")->valueint, 129);
  cr_expect_str_eq(
      cJSON_GetObjectItem(report_task(r, "cmd"), "status")->valuestring,
      "cancelled");
  cr_expect_str_eq(
      cJSON_GetObjectItem(report_task(r, "get"), "status")->valuestring,
      "cancelled");
  /* The job, the mark and the report: no slow.bin, no temporary file. */
  cr_expect_eq(dir_entries(dir), 3);
  cJSON_Delete(r);
  free(text);
  unlink(mark);
  unlink(rep);
  unlink(job);
  rmdir(dir);
  free(url);
  free(mark);
  free(rep);
  free(job);
  free(dir);
}

/* Whether pid is gone: no such process, or a zombie nobody reaped yet. */
static int gone(pid_t pid)
{
  char path[64], *stat, *rp;
  int dead;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  stat = read_file(path, NULL);
  if (stat == NULL)
    return 1;
  rp = strrchr(stat, ')');
  dead = rp && (rp[2] == 'Z' || rp[2] == 'X');
  free(stat);
  return dead;
}

/*
 * corun killed with SIGKILL cannot stop its commands itself: its
 * watchdog does (SIGTERM, then SIGKILL), so they do not run on. One of
 * them ignores SIGTERM and needs the SIGKILL.
 */
Test(hazards, commands_do_not_outlive_a_corun_killed_by_sigkill,
     .timeout = 60)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *p1 = path_join(dir, "one.pid"), *p2 = path_join(dir, "two.pid");
  const char *args[] = {"-q", job, NULL};
  FILE *f = fopen(job, "w");
  char *t1 = NULL, *t2 = NULL;
  pid_t corun, c1, c2;
  int i;

  cr_assert_not_null(f);
  fputs("{\"tasks\": [\n"
        "{\"id\": \"one\", \"kind\": \"exec\", \"shell\": \"echo $$ > "
        "one.pid.tmp && mv one.pid.tmp one.pid && exec sleep 120\"},\n"
        "{\"id\": \"two\", \"kind\": \"exec\", \"shell\": \"trap '' TERM; "
        "echo $$ > two.pid.tmp && mv two.pid.tmp two.pid; while :; do "
        "sleep 1; done\"}]}\n",
        f);
  fclose(f);
  corun = spawn_cli(args, &(struct spawn_opts){.cwd = dir});
  for (i = 0; i < 1000 && (access(p1, F_OK) || access(p2, F_OK)); i++)
    usleep(10000);
  t1 = read_file(p1, NULL);
  t2 = read_file(p2, NULL);
  cr_assert(t1 && t2, "the commands never started");
  c1 = (pid_t)atoi(t1);
  c2 = (pid_t)atoi(t2);
  cr_assert(c1 > 1 && c2 > 1);
  kill(corun, SIGKILL);
  reap_cli(corun, 10, NULL);
  /* SIGTERM at once; SIGKILL two seconds later for the one that traps it. */
  for (i = 0; i < 800 && !(gone(c1) && gone(c2)); i++)
    usleep(10000);
  cr_expect(gone(c1), "\"one\" (pid %d) outlived corun", (int)c1);
  cr_expect(gone(c2), "\"two\" (pid %d) outlived corun", (int)c2);
  /* Clean up whatever the assertion found alive. */
  kill(-c1, SIGKILL);
  kill(-c2, SIGKILL);
  free(t1);
  free(t2);
  unlink(p1);
  unlink(p2);
  unlink(job);
  rmdir(dir);
  free(p1);
  free(p2);
  free(job);
  free(dir);
}

/* The names (comm) of pid's children, one per line. */
static char *children_of(pid_t pid)
{
  char path[64], *list, *tok, *save = NULL;
  struct corun_buf out = CORUN_BUF_INIT;

  snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
           (int)pid);
  list = read_file(path, NULL);
  cr_assert_not_null(list, "cannot read %s", path);
  for (tok = strtok_r(list, " \n", &save); tok;
       tok = strtok_r(NULL, " \n", &save)) {
    char *comm;

    snprintf(path, sizeof(path), "/proc/%s/comm", tok);
    comm = read_file(path, NULL);
    if (comm)
      corun_buf_puts(&out, comm);
    free(comm);
  }
  free(list);
  return corun_buf_detach(&out);
}

/*
 * The watchdog is forked only for a job that starts processes: a job of
 * sleeps (and fetches) runs without it; a job whose pipeline stage runs a
 * command has one.
 */
Test(hazards, only_a_job_that_starts_commands_has_a_watchdog, .timeout = 60)
{
  static const char *const jobs[] = {
      "{\"tasks\": [{\"id\": \"s\", \"kind\": \"sleep\", \"seconds\": 1.5}]}\n",
      "{\"tasks\": [{\"id\": \"s\", \"kind\": \"sleep\", \"seconds\": 1.5}, "
      "{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": {\"items\": [1]}, "
      "\"after\": [\"s\"], \"stages\": [{\"task\": {\"kind\": \"exec\", "
      "\"argv\": [\"true\"]}}]}]}\n"};
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  const char *args[] = {"-q", job, NULL};
  int i, k;

  for (k = 0; k < 2; k++) {
    FILE *f = fopen(job, "w");
    char *kids = NULL;
    pid_t corun;

    cr_assert_not_null(f);
    fputs(jobs[k], f);
    fclose(f);
    corun = spawn_cli(args, &(struct spawn_opts){.cwd = dir});
    /* Looked at while the first sleep runs: nothing else has started. */
    for (i = 0; i < 50; i++) {
      free(kids);
      usleep(20000);
      kids = children_of(corun);
      if (k == 0 || strstr(kids, "corun-watchdog"))
        break;
    }
    if (k == 0)
      cr_expect_str_eq(kids, "", "a job of sleeps has children: %s", kids);
    else
      cr_expect(strstr(kids, "corun-watchdog") != NULL,
                "a job with a command has no watchdog: \"%s\"", kids);
    free(kids);
    cr_expect_eq(reap_cli(corun, 20, NULL), 0);
  }
  unlink(job);
  rmdir(dir);
  free(job);
  free(dir);
}

/*
 * Two writers of one file lose data: a task that saves over the job file,
 * over a report or the journal, or over what another task writes, is a
 * load error (exit 2, nothing runs). Devices such as /dev/null may be
 * written by many; children of a race may save to one file (only the
 * winner gets to rename its file into place).
 */
Test(hazards, a_task_writing_over_another_output_is_a_load_error)
{
  static const char text[] =
      "{\"tasks\": [\n"
      " {\"id\": \"a\", \"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", "
      "\"save\": \"job.json\"},\n"
      " {\"id\": \"b\", \"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", "
      "\"save\": \"out/r.bin\"},\n"
      " {\"id\": \"c\", \"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", "
      "\"save\": \"out/../out/r.bin\"},\n"
      " {\"id\": \"d\", \"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", "
      "\"save\": \"rep.json\"},\n"
      " {\"id\": \"e\", \"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", "
      "\"save\": \"/dev/null\"},\n"
      " {\"id\": \"f\", \"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", "
      "\"save\": \"/dev/null\"},\n"
      " {\"id\": \"race\", \"kind\": \"wait\", \"return_when\": "
      "\"first_completed\", \"tasks\": [\n"
      "   {\"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", \"save\": "
      "\"pkg\"},\n"
      "   {\"kind\": \"gather\", \"tasks\": [{\"kind\": \"fetch\", \"url\": "
      "\"http://127.0.0.1:1/\", \"save\": \"pkg\"}]}]},\n"
      " {\"id\": \"mirrors\", \"kind\": \"wait\", \"return_when\": "
      "\"first_ok\", \"tasks\": [\n"
      "   {\"kind\": \"fetch\", \"url\": \"http://127.0.0.1:1/\", \"save\": "
      "\"mirrored\"},\n"
      "   {\"kind\": \"fetch\", \"url\": \"http://127.0.0.1:2/\", \"save\": "
      "\"mirrored\"}]},\n"
      " {\"id\": \"p\", \"kind\": \"pipeline\", \"source\": {\"items\": [1]}, "
      "\"stages\": [{\"task\": {\"kind\": \"sleep\", \"seconds\": 0}}], "
      "\"results\": \"j.jsonl\"}\n"
      "]}\n";
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json");
  char *errf = path_join(dir, "stderr.txt");
  const char *args[] = {"--report", "rep.json", "--journal", "j.jsonl", "job.json",
                        NULL};
  FILE *f = fopen(job, "w");
  char *err;
  pid_t pid;
  int rc;

  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  pid = spawn_cli(args, &(struct spawn_opts){.cwd = dir, .err = errf});
  rc = reap_cli(pid, 20, NULL);
  err = read_file(errf, NULL);
  cr_assert_not_null(err);
  cr_expect_eq(rc, 2, "exit %d:\n%s", rc, err);
  cr_expect_not_null(strstr(err, "job.json:2:"), "%s", err);
  cr_expect_not_null(strstr(err, "task \"a\": \"save\": \"./job.json\" is the "
                                 "job file itself"),
                     "%s", err);
  cr_expect_not_null(strstr(err, "task \"c\": \"save\": "
                                 "\"./out/../out/r.bin\" is also written by "
                                 "task \"b\" (\"save\")"),
                     "%s", err);
  cr_expect_not_null(strstr(err, "task \"d\": \"save\": \"./rep.json\" is "
                                 "also the --report file"),
                     "%s", err);
  cr_expect_not_null(strstr(err, "task \"p\": \"results\": \"./j.jsonl\" is "
                                 "also the --journal file"),
                     "%s", err);
  /* /dev/null twice, and the races' two saves of one file, are fine. */
  cr_expect_null(strstr(err, "task \"f\""), "%s", err);
  cr_expect_null(strstr(err, "pkg"), "%s", err);
  cr_expect_null(strstr(err, "mirrored"), "%s", err);
  /* Nothing ran: no report, no journal, the job file untouched. */
  cr_expect_eq(dir_entries(dir), 2, "files in %s", dir);
  free(err);
  unlink(errf);
  unlink(job);
  rmdir(dir);
  free(errf);
  free(job);
  free(dir);
}

/*
 * --root holds while the run runs: a command swaps symbolic links to a
 * directory outside the root in for the directories that a save, a
 * results file and a lines source go through. Each fails io when it is
 * opened, and nothing outside the root is read or written.
 */
Test(hazards, root_holds_when_links_are_swapped_in_during_the_run)
{
  struct test_server srv;
  char *root = tmp_dir("hazards"), *out = tmp_dir("hazards-outside");
  char *job = path_join(root, "job.json"), *rep = path_join(root, "r.json");
  char *url, *text, *cmd;
  const char *args[] = {"-q", "--root", root, "--report", rep, job, NULL};
  FILE *f;
  cJSON *r;
  int rc, st;
  const char *ids[] = {"save", "results", "lines"};
  size_t i;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  url = test_server_url(&srv, "/text");
  cmd = malloc(strlen(root) * 4 + strlen(out) * 2 + 200);
  cr_assert_not_null(cmd);
  /* Inside the root at load time: real directories and a lines file. */
  sprintf(cmd, "mkdir -p '%s/d1' '%s/d2' '%s/d3' && echo a > '%s/d3/in.txt'"
               " && echo secret-outside > '%s/in.txt'",
          root, root, root, root, out);
  free(run_shell(cmd, &st));
  cr_assert_eq(st, 0);
  f = fopen(job, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": [\n"
          "{\"id\": \"swap\", \"kind\": \"exec\", \"shell\": \"rm -r d1 d2 d3 "
          "&& ln -s '%s' d1 && ln -s '%s' d2 && ln -s '%s' d3\"},\n"
          "{\"id\": \"save\", \"kind\": \"fetch\", \"url\": \"%s\", "
          "\"save\": \"d1/f.txt\", \"after\": [\"swap\"]},\n"
          "{\"id\": \"results\", \"kind\": \"pipeline\", \"after\": "
          "[\"swap\"], \"source\": {\"items\": [1]}, \"stages\": [{\"task\": "
          "{\"kind\": \"sleep\", \"seconds\": 0}}], \"results\": "
          "\"d2/r.jsonl\"},\n"
          "{\"id\": \"lines\", \"kind\": \"pipeline\", \"after\": [\"swap\"], "
          "\"source\": {\"lines\": \"d3/in.txt\"}, \"stages\": [{\"task\": "
          "{\"kind\": \"sleep\", \"seconds\": 0, \"result\": \"${item}\"}}]}\n"
          "]}\n",
          out, out, out, url);
  fclose(f);
  pid_t pid = spawn_cli(args, &(struct spawn_opts){.cwd = root});
  rc = reap_cli(pid, 30, NULL);
  test_server_stop(&srv);
  cr_expect_eq(rc, 1, "exit %d", rc);
  text = read_file(rep, NULL);
  cr_assert_not_null(text, "no report");
  r = cJSON_Parse(text);
  cr_assert_not_null(r);
  cr_expect_str_eq(
      cJSON_GetObjectItem(report_task(r, "swap"), "status")->valuestring,
      "ok");
  for (i = 0; i < 3; i++) {
    cJSON *err = cJSON_GetObjectItem(report_task(r, ids[i]), "error");

    cr_assert(cJSON_IsObject(err), "%s has no error:\n%s", ids[i], text);
    cr_expect_str_eq(cJSON_GetObjectItem(err, "type")->valuestring, "io",
                     "%s", ids[i]);
    cr_expect_not_null(
        strstr(cJSON_GetObjectItem(err, "message")->valuestring,
               "outside --root"),
        "%s: %s", ids[i], cJSON_GetObjectItem(err, "message")->valuestring);
  }
  /* Outside: only the file put there; nothing written, nothing read. */
  cr_expect_eq(dir_entries(out), 1, "files appeared outside the root");
  cr_expect_null(strstr(text, "secret-outside"), "%s", text);
  cJSON_Delete(r);
  free(text);
  sprintf(cmd, "rm -rf '%s' '%s'", root, out);
  free(run_shell(cmd, &st));
  free(cmd);
  free(url);
  free(rep);
  free(job);
  free(out);
  free(root);
}

/*
 * The directories a save makes are made beneath the root too: while a
 * link inside the root flips between a directory inside it and one
 * outside, 300 saves into new directories under that link make nothing
 * outside (a check of the path followed by mkdir() by path could: the
 * link may flip between the two).
 */
Test(hazards, directories_are_made_beneath_the_root_while_a_link_flips,
     .timeout = 90)
{
  struct test_server srv;
  char *root = tmp_dir("hazards"), *out = tmp_dir("hazards-outside");
  char *job = path_join(root, "job.json"), *url, *cmd;
  const char *args[] = {"-qq", "--root", root, job, NULL};
  struct corun_buf text = CORUN_BUF_INIT;
  pid_t flipper, pid;
  FILE *f;
  int i, st;

  cr_assert_eq(test_server_start(&srv), 0, "cannot start the test server");
  url = test_server_url(&srv, "/bytes?n=1");
  cmd = malloc(strlen(root) * 2 + strlen(out) + 100);
  cr_assert_not_null(cmd);
  sprintf(cmd, "mkdir '%s/in' && ln -s in '%s/l'", root, root);
  free(run_shell(cmd, &st));
  cr_assert_eq(st, 0);
  /* The flips start once the job is loaded (a load would refuse them). */
  corun_buf_puts(&text, "{\"tasks\": [{\"id\": \"go\", \"kind\": "
                        "\"exec\", \"shell\": \"touch started && sleep "
                        "0.2\"}");
  for (i = 0; i < 300; i++)
    corun_buf_printf(&text,
                     ",{\"id\": \"s%d\", \"kind\": \"fetch\", \"url\": "
                     "\"%s\", \"save\": \"l/d%d/f.bin\", \"after\": "
                     "[\"go\"]}",
                     i, url, i);
  corun_buf_puts(&text, "]}\n");
  f = fopen(job, "w");
  cr_assert_not_null(f);
  fputs(corun_buf_str(&text), f);
  fclose(f);
  flipper = fork();
  cr_assert(flipper >= 0);
  if (flipper == 0) {
    char tmp[4096], link[4096], in[] = "in";

    snprintf(tmp, sizeof(tmp), "%s/started", root);
    while (access(tmp, F_OK) != 0)
      usleep(1000);
    snprintf(tmp, sizeof(tmp), "%s/l.new", root);
    snprintf(link, sizeof(link), "%s/l", root);
    for (;;) {
      unlink(tmp);
      if (symlink(out, tmp) == 0)
        rename(tmp, link);
      unlink(tmp);
      if (symlink(in, tmp) == 0)
        rename(tmp, link);
    }
  }
  pid = spawn_cli(args, &(struct spawn_opts){.cwd = root});
  st = reap_cli(pid, 60, NULL);
  kill(flipper, SIGKILL);
  waitpid(flipper, NULL, 0);
  test_server_stop(&srv);
  cr_expect(st == 0 || st == 1, "exit %d", st);
  cr_expect_eq(dir_entries(out), 0, "directories were made outside the root");
  sprintf(cmd, "rm -rf '%s' '%s'", root, out);
  free(run_shell(cmd, &st));
  free(cmd);
  free(url);
  free(job);
  free(root);
  free(out);
  corun_buf_free(&text);
}

/*
 * corun -q [--timeout 1] --report rep job, where job prints 20,000 lines of
 * about 100 bytes (and, with a timeout, also sleeps a minute), its stdout
 * the write end of a new pipe: fds[0] to read it, fds[1] still open here.
 */
static pid_t flood_on_a_pipe(const char *job, const char *rep, int timeout,
                             int fds[2])
{
  FILE *f = fopen(job, "w");
  pid_t pid;

  cr_assert_not_null(f);
  fprintf(f,
          "{\"tasks\": [{\"id\": \"p\", \"kind\": \"pipeline\", \"source\": "
          "{\"range\": [0, 20000]}, \"stages\": [{\"task\": {\"kind\": "
          "\"sleep\", \"seconds\": 0, \"message\": \"line ${item} %s\"}}]}%s]}\n",
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxx",
          timeout ? ",\n {\"id\": \"long\", \"kind\": \"sleep\", "
                    "\"seconds\": 60}"
                  : "");
  fclose(f);
  cr_assert_eq(pipe(fds), 0);
  pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (timeout)
      execl(CORUN_BIN, CORUN_BIN, "-q", "--timeout", "1", "--report", rep,
            job, (char *)NULL);
    else
      execl(CORUN_BIN, CORUN_BIN, "-q", "--report", rep, job, (char *)NULL);
    _exit(127);
  }
  return pid;
}

/*
 * A reader that stops reading must not stop the run: with stdout a pipe
 * nobody reads for a while, 20,000 message lines (2 MB, more than a pipe
 * holds) still let --timeout end the run on time (the report's duration
 * says when it ended, exit 124), and every line reaches the reader once it
 * reads, in order; the pipe as others hold it is never made non-blocking.
 */
Test(hazards, a_reader_that_stops_reading_does_not_stop_the_run)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json"), *rep = path_join(dir, "r.json");
  int fds[2], status = 0;
  pid_t pid;
  FILE *in;
  char line[256];
  long n = 0, bad = 0;
  char *text;
  cJSON *r;

  pid = flood_on_a_pipe(job, rep, 1, fds);
  /*
   * Nobody reads for 4 s: the run must end at 1 s all the same. The pipe
   * as others hold it (our copy of its write end) stays blocking
   * meanwhile: another writer to it must not get EAGAIN.
   */
  usleep(500 * 1000);
  cr_assert_eq(fcntl(fds[1], F_GETFL) & O_NONBLOCK, 0,
               "the shared pipe was made non-blocking");
  close(fds[1]);
  sleep((unsigned)(4 * time_scale() + 0.5));
  in = fdopen(fds[0], "r");
  cr_assert_not_null(in);
  while (fgets(line, sizeof(line), in)) {
    char want[32];

    snprintf(want, sizeof(want), "line %ld ", n);
    if (strncmp(line, want, strlen(want)) != 0)
      bad++;
    n++;
  }
  fclose(in);
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status), "corun died");
  cr_assert_eq(WEXITSTATUS(status), 124);
  cr_assert_eq(n, 20000, "lines read: %ld", n);
  cr_assert_eq(bad, 0, "lines out of order");
  text = read_file(rep, NULL);
  cr_assert_not_null(text);
  r = cJSON_Parse(text);
  cr_assert_not_null(r);
  cr_assert_lt(cJSON_GetObjectItem(r, "duration")->valuedouble,
               3.0 * time_scale(), "the run waited for the reader: %s", text);
  cJSON_Delete(r);
  free(text);
  unlink(rep);
  unlink(job);
  rmdir(dir);
  free(rep);
  free(job);
  free(dir);
}

/*
 * At the end, output a reader has not taken waits for it; the report file
 * does not: it is in place while corun still waits, and a SIGTERM in that
 * wait ends corun at once.
 */
Test(hazards, the_report_does_not_wait_for_a_slow_reader)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json"), *rep = path_join(dir, "r.json");
  int fds[2], status = 0, i;
  pid_t pid;
  char *text = NULL;

  pid = flood_on_a_pipe(job, rep, 0, fds);
  close(fds[1]);
  for (i = 0; i < 100 * time_scale() && text == NULL; i++) {
    usleep(100 * 1000);
    text = read_file(rep, NULL);
  }
  cr_assert_not_null(text, "no report while corun waits for the reader");
  cr_assert_eq(waitpid(pid, &status, WNOHANG), 0,
               "corun did not wait for the reader");
  kill(pid, SIGTERM);
  for (i = 0; i < 300 && waitpid(pid, &status, WNOHANG) == 0; i++)
    usleep(10 * 1000);
  cr_assert_lt(i, 300, "SIGTERM did not end the wait");
  close(fds[0]);
  free(text);
  unlink(rep);
  unlink(job);
  rmdir(dir);
  free(rep);
  free(job);
  free(dir);
}

/*
 * A report to /dev/stdout is a stream, not a file: it comes after the
 * run's lines that waited there for a slow reader, not into the middle
 * of one; and no status line (--progress always) cuts into them.
 */
Test(hazards, a_report_to_dev_stdout_comes_after_the_waiting_lines)
{
  char *dir = tmp_dir("hazards");
  char *job = path_join(dir, "job.json"), *rep = path_join(dir, "unused");
  struct corun_buf cmd = CORUN_BUF_INIT;
  int fds[2];
  pid_t pid = flood_on_a_pipe(job, rep, 0, fds);
  char *out, *at;
  FILE *p;

  /* Only the job file was wanted from the helper. */
  close(fds[0]);
  close(fds[1]);
  waitpid(pid, NULL, 0);
  corun_buf_printf(&cmd,
                   "'%s' -q --progress always --report /dev/stdout '%s' 2>&1 "
                   "| (sleep 1; cat)",
                   CORUN_BIN, job);
  p = popen(corun_buf_str(&cmd), "r");
  cr_assert_not_null(p);
  out = read_stream(p);
  pclose(p);
  at = strstr(out, "{\"corun\": 1");
  cr_assert_not_null(at, "no report");
  cr_assert_not_null(strstr(out, "line 19999 x"));
  cr_assert(strstr(out, "line 19999 x") < at, "the report came first");
  cr_assert(at == out || at[-1] == '\n', "the report cut into a line");
  cr_assert_null(strchr(out, '\r'), "a status line cut in");
  free(out);
  corun_buf_free(&cmd);
  unlink(job);
  unlink(rep);
  rmdir(dir);
  free(job);
  free(rep);
  free(dir);
}
