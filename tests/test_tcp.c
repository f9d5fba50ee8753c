/* SPDX-License-Identifier: MIT */
/*
 * The tcp kind against real listeners on 127.0.0.1: accepted at once, a
 * port that starts listening later, refused until the timeout, a name
 * that does not resolve, bad fields, and a cancel mid-connect that leaves
 * no descriptor behind.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/*
 * A socket on 127.0.0.1 (port 0: the kernel picks), listening unless
 * backlog is negative; *port.
 */
static int listener(int backlog, int *port)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  cr_assert_geq(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  if (backlog >= 0)
    cr_assert_eq(listen(fd, backlog), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

/*
 * A port that refuses connections: bound but not listening, and held
 * (in *hold) for the whole test. A port merely freed again could be taken
 * by a server of a test running beside this one, or be picked as the
 * probe's own local port (a TCP self-connect succeeds).
 */
static int closed_port(int *hold)
{
  int port;

  *hold = listener(-1, &port);
  return port;
}

/*
 * Descriptors open now. The first loop of a process makes libuv's own
 * process-wide pipe, kept to the end: one loop is made first so that it
 * is counted before and after alike.
 */
static size_t open_fds(void)
{
  uv_loop_t loop;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
  return dir_entries("/proc/self/fd");
}

static cJSON *result_of(struct result *r, const char *id)
{
  cJSON *res = cJSON_Parse(result_json(r, id));

  cr_assert_not_null(res, "result of %s: %s", id, result_json(r, id));
  return res;
}

static struct result *probe(const char *extra, int port)
{
  char text[512];

  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"tcp\", \"host\": "
           "\"127.0.0.1\", \"port\": %d%s}]}",
           port, extra);
  return run_job(text, NULL);
}

Test(tcp, accepted_at_once)
{
  int port, fd = listener(16, &port);
  struct result *r = probe("", port);
  cJSON *res = result_of(r, "p");

  cr_assert_str_eq(status_of(r, "p"), "ok");
  cr_assert_eq(r->exit_code, 0);
  cr_assert_str_eq(cJSON_GetObjectItem(res, "address")->valuestring,
                   "127.0.0.1");
  cr_assert_eq(cJSON_GetObjectItem(res, "attempts")->valueint, 1);
  cr_assert(cJSON_GetObjectItem(res, "connect")->valuedouble >= 0);
  cr_assert(cJSON_GetObjectItem(res, "connect")->valuedouble < 1);
  /* Nothing waited for an interval. */
  cr_assert_lt(end_of(r, "p"), 0.4 * time_scale());
  cJSON_Delete(res);
  result_free(r);
  close(fd);
}

Test(tcp, port_that_listens_later)
{
  int hold, port = closed_port(&hold);
  pid_t pid = fork();

  cr_assert_geq(pid, 0);
  if (pid == 0) {
    /* The held socket starts listening 0.35 s in, long enough to be found. */
    usleep(350 * 1000);
    if (listen(hold, 16) != 0)
      _exit(1);
    sleep(5);
    _exit(0);
  }
  {
    struct result *r = probe(", \"interval\": \"100ms\", \"timeout\": \"10s\"",
                             port);
    cJSON *res = result_of(r, "p");
    int status;

    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert_str_eq(status_of(r, "p"), "ok", "%s", result_json(r, "p"));
    cr_assert_gt(cJSON_GetObjectItem(res, "attempts")->valueint, 1);
    cr_assert_geq(end_of(r, "p"), 0.3);
    cJSON_Delete(res);
    result_free(r);
    close(hold);
  }
}

Test(tcp, refused_until_timeout)
{
  int hold, port = closed_port(&hold);
  struct result *r =
      probe(", \"interval\": \"50ms\", \"timeout\": \"0.4s\"", port);
  struct corun_task *t = task_by_id(r, "p");

  cr_assert_str_eq(status_of(r, "p"), "timeout");
  cr_assert_eq(t->err_type, CORUN_ERR_TIMEOUT);
  cr_assert_eq(r->exit_code, 1);
  cr_assert_geq(end_of(r, "p"), 0.39);
  cr_assert_lt(end_of(r, "p"), 2.0 * time_scale());
  result_free(r);
  close(hold);
}

Test(tcp, unresolvable_name_fails_at_once)
{
  struct result *r =
      run_job("{\"tasks\": [{\"id\": \"p\", \"kind\": \"tcp\", \"host\": "
              "\"no-such-host.invalid\", \"port\": 80, \"interval\": \"5s\", "
              "\"timeout\": \"20s\"}]}",
              NULL);
  struct corun_task *t = task_by_id(r, "p");

  cr_assert_str_eq(status_of(r, "p"), "failed");
  cr_assert_eq(t->err_type, CORUN_ERR_DNS);
  cr_assert(strstr(t->err_msg, "no-such-host.invalid"), "%s", t->err_msg);
  /* Answered without asking DNS, as a fetch's is (RFC 6761). */
  cr_assert(strstr(t->err_msg, "never resolve (RFC 6761)"), "%s", t->err_msg);
  /* No second round: that would have waited the 5 s interval. */
  cr_assert_lt(end_of(r, "p"), 4.0);
  result_free(r);
}

Test(tcp, bad_fields_are_load_errors)
{
  char *d;

  d = load_err("{\"tasks\": [{\"kind\": \"tcp\", \"host\": \"a\",\n"
               "  \"port\": 0}]}");
  cr_assert(strstr(d, "test.json:2:11: error: "), "%s", d);
  cr_assert(strstr(d, "\"port\" must be an integer from 1 to 65535"), "%s",
            d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"tcp\", \"host\": \"a\", "
               "\"port\": 65536}]}");
  cr_assert(strstr(d, "test.json:1:"), "%s", d);
  cr_assert(strstr(d, "\"port\" must be an integer from 1 to 65535"), "%s",
            d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"tcp\", \"port\": 80}]}");
  cr_assert(strstr(d, "test.json:1:12: error: "), "%s", d);
  cr_assert(strstr(d, "missing required field \"host\""), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"tcp\", \"host\": \"a\"}]}");
  cr_assert(strstr(d, "missing required field \"port\""), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"tcp\", \"host\": \"a\", "
               "\"port\": 1, \"interval\": \"soon\"}]}");
  cr_assert(strstr(d, "\"interval\""), "%s", d);
  free(d);
  /* No pause between rounds would spin; no host names nothing. */
  d = load_err("{\"tasks\": [{\"kind\": \"tcp\", \"host\": \"a\", "
               "\"port\": 1, \"interval\": 0}]}");
  cr_assert(strstr(d, "\"interval\" is under 1 ms"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"tcp\", \"host\": \"\", "
               "\"port\": 1}]}");
  cr_assert(strstr(d, "\"host\" must not be empty"), "%s", d);
  free(d);
  d = load_err("{\"tasks\": [{\"kind\": \"exec\", \"shell\": \"\"}]}");
  cr_assert(strstr(d, "\"shell\" must not be empty"), "%s", d);
  free(d);
}

Test(tcp, cancel_mid_connect_leaves_no_descriptor)
{
  int port, fd = listener(0, &port);
  int fill[4], i;
  size_t before;
  struct run_opts o = {0};
  struct result *r;
  char text[256];

  /*
   * A listener that never accepts, its queue full: the kernel drops the
   * probe's SYN, so its connect is still pending when the cancel comes.
   */
  for (i = 0; i < 4; i++) {
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_geq(fill[i], 0);
    connect(fill[i], (struct sockaddr *)&a, sizeof(a));
  }
  usleep(100 * 1000);
  before = open_fds();
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"tcp\", \"host\": "
           "\"127.0.0.1\", \"port\": %d, \"timeout\": \"30s\"}]}",
           port);
  o.interrupt_after = 0.3;
  r = run_job(text, &o);
  cr_assert_str_eq(status_of(r, "p"), "cancelled");
  cr_assert_eq(r->exit_code, 130);
  cr_assert_lt(end_of(r, "p"), 2.0 * time_scale());
  result_free(r);
  cr_assert_eq(open_fds(), before, "a descriptor was left open");
  for (i = 0; i < 4; i++)
    close(fill[i]);
  close(fd);
}

Test(tcp, cancel_between_attempts)
{
  int hold, port = closed_port(&hold);
  size_t before = open_fds();
  struct run_opts o = {0};
  struct result *r;
  char text[256];

  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"tcp\", \"host\": "
           "\"127.0.0.1\", \"port\": %d, \"interval\": \"10s\"}]}",
           port);
  o.interrupt_after = 0.2;
  r = run_job(text, &o);
  cr_assert_str_eq(status_of(r, "p"), "cancelled");
  cr_assert_lt(end_of(r, "p"), 2.0 * time_scale());
  result_free(r);
  cr_assert_eq(open_fds(), before, "a descriptor was left open");
  close(hold);
}

Test(tcp, tries_every_address_of_the_name)
{
  int port, fd = listener(16, &port);
  struct result *r;
  cJSON *res;
  char text[256];

  /*
   * "localhost" may resolve to ::1 before 127.0.0.1: nothing listens on
   * ::1 here, so the probe must go on to the next address in the same
   * attempt.
   */
  snprintf(text, sizeof(text),
           "{\"tasks\": [{\"id\": \"p\", \"kind\": \"tcp\", \"host\": "
           "\"localhost\", \"port\": %d, \"interval\": \"5s\"}]}",
           port);
  r = run_job(text, NULL);
  cr_assert_str_eq(status_of(r, "p"), "ok", "%s", result_json(r, "p"));
  res = result_of(r, "p");
  cr_assert_str_eq(cJSON_GetObjectItem(res, "address")->valuestring,
                   "127.0.0.1");
  cr_assert_eq(cJSON_GetObjectItem(res, "attempts")->valueint, 1);
  cJSON_Delete(res);
  result_free(r);
  close(fd);
}
